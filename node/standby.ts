/**
 * @module node/standby
 * A node started with `role: standby`: it holds the data directory's lock,
 * follows the replica (node/replication/failover) and answers its control
 * socket (`haven replicate status`, `haven promote`), and serves no mail and
 * no DAV: no listener opens while it stands by. Promotion takes the next
 * epoch, applies the chain to its end, and then boots the full node
 * (node/main) in the same process, which resumes that epoch as primary.
 */
import type { Config } from './config/index.js';
import type { ControlServer } from './admin/control.js';
import { serveStandbyControl } from './admin/standby-control.js';
import { startNode, type NodeHandle, type StartNodeOptions } from './main.js';
import { masterKeyFor } from './master-key.js';
import type { StandbyReplica, StandbyStatus } from './replication/failover.js';
import { adminSecret } from './http/secret.js';
import { standbyApp } from './http/standby-app.js';
import { Http01Responder, installCarriedCertificate, listenHttp01, openNodeHostCertificates } from './tls/index.js';
import http from 'node:http';
import { lockDataDir } from './util/data-dir-lock.js';
import { startWitness, type Witness } from './failover/witness.js';
import { createAdaptorServer } from '@hono/node-server';
import type { Server as HttpServer } from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { silentLogger, type Logger } from './util/log.js';

export interface StandbyHandle {
  readonly config: Config;
  /** Where the standby's HTTPS (/health, signed POST /api/v1/promote) listens; null when ports.https is off. */
  readonly httpsPort: number | null;
  /** The serving node once promoted; null while standing by. */
  node(): NodeHandle | null;
  status(): Promise<StandbyStatus>;
  catchUp(): Promise<void>;
  /** The standby's own look at the primary (node/failover/witness): what it sees, and whether it agrees to the edge's promotion. */
  readonly witness: Witness;
  /** Takes over: true and a serving node, or false when another node took the epoch first. Not subject to the witness: that is the edge's path (node/http/standby-app). */
  promote(): Promise<{ promoted: true; node: NodeHandle } | { promoted: false }>;
  close(): Promise<void>;
}

export class StandbyConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StandbyConfigError';
  }
}

export async function startStandby(config: Config, opts: StartNodeOptions = {}): Promise<StandbyHandle> {
  const log = opts.log ?? silentLogger;
  if (!config.replicaUrl) throw new StandbyConfigError('role: standby needs replicaUrl (HAVEN_REPLICA_URL): a standby follows the primary\'s replica');
  const mk = masterKeyFor(config, { allowGenerate: false });
  const { startStandbyReplica } = await import('./replication/failover.js');
  let lock: { release(): void } | null = lockDataDir(config.dataDir);
  let replica: StandbyReplica | null = null;
  let control: ControlServer | null = null;
  let node: NodeHandle | null = null;
  let https: { port: number; close(): void } | null = null;
  // Watches the primary from here while standing by; a promoted node has no primary to watch.
  const witness = startWitness(config, log);
  let promotion: Promise<{ promoted: true; node: NodeHandle } | { promoted: false }> | null = null;
  const standingDown = async () => {
    // Not awaited: the `promote` request that led here is still open on it, and closing waits for it.
    void control?.close();
    control = null;
    // Its port is the serving node's next; a promotion asked over it is still being answered.
    https?.close();
    https = null;
    witness.close();
    await replica?.close();
    replica = null;
    lock?.release();
    lock = null;
  };
  try {
    replica = await startStandbyReplica(config, mk.key, log);
    const rep = replica;
    let handle: StandbyHandle | null = null;
    const app = standbyApp({ status: () => rep.status(), promote: () => handle!.promote(), witness, secret: adminSecret(config).secret, log });
    https = config.ports.https === undefined ? null : await serveHttps(config, app.fetch, log);
    handle = {
      config,
      httpsPort: https?.port ?? null,
      witness,
      node: () => node,
      status: () => rep.status(),
      catchUp: () => rep.catchUp(),
      promote() {
        return (promotion ??= (async () => {
          const won = await rep.promote();
          if (!won) {
            promotion = null;
            return { promoted: false } as const;
          }
          if (config.tls.acme.enabled && !config.tls.certFile) await takeCarriedCertificate(config, rep, log);
          await standingDown();
          // outbound.sourceAddresses (the Floating IPs) are on this interface already, but Hetzner routes their
          // replies to the old primary until they move: mail leaves from this node's own address until then.
          node = await startNode({ ...config, role: 'primary' }, { ...opts, outbound: { ...opts.outbound, sourceHeld: false } });
          log.info({ ports: node.ports }, 'standby: promoted; serving as the primary');
          const moved = await moveAddresses(config, log, opts.hetznerFetch);
          if (moved) node.queueRunner.setSourceHeld(true);
          // No certificate came through the replica: http-01 for the mail host reaches this node only now.
          if (moved && config.tls.acme.enabled && !config.tls.certFile && node.certificate.source !== 'acme') void certificateAfterMove(node, log);
          return { promoted: true, node } as const;
        })());
      },
      async close() {
        await promotion?.catch(() => {});
        if (node) await node.close();
        await standingDown();
      },
    };
    control = await serveStandbyControl(config.dataDir, handle, log);
    const certainly: StandbyHandle = handle;
    log.info({ dataDir: config.dataDir }, 'standby: following the replica; serving nothing until promoted (`haven promote`)');
    return certainly;
  } catch (err) {
    await standingDown();
    throw err;
  }
}

