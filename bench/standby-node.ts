/**
 * @module bench/standby-node
 * The primary for `npm run bench -- standby`: a whole node in its own process
 * on a replica, with one domain and one account, whose MX port it prints
 * (`PORT <n>`); it runs until killed. Args: dataDir, master key (hex),
 * replica URL, DNS port, password.
 */
import { testConfig } from '../node/config/index.js';
import { startNode } from '../node/main.js';
import { resolverFor } from '../node/smtp/index.js';

const [dataDir, keyHex, url, dnsPort, password] = process.argv.slice(2);
const node = await startNode(testConfig(dataDir, { dnsbl: [], masterKey: keyHex, replicaUrl: url, failover: { fenceCheckMs: 500, fenceLeaseMs: 3000 } }), { adminUi: false, resolver: resolverFor([`127.0.0.1:${dnsPort}`]) });
await node.operations.call('domain.add', { name: 'example.test' });
await node.operations.call('account.add', { address: 'alice@example.test', password });
console.log(`PORT ${node.ports.smtp}`);
setInterval(() => {}, 60_000);
