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
 *
 * It serves one request at a time. moto checks `If-None-Match` and then
 * stores the object in two steps (moto/s3/responses.py), and `moto_server`
 * runs werkzeug with a thread per request, so two conditional PUTs of one
 * key can both succeed: tried here with 3 × 300 rounds of 8 racing creates,
 * 3 rounds had two winners. AWS documents the conditional write as one act
 * (a racing one gets 412 or 409); serving requests one by one gives moto
 * that, so the races in these tests are Haven's, not moto's. So the server
 * is moto's own WSGI app (what `moto_server` serves) under werkzeug's
 * run_simple with threads off, in the Python that runs `moto_server`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
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

/** moto_server's serving, with werkzeug's threads off (see the header). */
const SERIAL_MOTO = [
  'import sys',
  'from werkzeug.serving import run_simple',
  'from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app',
  'run_simple(sys.argv[1], int(sys.argv[2]), DomainDispatcherApplication(create_backend_app), threaded=False)',
].join('\n');

/** The Python that runs moto_server: its script's interpreter, or (a pyenv shim is a shell script) python3 on PATH. */
function motoPython(): string {
  const found = spawnSync('sh', ['-c', 'command -v moto_server'], { encoding: 'utf8' });
  if (found.status !== 0) throw new Error(MOTO_MISSING);
  const first = readFileSync(realpathSync(found.stdout.trim()), 'utf8').split('\n', 1)[0];
  const m = /^#!\s*(\S*python[\d.]*)\s*$/.exec(first);
  return m ? m[1] : 'python3';
}

async function launch(python: string, port: number): Promise<ChildProcess> {
  // Spawned directly (a pyenv shim execs in place too), so the pid is the server's own.
  const proc = spawn(python, ['-c', SERIAL_MOTO, '127.0.0.1', String(port)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MOTO_PORT: String(port) } });
  let output = '';
  proc.stdout!.on('data', (d) => (output = (output + d).slice(-4000)));
  proc.stderr!.on('data', (d) => (output = (output + d).slice(-4000)));
  const failed = new Promise<Error>((resolve) => {
    proc.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ENOENT' ? new Error(MOTO_MISSING) : err));
    proc.once('exit', (code, signal) => resolve(new Error(/No module named '?(moto|werkzeug)/.test(output) ? `${MOTO_MISSING}\n(${python} cannot import it:\n${output})` : `moto (${python}) exited (${code ?? signal}) before it answered on port ${port}:\n${output}`)));
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
  throw state.dead ?? new Error(`moto did not answer on port ${port} within 40 s:\n${output}`);
}

export async function startMoto(): Promise<TestMoto> {
  const python = motoPython();
  // moto accepts any credentials; the node reads these (node/replication/target) unless a test set its own.
  process.env.HAVEN_REPLICA_ACCESS_KEY_ID ??= 'moto';
  process.env.HAVEN_REPLICA_SECRET_ACCESS_KEY ??= 'moto';
  let proc: ChildProcess | null = null;
  let port = 0;
  // A free port can be taken by another suite between the check and moto's bind: then moto exits, and a new port is tried.
  for (let attempt = 1; !proc; attempt++) {
    port = await freePort();
    try {
      proc = await launch(python, port);
    } catch (err) {
      if (attempt >= 3 || (err as Error).message.startsWith(MOTO_MISSING)) throw err;
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
