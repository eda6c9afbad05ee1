/**
 * haven import from mbox and Maildir fixtures (the odd cases: mboxrd
 * quoting, a message without a final newline, Maildir++ `.Sub.Folder` and a
 * UTF-7 folder name, keywords from dovecot-keywords, a file in new/), run
 * twice without duplicates; and haven export then import into a fresh
 * account giving the same mailbox: same bytes, flags, INTERNALDATE,
 * folders, calendars and contacts, in Maildir and in mbox form.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mailbox, Store } from '../../node/store/index.js';
import { jobEnded, startJob, type JobSpec } from '../../node/transfer/index.js';
import { toCrlf } from '../../node/transfer/mbox.js';
import { addAccount, makeTestStore, sampleMessage, type TestStore } from '../helpers/store.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'transfer');

async function run(store: Store, spec: JobSpec) {
  const started = await startJob(store, spec);
  const v = await jobEnded(store, started.id);
  expect(v.progress.error).toBeNull();
  expect(v.progress.phase).toBe('done');
  return v;
}

/** Everything a mailbox holds, comparable: per folder the messages' bytes, flags and dates in UID order. */
function snapshot(mb: Mailbox) {
  const folders: Record<string, { specialUse: string | null; messages: { sha: string; flags: string[]; internalDate: number }[] }> = {};
  for (const f of mb.folders.list()) {
    folders[f.name] = {
      specialUse: f.specialUse,
      messages: mb.messages.list(f.id).map((m) => ({ sha: mb.messages.raw(m.blobId).toString('base64'), flags: [...m.flags].sort(), internalDate: m.internalDate })),
    };
  }
  const dav = mb.dav.collections().map((c) => ({
    kind: c.kind,
    name: c.name,
    displayName: c.displayName,
    color: c.color,
    objects: mb.dav.objects(c.id).map((o) => ({ uid: o.uid, body: o.data.slice(o.data.search(/BEGIN:(VEVENT|VTODO|VCARD)/)) })).sort((a, b) => a.uid.localeCompare(b.uid)),
  }));
  return { folders, dav };
}

let t: TestStore;
let tmp: string;
const pw = 'correct horse battery';

