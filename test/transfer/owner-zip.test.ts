/**
 * The owner's download (GET /export.zip, HTTP Basic per RFC 7617 with their
 * own password): a ZIP (APPNOTE 6.3) that Info-ZIP's unzip tests clean,
 * holding the layout `haven export` writes; unpacked and imported into a
 * fresh account it gives the same mailbox. Without the right password:
 * 401 with a Basic challenge, and nothing else.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mailbox } from '../../node/store/index.js';
import { jobEnded, startJob } from '../../node/transfer/index.js';
import { makeTestApp, type TestApp } from '../http/harness.js';
import { addAccount, sampleMessage } from '../helpers/store.js';

const pw = 'correct horse battery';
let node: TestApp;
let tmp: string;

const basic = (user: string, pass: string) => ({ Authorization: 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64') });

function contents(mb: Mailbox) {
  return {
    folders: mb.folders.list().map((f) => ({ name: f.name, specialUse: f.specialUse, messages: mb.messages.list(f.id).map((m) => [mb.messages.raw(m.blobId).toString('base64'), [...m.flags].sort(), m.internalDate]) })),
    dav: mb.dav.collections().map((c) => [c.kind, c.name, c.displayName, c.color, mb.dav.objects(c.id).map((o) => o.data.slice(o.data.search(/BEGIN:(VEVENT|VCARD)/)))]),
  };
}

beforeAll(async () => {
  node = makeTestApp();
  tmp = mkdtempSync(join(tmpdir(), 'haven-zip-'));
  await addAccount(node.t.store, 'alice@example.test', pw);
  await addAccount(node.t.store, 'fresh@example.test', pw);
  const lease = await node.t.store.authenticate('alice@example.test', pw);
  const mb = lease.mailbox;
  const work = mb.folders.create('Work/Été');
  mb.messages.append(mb.folders.require('INBOX').id, sampleMessage({ subject: 'one', body: 'From the start\r\n>From quoted' }), { flags: ['\\Seen', 'Work'], internalDate: Date.UTC(2024, 0, 1, 12, 0, 0) });
  mb.messages.append(work.id, sampleMessage({ subject: 'two' }), { flags: ['\\Flagged'], internalDate: Date.UTC(2024, 1, 2, 3, 4, 5) });
  const cal = mb.dav.collection('calendar', 'default')!;
  mb.dav.put(cal.id, { name: 'e.ics', uid: 'e1', data: 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:e1\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240102T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n', component: 'VEVENT' });
  lease.release();
});
afterAll(() => {
  node.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

describe('GET /export.zip', () => {
  it('asks for the owner\'s password and refuses a wrong one', async () => {
    const none = await node.app.request('/export.zip');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    const wrong = await node.app.request('/export.zip', { headers: basic('alice@example.test', 'not it') });
    expect(wrong.status).toBe(401);
  });

  for (const format of ['maildir', 'mbox'] as const) {
    it(`${format}: a ZIP unzip tests clean, which imported into a fresh account gives the same mailbox`, async () => {
      const res = await node.app.request(`/export.zip${format === 'mbox' ? '?format=mbox' : ''}`, { headers: basic('alice@example.test', pw) });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/zip');
      expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="haven-export-\d{4}-\d\d-\d\d\.zip"$/);
      const zip = join(tmp, `${format}.zip`);
      writeFileSync(zip, Buffer.from(await res.arrayBuffer()));
      // Info-ZIP checks every entry's CRC-32 and the central directory.
      expect(execFileSync('unzip', ['-t', zip]).toString()).toMatch(/No errors detected/);
      // A small export stays a plain ZIP (APPNOTE §4.4.3.2: version needed 2.0 for every entry, no ZIP64 end record,
      // §4.3.14), which every unzipper opens; the mbox files' sizes are bounded before they are written (zip.ts).
      const versions = execFileSync('python3', ['-c', 'import sys, zipfile; print(sorted({i.extract_version for i in zipfile.ZipFile(sys.argv[1]).infolist()}))', zip]).toString().trim();
      expect(versions).toBe('[20]');
      expect(readFileSync(zip).includes(Buffer.from([0x50, 0x4b, 0x06, 0x06]))).toBe(false);
      const dir = join(tmp, format);
      execFileSync('unzip', ['-q', zip, '-d', dir]);
      const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { format: string; folders: { name: string; messages: number }[] };
      expect(manifest.format).toBe(format);
      expect(manifest.folders.find((f) => f.name === 'Work/Été')!.messages).toBe(1);

      const target = `fresh-${format}@example.test`;
      await addAccount(node.t.store, target, pw);
      const job = await startJob(node.t.store, { kind: 'import', address: target, password: pw, source: { type: 'path', path: dir } });
      expect((await jobEnded(node.t.store, job.id)).progress.phase).toBe('done');
      const a = await node.t.store.authenticate('alice@example.test', pw);
      const b = await node.t.store.authenticate(target, pw);
      try {
        expect(contents(b.mailbox)).toEqual(contents(a.mailbox));
      } finally {
        a.release();
        b.release();
      }
    });
  }
});
