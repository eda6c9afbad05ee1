/**
 * @module bench/replication-node
 * The node side of bench/replication.ts: the MX of bench/smtp-node.ts with
 * replication running, started before the store as in the node. It records,
 * for every commit, the time from the commit to the replica holding it, and
 * samples the replicator's own lag (age of the oldest unshipped commit)
 * every 10 ms. On SIGTERM it waits for the replica to catch up (optionally
 * after a `haven backup`-style snapshot), then prints `RESULT <json>`.
 *
 *   tsx bench/replication-node.ts <dataDir> <masterKeyHex> <dnsPort> <password> <replicaUrl> <snapshotAtEnd:0|1> <uploads in flight> <address...>
 */
import { replicate } from '../node/replication/index.js';
import { resolverFor } from '../node/smtp/index.js';
import { Store, type Lease } from '../node/store/index.js';
import { silentLogger } from '../node/util/log.js';
import { startTestMx } from '../test/helpers/mx.js';

const [dataDir, keyHex, dnsPort, password, url, snapshotAtEnd, uploads, ...addresses] = process.argv.slice(2);
const commitLags: number[] = [];
const rep = replicate({
  url,
  dataDir,
  log: silentLogger,
  retentionCheckMs: 0,
  concurrency: Number(uploads),
  onShipped: (commits, at) => {
    for (const c of commits) commitLags.push(at - c);
  },
});
const store = Store.open({ dataDir, masterKey: Buffer.from(keyHex, 'hex') });
const leases: Lease[] = [];
for (const a of addresses) leases.push(await store.authenticate(a, password));
await rep.flush();
commitLags.length = 0;
const sampled: number[] = [];
const sampler = setInterval(() => sampled.push(rep.status().lagMs), 10);
const server = await startTestMx(store, { resolver: resolverFor([`127.0.0.1:${dnsPort}`]), maxConnectionsPerIp: 1000 });
console.log(`PORT ${server.port}`);
process.on('SIGTERM', async () => {
  clearInterval(sampler);
  const t0 = performance.now();
  await rep.flush(120_000);
  const drainMs = performance.now() - t0;
  await server.close();
  for (const l of leases) l.release();
  if (snapshotAtEnd === '1') await rep.backupNow();
  store.close();
  await rep.stop();
  const s = rep.status();
  console.log(`RESULT ${JSON.stringify({ commitLags, sampled, drainMs, uploads: s.uploads, uploadedBytes: s.uploadedBytes })}`);
  process.exit(0);
});
