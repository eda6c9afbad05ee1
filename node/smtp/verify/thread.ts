/**
 * @module node/smtp/verify/thread
 * The main thread's side of the verification worker (worker.ts): one worker
 * for the process (on the 2-core servers Haven targets one is right: the
 * main thread keeps one core, the worker takes the other), started with the
 * first message and stopped after a quiet minute, so an idle node pays no
 * memory for it. It sends each message's bytes, answers the worker's DNS
 * questions with the caller's resolver, and turns the worker's death into a
 * VerifierGoneError for every message it held.
 *
 * While a new worker starts, messages queue for it (its port buffers them)
 * rather than being verified here: verifying inline would load mailauth
 * into the main thread again, and a message that had just killed the worker
 * would be retried where it can take the whole node down with it.
 */
import type { Worker } from 'node:worker_threads';
import type { Resolver } from '../dns.js';
import { silentLogger, type Logger } from '../../util/log.js';
import { startWorker } from '../../util/worker.js';
import { fromWire, ownCopy, toWire, VerifierGoneError, type AuthOptions, type FromWorker, type ToWorker } from './protocol.js';

/** Bytes per slice of a large message; smaller messages go whole in one post. */
const SLICE = 64 * 1024;
/** A worker with nothing to do for this long exits; the next message starts another (about 50–150 ms). */
const IDLE_MS = 60_000;
/**
 * The worker's heap. mailauth keeps a message's header section (and only
 * the slices in flight of its body) in memory, so this is room for any
 * honest header many times over; a hostile one that needs more kills the
 * worker, not the node, and its sender gets a 4xx.
 */
const HEAP_MB = 128;
/**
 * Its young generation. V8's default (tens of MB of semi-spaces) made the
 * busy worker cost about 50 MB of RSS; mailauth's garbage is short-lived and
 * small, and at 8 MB the worker costs about half that for no measurable CPU
 * (2,500 messages, 50 at a time: 50 → 27 MB over the node without it).
 */
const YOUNG_MB = 8;
/**
 * A worker whose event loop has not answered a ping for this long is taken
 * to be wedged (some input sent mailauth into a loop) and is replaced. Time
 * spent waiting on DNS does not count: the loop answers pings meanwhile, and
 * a large body reaches it in slices, so honest work never holds it this long.
 */
const WEDGED_MS = 30_000;

interface Job {
  raw: Buffer;
  at: number;
  resolver: Resolver;
  resolve: (result: unknown) => void;
  reject: (err: Error) => void;
}

interface Thread {
  worker: Worker;
  jobs: Map<number, Job>;
  /** Why it is going away when we stopped it; its 'error' event's error when it crashed. */
  cause: Error | null;
  stopping: boolean;
  idle: NodeJS.Timeout | null;
  /** The watchdog, running while messages are in flight. */
  watch: NodeJS.Timeout | null;
  /** When the ping still unanswered was sent; 0 when none is. */
  pingSent: number;
}

class VerifyThread {
  private thread: Thread | null = null;
  private nextId = 0;
  private log: Logger = silentLogger;
  /** Workers started so far (tests check that the worker really ran, and restarted). */
  started = 0;
  /** Why the last worker that died with messages in flight died. */
  lastDeath: string | null = null;
  /** How long an unanswered ping means a wedged worker (tests shorten it). */
  wedgedMs = WEDGED_MS;
  /** How long a worker with nothing to do lives on (tests shorten it). */
  idleMs = IDLE_MS;

  /** mailauth's `authenticate(raw, opts)` in the worker, with `resolver` answering its DNS questions. */
  authenticate(raw: Buffer, opts: AuthOptions, resolver: Resolver, log?: Logger): Promise<unknown> {
    if (log) this.log = log;
    const th = this.thread ?? this.spawn();
    if (th.idle) clearTimeout(th.idle);
    th.idle = null;
    const id = ++this.nextId;
    if (!th.watch) {
      th.watch = setInterval(() => this.watchdog(th), Math.max(10, this.wedgedMs / 5));
      th.watch.unref();
    }
    return new Promise((resolve, reject) => {
      th.jobs.set(id, { raw, at: 0, resolver, resolve, reject });
      if (raw.length <= SLICE) {
        const bytes = ownCopy(raw);
        this.post(th, { t: 'job', id, opts, size: raw.length, bytes }, [bytes.buffer as ArrayBuffer]);
      } else this.post(th, { t: 'job', id, opts, size: raw.length });
    });
  }

  /** Stops the worker now; messages it held get a VerifierGoneError (tests use this to kill it mid-verification; the node at shutdown). */
  async stop(why = 'stopped'): Promise<void> {
    if (this.thread) await this.kill(this.thread, why);
  }

