/**
 * @module test/helpers/moto
 * A real S3-compatible server that honours conditional writes, for the
 * fencing tests: moto's `moto_server` (Python; 5.2.1 on this machine image,
 * from pyenv, not from npm or Debian, so nothing here installs it). Its
 * PutObject answers `If-None-Match: *` on an existing key with 412
 * PreconditionFailed, as AWS S3 (since August 2024) and R2 do; s3rver, the
 * suite's other S3 server, ignores the header.
 *
 * One server per test file, in memory, on a free loopback port, with the
 * replica bucket made; `stop()` ends that process (by its pid) and waits for
 * it to exit. A machine without moto fails loudly with what to install.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from './ports.js';

export const MOTO_BUCKET = 'haven-replica';

export interface TestMoto {
  port: number;
  endpoint: string;
  /** A replica URL for `prefix` in the bucket (the form node/config accepts). */
  url(prefix: string): string;
  stop(): Promise<void>;
}

export const MOTO_MISSING =
  "moto_server was not found on PATH: the S3 conditional-write (fencing) tests need moto, Python's AWS mock server (pip install 'moto[server]'; this machine image ships moto 5.2.1 under pyenv)";

/** Answers true once moto serves HTTP on the port (any status: it is up). */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const r = request({ host: '127.0.0.1', port, path: '/', method: 'GET', timeout: 2_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(true));
    });
    r.on('timeout', () => r.destroy());
    r.on('error', () => resolve(false));
    r.end();
  });
}

function exited(proc: ChildProcess): Promise<void> {
  return proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise((resolve) => proc.once('exit', () => resolve()));
}

async function launch(port: number): Promise<ChildProcess> {
  // The pyenv shim execs Python in place, so the pid spawned is the server's own.
  const proc = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout!.on('data', (d) => (output = (output + d).slice(-4000)));
  proc.stderr!.on('data', (d) => (output = (output + d).slice(-4000)));
  const failed = new Promise<Error>((resolve) => {
    proc.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ENOENT' ? new Error(MOTO_MISSING) : err));
    proc.once('exit', (code, signal) => resolve(new Error(`moto_server exited (${code ?? signal}) before it answered on port ${port}:\n${output}`)));
  });
  const state: { dead: Error | null } = { dead: null };
  void failed.then((e) => (state.dead = e));
  // Python's start-up is a second on a quiet machine, several under load: wait for the answer itself
  // (within the suite's 60 s hook timeout, leaving room for a retry on another port).
  const until = Date.now() + 40_000;
  while (!state.dead && Date.now() < until) {
    if (await answers(port)) return proc;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!state.dead) {
    proc.kill('SIGKILL');
    await exited(proc);
  }
  throw state.dead ?? new Error(`moto_server did not answer on port ${port} within 40 s:\n${output}`);
}

export async function startMoto(): Promise<TestMoto> {
  if (spawnSync('sh', ['-c', 'command -v moto_server'], { stdio: 'ignore' }).status !== 0) throw new Error(MOTO_MISSING);
  // moto accepts any credentials; the node reads these (node/replication/target) unless a test set its own.
  process.env.HAVEN_REPLICA_ACCESS_KEY_ID ??= 'moto';
  process.env.HAVEN_REPLICA_SECRET_ACCESS_KEY ??= 'moto';
  let proc: ChildProcess | null = null;
  let port = 0;
  // A free port can be taken by another suite between the check and moto's bind: then moto exits, and a new port is tried.
  for (let attempt = 1; !proc; attempt++) {
    port = await freePort();
    try {
      proc = await launch(port);
    } catch (err) {
      if (attempt >= 3 || (err as Error).message === MOTO_MISSING) throw err;
    }
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: process.env.HAVEN_REPLICA_ACCESS_KEY_ID!, secretAccessKey: process.env.HAVEN_REPLICA_SECRET_ACCESS_KEY! } });
  try {
    await client.send(new CreateBucketCommand({ Bucket: MOTO_BUCKET }));
  } finally {
    client.destroy();
  }
  const running = proc;
  // A test worker that ends without afterAll (a crash, a timeout) takes its moto with it.
  const orphan = () => running.kill('SIGKILL');
  process.once('exit', orphan);
  return {
    port,
    endpoint,
    url: (prefix) => `s3://${MOTO_BUCKET}/${prefix}?endpoint=${endpoint}&region=us-east-1`,
    async stop() {
      process.off('exit', orphan);
      if (running.exitCode !== null || running.signalCode !== null) return;
      running.kill('SIGTERM');
      // Python ends on SIGTERM at once; one stuck in a request thread is killed rather than left behind.
      const stuck = setTimeout(() => running.kill('SIGKILL'), 10_000);
      await exited(running);
      clearTimeout(stuck);
    },
  };
}
