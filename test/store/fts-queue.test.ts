/**
 * New mail's full-text rows written in batches after delivery (issue #20,
 * mailbox/fts-queue.ts): SEARCH's substring keys (RFC 9051 §6.4.4: "Messages
 * that contain the specified string", case-insensitive, in the header or
 * body for TEXT, the body for BODY) answer the same before the indexer ran
 * as after; what is indexed survives a close (the mark is durable); an
 * expunge before indexing, a message appended and expunged in one batch,
 * and a freed blob id taken again leave the index exact; slices stay bounded;
 * the schedule runs the indexer on a full batch or after its delay.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEncrypted, type Db } from '../../node/store/db.js';
import { searchableText, type ParsedMessage } from '../../node/mime/index.js';
import { MailboxContext } from '../../node/store/mailbox/context.js';
import { FolderRepo } from '../../node/store/mailbox/folders.js';
import { MessageRepo } from '../../node/store/mailbox/messages.js';
import { mailboxMigrations } from '../../node/store/mailbox/schema.js';
import { migrate } from '../../node/store/migrate.js';
import { PendingText, PendingTextPool } from '../../node/store/mailbox/fts-queue.js';
import { Mailbox } from '../../node/store/mailbox/mailbox.js';

let dir: string;
let path: string;
const key = randomBytes(32);
/** The indexer never runs by itself: the tests run it (or the schedule under test does). */
const NEVER = { batch: 1_000_000, delayMs: 3_600_000 };

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'haven-fts-queue-'));
  path = join(dir, 'mb.sqlite');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function message(word: string, subject = `about ${word}`): Buffer {
  return Buffer.from(`From: a@example.test\r\nSubject: ${subject}\r\nMessage-ID: <${word}@x>\r\n\r\nThe ${word} is in the body.\r\n`);
}

const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);

/** A second connection on the file: what the index holds, as committed. */
function indexRows(word: string): number[] {
  const db: Db = openEncrypted(path, key, { create: false });
  try {
    return db.prepare('SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY rowid').pluck().all(`"${word.slice(0, 3)}" AND "${word.slice(-3)}"`) as number[];
  } finally {
    db.close();
  }
}

function integrity(): void {
  const db: Db = openEncrypted(path, key, { create: false });
  try {
    db.prepare("INSERT INTO fts(fts) VALUES('integrity-check')").run();
  } finally {
    db.close();
  }
}

/** Turns of the event loop until `cond` holds: a condition, not a time. */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i > 20_000) throw new Error('condition never held');
    await new Promise((r) => setTimeout(r, 1));
  }
}

