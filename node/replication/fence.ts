/**
 * @module node/replication/fence
 * Which node may write the replica and acknowledge mail, as a union with
 * pure, synchronous transitions (the I/O is node/replication/epoch).
 *
 * The replica holds numbered epoch objects (`epoch/<n>`), each made with an
 * exclusive create. The node that created the newest one is the primary;
 * every other node is a standby or fenced. No node decides by itself: the
 * store's conditional write is the only agreement, so two nodes racing for
 * epoch n+1 end with one primary and one loser.
 *
 *   standby ──promote──▶ promoting ──claimed──▶ primary
 *                            │                     │
 *                       claim-lost            observed newer
 *                            ▼                     ▼
 *                         standby               fenced (for good: it can
 *                                               rejoin only as a standby)
 */

export type Role = 'primary' | 'standby';

export type FenceState =
  /** Role primary, before the replica was asked (nothing is acknowledged yet). */
  | { kind: 'unclaimed' }
  | { kind: 'primary'; epoch: number }
  /** A newer epoch exists: this node must never write the replica or acknowledge again. */
  | { kind: 'fenced'; epoch: number; newer: number }
  /** Following the replica; `seen` is the newest epoch it has read (0: none). */
  | { kind: 'standby'; seen: number }
  | { kind: 'promoting'; claiming: number };

export type FenceEvent =
  /** The newest epoch in the replica, as just read. */
  | { kind: 'observed'; latest: number }
  /** Our exclusive create of `epoch` succeeded. */
  | { kind: 'claimed'; epoch: number }
  /** Our exclusive create found the name taken: somebody else is primary. */
  | { kind: 'claim-lost'; latest: number }
  /** An operator or the edge asked a standby to take over; `latest` is the newest epoch it read. */
  | { kind: 'promote'; latest: number };

/** A transition that makes no sense from the current state (a bug or a misuse, never silently ignored). */
export class FenceTransitionError extends Error {
  constructor(state: FenceState, event: FenceEvent) {
    super(`fence: ${event.kind} cannot happen while ${state.kind}`);
    this.name = 'FenceTransitionError';
  }
}

export function step(s: FenceState, e: FenceEvent): FenceState {
  switch (e.kind) {
    case 'observed':
      if (s.kind === 'primary') return e.latest > s.epoch ? { kind: 'fenced', epoch: s.epoch, newer: e.latest } : s;
      if (s.kind === 'fenced') return e.latest > s.newer ? { ...s, newer: e.latest } : s;
      if (s.kind === 'standby') return e.latest > s.seen ? { kind: 'standby', seen: e.latest } : s;
      return s;
    case 'claimed':
      if (s.kind === 'promoting' && e.epoch === s.claiming) return { kind: 'primary', epoch: e.epoch };
      if (s.kind === 'unclaimed') return { kind: 'primary', epoch: e.epoch };
      throw new FenceTransitionError(s, e);
    case 'claim-lost':
      if (s.kind === 'promoting') return { kind: 'standby', seen: Math.max(e.latest, s.claiming) };
      // A primary's start that lost its claim: another node took the replica meanwhile.
      if (s.kind === 'unclaimed') return { kind: 'fenced', epoch: 0, newer: e.latest };
      throw new FenceTransitionError(s, e);
    case 'promote':
      if (s.kind === 'standby') return { kind: 'promoting', claiming: Math.max(e.latest, s.seen) + 1 };
      throw new FenceTransitionError(s, e);
  }
}

/** Only the holder of the newest epoch writes objects into the replica. */
export function mayWriteReplica(s: FenceState): boolean {
  return s.kind === 'primary';
}

/** Why this node must not take a write now (null: it may), in words for a 451 or a NO. */
export function refusal(s: FenceState): string | null {
  switch (s.kind) {
    case 'primary':
      return null;
    case 'fenced':
      return `this node lost the primary role (epoch ${s.epoch}, the replica holds epoch ${s.newer}); try again later`;
    case 'standby':
      return 'this node is a standby and takes no writes; try again later';
    case 'promoting':
      return 'this node is taking over as primary; try again shortly';
    case 'unclaimed':
      return 'this node has not yet confirmed it is the primary; try again shortly';
  }
}

