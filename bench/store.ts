/**
 * @module bench/store
 * The encrypted store against itself without encryption, in one run:
 *  - deliveries per second (one ~10 KB message per durable transaction, as
 *    SMTP delivers: WAL, synchronous=FULL, MIME parsed; full-text rows come
 *    later in batches, mailbox/fts-queue.ts), into a
 *    ChaCha20 database and into the same schema and code unencrypted, as a
 *    ratio (target: encrypted at least 0.6 of plain);
 *  - main-thread time per message of delivery as SMTP pays it: one message
 *    per transaction, its commit fsynced off the event loop (appendManyDeferred),
 *    parsed beforehand as the MX does, plus the full-text indexer's batches
 *    (mailbox/fts-queue.ts) run every 64 messages as its schedule would;
 *  - time to open an existing mailbox with its raw key (target: under 5 ms);
 *  - memory per open mailbox (RSS growth over many open mailboxes).
 *
 *   npm run bench -- store [--messages 2000] [--mailboxes 200]
 */
import Database from 'better-sqlite3-multiple-ciphers';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseMessage } from '../node/mime/index.js';
import { Mailbox } from '../node/store/index.js';
import { MailboxContext } from '../node/store/mailbox/context.js';
import { FolderRepo } from '../node/store/mailbox/folders.js';
import { MessageRepo } from '../node/store/mailbox/messages.js';
import { mailboxMigrations } from '../node/store/mailbox/schema.js';
import { migrate } from '../node/store/migrate.js';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '2000' },
    mailboxes: { type: 'string', default: '200' },
  },
});
const MESSAGES = Number(args.messages);
const MAILBOXES = Number(args.mailboxes);
const dir = mkdtempSync(join(tmpdir(), 'haven-bench-store-'));

