/**
 * Sieve at delivery (issue 17): scripts stored in the directory run on the
 * message the MX holds, for open and for locked (sealed) mailboxes alike;
 * the result is read back over IMAP with imapflow. Vacation replies and
 * redirects land in the outbound queue; a failing script keeps the message
 * in INBOX and leaves the error for the owner.
 */
import { createHash } from 'node:crypto';
import { ImapFlow } from 'imapflow';
import tls from 'node:tls';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startImap } from '../../node/imap/index.js';
import { queueFor } from '../../node/smtp/index.js';
import { compile, VACATION_SCRIPT, vacationScript } from '../../node/sieve/index.js';
import type { Store } from '../../node/store/index.js';
import { AuthLimiter } from '../../node/util/auth-limiter.js';
import { silentLogger } from '../../node/util/log.js';
import { startTestDns, type TestDns } from '../helpers/dns-server.js';
import { addAccount, makeTestStore, sampleMessage, testTls, type TestStore } from '../helpers/store.js';
import { baseDeps, client, folderRaws, publishDomain, startMx } from './harness.js';

let t: TestStore;
let store: Store;
let dns: TestDns;
let mx: { port: number; close(): Promise<void> };
let imap: { port: number; close(): Promise<void> };
let aliceId: string;
const PW = 'correct horse battery';

beforeAll(async () => {
  t = makeTestStore();
  store = t.store;
  dns = await startTestDns();
  aliceId = (await addAccount(store, 'alice@example.test', PW)).account.id;
  await addAccount(store, 'bob@example.test', PW);
  publishDomain(dns, store, 'example.test');
  dns.add('sender.test', { TXT: ['v=spf1 ip4:127.0.0.1 -all'] });
  mx = await startMx(baseDeps(store, dns));
  const { key, cert } = testTls();
  const ctx = tls.createSecureContext({ key, cert });
  imap = await startImap(
    { store, log: silentLogger, authLimiter: new AuthLimiter({ stepDelayMs: 0 }), tls: { secureContext: () => ctx }, hostname: 'localhost', allowPlaintextOnLoopback: true },
    { host: '127.0.0.1', port: 0, implicitTls: false },
  );
});

afterAll(async () => {
  await mx?.close();
  await imap?.close();
  await dns?.close();
  t?.cleanup();
});

beforeEach(() => {
  store.directory.sieve.setActive(aliceId, null);
  for (const s of store.directory.sieve.list(aliceId)) store.directory.sieve.remove(aliceId, s.name);
  for (const s of store.directory.sieve.domainScripts('example.test')) store.directory.sieve.removeDomainScript('example.test', s.name);
  store.lock(aliceId);
});

function activate(source: string, name = 'main'): void {
  compile(source);
  store.directory.sieve.put(aliceId, name, source);
  store.directory.sieve.setActive(aliceId, name);
}

async function send(opts: { subject?: string; from?: string; to?: string; envelopeTo?: string; extra?: string[]; body?: string; messageId?: string } = {}) {
  const raw = sampleMessage({ subject: opts.subject, from: opts.from ?? 'Bob <bob@sender.test>', to: opts.to ?? 'alice@example.test', body: opts.body, messageId: opts.messageId });
  const withExtra = opts.extra ? Buffer.concat([Buffer.from(opts.extra.join('\r\n') + '\r\n'), raw]) : raw;
  return client(mx.port).sendMail({ envelope: { from: 'bob@sender.test', to: [opts.envelopeTo ?? 'alice@example.test'] }, raw: withExtra });
}

async function imapClient(): Promise<ImapFlow> {
  const c = new ImapFlow({ host: '127.0.0.1', port: imap.port, secure: false, doSTARTTLS: false, auth: { user: 'alice@example.test', pass: PW }, logger: false, tls: { rejectUnauthorized: false } });
  await c.connect();
  return c;
}

/** Subjects and flags of every message in a folder, over IMAP (null: no such folder). */
async function folder(c: ImapFlow, name: string): Promise<{ subject: string; flags: string[] }[] | null> {
  const list = await c.list();
  if (!list.some((f) => f.path === name)) return null;
  const lock = await c.getMailboxLock(name);
  try {
    const out: { subject: string; flags: string[] }[] = [];
    if ((c.mailbox as { exists: number }).exists === 0) return out;
    for await (const m of c.fetch('1:*', { envelope: true, flags: true })) out.push({ subject: m.envelope?.subject ?? '', flags: [...(m.flags ?? [])].sort() });
    return out;
  } finally {
    lock.release();
  }
}

