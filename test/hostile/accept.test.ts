/**
 * Issue 21 items 1 and 13, against a whole node: connections over the
 * per-IP limit (limits.maxConnectionsPerIp, 20) are refused without
 * crashing anything, whatever the client does with the refusal, and the
 * implicit-TLS ports never answer in plaintext.
 *
 * RFC 9051 §7.1.5 (BYE may be sent to refuse a connection) and §6.2.1 /
 * RFC 8314 §3 (on an implicit-TLS port, TLS starts with the first byte: no
 * plaintext before the handshake).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawClient, startHostileNode, stillServing, type HostileNode, type RawClient } from './harness.js';

let h: HostileNode;
beforeAll(async () => {
  h = await startHostileNode();
});
afterAll(async () => h?.close());

/** Each attack from its own loopback address, so one test's closing connections do not count against the next. */
async function hold(port: number, n: number, greeting: RegExp, tlsPort: boolean, from: string): Promise<RawClient[]> {
  const held = await Promise.all(Array.from({ length: n }, () => rawClient(port, { tls: tlsPort, ca: h.ca, from })));
  await Promise.all(held.map((c) => c.until((t) => greeting.test(t))));
  return held;
}

describe('item 1: an over-limit connection closed with a TCP reset', () => {
  it('closes only that socket: 20 held, the 21st reads its BYE and resets, ten times over, and the node keeps serving', async () => {
    const held = await hold(h.node.ports.imap!, 20, /^\* OK/, false, '127.0.0.2');

    for (let i = 0; i < 10; i++) {
      const extra = await rawClient(h.node.ports.imap!, { from: '127.0.0.2' });
      await extra.until((t) => t.includes('\r\n'));
      expect(extra.text()).toMatch(/^\* BYE too many connections from your address/);
      // SO_LINGER 0: the peer sees ECONNRESET on its next read or write.
      extra.socket.resetAndDestroy();
      await extra.closed;
      await stillServing(h);
    }
    // The node never stopped: its process is the one that started.
    expect(h.child.proc.exitCode).toBeNull();
    for (const c of held) c.socket.resetAndDestroy();
    await Promise.all(held.map((c) => c.closed));
    await stillServing(h);
  });
});

describe('item 13: over the limit, implicit-TLS ports refuse without plaintext', () => {
  it('IMAPS (993) and POP3S (995) close before any byte is sent; no plaintext BYE or -ERR', async () => {
    for (const [port, greeting, from] of [[h.node.ports.imaps!, /^\* OK/, '127.0.0.3'], [h.node.ports.pop3s!, /^\+OK/, '127.0.0.4']] as const) {
      const held = await hold(port, 20, greeting, true, from);
      const protocol = port === h.node.ports.imaps ? 'imap' : 'pop3';
      const before = await h.metric('haven_connections_refused_total', { protocol, reason: 'per_ip' });
      const extra = await rawClient(port, { tls: false, from });
      // A TLS client would send its ClientHello here; whatever it sends, nothing comes back in clear.
      extra.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]));
      await extra.closed;
      expect(extra.text()).toBe('');
      expect(await h.metric('haven_connections_refused_total', { protocol, reason: 'per_ip' })).toBe(before + 1);
      await stillServing(h);
      for (const c of held) c.socket.destroy();
      await Promise.all(held.map((c) => c.closed));
    }
  });

  it('SMTPS (465) refuses inside TLS: the handshake completes, then 421', async () => {
    const port = h.node.ports.submissions!;
    const held = await hold(port, 20, /^220 /, true, '127.0.0.5');
    const extra = await rawClient(port, { tls: true, ca: h.ca, from: '127.0.0.5' });
    await extra.until((t) => t.includes('\r\n'));
    expect(extra.text()).toMatch(/^421 /);
    await stillServing(h);
    for (const c of [extra, ...held]) c.socket.destroy();
  });
});