const words = 'the quick brown fox jumps over a lazy dog while mail servers keep every message safe'.split(' ');
function message(i: number): Buffer {
  const body: string[] = [];
  let size = 0;
  for (let l = 0; size < 10_000; l++) {
    const line = Array.from({ length: 12 }, (_, k) => words[(i * 7 + l * 3 + k) % words.length]).join(' ');
    body.push(line);
    size += line.length + 2;
  }
  return Buffer.from(
    [
      `From: Sender ${i} <sender${i}@example.net>`,
      `To: Alice <alice@example.test>`,
      `Subject: Bench message ${i}`,
      `Date: Tue, 01 Dec 2026 10:00:00 +0000`,
      `Message-ID: <bench-${i}@example.net>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      ...body,
      '',
    ].join('\r\n'),
  );
}
const corpus = Array.from({ length: MESSAGES }, (_, i) => message(i));

/** The same repositories the node uses, over an unencrypted file with the node's pragmas. */
function openPlain(path: string): { messages: MessageRepo; inbox: number; close(): void } {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('temp_store = MEMORY');
  migrate(path, db, mailboxMigrations);
  const ctx = new MailboxContext(path, db, 'plain');
  const folders = new FolderRepo(ctx);
  folders.ensureDefaults();
  return { messages: new MessageRepo(ctx), inbox: folders.require('INBOX').id, close: () => db.close() };
}

function openCipher(path: string, key: Buffer): { messages: MessageRepo; inbox: number; close(): void; mailbox: Mailbox } {
  const mb = Mailbox.open('enc', path, key, { create: true });
  return { messages: mb.messages, inbox: mb.folders.require('INBOX').id, close: () => mb.close(), mailbox: mb };
}

function deliverAll(target: { messages: MessageRepo; inbox: number }, msgs: Buffer[]): number {
  const t0 = process.hrtime.bigint();
  for (const raw of msgs) target.messages.append(target.inbox, raw, { ignoreQuota: true });
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

try {
  const key = randomBytes(32);
  // Warm-up on throwaway files so neither side pays for first-use costs.
  for (const t of [openPlain(join(dir, 'warm-plain.sqlite')), openCipher(join(dir, 'warm-enc.sqlite'), randomBytes(32))]) {
    deliverAll(t, corpus.slice(0, 50));
    t.close();
  }

  const plain = openPlain(join(dir, 'plain.sqlite'));
  const plainSec = deliverAll(plain, corpus);
  plain.close();
  const enc = openCipher(join(dir, 'enc.sqlite'), key);
  const encSec = deliverAll(enc, corpus);
  enc.close();
  const plainRate = MESSAGES / plainSec;
  const encRate = MESSAGES / encSec;
  console.log(`deliveries (${MESSAGES} x ~10 KB, one durable transaction each):`);
  console.log(`  plain      ${plainRate.toFixed(0).padStart(6)} msg/s`);
  console.log(`  encrypted  ${encRate.toFixed(0).padStart(6)} msg/s`);
  console.log(`  ratio      ${(encRate / plainRate).toFixed(2)}  (target >= 0.60)`);

  // Delivery as SMTP pays it. The indexer is held back by its schedule and run here every 64
  // messages, so its cost is counted on the same clock (a build without it indexes inside the append).
  const smtpShaped = Mailbox.open('smtp', join(dir, 'smtp.sqlite'), randomBytes(32), { create: true, indexSchedule: { batch: 1e9, delayMs: 3_600_000 } });
  const inboxId = smtpShaped.folders.require('INBOX').id;
  const parsed = corpus.map((raw) => parseMessage(raw));
  const indexNew = (smtpShaped.search as { indexNew?: (budgetMs: number, maxRows: number) => boolean }).indexNew?.bind(smtpShaped.search);
  let storeNs = 0n;
  let indexNs = 0n;
  for (let i = 0; i < corpus.length; i++) {
    const t0 = process.hrtime.bigint();
    const { durable } = smtpShaped.messages.appendManyDeferred(inboxId, [{ raw: corpus[i], parsed: parsed[i], ignoreQuota: true }]);
    const t1 = process.hrtime.bigint();
    storeNs += t1 - t0;
    await durable;
    if (indexNew && (i % 64 === 63 || i === corpus.length - 1)) {
      const t2 = process.hrtime.bigint();
      while (indexNew(8, 256));
      indexNs += process.hrtime.bigint() - t2;
    }
  }
  smtpShaped.close();
  const perMsg = (ns: bigint) => (Number(ns) / 1e6 / corpus.length).toFixed(3);
  console.log(`delivery as SMTP pays it (${corpus.length} x ~10 KB, one transaction each, fsync off the loop):`);
  console.log(`  main thread ${perMsg(storeNs + indexNs)} ms/message  (append and commit ${perMsg(storeNs)}, index batches ${perMsg(indexNs)})`);

  // Open time: an existing mailbox holding the messages above, raw key, migrations already current.
  const opens: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t0 = process.hrtime.bigint();
    const mb = Mailbox.open('enc', join(dir, 'enc.sqlite'), key);
    opens.push(Number(process.hrtime.bigint() - t0) / 1e6);
    mb.close();
  }
  console.log(`open an existing mailbox (${MESSAGES} messages): median ${median(opens).toFixed(2)} ms, max ${Math.max(...opens).toFixed(2)} ms  (target < 5 ms)`);

  // Memory per open mailbox: many small mailboxes held open at once.
  const made: { path: string; key: Buffer }[] = [];
  for (let i = 0; i < MAILBOXES; i++) {
    const m = { path: join(dir, `mb-${i}.sqlite`), key: randomBytes(32) };
    const mb = Mailbox.open(String(i), m.path, m.key, { create: true });
    mb.messages.append(mb.folders.require('INBOX').id, corpus[i % corpus.length], { ignoreQuota: true });
    mb.close();
    made.push(m);
  }
  globalThis.gc?.();
  const before = process.memoryUsage().rss;
  const open = made.map((m, i) => Mailbox.open(String(i), m.path, m.key));
  for (const mb of open) mb.messages.list(mb.folders.require('INBOX').id);
  globalThis.gc?.();
  const after = process.memoryUsage().rss;
  console.log(`memory per open mailbox: ${((after - before) / MAILBOXES / 1024).toFixed(0)} KiB RSS (${MAILBOXES} open; total RSS ${(after / 2 ** 20).toFixed(0)} MiB)`);
  for (const mb of open) mb.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
