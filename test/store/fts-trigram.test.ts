/**
 * The trigram full-text index (mailbox schema migration 3): a mailbox written
 * with the word index reaches the trigram one, answers substring searches
 * (RFC 9051 §6.4.4) whole while its mail is re-indexed in batches after it
 * opens and from the index once that is done, keeps answering through
 * expunges and appends during the backfill, and leaves no plaintext in the
 * files.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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
  dir = mkdtempSync(join(tmpdir(), 'haven-fts-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const key = randomBytes(32);
const COUNT = 250;

/** Message i: every seventh carries "quokkazebra" in a base64 body, the rest plain words. */
function message(i: number): Buffer {
  const special = i % 7 === 0;
  const body = special ? Buffer.from(`Note ${i}: the quokkazebra is here.`).toString('base64') : `Plain note number ${i}.`;
  return Buffer.from(
    [`From: sender${i}@example.test`, `Subject: note ${i}`, ...(special ? ['Content-Transfer-Encoding: base64'] : []), '', body, ''].join('\r\n'),
  );
}

/** A mailbox file as schema version 2 left it (the word-token index), holding COUNT messages. */
function writeOldMailbox(path: string): void {
  const db = openEncrypted(path, key);
  migrate(path, db, mailboxMigrations.slice(0, 2));
  const ctx = new MailboxContext(path, db, 'acct');
  const folders = new FolderRepo(ctx);
  folders.ensureDefaults();
  const inbox = folders.require('INBOX').id;
  // Today's MessageRepo also writes each envelope to its table (migration 6), which a version-2 file lacks: lend it one.
  db.exec('CREATE TABLE envelopes(blob_id INTEGER PRIMARY KEY, envelope TEXT NOT NULL)');
  new MessageRepo(ctx).appendMany(inbox, Array.from({ length: COUNT }, (_, i) => ({ raw: message(i) })));
  db.exec('DROP TABLE envelopes');
  db.close();
}

const expected = (pred: (i: number) => boolean) =>
  Array.from({ length: COUNT }, (_, i) => i)
    .filter(pred)
    .map((i) => i + 1);

async function backfilled(mb: Mailbox): Promise<void> {
  // The backfill runs on timers of its own; let the event loop turn until it reports done.
  while (mb.search.backfillPending()) await new Promise((r) => setImmediate(r));
}

describe('trigram index migration', () => {
  it('answers substrings exactly before, during and after the backfill', async () => {
    const path = join(dir, 'mb.sqlite');
    writeOldMailbox(path);
    const mb = Mailbox.open('acct', path, key, { create: false });
    try {
      const inbox = mb.folders.require('INBOX').id;
      const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);
      const quokka = expected((i) => i % 7 === 0);
      // Straight after the migration nothing is indexed yet: the scan answers, whole.
      expect(mb.search.backfillPending()).toBe(true);
      expect(sorted(mb.search.matchText(inbox, 'kkazeb', 'body'))).toEqual(quokka);
      // A message expunged and one appended during the backfill.
      mb.messages.storeFlags(inbox, [1], 'add', ['\\Deleted']);
      mb.messages.expunge(inbox);
      const added = mb.messages.append(inbox, message(7 * 1000)).uid;
      await backfilled(mb);
      // From the index alone now: the same answer, less the expunged message, plus the new one.
      expect(sorted(mb.search.matchText(inbox, 'kkazeb', 'body'))).toEqual([...quokka.filter((u) => u !== 1), added]);
      expect(sorted(mb.search.matchText(inbox, 'QUOKKAZEBRA', 'text'))).toEqual([...quokka.filter((u) => u !== 1), added]);
      expect(sorted(mb.search.matchText(inbox, 'sender13@', 'headers'))).toEqual([14]);
      // The body scope does not see headers, nor the encoded form of a body.
      expect(mb.search.matchText(inbox, 'sender13@', 'body').size).toBe(0);
      expect(mb.search.matchText(inbox, 'Tm90ZSA', 'body').size).toBe(0);
      // Two characters: a scan of the decoded text.
      expect(sorted(mb.search.matchText(inbox, 'kk', 'body'))).toEqual([...quokka.filter((u) => u !== 1), added]);
    } finally {
      mb.close();
    }
  });

  it('resumes the backfill at the next open when the mailbox closed midway', async () => {
    const path = join(dir, 'mb.sqlite');
    writeOldMailbox(path);
    const first = Mailbox.open('acct', path, key, { create: false });
    first.search.backfill(100);
    first.close();
    const mb = Mailbox.open('acct', path, key, { create: false });
    try {
      expect(mb.search.backfillPending()).toBe(true);
      await backfilled(mb);
      const inbox = mb.folders.require('INBOX').id;
      expect(mb.search.matchText(inbox, 'quokkazebra', 'body').size).toBe(expected((i) => i % 7 === 0).length);
    } finally {
      mb.close();
    }
  });

  it('keeps the indexed text inside the encrypted files', async () => {
    const path = join(dir, 'mb.sqlite');
    writeOldMailbox(path);
    const mb = Mailbox.open('acct', path, key, { create: false });
    await backfilled(mb);
    mb.close();
    for (const name of readdirSync(dir)) {
      const bytes = readFileSync(join(dir, name));
      for (const word of ['quokkazebra', 'uokkaz', 'sender13', 'Plain note']) expect(bytes.includes(word), `${word} in ${name}`).toBe(false);
    }
  });
});
