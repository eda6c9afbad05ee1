/**
 * @module node/failover/hetzner
 * Moving the mail host's Hetzner Floating IPs (IPv4 and IPv6) to this
 * server after a promotion, so MX, the PTR records (which belong to the
 * floating address and move with it) and clients' cached addresses stay
 * valid. Hetzner Cloud API (docs.hetzner.cloud, "Floating IP Actions"):
 *
 *   POST /v1/floating_ips/{id}/actions/assign   {"server": <server id>}
 *        → 201 {"action": {"id", "command": "assign_floating_ip", "status": "running", …}}
 *   GET  /v1/actions/{action id}                → {"action": {"status": "running" | "success" | "error", "error": {…}}}
 *
 * This server's id comes from config or the metadata service
 * (http://169.254.169.254/hetzner/v1/metadata/instance-id). The token is a
 * secret the infra delivers (failover.hetznerToken); the HTTP client is
 * injectable so tests run it against a local server that speaks the
 * recorded contract (Hetzner's API cannot run here).
 */

export interface FloatingIpOptions {
  token: string;
  /** Floating IP ids to move (IPv4 and IPv6 are separate Floating IPs). */
  ids: readonly string[];
  /** This server's id; null asks the metadata service. */
  serverId: string | null;
  /** Default https://api.hetzner.cloud/v1 */
  apiBase?: string;
  metadataUrl?: string;
  fetch?: typeof fetch;
  /** Wait between action polls (default 1 s) and the overall limit (default 60 s). */
  pollMs?: number;
  timeoutMs?: number;
}

export class FloatingIpError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
    this.name = 'FloatingIpError';
  }
}

interface Action {
  id: number;
  status: 'running' | 'success' | 'error';
  error?: { code?: string; message?: string } | null;
}

export interface MovedIp {
  id: string;
  action: number;
  ms: number;
}

/** Assigns every floating IP to this server and waits until Hetzner reports each action done. */
export async function moveFloatingIps(o: FloatingIpOptions): Promise<MovedIp[]> {
  const f = o.fetch ?? fetch;
  const base = (o.apiBase ?? 'https://api.hetzner.cloud/v1').replace(/\/+$/, '');
  const auth = { authorization: `Bearer ${o.token}` };
  const server = o.serverId ?? (await metadataServerId(f, o.metadataUrl));
  const json = async (res: Response, what: string): Promise<{ action?: Action }> => {
    const body = (await res.json().catch(() => ({}))) as { action?: Action; error?: { message?: string; code?: string } };
    if (!res.ok) throw new FloatingIpError(`${what}: Hetzner answered ${res.status}${body.error?.message ? ` (${body.error.code}: ${body.error.message})` : ''}; check failover.hetznerToken's project and rights, and the floating IP ids`, res.status);
    return body;
  };
  const moved: MovedIp[] = [];
  for (const id of o.ids) {
    const started = Date.now();
    const res = await f(`${base}/floating_ips/${encodeURIComponent(id)}/actions/assign`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ server: Number(server) }),
    });
    let action = (await json(res, `assigning floating IP ${id} to server ${server}`)).action;
    if (!action) throw new FloatingIpError(`assigning floating IP ${id}: Hetzner's answer held no action`);
    const until = started + (o.timeoutMs ?? 60_000);
    while (action.status === 'running') {
      if (Date.now() > until) throw new FloatingIpError(`assigning floating IP ${id}: action ${action.id} still running after ${o.timeoutMs ?? 60_000} ms`);
      await new Promise((r) => setTimeout(r, o.pollMs ?? 1000));
      action = (await json(await f(`${base}/actions/${action.id}`, { headers: auth }), `reading action ${action.id}`)).action!;
    }
    if (action.status !== 'success') throw new FloatingIpError(`assigning floating IP ${id}: action ${action.id} failed (${action.error?.code ?? ''} ${action.error?.message ?? ''})`);
    moved.push({ id, action: action.id, ms: Date.now() - started });
  }
  return moved;
}

async function metadataServerId(f: typeof fetch, url = 'http://169.254.169.254/hetzner/v1/metadata/instance-id'): Promise<string> {
  const res = await f(url, { signal: AbortSignal.timeout(5000) });
  const text = (await res.text()).trim();
  if (!res.ok || !/^\d+$/.test(text)) throw new FloatingIpError(`this server's id could not be read from ${url} (${res.status}); set failover.hetznerServerId`);
  return text;
}
