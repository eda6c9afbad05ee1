/**
 * @module node/replication/failover
 * The node's side of fencing and standby, from its config:
 *
 * - `startFence` (a primary, before its store opens): takes or resumes the
 *   epoch (node/replication/epoch), closes the data directory's write gate
 *   whenever this node is not the primary (node/store/db: every protocol
 *   then answers its temporary error), watches for a newer epoch, and hands
 *   replication a target that refuses writes once fenced;
 * - `startStandbyReplica` (a standby): the fence in standby, the follower
 *   (node/replication/follow), and the promotion: take the next epoch,
 *   wait until the old primary has had time to see it, apply the chain to
 *   its end, and hand over to the caller, which starts serving.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setWriteGate } from '../store/db.js';
import { replicationDir } from '../store/layout.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../util/log.js';
import { Fence, epochHistory, readEpoch, readHeld, type EpochRecord } from './epoch.js';
import { readTakeover, writeTakeover } from './takeover.js';
import type { FenceState } from './fence.js';
import { Follower, type FollowStatus } from './follow.js';
import { fetchCarriedCertificate, shipCertificate, type CarriedCertificate } from './carried-cert.js';
import { setAsideDiverged, type DivergenceReport } from './rejoin.js';
import { openTarget, type ReplicaTarget } from './target.js';

export interface NodeFence {
  readonly fence: Fence;
  /** The replica target as replication must use it: writes refused unless primary. */
  guard(target: ReplicaTarget): ReplicaTarget;
  /** Ships the mail host's certificate for a promoted standby (node/replication/carried-cert); refused unless primary. */
  shipCertificate(pair: CarriedCertificate, masterKey: Buffer): Promise<void>;
  close(): void;
}

/** The lease outlasts at least two checks, so one slow answer from the replica refuses nothing. */
export function leaseFor(config: Config): number {
  const l = config.failover.fenceLeaseMs;
  return l === 0 ? 0 : Math.max(l, 2 * config.failover.fenceCheckMs);
}

/** How long a node that took the epoch after `old` waits before its last pass. */
export function takeoverWait(old: EpochRecord | null, checkMs: number): number {
  return (old?.leaseMs ? old.leaseMs : 2 * checkMs) + checkMs;
}

export async function startFence(config: Config, log: Logger, restored: boolean): Promise<NodeFence> {
  const target = openTarget(config.replicaUrl);
  const fence = new Fence(target, config.dataDir, log.child({ mod: 'fence' }), { role: 'primary', checkMs: config.failover.fenceCheckMs, leaseMs: leaseFor(config) });
  // The gate is closed until boot says otherwise: nothing may be acknowledged on an unconfirmed epoch.
  const ungate = setWriteGate(config.dataDir, () => fence.refusal());
  // A data directory with no replication state of its own was rebuilt (by this start, or by
  // `haven restore --force`, which drops that state) or never shipped anything: it may take the
  // next epoch. One that has shipped before holds its epoch, or is the old primary.
  const rebuilt = restored || !existsSync(join(replicationDir(config.dataDir), 'state'));
  try {
    await fence.boot(rebuilt);
  } catch (err) {
    ungate();
    target.close();
    throw err;
  }
  fence.start();
  return {
    fence,
    guard: (t) => fence.guard(t),
    shipCertificate: (pair, masterKey) => shipCertificate(fence.guard(target), masterKey, pair),
    close: () => {
      fence.stop();
      ungate();
      target.close();
    },
  };
}

export interface StandbyStatus {
  role: 'standby' | 'promoting' | 'primary';
  fence: FenceState;
  follow: FollowStatus;
  /** Every epoch in the replica, oldest first: who was primary when (the failover history). */
  history: EpochRecord[];
  /** Set when this node was a primary and rejoined: what it had that the replica lacks, set aside. */
  diverged: DivergenceReport | null;
}

export interface StandbyReplica {
  status(): Promise<StandbyStatus>;
  /** Applies whatever is new now (tests and `haven replicate status` use it to be exact). */
  catchUp(): Promise<void>;
  /**
   * Takes the next epoch. Resolves true once this node is primary and has
   * applied the chain to its end (the caller then starts serving); false
   * when another node took the epoch first (this node stays a standby).
   */
  promote(): Promise<boolean>;
  /** The mail host's certificate the primary carried through the replica (null: none shipped). */
  carriedCertificate(): Promise<CarriedCertificate | null>;
  close(): Promise<void>;
}

