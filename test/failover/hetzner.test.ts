/**
 * Moving Hetzner Floating IPs after a promotion (node/failover/hetzner).
 * Hetzner's API cannot run here, so a local HTTP server answers with the
 * contract recorded from Hetzner's documentation ("Floating IP Actions":
 * POST /floating_ips/{id}/actions/assign with {"server": id} answers 201 and
 * a running action; GET /actions/{id} reports running, then success or
 * error; errors are {"error": {"code", "message"}}), and checks what the
 * node sends: the bearer token, the server id, one assign per address.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { FloatingIpError, moveFloatingIps } from '../../node/failover/index.js';

interface Seen {
  method: string;
  url: string;
  auth: string | undefined;
  body: string;
}

let server: Server | null = null;
afterEach(() => {
  server?.close();
  server = null;
});

async function hetzner(opts: { fail?: { status: number; code: string; message: string }; actionFails?: boolean } = {}): Promise<{ base: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const polls = new Map<number, number>();
  let nextAction = 100;
  server = createServer(async (req: IncomingMessage, res) => {
    let body = '';
    for await (const c of req) body += c;
    seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, body });
    res.setHeader('content-type', 'application/json');
    if (req.url === '/metadata/instance-id') {
      res.setHeader('content-type', 'text/plain');
      return res.end('4711');
    }
    if (opts.fail) {
      res.statusCode = opts.fail.status;
      return res.end(JSON.stringify({ error: { code: opts.fail.code, message: opts.fail.message } }));
    }
    const assign = /^\/v1\/floating_ips\/(\d+)\/actions\/assign$/.exec(req.url!);
    if (req.method === 'POST' && assign) {
      const id = nextAction++;
      polls.set(id, 0);
      res.statusCode = 201;
      return res.end(JSON.stringify({ action: { id, command: 'assign_floating_ip', status: 'running', progress: 0, resources: [{ id: Number(assign[1]), type: 'floating_ip' }], error: null } }));
    }
    const action = /^\/v1\/actions\/(\d+)$/.exec(req.url!);
    if (req.method === 'GET' && action) {
      const id = Number(action[1]);
      const n = (polls.get(id) ?? 0) + 1;
      polls.set(id, n);
      const status = n < 2 ? 'running' : opts.actionFails ? 'error' : 'success';
      return res.end(JSON.stringify({ action: { id, command: 'assign_floating_ip', status, progress: status === 'running' ? 50 : 100, error: status === 'error' ? { code: 'action_failed', message: 'Action failed' } : null } }));
    }
    res.statusCode = 404;
    res.end(JSON.stringify({ error: { code: 'not_found', message: 'not found' } }));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const port = (server!.address() as { port: number }).port;
  return { base: `http://127.0.0.1:${port}`, seen };
}

describe('moving the floating IPs to the promoted node', () => {
  it('assigns each address to this server with the token and waits for each action to succeed', async () => {
    const h = await hetzner();
    const moved = await moveFloatingIps({ token: 'tok-123', ids: ['11', '12'], serverId: '42', apiBase: `${h.base}/v1`, pollMs: 10 });
    expect(moved.map((m) => [m.id, m.action])).toEqual([
      ['11', 100],
      ['12', 101],
    ]);
    const assigns = h.seen.filter((s) => s.method === 'POST');
    expect(assigns.map((s) => s.url)).toEqual(['/v1/floating_ips/11/actions/assign', '/v1/floating_ips/12/actions/assign']);
    for (const s of h.seen) expect(s.auth).toBe('Bearer tok-123');
    expect(assigns.map((s) => JSON.parse(s.body))).toEqual([{ server: 42 }, { server: 42 }]);
    // Each action was polled until it left "running".
    expect(h.seen.filter((s) => s.method === 'GET').map((s) => s.url)).toEqual(['/v1/actions/100', '/v1/actions/100', '/v1/actions/101', '/v1/actions/101']);
  });

  it('reads this server\'s id from the metadata service when none is configured', async () => {
    const h = await hetzner();
    await moveFloatingIps({ token: 't', ids: ['11'], serverId: null, apiBase: `${h.base}/v1`, metadataUrl: `${h.base}/metadata/instance-id`, pollMs: 10 });
    expect(JSON.parse(h.seen.find((s) => s.method === 'POST')!.body)).toEqual({ server: 4711 });
  });

  it('says what Hetzner refused, and that an action failed', async () => {
    const denied = await hetzner({ fail: { status: 403, code: 'forbidden', message: 'insufficient permissions for this request' } });
    await expect(moveFloatingIps({ token: 't', ids: ['11'], serverId: '42', apiBase: `${denied.base}/v1` })).rejects.toThrow(/403 \(forbidden: insufficient permissions/);
    server!.close();
    const failing = await hetzner({ actionFails: true });
    const err = await moveFloatingIps({ token: 't', ids: ['11'], serverId: '42', apiBase: `${failing.base}/v1`, pollMs: 10 }).catch((e) => e);
    expect(err).toBeInstanceOf(FloatingIpError);
    expect(err.message).toMatch(/action 100 failed \(action_failed Action failed\)/);
  });
});
