/**
 * @module node/replication/control
 * The local control socket of a running node's replication
 * (`<dataDir>/.replication/control.sock`, in a 0700 directory, so only the
 * node's user reaches it). The `haven` CLI runs in another process: through
 * this socket it asks the node for live status or a backup, instead of
 * starting a second replicator on the same databases, which would fork the
 * chain. One JSON request line, one JSON reply line.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '../util/log.js';
import type { DatabaseStatus, ReplicationStatus } from './replicator.js';

export type ControlRequest = { cmd: 'status' } | { cmd: 'backup'; timeoutMs?: number } | { cmd: 'flush'; timeoutMs?: number };

export type ControlReply =
  | { ok: true; status: ReplicationStatus; databases: DatabaseStatus[]; snapshots?: number }
  | { ok: false; error: string };

interface Served {
  status(): ReplicationStatus;
  databases(): DatabaseStatus[];
  flush(timeoutMs?: number): Promise<void>;
  backupNow(timeoutMs?: number): Promise<{ snapshots: number }>;
}

export interface ControlServer {
  close(): Promise<void>;
}

export function controlPath(dataDir: string): string {
  return join(dataDir, '.replication', 'control.sock');
}

export function serveControl(dataDir: string, rep: Served, log: Logger): ControlServer {
  const path = controlPath(dataDir);
  mkdirSync(join(dataDir, '.replication'), { recursive: true, mode: 0o700 });
  // A socket file left by a killed node: nobody listens on it any more.
  if (existsSync(path)) rmSync(path, { force: true });
  const server: Server = createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('error', () => sock.destroy());
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) {
        if (buf.length > 4096) sock.destroy();
        return;
      }
      const line = buf.slice(0, nl);
      buf = '';
      void answer(line).then((reply) => sock.end(JSON.stringify(reply) + '\n'));
    });
  });
  const answer = async (line: string): Promise<ControlReply> => {
    try {
      const req = JSON.parse(line) as ControlRequest;
      if (req.cmd === 'status') return { ok: true, status: rep.status(), databases: rep.databases() };
      if (req.cmd === 'flush') {
        await rep.flush(req.timeoutMs);
        return { ok: true, status: rep.status(), databases: rep.databases() };
      }
      if (req.cmd === 'backup') {
        const { snapshots } = await rep.backupNow(req.timeoutMs);
        log.info({ snapshots }, 'replication: backup requested over the control socket is in the replica');
        return { ok: true, status: rep.status(), databases: rep.databases(), snapshots };
      }
      return { ok: false, error: `unknown control command ${JSON.stringify((req as { cmd?: unknown }).cmd)}` };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  };
  server.on('error', (err) => log.warn({ err, path }, 'replication: control socket failed; `haven backup` and live status will not reach this node'));
  server.listen(path);
  server.unref();
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        rmSync(path, { force: true });
      }),
  };
}

/**
 * Sends one request to the node running on `dataDir`. Null when no node
 * listens there (no socket, or a stale one), so callers can work offline.
 */
export function askNode(dataDir: string, req: ControlRequest, timeoutMs = 130_000): Promise<ControlReply | null> {
  const path = controlPath(dataDir);
  if (!existsSync(path)) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`the node on ${dataDir} did not answer ${req.cmd} within ${timeoutMs} ms; check its log`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'));
    sock.on('data', (d: string) => (buf += d));
    sock.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buf) as ControlReply);
      } catch {
        reject(new Error(`the node on ${dataDir} sent an unreadable reply to ${req.cmd}`));
      }
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') resolve(null);
      else reject(err);
    });
  });
}