export async function startStandbyReplica(config: Config, masterKey: Buffer, log: Logger): Promise<StandbyReplica> {
  const target = openTarget(config.replicaUrl);
  const flog = log.child({ mod: 'standby' });
  const fence = new Fence(target, config.dataDir, flog, { role: 'standby', checkMs: config.failover.fenceCheckMs, leaseMs: leaseFor(config) });
  // A standby takes no write whatever asks (nothing serves, but the CLI's in-process operations could).
  const ungate = setWriteGate(config.dataDir, () => fence.refusal());
  try {
    // Refuses (StandbyHoldsEpochError) when this directory holds the newest epoch: nothing is set aside then.
    await fence.boot(false);
  } catch (err) {
    ungate();
    target.close();
    throw err;
  }
  // An old primary rejoining: its diverged history is set aside and reported, never merged.
  // Without a lease the primary acknowledges until it sees a newer epoch: say so once, where the operator looks.
  const current = fence.state.kind === 'standby' && fence.state.seen > 0 ? await readEpoch(target, fence.state.seen).catch(() => null) : null;
  if (current && !current.leaseMs) flog.warn({ epoch: current.epoch, node: current.node }, 'standby: the primary holds no lease (failover.fenceLeaseMs is 0 there): cut off from the replica it would acknowledge mail after a promotion that only its rejoin report would show; set failover.fenceLeaseMs (3000) on both nodes');
  const held = readHeld(config.dataDir);
  const took = held === null ? null : await readTakeover(target, held + 1).catch(() => null);
  const diverged = setAsideDiverged(config.dataDir, flog, Date.now(), took);
  const follower = new Follower({ target, dataDir: config.dataDir, masterKey, log: flog, intervalMs: config.failover.followMs });
  await follower.catchUp();
  follower.start();
  fence.start();
  let promoting: Promise<boolean> | null = null;
  return {
    async status() {
      const s = fence.state;
      return { role: s.kind === 'primary' ? 'primary' : s.kind === 'promoting' ? 'promoting' : 'standby', fence: s, follow: follower.status(), history: await epochHistory(target), diverged };
    },
    catchUp: () => follower.catchUp(),
    carriedCertificate: () => fetchCarriedCertificate(target, masterKey),
    promote() {
      return (promoting ??= (async () => {
        await follower.pause();
        fence.stop();
        const won = await fence.promote();
        if (!won) {
          flog.warn({ fence: fence.state }, 'standby: another node took the epoch first; staying a standby');
          follower.start();
          fence.start();
          promoting = null;
          return false;
        }
        const epoch = (fence.state as { epoch: number }).epoch;
        // The old primary, alive or not, acknowledges and ships nothing once its lease (its epoch
        // record says how long) has run from our create; wait that out, plus one check interval for
        // an acknowledgement already on its way, then what it shipped is what we apply.
        const old = await readEpoch(target, epoch - 1).catch(() => null);
        const waitMs = takeoverWait(old, config.failover.fenceCheckMs);
        if (!old?.leaseMs) flog.warn({ epoch: epoch - 1 }, 'standby: the old primary holds no lease; it may acknowledge until it sees the new epoch, and what it did not ship is reported when it rejoins');
        await new Promise((r) => setTimeout(r, waitMs));
        await follower.catchUp();
        const st = follower.status();
        if (st.lastError) throw new Error(`promoted to epoch ${epoch} but the last objects could not be applied: ${st.lastError}; run \`haven restore --force\` before serving`);
        // What we took, for the old primary's report when it rejoins (an upload of its that lands later).
        await writeTakeover(fence.guard(target), { epoch, at: Date.now(), applied: follower.applied() }).catch((err: unknown) => flog.warn({ err }, 'standby: could not record what it took over; a rejoining old primary reports only what it never shipped'));
        flog.info({ epoch, databases: st.databases, waitedMs: waitMs }, 'standby: promoted; the chain is applied, starting to serve');
        await follower.stop();
        ungate();
        return true;
      })());
    },
    async close() {
      fence.stop();
      await follower.stop();
      ungate();
      target.close();
    },
  };
}
