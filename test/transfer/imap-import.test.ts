/**
 * haven import from a real Dovecot (Debian dovecot-imapd) over IMAP and
 * IMAPS: folders with non-ASCII names (RFC 3501 §5.1.3 modified UTF-7 on the
 * wire, decoded), special-use folders landing in the account's own
 * (RFC 6154), flags and keywords (RFC 3501 §2.3.2), INTERNALDATE
 * (§2.3.3), a large attachment, and a message present in two folders. After
 * the import every message is byte for byte what Dovecot serves, with the
 * same flags and date, in the right folder. A killed import, run again,
 * ends with every message exactly once; and through a running node the
 * import goes on while mail is delivered.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../node/config/index.js';
import { startNode, type NodeHandle } from '../../node/main.js';
import type { Mailbox, Store } from '../../node/store/index.js';
import { cliHarness, type CliHarness } from '../cli/helpers.js';
import { startTestDovecot, type TestDovecot } from '../helpers/dovecot.js';
import { walk, wrongModes } from '../helpers/modes.js';
import { testTls } from '../helpers/store.js';

const pw = 'a long enough account password';
let dovecot: TestDovecot;
let cli: CliHarness;

/** The source's folders as Haven should hold them: Dovecot path → Haven folder. */
const FOLDERS: Record<string, string> = { INBOX: 'INBOX', 'Projets/Été 2024': 'Projets/Été 2024', '日本語': '日本語', Sent: 'Sent', Spam: 'Junk', Big: 'Big', Drafts: 'Drafts', Trash: 'Trash' };