async function withImap<T>(fn: (c: ImapFlow) => Promise<T>): Promise<T> {
  const c = await imapClient();
  try {
    return await fn(c);
  } finally {
    await c.logout();
  }
}

const subjects = (xs: { subject: string }[] | null) => (xs ?? []).map((x) => x.subject);

describe('fileinto and imap4flags at delivery', () => {
  const script = `require ["fileinto", "imap4flags", "mailbox"];
    if header :contains "subject" "[list]" { addflag "\\\\Flagged"; addflag "$Lists"; fileinto :create "Lists"; }`;

  it('files a message for a locked mailbox into a new folder with its flags, carried in the sealed spool (RFC 5228 §4.1, RFC 5232 §5, RFC 5490 §3.2)', async () => {
    activate(script);
    expect(store.isUnlocked(aliceId)).toBe(false);
    await send({ subject: '[list] sealed one' });
    await send({ subject: 'personal' });
    expect(store.spool.stats(aliceId).messages).toBe(2);
    await withImap(async (c) => {
      const lists = await folder(c, 'Lists');
      expect(lists).toEqual([{ subject: '[list] sealed one', flags: ['$Lists', '\\Flagged'] }]);
      expect(subjects(await folder(c, 'INBOX'))).toEqual(['personal']);
    });
  });

  it('files straight into an open mailbox while its owner is logged in', async () => {
    activate(script);
    await withImap(async (c) => {
      await send({ subject: '[list] open one' });
      const lists = await folder(c, 'Lists');
      expect(lists?.map((m) => m.subject)).toContain('[list] open one');
      expect(lists?.find((m) => m.subject === '[list] open one')?.flags).toEqual(['$Lists', '\\Flagged']);
    });
  });

  // RFC 5490 §3.1: mailboxexists is true when every named mailbox exists. Delivery reads the
  // folder list only for scripts that can ask (this one, or one it includes), so both are checked.
  it('mailboxexists sees the open mailbox\'s folders, in the script and in one it includes (RFC 5490 §3.1, RFC 6609 §3.2)', async () => {
    const ask = (tag: string) => `if mailboxexists "Projects" { fileinto "Projects"; } else { fileinto :create "Missing-${tag}"; }`;
    store.directory.sieve.put(aliceId, 'asks', `require ["fileinto", "mailbox"]; ${ask('included')}`);
    await withImap(async (c) => {
      await c.mailboxCreate('Projects');
      activate(`require ["fileinto", "mailbox"]; if header :contains "subject" "direct" { ${ask('direct')} }`);
      await send({ subject: 'direct ask' });
      activate('require ["include"]; include :personal "asks";');
      await send({ subject: 'asked by an included script' });
      expect(subjects(await folder(c, 'Projects')).sort()).toEqual(['asked by an included script', 'direct ask']);
      expect((await c.list()).map((f) => f.path).filter((p) => p.startsWith('Missing'))).toEqual([]);
    });
  });

  it('fileinto a folder that does not exist, without :create, keeps the message in INBOX', async () => {
    activate('require "fileinto"; fileinto "Nowhere";');
    await send({ subject: 'to nowhere' });
    await withImap(async (c) => {
      expect(await folder(c, 'Nowhere')).toBeNull();
      expect(subjects(await folder(c, 'INBOX'))).toContain('to nowhere');
    });
  });

  it('fileinto :copy and keep give two copies; discard gives none (RFC 3894 §3, RFC 5228 §4.4)', async () => {
    activate(`require ["fileinto", "copy", "mailbox"];
      if header :is "subject" "drop me" { discard; stop; }
      fileinto :copy :create "Archive";`);
    await send({ subject: 'copied' });
    await send({ subject: 'drop me' });
    await withImap(async (c) => {
      expect(subjects(await folder(c, 'Archive'))).toEqual(['copied']);
      const inbox = subjects(await folder(c, 'INBOX'));
      expect(inbox).toContain('copied');
      expect(inbox).not.toContain('drop me');
    });
  });
});

describe('envelope and subaddress through a real RCPT TO (RFC 5228 §5.4, RFC 5233)', () => {
  it('files alice+news@ by its detail', async () => {
    activate(`require ["envelope", "subaddress", "fileinto", "variables", "mailbox"];
      if envelope :detail :matches "to" "*" { if string :is "\${1}" "" { keep; } else { fileinto :create "Detail/\${1}"; } }`);
    await send({ subject: 'news item', envelopeTo: 'alice+news@example.test' });
    await withImap(async (c) => {
      expect(subjects(await folder(c, 'Detail/news'))).toEqual(['news item']);
    });
  });
});

