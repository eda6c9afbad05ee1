/**
 * The envelopes table (mailbox schema migration 6): FETCH ENVELOPE reads a
 * message's envelope from a small row of its own instead of the whole parse
 * result beside the raw bytes. A mailbox written before it reaches it, serves
 * every envelope exactly as stored in the parse result before, during and
 * after the backfill that copies them (RFC 9051 §7.5.2 ENVELOPE is built from
 * it), keeps serving through expunges and appends in the middle, and leaves
 * no row behind a deleted message, even when SQLite hands its blob id to the
 * next message.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEncrypted } from '../../node/store/db.js';
import { MailboxContext } from '../../node/store/mailbox/context.js';
import { FolderRepo } from '../../node/store/mailbox/folders.js';
import { Mailbox } from '../../node/store/mailbox/mailbox.js';
import { MessageRepo } from '../../node/store/mailbox/messages.js';
import { mailboxMigrations } from '../../node/store/mailbox/schema.js';
import { migrate } from '../../node/store/migrate.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'haven-env-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const key = randomBytes(32);
const COUNT = 230;

function message(i: number): Buffer {
  return Buffer.from(
    [
      `From: "Sender ${i}" <sender${i}@example.test>`,
      `To: a@example.test, "B, Jr." <b@example.test>`,
      ...(i % 3 ? [`Cc: undisclosed-recipients:;`] : [`Reply-To: r${i}@example.test`]),
      `Subject: =?UTF-8?Q?n=C3=B6te_${i}?=`,
      `Date: Mon, 7 Dec 2026 12:${String(i % 60).padStart(2, '0')}:00 +0100`,
      `Message-ID: <m${i}@example.test>`,
      '',
      `Body ${i}.`,
      '',
    ].join('\r\n'),
  );
}

/** A mailbox file as schema version 5 left it: no envelopes table. */
function writeVersion5(path: string): void {
  const db = openEncrypted(path, key);
  migrate(path, db, mailboxMigrations);
  const ctx = new MailboxContext(path, db, 'acct');
  const folders = new FolderRepo(ctx);
  folders.ensureDefaults();
  new MessageRepo(ctx).appendMany(folders.require('INBOX').id, Array.from({ length: COUNT }, (_, i) => ({ raw: message(i) })));
  db.exec("DROP TABLE envelopes; DELETE FROM meta WHERE key = 'envelope_backfill'");
  db.pragma('user_version = 5');
  db.close();
}

/** Every message's envelope as served, beside the one in its stored parse result. */
function served(mb: Mailbox, inbox: number): { got: unknown[]; want: unknown[] } {
  const metas = mb.messages.listPlain(inbox, 1, 0xffffffff);
  return { got: metas.map((m) => mb.messages.envelope(m.blobId)), want: metas.map((m) => mb.messages.parsed(m.blobId).envelope) };
}

function tableCounts(path: string): { envelopes: number; blobs: number; orphans: number } {
  const db = openEncrypted(path, key, { create: false });
  try {
    const one = (sql: string) => db.prepare(sql).pluck().get() as number;
    return {
      envelopes: one('SELECT count(*) FROM envelopes'),
      blobs: one('SELECT count(*) FROM blobs'),
      orphans: one('SELECT count(*) FROM envelopes WHERE blob_id NOT IN (SELECT id FROM blobs)'),
    };
  } finally {
    db.close();
  }
}

describe('envelopes table migration', () => {
  it('serves every envelope exactly as the parse result holds it, before, during and after the backfill', async () => {
    const path = join(dir, 'mb.sqlite');
    writeVersion5(path);
    const mb = Mailbox.open('acct', path, key, { create: false });
    try {
      const inbox = mb.folders.require('INBOX').id;
      expect(mb.messages.envelopeBackfillPending()).toBe(true);
      let s = served(mb, inbox);
      expect(s.got).toEqual(s.want);
      // ENVELOPE carries the field as written, encoded words and all (RFC 9051 §7.5.2).
      expect((s.got[5] as { subject: string }).subject).toBe('=?UTF-8?Q?n=C3=B6te_5?=');
      // One batch copied, then an expunge and an append in the middle.
      mb.messages.backfillEnvelopes(100);
      s = served(mb, inbox);
      expect(s.got).toEqual(s.want);
      mb.messages.storeFlags(inbox, [1, 200], 'add', ['\\Deleted']);
      mb.messages.expunge(inbox);
      mb.messages.append(inbox, message(9999));
      while (mb.messages.envelopeBackfillPending()) await new Promise((r) => setImmediate(r));
      s = served(mb, inbox);
      expect(s.got).toHaveLength(COUNT - 1);
      expect(s.got).toEqual(s.want);
    } finally {
      mb.close();
    }
    expect(tableCounts(path)).toEqual({ envelopes: COUNT - 1, blobs: COUNT - 1, orphans: 0 });
  });

  it('drops a deleted message’s envelope, so a reused blob id never serves the old one', () => {
    const path = join(dir, 'fresh.sqlite');
    const mb = Mailbox.open('acct', path, key, { create: true });
    try {
      const inbox = mb.folders.require('INBOX').id;
      const first = mb.messages.append(inbox, message(1));
      const firstBlob = mb.messages.get(inbox, first.uid)!.blobId;
      mb.messages.storeFlags(inbox, [first.uid], 'add', ['\\Deleted']);
      mb.messages.expunge(inbox);
      expect(mb.messages.envelope(firstBlob)).toBeNull();
      const second = mb.messages.append(inbox, message(2));
      const blob = mb.messages.get(inbox, second.uid)!.blobId;
      // SQLite gives the freed id to the next blob (no AUTOINCREMENT): the case this guards.
      expect(blob).toBe(firstBlob);
      expect(mb.messages.envelope(blob)).toEqual(mb.messages.parsed(blob).envelope);
      expect(mb.messages.envelope(blob)?.messageId).toBe('<m2@example.test>');
    } finally {
      mb.close();
    }
    expect(tableCounts(path)).toEqual({ envelopes: 1, blobs: 1, orphans: 0 });
  });
});
