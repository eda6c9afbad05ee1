/**
 * @module bench/standby
 * A warm standby under the SMTP bench's load (issue 19):
 *
 * 1. Follow lag: a primary in its own process takes N messages of ~10 KB
 *    over P SMTP sessions (every 250 durable), replicating to a directory
 *    (or s3rver); a standby in this process follows the same replica. Shown:
 *    the delay from an object landing in the replica to the standby having
 *    applied it (p50, p99, max, per object), and the standby's lag gauge
 *    (what /health and `haven standby status` show) sampled every 50 ms.
 *    Add the replication bench's commit-to-replica lag for ack-to-standby.
 * 2. Takeover: the primary is killed (SIGKILL), then `promote` is called;
 *    the time from that call to the first message the new primary accepts
 *    (250), and the promotion's parts.
 *
 *   npm run bench -- standby [--messages 500] [--sessions 4] [--follow-ms 200]
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { testConfig } from '../node/config/index.js';
import { startStandby } from '../node/standby.js';
import { runChild } from '../test/helpers/child.js';
import { startTestDns } from '../test/helpers/dns-server.js';
import { tempDir } from '../test/replication/helpers.js';
import { benchMessage, connect, send, sendLoad } from './lib/smtp-client.js';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '500' },
    sessions: { type: 'string', default: '4' },
    'follow-ms': { type: 'string', default: '200' },
  },
});
const COUNT = Number(args.messages);
const SESSIONS = Number(args.sessions);
const PASSWORD = 'correct horse battery staple';
const TO = 'alice@example.test';

const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN);
const ms = (v: number) => `${v.toFixed(0)} ms`;

const root = tempDir('bench-standby');
const url = `file://${join(root, 'replica')}`;
const masterKey = randomBytes(32).toString('hex');
const dns = await startTestDns();
dns.add('sender.test', { TXT: ['v=spf1 ip4:127.0.0.1 -all'] });
dns.add('_dmarc.sender.test', { TXT: ['v=DMARC1; p=none'] });
const primary = runChild(join(import.meta.dirname, 'standby-node.ts'), [join(root, 'a'), masterKey, url, String(dns.port), PASSWORD]);
const line = await primary.waitFor((l) => l.startsWith('PORT ') || l.startsWith('__exit__'));
if (!line.startsWith('PORT ')) throw new Error(`primary failed to start: ${line}`);
const port = Number(line.split(' ')[1]);

const followMs = Number(args['follow-ms']);
const standby = await startStandby(testConfig(join(root, 'b'), { dnsbl: [], masterKey, replicaUrl: url, role: 'standby', failover: { fenceCheckMs: 500, fenceLeaseMs: 3000, followMs } }));
const gauge: number[] = [];
const sampler = setInterval(() => void standby.status().then((s) => gauge.push(s.follow.lagMs)), 50);

const seconds = await sendLoad(port, COUNT, SESSIONS, () => TO);
// Let the standby take the last objects before the figures are read.
await standby.catchUp();
clearInterval(sampler);
const delays = (await standby.status()).follow.recentDelays.sort((a, b) => a - b);
const g = [...gauge].sort((a, b) => a - b);

await primary.kill();
const t0 = performance.now();
const r = await standby.promote();
const promotedMs = performance.now() - t0;
if (!r.promoted) throw new Error('promotion lost');
const c = await connect(r.node.ports.smtp!);
const reply = await send(c, 'first@sender.test', TO, benchMessage(COUNT, TO));
const firstMs = performance.now() - t0;
c.quit();
if (!reply.startsWith('250')) throw new Error(`the new primary answered ${reply}`);

console.log(`standby: ${COUNT} messages over ${SESSIONS} sessions in ${seconds.toFixed(1)} s (${(COUNT / seconds).toFixed(0)} msg/s) into a file replica; standby polls every ${followMs} ms`);
console.log(`  replica-to-standby per object: p50 ${ms(pct(delays, 50))}, p99 ${ms(pct(delays, 99))}, max ${ms(delays.at(-1) ?? NaN)} (${delays.length} objects)`);
console.log(`  standby lag gauge (sampled every 50 ms): p50 ${ms(pct(g, 50))}, p99 ${ms(pct(g, 99))}, max ${ms(g.at(-1) ?? NaN)}`);
const applies = (await standby.status()).follow.applies;
console.log(`  databases brought up to date: ${applies.incremental} by applying only the new objects, ${applies.rebuilt} rebuilt from a snapshot`);
console.log(`  takeover: promote returned after ${ms(promotedMs)} (includes the old primary's lease from its epoch record plus one fenceCheckMs: a live old primary acknowledges nothing after that); first 250 from the new primary ${ms(firstMs)} after the promote call`);
await standby.close();
await dns.close();
rmSync(root, { recursive: true, force: true });
