/**
 * @module node/replication/epoch
 * The fence's I/O (its states and transitions are node/replication/fence):
 * epoch objects in the replica, the epoch this data directory last held,
 * the primary's watch for a newer epoch, and a guard around the replica
 * target that refuses every write once this node is not the primary.
 *
 * Epoch n is the object `epoch/<n as 16 hex digits>`, made only with the
 * target's exclusive create; a node takes epoch n+1 where n is the newest it
 * can read. A primary holding n watches for n+1 alone: whoever fences it
 * must create n+1 first, since epochs are taken one after another.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { dirname, join } from 'node:path';
import { replicationDir } from '../store/layout.js';
import type { Logger } from '../util/log.js';
import { writeDurable } from '../util/fsync.js';
import { bootDecision, leaseLapsed, leaseRefusal, mayWriteReplica, refusal, stateAfterBoot, step, type FenceEvent, type FenceState, type Role } from './fence.js';
import type { ListedObject, ReplicaTarget } from './target.js';

export const EPOCH_PREFIX = 'epoch/';

export function epochKey(n: number): string {
  return EPOCH_PREFIX + n.toString(16).padStart(16, '0');
}

export interface EpochRecord {
  epoch: number;
  /** Who took it (host name and process), for status and the failover history. */
  node: string;
  at: number;
  /** How it was taken: a primary's first start, a promotion, a rebuilt server. */
  how: 'first' | 'promote' | 'rebuild';
  /**
   * The holder's lease (fence.leaseLapsed): it acknowledges nothing more
   * than this long after a newer epoch is made. The node that takes the
   * next epoch waits this long before it applies the last objects. Absent
   * in records made before leases.
   */
  leaseMs?: number;
}

/** The replica refused to this node: it is not the primary (typed so the replicator's retries stop saying "replica down"). */
export class ReplicaFencedError extends Error {
  constructor(readonly state: FenceState) {
    super(`replica writes refused: ${refusal(state) ?? 'not the primary'}`);
    this.name = 'ReplicaFencedError';
  }
}

function isMissing(err: unknown): boolean {
  const e = err as { code?: string; name?: string; status?: number; $metadata?: { httpStatusCode?: number } };
  return e?.code === 'ENOENT' || e?.name === 'NoSuchKey' || e?.status === 404 || e?.$metadata?.httpStatusCode === 404;
}

