/**
 * @module bench/dav-node
 * The node side of bench/dav.ts, in its own process like Radicale's, so the
 * client and the server do not share one event loop: opens the store the
 * bench made, starts DAV over HTTPS (or plain HTTP, to compare like for
 * like with a server measured over plain HTTP) and prints `PORT <port>`.
 * With a replica URL it streams every commit there as a node in service
 * does (the replicator's commit observer and its own checkpoints instead of
 * SQLite's). SIGTERM closes.
 *
 *   tsx bench/dav-node.ts <dataDir> <masterKeyHex> [https|http] [replicaUrl]
 */
import tls from 'node:tls';
import { startDavServer } from '../node/dav/index.js';
import { replicate } from '../node/replication/index.js';
import { Store } from '../node/store/index.js';
import { AuthLimiter } from '../node/util/auth-limiter.js';
import { silentLogger } from '../node/util/log.js';
import { testTls } from '../test/helpers/store.js';

const [dataDir, keyHex, scheme = 'https', replicaUrl] = process.argv.slice(2);
// Before the store opens, as in node/main.ts: the replicator must see every database open.
const rep = replicaUrl ? replicate({ url: replicaUrl, dataDir, log: silentLogger, retentionCheckMs: 0 }) : null;
const store = Store.open({ dataDir, masterKey: Buffer.from(keyHex, 'hex') });
const { key, cert } = testTls();
const ctx = tls.createSecureContext({ key, cert });
const srv = await startDavServer(
  { store, log: silentLogger, authLimiter: new AuthLimiter(), tls: { secureContext: () => ctx }, hostname: 'localhost' },
  { host: '127.0.0.1', port: 0, implicitTls: scheme !== 'http' },
);
console.log(`PORT ${srv.port}`);
process.on('SIGTERM', async () => {
  await srv.close();
  store.close();
  await rep?.stop();
  process.exit(0);
});
