/**
 * @module bench/smtp-node
 * The node side of bench/smtp.ts, in its own process so its peak RSS is its
 * own: opens the store, optionally logs every account in (unlocked
 * mailboxes, the common case while mail clients are connected), starts the
 * MX against the loopback DNS (early-talker pause on for loopback senders)
 * and prints `PORT <n>`.
 *
 *   tsx bench/smtp-node.ts <dataDir> <masterKeyHex> <dnsPort> <password> <unlock:0|1> <address...>
 */
import { Store, type Lease } from '../node/store/index.js';
import { resolverFor } from '../node/smtp/index.js';
import { startTestMx } from '../test/helpers/mx.js';
import { Rspamd, rspamdFilter } from '../node/rspamd/index.js';
import { silentLogger } from '../node/util/log.js';

const [dataDir, keyHex, dnsPort, password, unlock, ...addresses] = process.argv.slice(2);
const store = Store.open({ dataDir, masterKey: Buffer.from(keyHex, 'hex') });
const leases: Lease[] = [];
if (unlock === '1') for (const a of addresses) leases.push(await store.authenticate(a, password));
// HAVEN_BENCH_RSPAMD_URL: every message is checked by that rspamd (bench/smtp.ts --rspamd).
const rspamdUrl = process.env.HAVEN_BENCH_RSPAMD_URL;
const content = rspamdUrl ? rspamdFilter(new Rspamd({ url: rspamdUrl }), { log: silentLogger, hostname: 'mx.haven.test' }) : undefined;
const server = await startTestMx(store, { resolver: resolverFor([`127.0.0.1:${dnsPort}`]), maxConnectionsPerIp: 1000, content,
  // The bench's senders stand in for remote MTAs: they pay the early-talker pause
  // (once per sender address, as a remote one would) even though they are on loopback.
  greetPause: { pauseLoopback: true },
});
// HAVEN_BENCH_PROFILE=<file>: write a CPU profile of the node (open it in Chrome DevTools).
let profiler: import('node:inspector').Session | null = null;
if (process.env.HAVEN_BENCH_PROFILE) {
  const { Session } = await import('node:inspector');
  profiler = new Session();
  profiler.connect();
  await new Promise((r) => profiler!.post('Profiler.enable', () => profiler!.post('Profiler.start', r)));
}
const elu0 = performance.eventLoopUtilization();
console.log(`PORT ${server.port}`);
process.on('SIGTERM', async () => {
  // Read by bench/smtp.ts from stdout once the node has exited.
  console.log(`ELU ${(performance.eventLoopUtilization(elu0).utilization * 100).toFixed(0)}%`);
  if (profiler) {
    const { writeFileSync } = await import('node:fs');
    await new Promise<void>((r) =>
      profiler!.post('Profiler.stop', (_e, res) => {
        writeFileSync(process.env.HAVEN_BENCH_PROFILE!, JSON.stringify((res as { profile: unknown }).profile));
        r();
      }),
    );
  }
  await server.close();
  for (const l of leases) l.release();
  store.close();
  process.exit(0);
});