describe('full-text rows after delivery', () => {
  it('finds new mail before the indexer ran (RFC 9051 §6.4.4), from the scan, and after, from the index', () => {
    const mb = Mailbox.open('a', path, key, { create: true, indexSchedule: NEVER });
    try {
      const inbox = mb.folders.require('INBOX').id;
      mb.messages.append(inbox, message('quokkazebra'));
      mb.messages.append(inbox, message('wombatyak'));
      // Not indexed: nothing in the index, two messages waiting.
      expect(mb.search.unindexedCount()).toBe(2);
      expect(indexRows('quokkazebra')).toEqual([]);
      // TEXT (headers and body), BODY, the header fields alone, case-insensitive, and under three characters (no trigram).
      expect(sorted(mb.search.matchText(inbox, 'KKAZEB', 'text'))).toEqual([1]);
      expect(sorted(mb.search.matchText(inbox, 'wombatyak is', 'body'))).toEqual([2]);
      expect(sorted(mb.search.matchText(inbox, 'about wombat', 'headers'))).toEqual([2]);
      expect(mb.search.matchText(inbox, 'about wombat', 'body').size).toBe(0);
      expect(sorted(mb.search.matchText(inbox, 'yA', 'body'))).toEqual([2]);

      expect(mb.search.indexNew(1000, 256)).toBe(false);
      expect(mb.search.unindexedCount()).toBe(0);
      expect(indexRows('quokkazebra')).toEqual([1]);
      // Now the index answers (nothing waits to be scanned): the same results.
      expect(sorted(mb.search.matchText(inbox, 'KKAZEB', 'text'))).toEqual([1]);
      expect(sorted(mb.search.matchText(inbox, 'wombatyak is', 'body'))).toEqual([2]);
      expect(sorted(mb.search.matchText(inbox, 'about wombat', 'headers'))).toEqual([2]);
      expect(sorted(mb.search.matchText(inbox, 'yA', 'body'))).toEqual([2]);
    } finally {
      mb.close();
    }
  });

  it('keeps what is indexed across a close: the tail is scanned at once and indexed after the next open', async () => {
    const first = Mailbox.open('a', path, key, { create: true, indexSchedule: NEVER });
    const inbox = first.folders.require('INBOX').id;
    first.messages.append(inbox, message('firstword'));
    first.search.indexNew(1000, 256);
    first.messages.append(inbox, message('secondword'));
    first.close();

    const held = Mailbox.open('a', path, key, { indexSchedule: NEVER });
    try {
      expect(held.search.unindexedCount()).toBe(1);
      expect(sorted(held.search.matchText(inbox, 'secondword', 'body'))).toEqual([2]);
      expect(sorted(held.search.matchText(inbox, 'firstword', 'body'))).toEqual([1]);
    } finally {
      held.close();
    }
    // With the default schedule the tail found at open is indexed without any new mail.
    const mb = Mailbox.open('a', path, key);
    try {
      await until(() => mb.search.unindexedCount() === 0);
      expect(indexRows('secondword')).toEqual([2]);
      expect(sorted(mb.search.matchText(inbox, 'secondword', 'text'))).toEqual([2]);
    } finally {
      mb.close();
    }
  });

  it('leaves the index exact when mail is expunged before the indexer reached it', () => {
    const mb = Mailbox.open('a', path, key, { create: true, indexSchedule: NEVER });
    try {
      const inbox = mb.folders.require('INBOX').id;
      mb.messages.append(inbox, message('alphaword'));
      mb.search.indexNew(1000, 256);
      // One batch: 2 and 3 appended, 2 expunged, then indexed.
      mb.messages.append(inbox, message('betaword'));
      mb.messages.append(inbox, message('gammaword'));
      mb.messages.remove(inbox, [2]);
      expect(mb.search.unindexedCount()).toBe(1);
      expect(mb.search.matchText(inbox, 'betaword', 'body').size).toBe(0);
      expect(mb.search.indexNew(1000, 256)).toBe(false);
      expect(mb.search.unindexedCount()).toBe(0);
      expect(indexRows('betaword')).toEqual([]);
      expect(indexRows('gammaword')).toEqual([3]);
      // An indexed message expunged: its row goes with it.
      mb.messages.remove(inbox, [1]);
      expect(indexRows('alphaword')).toEqual([]);
      expect(sorted(mb.search.matchText(inbox, 'word is', 'body'))).toEqual([3]);
      integrity();
    } finally {
      mb.close();
    }
  });

  it('indexes a freed blob id taken again by new mail, whether or not the freed one had been indexed', () => {
    const mb = Mailbox.open('a', path, key, { create: true, indexSchedule: NEVER });
    try {
      const inbox = mb.folders.require('INBOX').id;
      mb.messages.append(inbox, message('keepword'));
      // Indexed, expunged, its id (2, the highest) taken by the next message: the mark moves back below it.
      mb.messages.append(inbox, message('oldindexed'));
      mb.search.indexNew(1000, 256);
      mb.messages.remove(inbox, [2]);
      mb.messages.append(inbox, message('newcomer'));
      expect(mb.search.unindexedCount()).toBe(1);
      expect(sorted(mb.search.matchText(inbox, 'newcomer', 'body'))).toEqual([3]);
      // Never indexed, expunged, its id taken again: the new text is the one indexed.
      mb.messages.append(inbox, message('ghostword'));
      mb.messages.remove(inbox, [4]);
      mb.messages.append(inbox, message('livingword'));
      mb.search.indexNew(1000, 256);
      expect(mb.search.unindexedCount()).toBe(0);
      expect(indexRows('oldindexed')).toEqual([]);
      expect(indexRows('ghostword')).toEqual([]);
      expect(indexRows('newcomer')).toEqual([2]);
      expect(indexRows('livingword')).toEqual([3]);
      expect(mb.search.matchText(inbox, 'ghostword', 'body').size).toBe(0);
      expect(sorted(mb.search.matchText(inbox, 'livingword', 'body'))).toEqual([5]);
      integrity();
    } finally {
      mb.close();
    }
  });

  it('writes a slice of bounded work: a spent budget ends it after one message and says more wait', () => {
    const mb = Mailbox.open('a', path, key, { create: true, indexSchedule: NEVER });
    try {
      const inbox = mb.folders.require('INBOX').id;
      mb.messages.appendMany(inbox, ['one', 'two', 'three'].map((w) => ({ raw: message(`${w}word`) })));
      expect(mb.search.indexNew(0, 256)).toBe(true);
      expect(mb.search.unindexedCount()).toBe(2);
      expect(mb.search.indexNew(1000, 1)).toBe(true);
      expect(mb.search.indexNew(1000, 256)).toBe(false);
      expect(mb.search.unindexedCount()).toBe(0);
      expect(sorted(mb.search.matchText(inbox, 'threeword', 'text'))).toEqual([3]);
    } finally {
      mb.close();
    }
  });

  it('runs the indexer once a batch waits, or after the delay', async () => {
    const batched = Mailbox.open('a', path, key, { create: true, indexSchedule: { batch: 3, delayMs: 3_600_000 } });
    try {
      const inbox = batched.folders.require('INBOX').id;
      batched.messages.append(inbox, message('w1word'));
      batched.messages.append(inbox, message('w2word'));
      // Two turns of the event loop: a scheduled run would have happened.
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      expect(batched.search.unindexedCount()).toBe(2);
      batched.messages.append(inbox, message('w3word'));
      await until(() => batched.search.unindexedCount() === 0);
      expect(indexRows('w3word')).toEqual([3]);
    } finally {
      batched.close();
    }
    const delayed = Mailbox.open('a', path, key, { indexSchedule: { batch: 1_000, delayMs: 5 } });
    try {
      delayed.messages.append(delayed.folders.require('INBOX').id, message('w4word'));
      await until(() => delayed.search.unindexedCount() === 0);
      expect(indexRows('w4word')).toEqual([4]);
    } finally {
      delayed.close();
    }
  });

  it('keeps waiting text within one bound across mailboxes, and gives it back as it is indexed or closed', () => {
    const pool = new PendingTextPool(10);
    const a = new PendingText(pool);
    const b = new PendingText(pool);
    a.put(1, { headers: 'abc', body: 'def' });
    b.put(1, { headers: 'ghi', body: 'jkl' }); // 6 + 6 > 10: not kept, the indexer decodes it instead
    expect([a.size, b.size, pool.used]).toEqual([1, 0, 6]);
    expect(b.take(1)).toBeUndefined();
    a.dropUpTo(1);
    b.put(2, { headers: 'ghi', body: 'jkl' });
    expect([a.size, b.size, pool.used]).toEqual([0, 1, 6]);
    b.clear();
    expect(pool.used).toBe(0);
  });

  it('upgrades a mailbox whose mail was indexed at delivery (schema 6): nothing to index again, new mail waits as usual', () => {
    // What schema 6 left: every message's row written in its delivery's transaction.
    const db = openEncrypted(path, key);
    migrate(path, db, mailboxMigrations.slice(0, 6));
    const ctx = new MailboxContext(path, db, 'a');
    const folders = new FolderRepo(ctx);
    folders.ensureDefaults();
    const inbox = folders.require('INBOX').id;
    new MessageRepo(ctx).appendMany(inbox, ['oldalpha', 'oldbeta'].map((w) => ({ raw: message(w) })));
    const rows = db.prepare('SELECT id, raw, parsed FROM blobs').all() as { id: number; raw: Buffer; parsed: string }[];
    const insert = db.prepare('INSERT INTO fts(rowid, headers, body) VALUES (?, ?, ?)');
    for (const r of rows) {
      const t = searchableText(r.raw, (JSON.parse(r.parsed) as ParsedMessage).structure);
      insert.run(r.id, t.headers, t.body);
    }
    db.close();

    const mb = Mailbox.open('a', path, key, { indexSchedule: NEVER });
    try {
      expect(mb.search.unindexedCount()).toBe(0);
      expect(sorted(mb.search.matchText(inbox, 'oldbeta', 'text'))).toEqual([2]);
      mb.messages.append(inbox, message('newgamma'));
      expect(mb.search.unindexedCount()).toBe(1);
      expect(sorted(mb.search.matchText(inbox, 'newgamma', 'body'))).toEqual([3]);
      mb.search.indexNew(1000, 256);
      expect(indexRows('oldalpha')).toEqual([1]);
      expect(indexRows('newgamma')).toEqual([3]);
      integrity();
    } finally {
      mb.close();
    }
  });
});
