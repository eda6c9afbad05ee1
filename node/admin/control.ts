/**
 * @module node/admin/control
 * The running node's local control channel: a Unix socket at
 * `<dataDir>/control.sock`, mode 0600 inside the 0700 data directory, so
 * only the data directory's owner (and root) can open it. The `haven` CLI
 * sends its changes here while a node runs, and the node carries them out
 * (node/admin/operations), so no second process ever writes a live
 * database. The replication commands (`status`, `flush`, `backup`) travel
 * the same way.
 *
 * One JSON request line, one JSON reply line per connection. Errors keep
 * their class name and message: a domain error (a StoreError) is the user's
 * to fix; anything else is the node's bug and is logged there with its stack.
 */
import { chmodSync, existsSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import type { ReplicationControl, ReplicationReply, ReplicationRequest } from '../replication/control.js';
import { controlSocketPath } from '../store/layout.js';
import { StoreError } from '../store/index.js';
import type { Logger } from '../util/log.js';
import { reportUnexpected } from '../util/unexpected.js';
import { isOperationName, runOperation, type OperationContext, type OperationInput, type OperationName, type OperationOutput, type Operations } from './operations.js';

export type ControlRequest =
  | { cmd: 'status' }
  | { cmd: 'backup'; timeoutMs?: number }
  | { cmd: 'flush'; timeoutMs?: number }
  | { cmd: 'op'; op: string; input?: unknown }
  /** A standby's (node/admin/standby-control): its follow status, and the promotion. */
  | { cmd: 'standby-status' }
  | { cmd: 'promote' };

export type ControlFailure = { ok: false; error: string; errorName?: string; domain?: boolean };
export type ControlReply = Extract<ReplicationReply, { ok: true }> | { ok: true; result: unknown } | ControlFailure;

/** What a standby's control socket says to anything it does not do. */
export const STANDBY_REFUSAL = 'this node is a standby: it takes no changes and serves nothing until promoted (`haven promote`); send changes to the primary';

/** Requests carry passwords at most; anything longer is not from our CLI. */
const MAX_REQUEST = 64 * 1024;

export interface ControlServer {
  readonly path: string;
  close(): Promise<void>;
}

export interface ControlDeps {
  dataDir: string;
  ops: OperationContext;
  /** Null when replication is off. */
  replication: ReplicationControl | null;
  log: Logger;
}

export function serveControl(deps: ControlDeps): Promise<ControlServer> {
  const path = controlSocketPath(deps.dataDir);
  const log = deps.log.child({ proto: 'control' });
  const answer = async (req: ControlRequest): Promise<ControlReply> => {
    try {
      if (req.cmd === 'op') {
        if (!isOperationName(req.op)) return { ok: false, error: `unknown operation ${JSON.stringify(req.op)}; this haven command and the running node may be different versions` };
        return { ok: true, result: await runOperation(deps.ops, req.op, req.input, 'cli') };
      }
      if (req.cmd === 'status' || req.cmd === 'flush' || req.cmd === 'backup') {
        if (!deps.replication) return { ok: false, error: 'replication is off on this node (replicaUrl is empty)' };
        return await deps.replication.handle(req);
      }
      if (req.cmd === 'standby-status' || req.cmd === 'promote') return { ok: false, error: 'this node is the primary (role: primary), not a standby' };
      return { ok: false, error: `unknown control command ${JSON.stringify((req as { cmd?: unknown }).cmd)}` };
    } catch (err) {
      const e = err as Error;
      if (err instanceof StoreError) return { ok: false, error: e.message, errorName: e.name, domain: true };
      reportUnexpected(err);
      log.error({ err, cmd: req.cmd, op: req.cmd === 'op' ? req.op : undefined }, 'control: unexpected error');
      return { ok: false, error: e?.message ?? String(err), errorName: e?.name };
    }
  };
  return listenControl(path, answer, log);
}

/**
 * The socket itself, shared by a serving node (serveControl) and a standby
 * (node/admin/standby-control): one JSON line in, `answer`'s reply out; a
 * line that is not JSON is answered here.
 */
export function listenControl(path: string, answer: (req: ControlRequest) => Promise<unknown>, log: Logger): Promise<ControlServer> {
  const reply = (line: string): Promise<unknown> => {
    let req: ControlRequest;
    try {
      req = JSON.parse(line) as ControlRequest;
    } catch {
      return Promise.resolve({ ok: false, error: 'the request is not JSON' } satisfies ControlFailure);
    }
    return answer(req);
  };
  // A socket file left by a killed node: nobody listens on it any more (the data directory lock says so).
  if (existsSync(path)) rmSync(path, { force: true });
  const server: Server = createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('error', () => sock.destroy());
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) {
        if (buf.length > MAX_REQUEST) sock.destroy();
        return;
      }
      const line = buf.slice(0, nl);
      buf = '';
      sock.removeAllListeners('data');
      void reply(line).then((r) => sock.end(JSON.stringify(r) + '\n'));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      // The data directory is 0700 already; the socket is narrowed too, in case the directory is not.
      chmodSync(path, 0o600);
      server.on('error', (err) => log.warn({ err, path }, 'control: socket failed; `haven` commands will not reach this node'));
      server.unref();
      resolve({
        path,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            rmSync(path, { force: true });
          }),
      });
    });
  });
}

