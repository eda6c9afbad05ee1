/**
 * @module bench/imap-node
 * The node side of bench/imap.ts, in its own process so its RSS is its own:
 * opens the store the bench filled, starts the IMAP listener (plaintext on
 * loopback, limits raised for 50 sessions on one account) and prints
 * `PORT <n>`. SIGTERM closes everything. With HAVEN_BENCH_MEM set it prints
 * the heap's make-up every 2 s on stderr (what grew: JS heap or native).
 *
 *   tsx bench/imap-node.ts <dataDir> <masterKeyHex> [managed|zero-access]
 */
import { createSecureContext } from 'node:tls';
import { startImap } from '../node/imap/index.js';
import { Store } from '../node/store/index.js';
import { AuthLimiter } from '../node/util/auth-limiter.js';
import { silentLogger } from '../node/util/log.js';
import { testTls } from '../test/helpers/store.js';

const [dataDir, keyHex, keyMode = 'managed'] = process.argv.slice(2);
if (keyMode !== 'managed' && keyMode !== 'zero-access') throw new Error(`key mode ${keyMode}?`);
// HAVEN_BENCH_CACHE_KIB: each mailbox's page cache, to measure what the memory bound costs.
const cacheKiB = process.env.HAVEN_BENCH_CACHE_KIB ? Number(process.env.HAVEN_BENCH_CACHE_KIB) : undefined;
const store = Store.open({ dataDir, masterKey: Buffer.from(keyHex, 'hex'), keyMode, mailboxCacheKiB: cacheKiB });
const { key, cert } = testTls();
const ctx = createSecureContext({ key, cert });
const server = await startImap(
  {
    store,
    log: silentLogger,
    authLimiter: new AuthLimiter(),
    tls: { secureContext: () => ctx },
    hostname: 'localhost',
    allowPlaintextOnLoopback: true,
    limits: { maxConnectionsPerIp: 1000, maxConnectionsPerAccount: 1000, commandsPerSecond: 1_000_000 },
  },
  { host: '127.0.0.1', port: 0, implicitTls: false },
);
console.log(`PORT ${server.port}`);
process.on('SIGTERM', async () => {
  await server.close();
  store.close();
  process.exit(0);
});
if (process.env.HAVEN_BENCH_MEM) {
  setInterval(() => {
    const m = process.memoryUsage();
    const mb = (n: number) => (n / 1048576).toFixed(0);
    console.error(`mem rss ${mb(m.rss)} heapUsed ${mb(m.heapUsed)} heapTotal ${mb(m.heapTotal)} external ${mb(m.external)} arrayBuffers ${mb(m.arrayBuffers)}`);
  }, 2000).unref();
}