beforeAll(async () => {
  t = makeTestStore();
  tmp = mkdtempSync(join(tmpdir(), 'haven-transfer-'));
  await addAccount(t.store, 'alice@example.test', pw);
});
afterAll(() => {
  t.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

async function open(address: string) {
  const lease = await t.store.authenticate(address, pw);
  return lease;
}

describe('import from a Maildir++ tree', () => {
  it('puts every message in its folder with its flags, keywords and the file bytes as CRLF', async () => {
    const v = await run(t.store, { kind: 'import', address: 'alice@example.test', password: pw, source: { type: 'path', path: join(fixtures, 'Maildir') } });
    expect(v.progress.messages).toBe(7);
    const lease = await open('alice@example.test');
    try {
      const mb = lease.mailbox;
      const byId = (folder: string) =>
        Object.fromEntries(mb.messages.list(mb.folders.require(folder).id).map((m) => [/Message-ID: <(\w+)@/.exec(mb.messages.raw(m.blobId).toString())![1], m]));
      const inbox = byId('INBOX');
      expect(Object.keys(inbox).sort()).toEqual(['md1', 'md2', 'md3', 'md4']);
      expect([...inbox.md1.flags].sort()).toEqual(['\\Answered', '\\Flagged', '\\Seen']);
      expect([...inbox.md2.flags].sort()).toEqual(['$Junk-not', 'Work', '\\Seen']);
      expect([...inbox.md3.flags].sort()).toEqual(['$Forwarded', '\\Deleted', '\\Draft']);
      expect(inbox.md4.flags).toEqual([]);
      // Maildir's INTERNALDATE is the file's modification time, in whole seconds as IMAP has it.
      const file = join(fixtures, 'Maildir', 'cur', '1700000000.M1P1.host,S=100:2,FRS');
      expect(inbox.md1.internalDate).toBe(Math.floor(statSync(file).mtimeMs / 1000) * 1000);
      expect(mb.messages.raw(inbox.md1.blobId).equals(toCrlf(readFileSync(file)))).toBe(true);
      // .Sent lands in the account's own \Sent folder; nested and UTF-7 names are decoded.
      expect(Object.keys(byId('Sent'))).toEqual(['md5']);
      expect(Object.keys(byId('Lists/Haven'))).toEqual(['md6']);
      expect(Object.keys(byId('Été'))).toEqual(['md7']);
    } finally {
      lease.release();
    }
  });

  it('run again, it adds nothing (keyed on Message-ID and content per folder)', async () => {
    const v = await run(t.store, { kind: 'import', address: 'alice@example.test', password: pw, source: { type: 'path', path: join(fixtures, 'Maildir') } });
    expect(v.progress.messages).toBe(0);
    expect(v.progress.skipped).toBe(7);
    const lease = await open('alice@example.test');
    expect(lease.mailbox.folders.status(lease.mailbox.folders.require('INBOX').id).messages).toBe(4);
    lease.release();
  });
});

describe('import from mbox files', () => {
  it('mboxrd: three messages with From_ dates, unquoted bodies and flags from Status/X-Status', async () => {
    const v = await run(t.store, { kind: 'import', address: 'alice@example.test', password: pw, source: { type: 'path', path: join(fixtures, 'odd.mboxrd'), into: 'Old/2023' } });
    expect(v.progress.messages).toBe(3);
    const lease = await open('alice@example.test');
    try {
      const mb = lease.mailbox;
      const msgs = mb.messages.list(mb.folders.require('Old/2023').id);
      expect(msgs.map((m) => m.internalDate)).toEqual([Date.UTC(2023, 0, 2, 3, 4, 5), Date.UTC(2023, 1, 28, 23, 59, 59), Date.UTC(2023, 2, 1)]);
      expect([...msgs[0].flags].sort()).toEqual(['$Label1', 'Project', '\\Answered', '\\Flagged', '\\Seen']);
      const first = mb.messages.raw(msgs[0].blobId).toString();
      expect(first).not.toMatch(/^(Status|X-Status|X-Keywords):/m);
      expect(first).toContain('\r\nFrom the desk of Alice');
    } finally {
      lease.release();
    }
  });
  it('a file that is not an mbox fails the job with a clear error and imports nothing', async () => {
    const started = await startJob(t.store, { kind: 'import', address: 'alice@example.test', password: pw, source: { type: 'path', path: join(fixtures, 'Maildir', 'dovecot-keywords'), as: 'mbox', into: 'Bad' } });
    const v = await jobEnded(t.store, started.id);
    expect(v.progress.phase).toBe('failed');
    expect(v.progress.error).toMatch(/not an mbox/);
    const lease = await open('alice@example.test');
    expect(lease.mailbox.folders.get('Bad')).toBeNull();
    lease.release();
  });
  it('a wrong password starts nothing', async () => {
    await expect(startJob(t.store, { kind: 'import', address: 'alice@example.test', password: 'wrong', source: { type: 'path', path: join(fixtures, 'odd.mboxrd') } })).rejects.toThrow();
  });
});

describe('export, then import into a fresh account: the same mailbox (issue 18 round trip)', () => {
  beforeAll(async () => {
    const lease = await open('alice@example.test');
    const dav = lease.mailbox.dav;
    const cal = dav.collection('calendar', 'default')!;
    dav.updateCollection(cal.id, { color: '#3366FFFF', displayName: 'Personal' });
    const ev = 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:ev1@example.test\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240102T100000Z\r\nSUMMARY:Réunion\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n';
    dav.put(cal.id, { name: 'ev1.ics', uid: 'ev1@example.test', data: ev, component: 'VEVENT' });
    const book = dav.collection('addressbook', 'default')!;
    dav.put(book.id, { name: 'c1.vcf', uid: 'c1', data: 'BEGIN:VCARD\r\nVERSION:4.0\r\nUID:c1\r\nFN:Zoë\r\nEMAIL:zoe@example.test\r\nEND:VCARD\r\n' });
    const mb = lease.mailbox;
    // Twelve messages of one second: their Maildir names differ only in the sequence number, M9 then M10, which must keep their order.
    const same = mb.folders.create('Same second');
    for (let i = 1; i <= 12; i++) mb.messages.append(same.id, sampleMessage({ subject: `same second ${i}` }), { internalDate: Date.UTC(2024, 5, 1, 8, 0, 0) });
    // Two names whose mbox files could come out alike (letters of other scripts; case alone), and must not overwrite each other.
    for (const name of ['Öl', 'Äl', 'Straße/Ärger', 'Straße/ärger']) mb.messages.append(mb.folders.create(name).id, sampleMessage({ subject: name }), { internalDate: Date.UTC(2024, 5, 2) });
    lease.release();
  });

  for (const format of ['maildir', 'mbox'] as const) {
    it(`${format}: messages, flags, dates, folders, events and contacts come back identical`, async () => {
      const dir = join(tmp, `export-${format}`);
      const ex = await run(t.store, { kind: 'export', address: 'alice@example.test', password: pw, dir, format });
      expect(ex.manifest!.folders.find((f) => f.name === 'INBOX')!.messages).toBe(4);
      expect(ex.manifest!.calendars.find((c) => c.name === 'default')!.objects).toBe(1);
      // Files are the owner's plaintext: 0600 in 0700 directories.
      expect(statSync(join(dir, 'manifest.json')).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, 'mail')).mode & 0o777).toBe(0o700);
      const target = `fresh-${format}@example.test`;
      await addAccount(t.store, target, pw);
      await run(t.store, { kind: 'import', address: target, password: pw, source: { type: 'path', path: dir } });
      const a = await open('alice@example.test');
      const b = await open(target);
      try {
        expect(snapshot(b.mailbox)).toEqual(snapshot(a.mailbox));
      } finally {
        a.release();
        b.release();
      }
      // The manifest's digests are those of what was written.
      if (format === 'maildir') expect(readdirSync(join(dir, 'mail', 'cur')).some((n) => n.endsWith(':2,FRS'))).toBe(true);
    });
  }
});