/**
 * The primary's lease: it acknowledges only while its last confirmation
 * that no newer epoch exists (a check of the replica that read nothing
 * newer) began at most `leaseMs` ago. A standby that takes the next epoch
 * at T made it after any such read began, so the old primary acknowledges
 * nothing after T + leaseMs, wherever its clock stands and whether or not
 * it can still reach the replica; the promoting standby waits that long
 * before it applies the last objects. 0: no lease (acknowledge until a
 * newer epoch is seen). Times are the same node's monotonic clock.
 */
export function leaseLapsed(confirmedAt: number, now: number, leaseMs: number): boolean {
  return leaseMs > 0 && now - confirmedAt > leaseMs;
}

export function leaseRefusal(sinceMs: number): string {
  return `this node could not confirm in the replica for ${(sinceMs / 1000).toFixed(1)} s that it is still the primary; try again later`;
}

/** What a node does at start, from its role, the epoch it last held and the newest in the replica. */
export type BootDecision =
  | { kind: 'claim'; epoch: number }
  | { kind: 'resume'; epoch: number }
  | { kind: 'fenced'; epoch: number; newer: number }
  | { kind: 'standby'; seen: number }
  /** Started as a standby while this data directory holds the newest epoch: it is the primary, and the only copy of what it has not shipped. */
  | { kind: 'refuse-standby'; held: number; latest: number };

/**
 * A node asked to stand by while it holds the newest epoch. Standing by
 * would set its databases aside as diverged and restore from the replica,
 * leaving no primary at all and its unshipped changes in a side directory;
 * the operator decides instead.
 */
export class StandbyHoldsEpochError extends Error {
  constructor(
    readonly held: number,
    readonly latest: number,
  ) {
    super(
      `this node holds epoch ${held}, ${held === latest ? 'the newest in the replica' : `newer than the replica's ${latest}`}: it is the primary, and standing by would set its data aside with no primary left. ` +
        'Start it as the primary (role: primary), or, to make it the standby, first promote the other node (`haven promote` there) and then start this one with role: standby',
    );
    this.name = 'StandbyHoldsEpochError';
  }
}

/**
 * `held`: the epoch this data directory last held (null: none, e.g. a fresh
 * node or one just restored); `latest`: the newest in the replica (0: none);
 * `restored`: the data directory was rebuilt from the replica on this start
 * (a replacement server taking over from a dead one).
 */
export function bootDecision(role: Role, held: number | null, latest: number, restored: boolean): BootDecision {
  if (role === 'standby') return held !== null && held >= latest ? { kind: 'refuse-standby', held, latest } : { kind: 'standby', seen: latest };
  if (held === null) {
    // A brand-new replica, or a server rebuilt from it: the next epoch is ours to take (if nobody beats us).
    if (latest === 0 || restored) return { kind: 'claim', epoch: latest + 1 };
    // Data of its own, never fenced-in, and somebody else holds the replica: not ours to take.
    return { kind: 'fenced', epoch: 0, newer: latest };
  }
  if (held === latest) return { kind: 'resume', epoch: held };
  if (held < latest) return { kind: 'fenced', epoch: held, newer: latest };
  // The replica has fewer epochs than we held (emptied, or a new bucket): carry on above both.
  return { kind: 'claim', epoch: held + 1 };
}

export function stateAfterBoot(d: BootDecision): FenceState {
  switch (d.kind) {
    case 'claim':
      return { kind: 'unclaimed' };
    case 'resume':
      return { kind: 'primary', epoch: d.epoch };
    case 'fenced':
      return { kind: 'fenced', epoch: d.epoch, newer: d.newer };
    case 'standby':
      return { kind: 'standby', seen: d.seen };
    case 'refuse-standby':
      throw new StandbyHoldsEpochError(d.held, d.latest);
  }
}