  /** Messages being verified right now. */
  get inFlight(): number {
    return this.thread?.jobs.size ?? 0;
  }

  /** Whether a worker is there now (it is not before the first message, nor after a quiet spell). */
  get running(): boolean {
    return this.thread !== null;
  }

  private async kill(th: Thread, why: string): Promise<void> {
    if (this.thread === th) this.thread = null;
    th.cause = new Error(why);
    th.stopping = true;
    this.quiet(th);
    await th.worker.terminate();
  }

  /** No more timers for this worker: it is idle or gone. */
  private quiet(th: Thread): void {
    if (th.idle) clearTimeout(th.idle);
    if (th.watch) clearInterval(th.watch);
    th.idle = th.watch = null;
    th.pingSent = 0;
  }

  private watchdog(th: Thread): void {
    if (th.pingSent === 0) {
      th.pingSent = Date.now();
      return this.post(th, { t: 'ping' });
    }
    const silent = Date.now() - th.pingSent;
    if (silent >= this.wedgedMs) void this.kill(th, `unresponsive for ${silent} ms (wedged on a message)`);
  }

  private spawn(): Thread {
    const worker = startWorker(import.meta.url, './worker', { resourceLimits: { maxOldGenerationSizeMb: HEAP_MB, maxYoungGenerationSizeMb: YOUNG_MB } });
    // The listeners keep the process alive; an idle verifier must not.
    worker.unref();
    const th: Thread = { worker, jobs: new Map(), cause: null, stopping: false, idle: null, watch: null, pingSent: 0 };
    this.thread = th;
    this.started++;
    worker.on('message', (m: FromWorker) => this.onMessage(th, m));
    worker.on('error', (err) => {
      th.cause = err;
    });
    worker.on('exit', (code) => this.onExit(th, code));
    return th;
  }

  private post(th: Thread, m: ToWorker, transfer: ArrayBuffer[] = []): void {
    th.worker.postMessage(m, transfer);
  }

  private onMessage(th: Thread, m: FromWorker): void {
    switch (m.t) {
      case 'pong':
        th.pingSent = 0;
        return;
      case 'pull': {
        const job = th.jobs.get(m.id);
        if (!job || job.at > job.raw.length) return;
        if (job.at === job.raw.length) {
          job.at++;
          return this.post(th, { t: 'chunk', id: m.id, bytes: null });
        }
        const bytes = ownCopy(job.raw.subarray(job.at, (job.at += SLICE)));
        if (job.at > job.raw.length) job.at = job.raw.length;
        return this.post(th, { t: 'chunk', id: m.id, bytes }, [bytes.buffer as ArrayBuffer]);
      }
      case 'dns': {
        const job = th.jobs.get(m.id);
        const asked = job ? job.resolver(m.name, m.type) : Promise.reject(Object.assign(new Error('query for a finished message'), { code: 'ECANCELLED' }));
        asked.then(
          (value) => {
            try {
              this.post(th, { t: 'dns', q: m.q, ok: true, value });
            } catch (err) {
              this.post(th, { t: 'dns', q: m.q, ok: false, error: toWire(err) });
            }
          },
          (err) => this.post(th, { t: 'dns', q: m.q, ok: false, error: toWire(err) }),
        );
        return;
      }
      case 'done':
      case 'fail': {
        const job = th.jobs.get(m.id);
        if (!job) return;
        th.jobs.delete(m.id);
        if (m.t === 'done') job.resolve(m.result);
        else job.reject(fromWire(m.error));
        if (th.jobs.size === 0 && this.thread === th) {
          this.quiet(th);
          th.idle = setTimeout(() => void this.stop('idle'), this.idleMs);
          th.idle.unref();
        }
        return;
      }
    }
  }

  private onExit(th: Thread, code: number): void {
    if (this.thread === th) this.thread = null;
    this.quiet(th);
    const why = th.cause ? th.cause.message : `exited with code ${code}`;
    if (th.jobs.size === 0) {
      if (!th.stopping) this.log.warn({ err: th.cause ?? undefined, code }, 'verification worker died while idle; the next message starts a new one');
      return;
    }
    this.lastDeath = why;
    this.log.error({ err: th.cause ?? undefined, code, messages: th.jobs.size }, 'verification worker died with messages in flight; they are refused with a 4xx and the next message starts a new worker');
    for (const job of th.jobs.values()) job.reject(new VerifierGoneError(why));
    th.jobs.clear();
  }
}

/** The process's one verification worker. */
export const verifyThread = new VerifyThread();
