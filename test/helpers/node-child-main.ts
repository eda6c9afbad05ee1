/**
 * @module test/helpers/node-child-main
 * The entry run in the child by test/helpers/node-child.ts: a whole node
 * (startNode, every listener on port 0) as `haven start` runs it, with an
 * empty test DNS zone, the domain example.org and the accounts of
 * NODE_CHILD_ACCOUNTS. Seeds given as .ics files go into alice's default
 * calendar straight through the store (as data stored before the recurrence
 * limits existed would be). Prints one line `READY {json}` with the ports,
 * the certificate file and the pid; stops on SIGTERM.
 *
 *   node-child-main.ts <dataDir> <NodeChildOptions as JSON>
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import pino from 'pino';
import { testConfig } from '../../node/config/index.js';
import { startNode } from '../../node/main.js';
import { installProcessPolicy } from '../../node/net/index.js';
import { loggerOptions } from '../../node/util/log.js';
import { startTestDns } from './dns-server.js';
import { NODE_CHILD_ACCOUNTS, type NodeChildOptions } from './node-child-accounts.js';

const [dataDir, json] = process.argv.slice(2);
const opts = JSON.parse(json || '{}') as NodeChildOptions;
const log = opts.logFile ? pino(loggerOptions('info'), pino.destination({ dest: opts.logFile, sync: true })) : undefined;
// What `haven start` does with an error nobody caught: log it, count it, keep serving.
if (opts.processPolicy && log) installProcessPolicy(log);
// An empty zone: every lookup answers at once with no records.
const dns = await startTestDns();
const node = await startNode(testConfig(dataDir, { dnsbl: [], ...opts.config }), { resolver: dns.resolver, adminUi: false, log });
node.store.directory.addDomain('example.org');
for (const a of Object.values(NODE_CHILD_ACCOUNTS)) await node.store.createAccount(a.address, a.password);
if (opts.seeds?.length) {
  const lease = await node.store.authenticate(NODE_CHILD_ACCOUNTS.alice.address, NODE_CHILD_ACCOUNTS.alice.password);
  try {
    const col = lease.mailbox.dav.collection('calendar', 'default');
    if (!col) throw new Error('no default calendar');
    for (const file of opts.seeds) {
      const data = readFileSync(file, 'utf8');
      const uid = /^UID:(.*)$/m.exec(data)?.[1]?.trim() ?? basename(file);
      lease.mailbox.dav.put(col.id, { name: basename(file), uid, data, component: 'VEVENT', firstStart: null, lastEnd: null }, 'seed');
    }
  } finally {
    lease.release();
  }
}
console.log(`READY ${JSON.stringify({ ports: node.ports, certFile: node.certificate.certFile, pid: process.pid })}`);
process.once('SIGTERM', () => {
  void node.close().then(async () => {
    await dns.close();
    process.exit(0);
  });
});
