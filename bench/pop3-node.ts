/**
 * @module bench/pop3-node
 * The node side of bench/pop3.ts, in its own process like Dovecot's, so the
 * client and the server do not share one event loop: opens the store the
 * bench filled, starts POP3 over TCP (plaintext allowed on loopback) and
 * over implicit TLS, and prints `PORTS <tcp> <tls>`. SIGTERM closes.
 *
 *   tsx bench/pop3-node.ts <dataDir> <masterKeyHex>
 */
import tls from 'node:tls';
import { startPop3 } from '../node/pop3/index.js';
import { Store } from '../node/store/index.js';
import { AuthLimiter } from '../node/util/auth-limiter.js';
import { silentLogger } from '../node/util/log.js';
import { testTls } from '../test/helpers/store.js';

const [dataDir, keyHex] = process.argv.slice(2);
const store = Store.open({ dataDir, masterKey: Buffer.from(keyHex, 'hex'), keyMode: 'managed' });
const { key, cert } = testTls();
const ctx = tls.createSecureContext({ key, cert });
const deps = {
  store,
  log: silentLogger,
  authLimiter: new AuthLimiter(),
  tls: { secureContext: () => ctx },
  hostname: 'localhost',
  limits: { allowPlaintextOnLoopback: true },
};
const plain = await startPop3(deps, { host: '127.0.0.1', port: 0, implicitTls: false });
const secure = await startPop3(deps, { host: '127.0.0.1', port: 0, implicitTls: true });
console.log(`PORTS ${plain.port} ${secure.port}`);
process.on('SIGTERM', async () => {
  await plain.close();
  await secure.close();
  store.close();
  process.exit(0);
});
