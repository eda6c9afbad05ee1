/**
 * @module bench/replication
 * Replication under load, and restore speed:
 *
 * 1. Lag: the SMTP bench's load (N messages of ~10 KB over P sessions into
 *    unlocked mailboxes, every 250 durable) against a node that replicates
 *    to a local S3 server (s3rver on loopback, its own process) or a
 *    directory. Reported per commit: the time from the commit to the
 *    replica holding it (p50, p99, max), and the replicator's own lag gauge
 *    sampled every 10 ms (the figure /health and `haven replicate status`
 *    show). Target: p99 under 1 s.
 * 2. Restore: the whole node back from that replica into an empty directory
 *    — every object fetched, every chain link and WAL checksum checked,
 *    databases rebuilt and verified (integrity_check where keyed) — twice:
 *    replaying the WAL history as the load left it, and after a snapshot
 *    (what a restore looks like once a scheduled snapshot ran). MB/s is
 *    replica bytes fetched per second of wall time. Target: over 50 MB/s.
 * 3. Bulk restore: mailboxes filled through the store to --bulk-mb MB of
 *    (incompressible) mail while replicating, a snapshot, then the restore:
 *    the figure that decides how long a rebuilt server is down.
 *
 *   npm run bench -- replication [--messages 2000] [--sessions 10] [--accounts 10] [--target s3|file] [--bulk-mb 100] [--uploads 8]
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchMessage, sendLoad } from './lib/smtp-client.js';
import { randomBytes } from 'node:crypto';
import { replicate, restore } from '../node/replication/index.js';
import type { Lease } from '../node/store/index.js';
import { runChild } from '../test/helpers/child.js';
import { startTestDns } from '../test/helpers/dns-server.js';
import { addAccount, makeTestStore, sampleMessage } from '../test/helpers/store.js';
import { S3_BUCKET, tempDir } from '../test/replication/helpers.js';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '2000' },
    sessions: { type: 'string', default: '10' },
    accounts: { type: 'string', default: '10' },
    target: { type: 'string', default: 's3' },
    'bulk-mb': { type: 'string', default: '100' },
    uploads: { type: 'string', default: '8' },
  },
});
const COUNT = Number(args.messages);
const SESSIONS = Number(args.sessions);
const ACCOUNTS = Number(args.accounts);
const PASSWORD = 'correct horse battery';
if (args.target !== 's3' && args.target !== 'file') throw new Error('--target is s3 or file');

function drive(port: number, addresses: string[]): Promise<number> {
  return sendLoad(port, COUNT, SESSIONS, (i) => addresses[i % addresses.length]);
}

/** s3rver in its own process (see s3rver-node.ts), with the test helpers' bucket and credentials. */
async function startS3(prefix: string): Promise<{ url: string; cleanup(): Promise<void> }> {
  const dir = tempDir('bench-s3');
  process.env.HAVEN_REPLICA_ACCESS_KEY_ID = 'S3RVER';
  process.env.HAVEN_REPLICA_SECRET_ACCESS_KEY = 'S3RVER';
  const child = runChild(join(import.meta.dirname, 's3rver-node.ts'), [dir, S3_BUCKET]);
  const line = await child.waitFor((l) => l.startsWith('PORT ') || l.startsWith('__exit__'));
  if (!line.startsWith('PORT ')) throw new Error(`s3rver failed to start: ${line}`);
  return {
    url: `s3://${S3_BUCKET}/${prefix}?endpoint=http://127.0.0.1:${line.split(' ')[1]}&region=us-east-1`,
    cleanup: async () => {
      await child.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN);
const ms = (v: number) => `${v.toFixed(0)} ms`;

interface Run {
  url: string;
  masterKey: Buffer;
  cleanup(): Promise<void>;
}

/** One load against a fresh node and replica; returns the replica for the restore part. */
async function lagRun(snapshotAtEnd: boolean): Promise<Run & { seconds: number; result: { commitLags: number[]; sampled: number[]; drainMs: number; uploads: number; uploadedBytes: number } }> {
  const s3 = args.target === 's3' ? await startS3('bench') : null;
  const fileDir = s3 ? null : tempDir('bench-replica');
  const url = s3 ? s3.url : `file://${fileDir}`;
  const t = makeTestStore();
  const dns = await startTestDns();
  dns.add('sender.test', { TXT: ['v=spf1 ip4:127.0.0.1 -all'] });
  dns.add('_dmarc.sender.test', { TXT: ['v=DMARC1; p=none'] });
  const addresses = Array.from({ length: ACCOUNTS }, (_, i) => `user${i}@example.test`);
  for (const a of addresses) await addAccount(t.store, a, PASSWORD);
  t.store.close();
  const child = runChild(join(import.meta.dirname, 'replication-node.ts'), [t.dataDir, t.masterKey.toString('hex'), String(dns.port), PASSWORD, url, snapshotAtEnd ? '1' : '0', args.uploads!, ...addresses]);
  const line = await child.waitFor((l) => l.startsWith('PORT ') || l.startsWith('__exit__'));
  if (!line.startsWith('PORT ')) throw new Error(`node failed to start: ${line}`);
  const seconds = await drive(Number(line.split(' ')[1]), addresses);
  child.proc.kill('SIGTERM');
  const res = await child.waitFor((l) => l.startsWith('RESULT ') || l.startsWith('__exit__'));
  if (!res.startsWith('RESULT ')) throw new Error(`node failed: ${res}`);
  await child.exited;
  await dns.close();
  t.cleanup();
  return {
    url,
    masterKey: t.masterKey,
    seconds,
    result: JSON.parse(res.slice('RESULT '.length)),
    cleanup: async () => {
      await s3?.cleanup();
      if (fileDir) rmSync(fileDir, { recursive: true, force: true });
    },
  };
}

async function restoreRun(run: Run): Promise<{ mbps: number; bytes: number; dbBytes: number; seconds: number; databases: number }> {
  const into = tempDir('bench-restore');
  try {
    const r = await restore({ target: run.url, into, masterKey: run.masterKey });
    const dbBytes = r.databases.reduce((n, d) => n + d.pages * d.pageSize, 0);
    return { mbps: r.bytes / 1e6 / (r.ms / 1000), bytes: r.bytes, dbBytes, seconds: r.ms / 1000, databases: r.databases.length };
  } finally {
    rmSync(into, { recursive: true, force: true });
  }
}

console.log(`replication: ${COUNT} messages (~${(benchMessage(0, 'user0@example.test').length / 1024).toFixed(1)} KB) over ${SESSIONS} SMTP sessions into ${ACCOUNTS} unlocked mailboxes, replica ${args.target === 's3' ? 's3rver on loopback' : 'a local directory'}`);

const a = await lagRun(false);
const lags = [...a.result.commitLags].sort((x, y) => x - y);
const sampled = a.result.sampled.filter((v) => v > 0).sort((x, y) => x - y);
console.log(`  ingest           ${(COUNT / a.seconds).toFixed(0)} msgs/s while replicating (${a.seconds.toFixed(1)} s)`);
console.log(`  commit->replica  p50 ${ms(pct(lags, 50))}   p99 ${ms(pct(lags, 99))}   max ${ms(lags[lags.length - 1] ?? NaN)}   (${lags.length} commits, ${a.result.uploads} uploads, ${(a.result.uploadedBytes / 1e6).toFixed(1)} MB)   target p99 < 1000 ms: ${pct(lags, 99) < 1000 ? 'met' : 'MISSED'}`);
console.log(`  lag gauge        p50 ${ms(pct(sampled, 50))}   p99 ${ms(pct(sampled, 99))}   (10 ms samples while behind: ${sampled.length} of ${a.result.sampled.length})   caught up ${ms(a.result.drainMs)} after the last 250`);
const r1 = await restoreRun(a);
console.log(`  restore (WAL)    ${r1.mbps.toFixed(1)} MB/s   ${(r1.bytes / 1e6).toFixed(1)} MB fetched -> ${(r1.dbBytes / 1e6).toFixed(1)} MB of databases (${r1.databases}) in ${r1.seconds.toFixed(2)} s   target > 50 MB/s: ${r1.mbps > 50 ? 'met' : 'MISSED'}`);
await a.cleanup();

const b = await lagRun(true);
const r2 = await restoreRun(b);
console.log(`  restore (snap)   ${r2.mbps.toFixed(1)} MB/s   ${(r2.bytes / 1e6).toFixed(1)} MB fetched -> ${(r2.dbBytes / 1e6).toFixed(1)} MB of databases in ${r2.seconds.toFixed(2)} s (after a snapshot of every database)`);
await b.cleanup();

const BULK_MB = Number(args['bulk-mb']);
if (BULK_MB > 0) {
  const s3 = args.target === 's3' ? await startS3('bulk') : null;
  const fileDir = s3 ? null : tempDir('bench-bulk');
  const url = s3 ? s3.url : `file://${fileDir}`;
  const t = makeTestStore();
  const rep = replicate({ url, dataDir: t.dataDir, log: (await import('../node/util/log.js')).silentLogger, retentionCheckMs: 0 });
  const store = t.reopen();
  const leases: Lease[] = [];
  for (let i = 0; i < ACCOUNTS; i++) {
    const a = await addAccount(store, `bulk${i}@example.test`, PASSWORD);
    leases.push(await store.authenticate(a.address, PASSWORD));
  }
  const started = performance.now();
  let bytes = 0;
  for (let i = 0; bytes < BULK_MB * 1e6; i++) {
    // Base64 of random bytes: as incompressible as the ciphertext it becomes.
    const body = randomBytes(192 * 1024).toString('base64').replace(/.{76}/g, '$&\r\n');
    const raw = sampleMessage({ to: `bulk${i % ACCOUNTS}@example.test`, subject: `bulk ${i}`, body });
    await store.deliver(leases[i % ACCOUNTS].account.id, raw);
    bytes += raw.length;
  }
  await rep.flush(300_000);
  const fillS = (performance.now() - started) / 1000;
  await rep.backupNow(300_000);
  for (const l of leases) l.release();
  store.close();
  await rep.stop();
  const r = await restoreRun({ url, masterKey: t.masterKey, cleanup: async () => {} });
  console.log(`  bulk fill        ${(bytes / 1e6).toFixed(0)} MB of mail into ${ACCOUNTS} mailboxes in ${fillS.toFixed(1)} s while replicating (${(bytes / 1e6 / fillS).toFixed(1)} MB/s, caught up)`);
  console.log(`  restore (bulk)   ${r.mbps.toFixed(1)} MB/s   ${(r.bytes / 1e6).toFixed(1)} MB fetched -> ${(r.dbBytes / 1e6).toFixed(1)} MB of databases (${r.databases}) in ${r.seconds.toFixed(2)} s   target > 50 MB/s: ${r.mbps > 50 ? 'met' : 'MISSED'}`);
  t.cleanup();
  await s3?.cleanup();
  if (fileDir) rmSync(fileDir, { recursive: true, force: true });
}