describe('reject (RFC 5429)', () => {
  it('refuses in the SMTP dialogue when alice is the only recipient, and nothing is delivered', async () => {
    activate('require "reject"; if header :contains "subject" "buy now" { reject "I do not want this."; }');
    const err = await send({ subject: 'buy now' }).then(
      () => null,
      (e: { responseCode?: number; response?: string }) => e,
    );
    expect(err?.responseCode).toBe(550);
    expect(err?.response).toContain('I do not want this.');
    await withImap(async (c) => expect(subjects(await folder(c, 'INBOX'))).not.toContain('buy now'));
  });
});

describe('reject with other recipients (RFC 5429 §2.2)', () => {
  it('refuses alice\'s copy by a notice to the sender; bob still gets his', async () => {
    const q = queueFor(store);
    q.list().forEach((m) => q.remove(m.id));
    activate('require "reject"; reject "Not for me.";');
    const raw = sampleMessage({ subject: 'to both', from: 'Bob <bob@sender.test>' });
    await client(mx.port).sendMail({ envelope: { from: 'bob@sender.test', to: ['alice@example.test', 'bob@example.test'] }, raw });
    const notices = q.list().map((m) => ({ m, raw: q.raw(m.id)!.toString(), rcpts: q.recipients(m.id).map((r) => r.rcpt) }));
    expect(notices).toHaveLength(1);
    expect(notices[0].m.mailFrom).toBe('');
    expect(notices[0].rcpts).toEqual(['bob@sender.test']);
    expect(notices[0].raw).toMatch(/Action: failed/);
    expect(notices[0].raw).toContain('550 5.7.1 Not for me.');
    const bobInbox = await folderRaws(store, 'bob@example.test', PW);
    expect(bobInbox.some((m) => m.includes('Subject: to both'))).toBe(true);
    await withImap(async (c) => expect(subjects(await folder(c, 'INBOX'))).not.toContain('to both'));
  });
});

describe('errors never lose mail', () => {
  it('a redirect that would loop back is kept here instead (RFC 5228 §4.2 loop control)', async () => {
    const q = queueFor(store);
    q.list().forEach((m) => q.remove(m.id));
    activate('redirect "elsewhere@remote.test";');
    const mark = createHash('sha256').update(`haven-redirect\0${aliceId}`).digest('base64url').slice(0, 16);
    await send({ subject: 'came back', extra: [`X-Haven-Redirected: ${mark}`] });
    expect(q.list()).toHaveLength(0);
    await withImap(async (c) => expect(subjects(await folder(c, 'INBOX'))).toContain('came back'));
    // The first time round it goes, carrying the mark.
    await send({ subject: 'first time' });
    const [m] = q.list();
    expect(q.raw(m.id)!.toString()).toMatch(new RegExp(`^X-Haven-Redirected: ${mark}\r$`, 'm'));
  });

  it('a script failing at run time keeps the message in INBOX and records the error for the owner', async () => {
    activate('require ["include", "fileinto"]; include "missing"; fileinto "Never";');
    await send({ subject: 'despite the error' });
    await withImap(async (c) => expect(subjects(await folder(c, 'INBOX'))).toContain('despite the error'));
    expect(store.directory.sieve.lastError(aliceId)?.message).toMatch(/script "main": included script "missing" does not exist/);
    // A clean run clears it.
    activate('keep;');
    await send({ subject: 'clean' });
    expect(store.directory.sieve.lastError(aliceId)).toBeNull();
  });
});

describe('the domain\'s "before" script', () => {
  it('runs first; when it files the message the account\'s script does not run', async () => {
    store.directory.sieve.putDomainScript('example.test', 'before', 'require ["fileinto", "mailbox"]; if header :contains "subject" "[ops]" { fileinto :create "Ops"; }');
    activate('require ["fileinto", "mailbox"]; fileinto :create "Mine";');
    await send({ subject: '[ops] disk' });
    await send({ subject: 'hello' });
    await withImap(async (c) => {
      expect(subjects(await folder(c, 'Ops'))).toEqual(['[ops] disk']);
      expect(subjects(await folder(c, 'Mine'))).toEqual(['hello']);
    });
  });
});