export async function readEpoch(target: ReplicaTarget, n: number): Promise<EpochRecord | null> {
  try {
    return JSON.parse((await target.get(epochKey(n))).toString('utf8')) as EpochRecord;
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
}

/** The newest epoch, probing upward from one known to exist (or 0); 0 when the replica has none. */
export async function latestEpoch(target: ReplicaTarget, from = 0): Promise<number> {
  let n = from;
  while ((await readEpoch(target, n + 1)) !== null) n++;
  return n;
}

/** Every epoch in the replica, oldest first: the failover history. */
export async function epochHistory(target: ReplicaTarget, listing?: readonly ListedObject[]): Promise<EpochRecord[]> {
  const keys = (listing ?? (await target.list())).map((o) => o.key).filter((k) => k.startsWith(EPOCH_PREFIX)).sort();
  const out: EpochRecord[] = [];
  for (const k of keys) out.push(JSON.parse((await target.get(k)).toString('utf8')) as EpochRecord);
  return out;
}

// ------------------------------------------------------------------ the epoch this data directory held

function heldFile(dataDir: string): string {
  return join(replicationDir(dataDir), 'epoch.json');
}

export function readHeld(dataDir: string): number | null {
  try {
    const v = JSON.parse(readFileSync(heldFile(dataDir), 'utf8')) as { epoch?: unknown };
    return typeof v.epoch === 'number' && Number.isInteger(v.epoch) && v.epoch > 0 ? v.epoch : null;
  } catch {
    return null;
  }
}

function writeHeld(dataDir: string, epoch: number): void {
  const path = heldFile(dataDir);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeDurable(path, Buffer.from(JSON.stringify({ epoch })));
}

// ------------------------------------------------------------------ the fence

export interface FenceOptions {
  role: Role;
  /** How often the primary looks for a newer epoch (and a standby for any) (default 1 s). */
  checkMs?: number;
  /** Who this node is in epoch records (default: host name and pid). */
  nodeName?: string;
  /** The primary's lease (fence.leaseLapsed); 0: none (default). */
  leaseMs?: number;
}

export class Fence {
  private s: FenceState;
  private readonly listeners = new Set<(s: FenceState, was: FenceState) => void>();
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<void> | null = null;
  readonly checkMs: number;
  readonly nodeName: string;
  /** When the replica last answered a check (ms since epoch; 0: never). */
  lastCheckedAt = 0;
  readonly leaseMs: number;
  /** When (performance.now()) the last read that found no newer epoch began; the lease runs from there. */
  private confirmedAt = -Infinity;

  constructor(
    private readonly target: ReplicaTarget,
    private readonly dataDir: string,
    private readonly log: Logger,
    readonly opts: FenceOptions,
  ) {
    this.s = opts.role === 'standby' ? { kind: 'standby', seen: 0 } : { kind: 'unclaimed' };
    this.checkMs = opts.checkMs ?? 1000;
    this.nodeName = opts.nodeName ?? `${hostname()}/${process.pid}`;
    this.leaseMs = opts.leaseMs ?? 0;
  }

  get state(): FenceState {
    return this.s;
  }

  refusal(): string | null {
    const no = refusal(this.s);
    if (no !== null || this.s.kind !== 'primary') return no;
    const now = performance.now();
    return leaseLapsed(this.confirmedAt, now, this.leaseMs) ? leaseRefusal(now - this.confirmedAt) : null;
  }

  /** The primary's lease has run out (it may not acknowledge or ship until a check confirms it again). */
  leaseLapsed(): boolean {
    return leaseLapsed(this.confirmedAt, performance.now(), this.leaseMs);
  }

  onChange(fn: (s: FenceState, was: FenceState) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private apply(e: FenceEvent): FenceState {
    const was = this.s;
    this.s = step(was, e);
    if (this.s !== was && this.s.kind !== was.kind) {
      if (this.s.kind === 'fenced') this.log.error({ epoch: this.s.epoch, newer: this.s.newer }, 'fence: the replica holds a newer epoch; this node stops acknowledging and never writes the replica again; restart it as a standby');
      else this.log.info({ from: was.kind, to: this.s.kind, epoch: this.s.kind === 'primary' ? this.s.epoch : undefined }, 'fence: state changed');
      for (const fn of this.listeners) fn(this.s, was);
    }
    return this.s;
  }

  /**
   * At start: read the replica's newest epoch and decide (fence.bootDecision);
   * a primary that may take the next epoch claims it here. `restored`: the
   * data directory was rebuilt from the replica on this start.
   */
  async boot(restored: boolean): Promise<FenceState> {
    const held = readHeld(this.dataDir);
    const started = performance.now();
    const latest = await latestEpoch(this.target, held !== null ? Math.max(0, held - 1) : 0);
    this.confirmedAt = started;
    this.lastCheckedAt = Date.now();
    const d = bootDecision(this.opts.role, held, latest, restored);
    const was = this.s;
    this.s = stateAfterBoot(d);
    if (d.kind === 'claim') await this.claim(d.epoch, latest === 0 ? 'first' : 'rebuild');
    else if (this.s.kind !== was.kind) for (const fn of this.listeners) fn(this.s, was);
    if (this.s.kind === 'fenced') this.log.error({ epoch: this.s.epoch, newer: this.s.newer }, 'fence: the replica holds a newer epoch than this node; it refuses writes and must rejoin as a standby (role: standby)');
    return this.s;
  }

  private async claim(epoch: number, how: EpochRecord['how']): Promise<boolean> {
    const rec: EpochRecord = { epoch, node: this.nodeName, at: Date.now(), how, leaseMs: this.leaseMs };
    const started = performance.now();
    const won = await this.target.create(epochKey(epoch), Buffer.from(JSON.stringify(rec)));
    if (won) {
      // Nobody takes epoch+1 before reading ours, which did not exist until this create began.
      this.confirmedAt = started;
      writeHeld(this.dataDir, epoch);
      this.apply({ kind: 'claimed', epoch });
      return true;
    }
    this.apply({ kind: 'claim-lost', latest: await latestEpoch(this.target, epoch) });
    return false;
  }

  /** A standby takes the next epoch: true when it is now the primary, false when another node got there first. */
  async promote(): Promise<boolean> {
    if (this.s.kind === 'primary') return true;
    const latest = await latestEpoch(this.target, this.s.kind === 'standby' ? Math.max(0, this.s.seen - 1) : 0);
    this.apply({ kind: 'promote', latest });
    const s = this.s as Extract<FenceState, { kind: 'promoting' }>;
    return this.claim(s.claiming, 'promote');
  }

  /** One look at the replica for a newer epoch. Replica errors keep the state (logged): only an epoch fences. */
  check(): Promise<void> {
    return (this.checking ??= (async () => {
      try {
        const s = this.s;
        const from = s.kind === 'primary' ? s.epoch : s.kind === 'fenced' ? s.newer : s.kind === 'standby' ? s.seen : 0;
        const started = performance.now();
        const latest = await latestEpoch(this.target, from);
        this.lastCheckedAt = Date.now();
        if (this.s.kind !== 'promoting' && this.s.kind !== 'unclaimed') this.apply({ kind: 'observed', latest });
        if (this.s.kind === 'primary' && latest <= this.s.epoch) this.confirmedAt = started;
      } catch (err) {
        this.log.warn({ err }, 'fence: could not read the replica\'s epoch; will try again');
      } finally {
        this.checking = null;
      }
    })());
  }

  /** Checks every checkMs until stop(). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.check(), this.checkMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * The replica as this node may use it: reads pass, writes only while it
   * is the primary. A snapshot that starts a generation checks the epoch
   * first: a fenced node that has not yet noticed must not start a chain
   * that a restore would take for the newest.
   */
  guard(target: ReplicaTarget): ReplicaTarget {
    const allowed = async (key: string) => {
      // A lapsed lease: a standby may have taken over and applied the chain already, so an object
      // shipped now could land after it and be lost unnoticed; confirm first.
      if (key.endsWith('/0000000000000000.snapshot') || this.leaseLapsed()) await this.check();
      if (!mayWriteReplica(this.s)) throw new ReplicaFencedError(this.s);
      if (this.leaseLapsed()) throw new Error(`replica writes paused: ${leaseRefusal(this.leaseMs)}`);
    };
    return {
      description: target.description,
      get: (k) => target.get(k),
      list: () => target.list(),
      close: () => target.close(),
      put: async (k, b) => {
        await allowed(k);
        return target.put(k, b);
      },
      create: async (k, b) => {
        await allowed(k);
        return target.create(k, b);
      },
      delete: async (keys) => {
        if (!mayWriteReplica(this.s)) throw new ReplicaFencedError(this.s);
        return target.delete(keys);
      },
    };
  }
}