/**
 * Sends one request to the node running on `dataDir`. Null when no node
 * listens there (no socket, or a stale one), so callers can work offline.
 */
export function askNode(dataDir: string, req: ControlRequest, timeoutMs = 130_000): Promise<ControlReply | null> {
  const path = controlSocketPath(dataDir);
  if (!existsSync(path)) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    let buf = '';
    const what = req.cmd === 'op' ? req.op : req.cmd;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`the node on ${dataDir} did not answer ${what} within ${timeoutMs} ms; check its log`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'));
    sock.on('data', (d: string) => (buf += d));
    sock.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buf) as ControlReply);
      } catch {
        reject(new Error(`the node on ${dataDir} sent an unreadable reply to ${what}`));
      }
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') resolve(null);
      else reject(err);
    });
  });
}

/** A replication command (status, flush, backup) for the node on `dataDir`; null when no node answers. */
export async function askReplication(dataDir: string, req: ReplicationRequest, timeoutMs?: number): Promise<ReplicationReply | null> {
  const r = await askNode(dataDir, req, timeoutMs);
  if (!r) return null;
  if (!r.ok) return { ok: false, error: r.error };
  return 'status' in r ? r : { ok: false, error: `the node sent no replication status for ${req.cmd}` };
}

/** An operation the running node refused: the node's message, for the user to act on. */
export class NodeRefusedError extends StoreError {
  constructor(message: string, readonly remoteName: string) {
    super(message);
  }
}

/** The node holds the data directory but its control socket does not answer. */
export class NodeUnreachableError extends StoreError {}

/** Operations carried out by the node running on `dataDir`. */
export function nodeOperations(dataDir: string, timeoutMs = 120_000): Operations {
  return {
    where: 'node',
    async call<K extends OperationName>(name: K, input: OperationInput<K>): Promise<OperationOutput<K>> {
      const reply = await askNode(dataDir, { cmd: 'op', op: name, input }, timeoutMs);
      if (!reply) throw new NodeUnreachableError(`the node running on ${dataDir} does not answer on its control socket (${controlSocketPath(dataDir)}); check its log, or stop it and run the command again`);
      if (!reply.ok) {
        if (reply.domain) throw new NodeRefusedError(reply.error, reply.errorName ?? 'StoreError');
        throw new Error(`the node failed to carry out ${name}: ${reply.error} (see the node's log)`);
      }
      return (reply as { result: OperationOutput<K> }).result;
    },
  };
}
