/**
 * haven import --concurrency N from a real Dovecot (Debian dovecot-imapd):
 * N IMAP connections read different folders at once (Dovecot counts them,
 * doveadm who), and the account still ends with every message exactly once,
 * byte for byte, with its flags (RFC 3501 §2.3.2) and INTERNALDATE (§2.3.3),
 * in its own folder in the source's UID order (§2.3.1.1: UIDs ascend in a
 * folder). Gmail's \All folder (RFC 6154 §2) is read only after every
 * label, so it still adds only the messages no label had; --rate still
 * paces the import as a whole.
 */
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mailbox } from '../../node/store/index.js';
import { imapSource } from '../../node/transfer/imap-source.js';
import { runImport } from '../../node/transfer/import-job.js';
import { Progress } from '../../node/transfer/progress.js';
import type { ImportSource } from '../../node/transfer/source.js';
import { startTestDovecot, type TestDovecot } from '../helpers/dovecot.js';
import { addAccount, makeTestStore, testTls, type TestStore } from '../helpers/store.js';

const pw = 'a long enough account password';
const FOLDERS = ['INBOX', 'Alpha', 'Beta', 'Gamma', 'Delta'];
const PER_FOLDER = 9;
let dovecot: TestDovecot;

function message(i: number, folder: string): Buffer {
  return Buffer.from([`From: s${i}@example.net`, 'To: mover@example.net', `Subject: ${folder} ${i}`, `Message-ID: <c${i}.${folder}@example.net>`, '', `Body ${i} of ${folder}.`, ''].join('\r\n'));
}

async function client(): Promise<ImapFlow> {
  const c = new ImapFlow({ host: '127.0.0.1', port: dovecot.port, secure: false, auth: { user: dovecot.user, pass: dovecot.pass }, logger: false, tls: { ca: testTls().cert } });
  await c.connect();
  return c;
}

type Held = { raw: string; flags: string[]; date: number };

/** What Dovecot serves per folder, in UID order. */
async function sourceContents(): Promise<Record<string, Held[]>> {
  const c = await client();
  const out: Record<string, Held[]> = {};
  try {
    for (const path of FOLDERS) {
      await c.mailboxOpen(path, { readOnly: true });
      const list: (Held & { uid: number })[] = [];
      for await (const m of c.fetch('1:*', { uid: true, source: true, flags: true, internalDate: true }, { uid: true })) {
        list.push({ uid: m.uid, raw: m.source!.toString(), flags: [...m.flags!].filter((f) => f !== '\\Recent').sort(), date: new Date(m.internalDate!).getTime() });
      }
      out[path] = list.sort((a, b) => a.uid - b.uid).map(({ raw, flags, date }) => ({ raw, flags, date }));
    }
  } finally {
    await c.logout();
  }
  return out;
}

function havenContents(mb: Mailbox, names: string[]): Record<string, Held[]> {
  const out: Record<string, Held[]> = {};
  for (const name of names) {
    const f = mb.folders.get(name);
    out[name] = f ? mb.messages.list(f.id).map((m) => ({ raw: mb.messages.raw(m.blobId).toString(), flags: [...m.flags].sort(), date: m.internalDate })) : [];
  }
  return out;
}

/** Waits for a condition, polling; false if it never held within `ms`. */
async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

async function importInto(t: TestStore, address: string, source: ImportSource, rate?: number): Promise<Progress> {
  const progress = new Progress();
  const lease = await t.store.authenticate(address, pw);
  try {
    await runImport(lease.mailbox, source, { signal: new AbortController().signal, progress, rate });
  } finally {
    lease.release();
  }
  return progress;
}

beforeAll(async () => {
  dovecot = await startTestDovecot();
  const c = await client();
  try {
    for (const f of FOLDERS.slice(1)) await c.mailboxCreate(f);
    const flagSets = [[], ['\\Seen'], ['\\Flagged', '$Label1'], ['\\Seen', '\\Answered', 'Work']];
    for (const [k, f] of FOLDERS.entries()) {
      for (let i = 0; i < PER_FOLDER; i++) await c.append(f, message(i, f), flagSets[(i + k) % flagSets.length], new Date(Date.UTC(2021, k, 1 + i, 9, 15, 30)));
    }
    // All Mail holds a label's message again and one archived nowhere else.
    await c.append('[Gmail]/All Mail', message(0, 'Alpha'), ['\\Seen'], new Date(Date.UTC(2021, 1, 1, 9, 15, 30)));
    await c.append('[Gmail]/All Mail', message(0, 'archived'), ['\\Seen'], new Date(Date.UTC(2021, 11, 1)));
  } finally {
    await c.logout();
  }
}, 120_000);

afterAll(async () => {
  await dovecot?.stop();
});

describe('--concurrency 3', () => {
  it('reads folders over three connections at once, and every message lands once, in its folder, in UID order, with flags and date', async () => {
    const t = makeTestStore();
    try {
      await addAccount(t.store, 'alice@example.test', pw);
      const src = imapSource({ host: '127.0.0.1', port: dovecot.port, secure: false, user: dovecot.user, password: dovecot.pass, insecure: true, concurrency: 3, chunkMessages: 2 });
      // Hold the first message back until Dovecot counts three sessions: the connections open whatever the writer does.
      let parallel: boolean | null = null;
      const watched: ImportSource = async function* (ctx) {
        for await (const ev of src(ctx)) {
          if (ev.type === 'message' && parallel === null) parallel = await until(() => dovecot.sessions() >= 3, 30_000);
          yield ev;
        }
      };
      const p = await importInto(t, 'alice@example.test', watched);
      expect(parallel, 'three IMAP sessions of the user at once').toBe(true);
      const s = p.snapshot();
      // 5 folders of 9, and from All Mail only the message no label had.
      expect(s.messages).toBe(FOLDERS.length * PER_FOLDER + 1);
      const lease = await t.store.authenticate('alice@example.test', pw);
      try {
        expect(havenContents(lease.mailbox, FOLDERS)).toEqual(await sourceContents());
        const archive = havenContents(lease.mailbox, ['Archive']).Archive;
        expect(archive.map((m) => /Subject: (.*)/.exec(m.raw)![1])).toEqual(['archived 0']);
      } finally {
        lease.release();
      }
      // Run again: nothing added (the cursors of every folder were kept whichever connection read it).
      const again = await importInto(t, 'alice@example.test', imapSource({ host: '127.0.0.1', port: dovecot.port, secure: false, user: dovecot.user, password: dovecot.pass, insecure: true, concurrency: 3 }));
      expect(again.snapshot().messages).toBe(0);
    } finally {
      t.cleanup();
    }
  }, 120_000);

  it('--rate paces the import as a whole, not per connection', async () => {
    const t = makeTestStore();
    try {
      await addAccount(t.store, 'bob@example.test', pw);
      const rate = 40;
      const started = Date.now();
      const p = await importInto(t, 'bob@example.test', imapSource({ host: '127.0.0.1', port: dovecot.port, secure: false, user: dovecot.user, password: dovecot.pass, insecure: true, concurrency: 3, folders: ['Alpha', 'Beta', 'Gamma', 'Delta'] }), rate);
      const n = p.snapshot().messages;
      expect(n).toBe(4 * PER_FOLDER);
      // 36 messages at 40/s take at least 0.9 s whatever the connections (three unthrottled ones would need a fraction).
      expect(Date.now() - started).toBeGreaterThanOrEqual((n / rate) * 1000 * 0.95);
    } finally {
      t.cleanup();
    }
  }, 60_000);
});