/**
 * The standby's HTTPS listener (/health, the signed promotion), with the
 * certificate for its own name (failover.nodeHost, from ACME: the edge's
 * fetch verifies it against public CAs) or else the node's; and, while ACME
 * http-01 needs it, ports.http answering the CA's challenges and nothing else.
 */
async function serveHttps(config: Config, fetch: (req: Request, env?: unknown) => Response | Promise<Response>, log: Logger): Promise<{ port: number; close(): void }> {
  const responder = new Http01Responder();
  const certs = await openNodeHostCertificates(config, { responder });
  const challenges = certs.acme && config.tls.acme.challenge === 'http-01' && config.ports.http !== undefined ? await serveChallenges(config, responder, log) : null;
  if (certs.acme) {
    const acme = certs.acme;
    acme.on('issued', (info) => log.info({ names: info.subjectAltName, validTo: info.validTo.toISOString() }, 'standby: installed a new ACME certificate for this node\'s own name'));
    acme.on('warning', (err) => log.warn({ err: err.message }, 'standby: ACME certificate for this node\'s own name'));
    acme.start();
  }
  const http = createAdaptorServer({ fetch }) as HttpServer;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((raw) => {
    sockets.add(raw);
    raw.once('close', () => sockets.delete(raw));
    raw.setTimeout(60_000, () => raw.destroy());
    const sock = new tls.TLSSocket(raw, { isServer: true, secureContext: certs.store.context, ALPNProtocols: ['http/1.1'] });
    sock.on('error', () => sock.destroy());
    sock.once('secure', () => http.emit('connection', sock));
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.ports.https, config.listenAddress, () => resolve((server.address() as net.AddressInfo).port));
  });
  return {
    port,
    close: () => {
      server.close();
      certs.acme?.stop();
      challenges?.close();
      certs.store.close();
      // Idle keep-alive sockets would hold nothing useful; the one answering a promotion finishes first.
      setTimeout(() => {
        for (const s of sockets) s.destroy();
      }, 10_000).unref();
    },
  };
}

/**
 * ports.http for the CA's http-01 requests only (RFC 8555 §8.3); closed
 * before the promoted node binds it. A port it cannot bind costs only the
 * certificate for its own name (said in the log), never the standing by.
 */
async function serveChallenges(config: Config, responder: Http01Responder, log: Logger): Promise<http.Server | null> {
  try {
    return await listenHttp01(config, responder);
  } catch (err) {
    log.warn({ err: (err as Error).message, port: config.ports.http }, 'standby: cannot listen on ports.http for the ACME http-01 challenge; the certificate for this node\'s own name cannot be issued (use tls.acme.challenge dns-01, or free the port)');
    return null;
  }
}

/**
 * Before serving: the mail host's certificate from the replica (the
 * primary ships it, node/replication/carried-cert), so clients see the
 * same valid certificate at once; without one the node asks the CA at start.
 */
async function takeCarriedCertificate(config: Config, rep: StandbyReplica, log: Logger): Promise<void> {
  try {
    const pair = await rep.carriedCertificate();
    if (!pair) {
      log.warn('standby: the replica carries no certificate for the mail host; the promoted node requests one from the CA');
      return;
    }
    const taken = installCarriedCertificate(config, pair);
    log.info({ taken }, taken ? 'standby: serving the mail host\'s certificate the primary carried through the replica' : 'standby: the carried certificate is not newer than this node\'s own, or does not cover the mail host');
  } catch (err) {
    // Serving matters more: the node falls back to the CA.
    log.error({ err }, 'standby: could not take the mail host\'s certificate from the replica; the promoted node requests one from the CA');
  }
}

/**
 * The promoted node's first ACME attempt for the mail host ran before the
 * Floating IPs moved, so the CA's http-01 request went to the old server;
 * asks again now, a few times while Hetzner's routing settles, instead of
 * waiting for the next 12-hourly check.
 */
async function certificateAfterMove(node: NodeHandle, log: Logger): Promise<void> {
  for (const waitMs of [0, 2_000, 5_000, 15_000, 30_000]) {
    if (waitMs) await new Promise((r) => setTimeout(r, waitMs).unref());
    try {
      const r = (await node.operations.call('certs.renew', {})) as { result?: string };
      log.info({ result: r?.result }, 'standby: the promoted node has a certificate for the mail host');
      return;
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'standby: no certificate for the mail host yet; trying again');
    }
  }
  log.error('standby: the promoted node could not get a certificate for the mail host; run `haven certs renew` once the Floating IPs answer here');
}

/** After a promotion: the mail host's Floating IPs to this server (failover.floatingIps), when configured. True when they moved. */
async function moveAddresses(config: Config, log: Logger, f?: typeof fetch): Promise<boolean> {
  const fo = config.failover;
  if (!fo.hetznerToken || fo.floatingIps.length === 0) return false;
  const { moveFloatingIps } = await import('./failover/index.js');
  try {
    const moved = await moveFloatingIps({ token: fo.hetznerToken, ids: fo.floatingIps, serverId: fo.hetznerServerId || null, fetch: f });
    log.info({ moved }, 'standby: the floating addresses now point at this node');
    return true;
  } catch (err) {
    // Serving goes on: mail reaches this node once the addresses move, by hand if need be.
    log.error({ err }, 'standby: promoted, but the floating addresses could not be moved; assign them in the Hetzner console (or `hcloud floating-ip assign`)');
    return false;
  }
}