function message(i: number, folder: string, extra = ''): Buffer {
  return Buffer.from(
    [`From: Sender ${i} <s${i}@example.net>`, 'To: mover@example.net', `Subject: message ${i} in ${folder}`, `Message-ID: <m${i}.${Buffer.from(folder).toString('hex')}@example.net>`, 'Date: Mon, 1 Jan 2024 10:00:00 +0000', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', `Body ${i} — ${folder}.`, extra, ''].join('\r\n'),
  );
}

function bigMessage(): Buffer {
  const attachment = randomBytes(6 * 1024 * 1024).toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    ['From: big@example.net', 'To: mover@example.net', 'Subject: large attachment', 'Message-ID: <big@example.net>', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b"', '', '--b', 'Content-Type: text/plain', '', 'see attached', '--b', 'Content-Type: application/octet-stream', 'Content-Transfer-Encoding: base64', 'Content-Disposition: attachment; filename="blob.bin"', '', attachment, '--b--', ''].join('\r\n'),
  );
}

async function source(): Promise<ImapFlow> {
  const c = new ImapFlow({ host: '127.0.0.1', port: dovecot.port, secure: false, auth: { user: dovecot.user, pass: dovecot.pass }, logger: false, tls: { ca: testTls().cert } });
  await c.connect();
  return c;
}

/** What Dovecot serves, per folder in UID order. */
async function sourceContents() {
  const c = await source();
  const out: Record<string, { raw: Buffer; flags: string[]; date: number }[]> = {};
  try {
    for (const path of Object.keys(FOLDERS)) {
      await c.mailboxOpen(path, { readOnly: true });
      const list: { uid: number; raw: Buffer; flags: string[]; date: number }[] = [];
      for await (const m of c.fetch('1:*', { uid: true, source: true, flags: true, internalDate: true }, { uid: true })) {
        list.push({ uid: m.uid, raw: m.source!, flags: [...m.flags!].filter((f) => f !== '\\Recent').sort(), date: new Date(m.internalDate!).getTime() });
      }
      out[path] = list.sort((a, b) => a.uid - b.uid).map(({ raw, flags, date }) => ({ raw, flags, date }));
    }
  } finally {
    await c.logout();
  }
  return out;
}

function havenContents(mb: Mailbox) {
  const out: Record<string, { raw: Buffer; flags: string[]; date: number }[]> = {};
  for (const [path, name] of Object.entries(FOLDERS)) {
    const f = mb.folders.get(name);
    out[path] = f ? mb.messages.list(f.id).map((m) => ({ raw: mb.messages.raw(m.blobId), flags: [...m.flags].sort(), date: m.internalDate })) : [];
  }
  return out;
}

async function withMailbox<T>(store: Store, address: string, fn: (mb: Mailbox) => T): Promise<T> {
  const lease = await store.authenticate(address, pw);
  try {
    return fn(lease.mailbox);
  } finally {
    lease.release();
  }
}

function expectSame(a: Record<string, { raw: Buffer; flags: string[]; date: number }[]>, b: typeof a) {
  for (const path of Object.keys(FOLDERS)) {
    expect(b[path].length, path).toBe(a[path].length);
    a[path].forEach((m, i) => {
      expect(b[path][i].raw.equals(m.raw), `${path} #${i} bytes`).toBe(true);
      expect(b[path][i].flags, `${path} #${i} flags`).toEqual(m.flags);
      expect(b[path][i].date, `${path} #${i} date`).toBe(m.date);
    });
  }
}

beforeAll(async () => {
  dovecot = await startTestDovecot();
  const c = await source();
  try {
    for (const path of ['Projets/Été 2024', '日本語', 'Big']) await c.mailboxCreate(path);
    const day = (n: number) => new Date(Date.UTC(2020, 0, 1 + n, 8, 30, 15));
    const flagSets = [[], ['\\Seen'], ['\\Seen', '\\Answered'], ['\\Flagged', '$Label1'], ['\\Seen', 'Work', '$Forwarded'], ['\\Draft'], ['\\Deleted', '\\Seen']];
    for (let i = 0; i < 20; i++) await c.append('INBOX', message(i, 'INBOX'), flagSets[i % flagSets.length], day(i));
    for (let i = 0; i < 3; i++) await c.append('Projets/Été 2024', message(i, 'Projets'), ['\\Seen'], day(40 + i));
    // The same message in a second folder, as a label would show it: stored once, shown twice.
    await c.append('Projets/Été 2024', message(0, 'INBOX'), ['\\Flagged'], day(0));
    await c.append('日本語', message(0, '日本語'), [], day(50));
    await c.append('Sent', message(0, 'Sent'), ['\\Seen'], day(60));
    await c.append('Sent', message(1, 'Sent'), ['\\Seen'], day(61));
    await c.append('Spam', message(0, 'Spam'), [], day(70));
    await c.append('Big', bigMessage(), ['\\Seen'], day(80));
    // Gmail: All Mail holds every message again (two of INBOX's, one archived nowhere else); Starred is a view.
    await c.append('[Gmail]/All Mail', message(0, 'INBOX'), [], day(0));
    await c.append('[Gmail]/All Mail', message(1, 'INBOX'), ['\\Seen'], day(1));
    await c.append('[Gmail]/All Mail', message(0, 'archived'), ['\\Seen'], day(90));
    await c.append('[Gmail]/Starred', message(3, 'INBOX'), ['\\Flagged', '$Label1'], day(3));
  } finally {
    await c.logout();
  }
  cli = cliHarness();
  expect((await cli.run(['domain', 'add', 'example.org'])).code).toBe(0);
  for (const a of ['alice', 'bob']) expect((await cli.run(['account', 'add', `${a}@example.org`, '--password-stdin'], { stdin: pw + '\n' })).code).toBe(0);
}, 120_000);

afterAll(async () => {
  await dovecot?.stop();
  cli?.cleanup();
});

describe('haven import imaps://… from Dovecot (no node running: the CLI holds the data directory)', () => {
  it('every message byte for byte, with its flags and INTERNALDATE, in the right folder; JSON progress lines', async () => {
    const r = await cli.run(['import', 'alice@example.org', `imaps://${dovecot.user}@127.0.0.1:${dovecot.tlsPort}`, '--insecure', '--password-stdin', '--source-password-stdin', '--json'], { stdin: `${pw}\n${dovecot.pass}\n` });
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    const lines = r.out.map((l) => JSON.parse(l) as { phase: string; messages: number; bytes: number; totalMessages: number });
    const last = lines[lines.length - 1];
    expect(last.phase).toBe('done');
    // 29 in the folders, 3 in All Mail (Starred, a view, is not read).
    expect(last.totalMessages).toBe(32);
    expect(last.messages).toBe(30);
    expect(last.bytes).toBeGreaterThan(6 * 1024 * 1024);
    const want = await sourceContents();
    const store = cli.openStore();
    try {
      const got = await withMailbox(store, 'alice@example.org', havenContents);
      expectSame(want, got);
      // Special use (RFC 6154): Dovecot's \Junk "Spam" went into the account's Junk; no stray "Spam" folder.
      await withMailbox(store, 'alice@example.org', (mb) => {
        expect(mb.folders.get('Spam')).toBeNull();
        // The message shown in two folders is stored once.
        const inbox = mb.messages.list(mb.folders.require('INBOX').id)[0];
        const proj = mb.messages.list(mb.folders.require('Projets/Été 2024').id)[3];
        expect(proj.blobId).toBe(inbox.blobId);
        // All Mail (\\All) adds to Archive only what no other folder had; Starred (\\Flagged) adds nothing.
        const archive = mb.messages.list(mb.folders.require('Archive').id).map((m) => mb.messages.raw(m.blobId).toString());
        expect(archive).toHaveLength(1);
        expect(archive[0]).toContain('message 0 in archived');
        expect(mb.folders.list().map((f) => f.name).filter((n) => n.includes('Gmail'))).toEqual([]);
      });
    } finally {
      store.close();
    }
  }, 120_000);

  it('leaves nothing readable on disk: no subject, address or Message-ID in any file of the data directory, all 0600 in 0700', async () => {
    const needles = ['message 1 in INBOX', 'mover@example.net', 'm1.494e424f58@example.net', 'Projets'].map((n) => Buffer.from(n));
    for (const f of walk(cli.dataDir)) {
      if (f.dir) continue;
      const bytes = readFileSync(f.path);
      for (const n of needles) expect(bytes.includes(n), `${f.path} holds "${n.toString()}"`).toBe(false);
    }
    expect(wrongModes(cli.dataDir)).toEqual([]);
  });

  it('run again, nothing is added (the source UIDs are remembered)', async () => {
    const r = await cli.run(['import', 'alice@example.org', `imap://${dovecot.user}@127.0.0.1:${dovecot.port}`, '--insecure', '--password-stdin', '--source-password-stdin', '--json'], { stdin: `${pw}\n${dovecot.pass}\n` });
    expect(r.code).toBe(0);
    const last = JSON.parse(r.out[r.out.length - 1]) as { messages: number };
    expect(last.messages).toBe(0);
    const store = cli.openStore();
    try {
      expectSame(await sourceContents(), await withMailbox(store, 'alice@example.org', havenContents));
    } finally {
      store.close();
    }
  }, 120_000);

  it('a wrong source password fails with the server\'s refusal and changes nothing', async () => {
    const r = await cli.run(['import', 'bob@example.org', `imap://${dovecot.user}@127.0.0.1:${dovecot.port}`, '--insecure', '--password-stdin', '--source-password-stdin'], { stdin: `${pw}\nwrong\n` });
    expect(r.code).toBe(1);
    expect(r.err).toEqual([expect.stringMatching(/^haven: 127\.0\.0\.1 refused the login of mover@example\.net.*: check the source password/)]);
  }, 60_000);
});

describe('a killed import, run again', () => {
  it('continues and ends with every message exactly once', async () => {
    // The real binary, throttled so it is surely mid-way when killed.
    const child = spawn(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'haven.js'), 'import', 'bob@example.org', `imap://${dovecot.user}@127.0.0.1:${dovecot.port}`, '--insecure', '--password-stdin', '--source-password-stdin', '--json', '--rate', '8'], {
      env: { ...process.env, ...cli.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.end(`${pw}\n${dovecot.pass}\n`);
    let buf = '';
    let seen = 0;
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const l of lines) seen = Math.max(seen, (JSON.parse(l) as { messages: number }).messages);
        if (seen >= 6) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.once('exit', () => reject(new Error(`the import ended before it could be killed (${seen} messages)`)));
    });
    await new Promise((r) => child.once('exit', r));
    const partial = cli.openStore();
    const before = await withMailbox(partial, 'bob@example.org', (mb) => mb.messages.list(mb.folders.require('INBOX').id).length);
    partial.close();
    expect(before).toBeGreaterThanOrEqual(6);
    expect(before).toBeLessThan(20);

    const r = await cli.run(['import', 'bob@example.org', `imap://${dovecot.user}@127.0.0.1:${dovecot.port}`, '--insecure', '--password-stdin', '--source-password-stdin', '--json'], { stdin: `${pw}\n${dovecot.pass}\n` });
    expect(r.code).toBe(0);
    const store = cli.openStore();
    try {
      expectSame(await sourceContents(), await withMailbox(store, 'bob@example.org', havenContents));
    } finally {
      store.close();
    }
  }, 120_000);
});

