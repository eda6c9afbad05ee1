/**
 * @module node/smtp/verify/worker
 * The verification worker's entry: runs mailauth's `authenticate` (header
 * parsing, DKIM body hashing, RSA/Ed25519 verification, SPF, DMARC, ARC and
 * ARC sealing) off the main thread, so the second core does the hashing
 * while the main thread serves sessions. It owns no sockets and no store:
 * every DNS question goes back to the main thread's resolver (its cache,
 * and whatever resolver a test injected), and the answer or the error, code
 * intact, comes back here.
 */
import { Readable } from 'node:stream';
import { parentPort } from 'node:worker_threads';
import { authenticate } from 'mailauth';
import { fromWire, toWire, type AuthOptions, type FromWorker, type ToWorker } from './protocol.js';

if (!parentPort) throw new Error('node/smtp/verify/worker runs only as a worker thread');
const port = parentPort;

const post = (m: FromWorker) => port.postMessage(m);
const asked = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
const pulls = new Map<number, Readable>();
let nextQ = 0;

function resolverFor(id: number) {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return (name: string, type: string): Promise<any> =>
    new Promise((resolve, reject) => {
      const q = ++nextQ;
      asked.set(q, { resolve, reject });
      post({ t: 'dns', id, q, name, type });
    });
}

/** A pulled message: each read asks the main thread for one more slice, so no more than a slice or two is ever here at once. */
function pulled(id: number): Readable {
  const stream = new Readable({ highWaterMark: 64 * 1024, read: () => post({ t: 'pull', id }) });
  pulls.set(id, stream);
  return stream;
}

const view = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

async function run(id: number, opts: AuthOptions, bytes: Uint8Array | undefined): Promise<void> {
  try {
    const result = await authenticate(bytes ? view(bytes) : pulled(id), { ...opts, resolver: resolverFor(id), disableBimi: true });
    try {
      post({ t: 'done', id, result });
    } catch {
      // Should mailauth ever put something uncloneable in its result, JSON keeps every field the verdict reads.
      post({ t: 'done', id, result: JSON.parse(JSON.stringify(result)) });
    }
  } catch (err) {
    post({ t: 'fail', id, error: toWire(err) });
  } finally {
    pulls.delete(id);
  }
}

port.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'ping':
      return post({ t: 'pong' });
    case 'job':
      void run(m.id, m.opts, m.bytes);
      return;
    case 'chunk':
      pulls.get(m.id)?.push(m.bytes ? view(m.bytes) : null);
      return;
    case 'dns': {
      const a = asked.get(m.q);
      if (!a) return;
      asked.delete(m.q);
      if (m.ok) a.resolve(m.value);
      else a.reject(fromWire(m.error));
      return;
    }
  }
});
