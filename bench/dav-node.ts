/**
 * @module bench/dav-node
 * The node side of bench/dav.ts, in its own process like Radicale's, so the
 * client and the server do not share one event loop: opens the store the
 * bench made, starts DAV over HTTPS (or plain HTTP, to compare like for
 * like with a server measured over plain HTTP) and prints `PORT <port>`.
 * SIGTERM closes.
 *
 *   tsx bench/dav-node.ts <dataDir> <masterKeyHex> [https|http]
 */
import tls from 'node:tls';
import { startDavServer } from '../node/dav/index.js';
import { Store } from '../node/store/index.js';
import { AuthLimiter } from '../node/util/auth-limiter.js';
import { silentLogger } from '../node/util/log.js';
import { testTls } from '../test/helpers/store.js';

const [dataDir, keyHex, scheme = 'https'] = process.argv.slice(2);
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
  process.exit(0);
});