/** A running node on a fresh data directory (with its CLI harness) holding example.org and `address`. */
async function nodeWithAccount(address: string): Promise<{ harness: CliHarness; node: NodeHandle }> {
  const harness = cliHarness();
  const node = await startNode(testConfig(harness.dataDir, { dnsbl: [], masterKey: randomBytes(32).toString('hex') }), { adminUi: false });
  try {
    await node.operations.call('domain.add', { name: 'example.org' });
    await node.operations.call('account.add', { address, password: pw });
  } catch (err) {
    await node.close();
    harness.cleanup();
    throw err;
  }
  return { harness, node };
}

describe('a lost connection', () => {
  it('is retried from the last message handed on, and the import ends complete', async () => {
    const { harness, node } = await nodeWithAccount('dave@example.org');
    try {
      const job = await node.operations.call('transfer.start', {
        kind: 'import',
        address: 'dave@example.org',
        password: pw,
        source: { type: 'imap', host: '127.0.0.1', port: dovecot.port, secure: false, user: dovecot.user, password: dovecot.pass, insecure: true },
        rate: 8,
      });
      // Mid-way through INBOX, Dovecot drops the connection.
      for (;;) {
        const v = await node.operations.call('transfer.status', { id: job.id });
        if (v.progress.messages >= 4) break;
        expect(v.progress.phase).not.toBe('failed');
        await new Promise((r) => setTimeout(r, 50));
      }
      dovecot.kick();
      let v;
      for (;;) {
        v = await node.operations.call('transfer.status', { id: job.id });
        if (v.progress.phase !== 'running' && v.progress.phase !== 'starting') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(v.progress.error).toBeNull();
      expect(v.progress.phase).toBe('done');
      expect(v.progress.retries).toBeGreaterThanOrEqual(1);
      const lease = await node.store.authenticate('dave@example.org', pw);
      try {
        expectSame(await sourceContents(), havenContents(lease.mailbox));
      } finally {
        lease.release();
      }
    } finally {
      await node.close();
      harness.cleanup();
    }
  }, 120_000);
});

describe('through a running node (the one writer)', () => {
  it('the CLI asks the node, the import runs there, and mail is delivered meanwhile', async () => {
    const { harness, node } = await nodeWithAccount('carol@example.org');
    try {
      const running = harness.run(['import', 'carol@example.org', `imap://${dovecot.user}@127.0.0.1:${dovecot.port}`, '--insecure', '--password-stdin', '--source-password-stdin', '--rate', '40'], { stdin: `${pw}\n${dovecot.pass}\n` });
      // While the job runs in the node, delivery to the same account goes on.
      const account = node.store.directory.getAccount('carol@example.org')!;
      let delivered = 0;
      for (;;) {
        const jobs = await node.operations.call('transfer.list', {});
        if (jobs.some((j) => j.progress.phase === 'running' || j.progress.phase === 'done')) break;
        await new Promise((r) => setImmediate(r));
      }
      const d = await node.store.deliver(account.id, Buffer.from('From: x@example.net\r\nSubject: during import\r\nMessage-ID: <during@example.net>\r\n\r\nhi\r\n'));
      if (d.where === 'mailbox') delivered++;
      const r = await running;
      expect(r.err).toEqual([]);
      expect(r.code).toBe(0);
      expect(r.out[0]).toMatch(/in the running node/);
      expect(delivered).toBe(1);
      const lease = await node.store.authenticate('carol@example.org', pw);
      try {
        const got = havenContents(lease.mailbox);
        const want = await sourceContents();
        expect(got.INBOX.length).toBe(want.INBOX.length + 1);
        got.INBOX = got.INBOX.filter((m) => !m.raw.includes('during import'));
        expectSame(want, got);
      } finally {
        lease.release();
      }
    } finally {
      await node.close();
      harness.cleanup();
    }
  }, 120_000);
});

describe('a source folder recreated with a new UIDVALIDITY (RFC 3501 §2.3.1.1)', () => {
  it('is read again from the start; what is already there is not duplicated and the new message lands', async () => {
    const c = await source();
    try {
      await c.mailboxDelete('日本語');
      await c.mailboxCreate('日本語');
      await c.append('日本語', message(0, '日本語'), [], new Date(Date.UTC(2020, 1, 20, 8, 30, 15)));
      await c.append('日本語', message(1, '日本語'), ['\\Seen'], new Date(Date.UTC(2020, 1, 21, 8, 30, 15)));
    } finally {
      await c.logout();
    }
    const r = await cli.run(['import', 'alice@example.org', `imap://${dovecot.user}@127.0.0.1:${dovecot.port}`, '--insecure', '--folder', '日本語', '--password-stdin', '--source-password-stdin', '--json'], { stdin: `${pw}\n${dovecot.pass}\n` });
    expect(r.code).toBe(0);
    const last = JSON.parse(r.out[r.out.length - 1]) as { messages: number; skipped: number };
    expect(last).toMatchObject({ messages: 1, skipped: 1 });
    const store = cli.openStore();
    try {
      const subjects = await withMailbox(store, 'alice@example.org', (mb) => mb.messages.list(mb.folders.require('日本語').id).map((m) => /Subject: (.*)/.exec(mb.messages.raw(m.blobId).toString())![1]));
      expect(subjects).toEqual(['message 0 in 日本語', 'message 1 in 日本語']);
    } finally {
      store.close();
    }
  }, 60_000);
});
