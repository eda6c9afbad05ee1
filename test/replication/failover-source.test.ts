/**
 * A promoted standby's outbound source (issue 19). Both servers carry the
 * mail host's Floating IPs on their interfaces all along
 * (infra/floating-ip), but Hetzner routes them to the old primary until the
 * promoted node has moved them (node/failover/hetzner): a connection from
 * them before that would never see its replies. So the promoted node sends
 * from its own address until the move has succeeded, then from the Floating
 * IPs (outbound.sourceAddresses), so receivers see the address whose PTR
 * names the mail host it greets as (RFC 5321 §4.1.1.1, RFC 7208 §2.3).
 *
 * Two real nodes on loopback with a shared directory replica; 127.0.0.2
 * stands in for the Floating IPv4 (Linux routes 127/8 to lo); the outbound
 * tests' SMTP sink records each connection's address; Hetzner's API is the
 * recorded contract node/failover speaks, answered when the test says so.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { testConfig } from '../../node/config/index.js';
import { startNode, type NodeHandle } from '../../node/main.js';
import { queueFor } from '../../node/smtp/index.js';
import { startStandby, type StandbyHandle } from '../../node/standby.js';
import { startTestDns } from '../helpers/dns-server.js';
import { sampleMessage } from '../helpers/store.js';
import { startRemoteMx, waitEvent } from '../smtp/harness.js';

const root = mkdtempSync(join(tmpdir(), 'haven-failover-source-'));
const running: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const n of running.reverse()) await n.close().catch(() => {});
  rmSync(root, { recursive: true, force: true });
});

it('a promoted standby sends from its own address until its Floating IPs have moved to it, and from them afterwards', async () => {
  const masterKey = randomBytes(32).toString('hex');
  const replicaUrl = pathToFileURL(join(root, 'replica')).href;
  const dns = await startTestDns();
  running.push(dns);
  const remote = await startRemoteMx(dns);
  running.push(remote);
  dns.add('remote.test', { A: ['127.0.0.1'] });

  const a: NodeHandle = await startNode(testConfig(join(root, 'a'), { dnsbl: [], masterKey, replicaUrl, failover: { fenceCheckMs: 100 } }), { adminUi: false });
  running.push(a);
  await a.operations.call('domain.add', { name: 'example.org' });
  await a.replication!.flush(20_000);

  // Hetzner's assign action, held until the test lets it succeed: the window between serving and the move.
  let assignCalled!: () => void;
  const assigning = new Promise<void>((r) => (assignCalled = r));
  let letAssign!: () => void;
  const assignAllowed = new Promise<void>((r) => (letAssign = r));
  const hetznerFetch = (async (input: string | URL | Request) => {
    const m = /\/floating_ips\/(\d+)\/actions\/assign$/.exec(String(input));
    if (!m) return new Response('{}', { status: 404 });
    assignCalled();
    await assignAllowed;
    return new Response(JSON.stringify({ action: { id: Number(m[1]), status: 'success' } }), { status: 201, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  const b: StandbyHandle = await startStandby(
    testConfig(join(root, 'b'), {
      dnsbl: [],
      masterKey,
      replicaUrl,
      role: 'standby',
      outbound: { sourceAddresses: ['127.0.0.2'] },
      failover: { fenceCheckMs: 100, followMs: 100, hetznerToken: 'a token', floatingIps: ['11'], hetznerServerId: '7' },
    }),
    { adminUi: false, resolver: dns.resolver, outbound: { port: remote.port, families: [4] }, hetznerFetch },
  );
  running.push(b);
  await b.catchUp();

  const promoted = b.promote();
  await assigning;
  const node = b.node()!;
  expect(node).not.toBeNull();
  const send = async (rcpt: string, marker: string) => {
    const done = waitEvent(node.queueRunner, (e) => e.type === 'result' && e.rcpt === rcpt);
    queueFor(node.store).enqueue({ accountId: null, mailFrom: 'alice@example.org', raw: sampleMessage({ from: 'alice@example.org', to: rcpt, body: marker }) }, [{ rcpt }]);
    expect(await done).toMatchObject({ outcome: 'sent' });
    return remote.received.find((m) => m.raw.includes(marker))!.remoteAddress.replace(/^::ffff:/, '');
  };

  // Serving, the Floating IPs not yet moved: from the node's own address, which still gets replies.
  expect(await send('before@remote.test', 'marker-before-move')).toBe('127.0.0.1');
  letAssign();
  expect(await promoted).toMatchObject({ promoted: true });
  // Moved: from the mail host's address.
  expect(await send('after@remote.test', 'marker-after-move')).toBe('127.0.0.2');
}, 120_000);