describe('duplicate (RFC 7352)', () => {
  it('discards the second copy of a Message-ID', async () => {
    activate('require "duplicate"; if duplicate { discard; }');
    await send({ subject: 'dup A', messageId: 'same-id@sender.test' });
    await send({ subject: 'dup B', messageId: 'same-id@sender.test' });
    await withImap(async (c) => {
      const inbox = subjects(await folder(c, 'INBOX'));
      expect(inbox).toContain('dup A');
      expect(inbox).not.toContain('dup B');
    });
  });
});

describe('vacation (RFC 5230, RFC 3834) and redirect through the outbound queue', () => {
  const queued = () => {
    const q = queueFor(store);
    return q.list().map((m) => ({ m, raw: q.raw(m.id)!.toString(), rcpts: q.recipients(m.id).map((r) => r.rcpt) }));
  };
  const clearQueue = () => queued().forEach(({ m }) => queueFor(store).remove(m.id));

  it('answers once per sender within :days, DKIM-signed, from the null sender, with Auto-Submitted', async () => {
    clearQueue();
    activate('require "vacation"; vacation :days 7 :subject "Away" "Back on Monday.";');
    await send({ subject: 'first' });
    await send({ subject: 'second' });
    const replies = queued();
    expect(replies).toHaveLength(1);
    const [{ m, raw, rcpts }] = replies;
    expect(m.mailFrom).toBe('');
    expect(rcpts).toEqual(['bob@sender.test']);
    expect(raw).toMatch(/^DKIM-Signature: .*d=example\.test/m);
    expect(raw).toMatch(/^Auto-Submitted: auto-replied/m);
    expect(raw).toMatch(/^Subject: Away\r$/m);
    expect(raw).toContain('Back on Monday.');
  });

  it('the web page\'s vacation runs after the owner\'s own script, which still files the message', async () => {
    clearQueue();
    activate('require ["fileinto", "mailbox"]; fileinto :create "Filed";');
    store.directory.sieve.put(aliceId, VACATION_SCRIPT, vacationScript({ enabled: true, from: '', until: '', subject: 'Out', text: 'Away this week.' }));
    await send({ subject: 'while away' });
    const replies = queued();
    expect(replies).toHaveLength(1);
    expect(replies[0].raw).toMatch(/^Subject: Out\r$/m);
    await withImap(async (c) => expect(subjects(await folder(c, 'Filed'))).toContain('while away'));
  });

  it(':from must be an address of the account; another is replaced by the recipient address (RFC 5230 §4.3)', async () => {
    clearQueue();
    activate('require ["vacation", "vacation-seconds"]; vacation :seconds 0 :from "The Boss <ceo@elsewhere.example>" "Away.";');
    await send({ subject: 'forged from' });
    activate('require ["vacation", "vacation-seconds"]; vacation :seconds 0 :from "Alice <alice+away@example.test>" "Away.";');
    await send({ subject: 'own from' });
    const froms = queued().map((x) => /^From: (.*)\r$/m.exec(x.raw)?.[1]).sort();
    expect(froms).toEqual(['Alice <alice+away@example.test>', 'alice@example.test']);
  });

  it('does not answer a list, bulk or auto-submitted message (RFC 3834 §2)', async () => {
    clearQueue();
    activate('require ["vacation", "vacation-seconds"]; vacation :seconds 0 "Away.";');
    await send({ subject: 'list', extra: ['List-Id: <dev.sender.test>'] });
    await send({ subject: 'bulk', extra: ['Precedence: bulk'] });
    await send({ subject: 'auto', extra: ['Auto-Submitted: auto-generated'] });
    expect(queued()).toHaveLength(0);
    // :seconds 0 answers every time (RFC 6131 §2).
    await send({ subject: 'one' });
    await send({ subject: 'two' });
    expect(queued()).toHaveLength(2);
  });

  it('redirect queues the message for the new address and keeps no copy; :copy keeps one (RFC 5228 §4.2, RFC 3894)', async () => {
    clearQueue();
    activate('require "copy"; if header :is "subject" "fwd" { redirect "elsewhere@remote.test"; } else { redirect :copy "archive@remote.test"; }');
    await send({ subject: 'fwd' });
    await send({ subject: 'fwd copy' });
    const q = queued();
    expect(q.map((x) => x.rcpts[0]).sort()).toEqual(['archive@remote.test', 'elsewhere@remote.test']);
    expect(q.every((x) => x.m.mailFrom.startsWith('SRS0='))).toBe(true);
    await withImap(async (c) => {
      const inbox = subjects(await folder(c, 'INBOX'));
      expect(inbox).toContain('fwd copy');
      expect(inbox).not.toContain('fwd');
    });
  });
});
