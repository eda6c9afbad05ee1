/**
 * The fence's states and transitions (node/replication/fence), pure: which
 * node may write the replica and acknowledge, what a start decides from the
 * epoch it held and the newest in the replica, and the refusals a fenced or
 * standby node gives. (Issue 19: "a primary that finds a newer epoch stops
 * acknowledging anything at once ... and can rejoin only as a standby".)
 */
import { describe, expect, it } from 'vitest';
import { bootDecision, FenceTransitionError, StandbyHoldsEpochError, mayWriteReplica, refusal, stateAfterBoot, step, type FenceState } from '../../node/replication/fence.js';

describe('fence transitions', () => {
  it('a primary that observes a newer epoch is fenced, and stays fenced whatever it sees next', () => {
    let s: FenceState = { kind: 'primary', epoch: 3 };
    s = step(s, { kind: 'observed', latest: 3 });
    expect(s).toEqual({ kind: 'primary', epoch: 3 });
    s = step(s, { kind: 'observed', latest: 4 });
    expect(s).toEqual({ kind: 'fenced', epoch: 3, newer: 4 });
    expect(mayWriteReplica(s)).toBe(false);
    expect(refusal(s)).toMatch(/epoch 3.*epoch 4/);
    // An older or equal reading (a stale listing) never un-fences it.
    expect(step(s, { kind: 'observed', latest: 3 })).toEqual(s);
    expect(step(s, { kind: 'observed', latest: 6 })).toEqual({ kind: 'fenced', epoch: 3, newer: 6 });
  });

  it('a fenced node cannot promote itself: it rejoins only as a standby (a restart with role standby)', () => {
    const s: FenceState = { kind: 'fenced', epoch: 3, newer: 4 };
    expect(() => step(s, { kind: 'promote', latest: 4 })).toThrow(FenceTransitionError);
    expect(() => step(s, { kind: 'claimed', epoch: 5 })).toThrow(FenceTransitionError);
  });

  it('a standby promoting claims one past the newest epoch it knows; winning makes it primary, losing leaves it standby', () => {
    let s: FenceState = { kind: 'standby', seen: 2 };
    s = step(s, { kind: 'observed', latest: 4 });
    expect(s).toEqual({ kind: 'standby', seen: 4 });
    expect(refusal(s)).toMatch(/standby/);
    const promoting = step(s, { kind: 'promote', latest: 4 });
    expect(promoting).toEqual({ kind: 'promoting', claiming: 5 });
    expect(mayWriteReplica(promoting)).toBe(false);
    expect(step(promoting, { kind: 'claimed', epoch: 5 })).toEqual({ kind: 'primary', epoch: 5 });
    expect(step(promoting, { kind: 'claim-lost', latest: 5 })).toEqual({ kind: 'standby', seen: 5 });
    // A claim for another number than the one being taken is a bug, not a win.
    expect(() => step(promoting, { kind: 'claimed', epoch: 6 })).toThrow(FenceTransitionError);
  });

  it('only a primary may write the replica or take a write', () => {
    const states: FenceState[] = [{ kind: 'unclaimed' }, { kind: 'standby', seen: 1 }, { kind: 'promoting', claiming: 2 }, { kind: 'fenced', epoch: 1, newer: 2 }];
    for (const s of states) {
      expect(mayWriteReplica(s)).toBe(false);
      expect(refusal(s)).toMatch(/try again/);
    }
    expect(mayWriteReplica({ kind: 'primary', epoch: 1 })).toBe(true);
    expect(refusal({ kind: 'primary', epoch: 1 })).toBeNull();
  });
});

describe('what a start decides', () => {
  it('a primary on a replica with no epoch takes epoch 1', () => {
    expect(bootDecision('primary', null, 0, false)).toEqual({ kind: 'claim', epoch: 1 });
    expect(stateAfterBoot({ kind: 'claim', epoch: 1 })).toEqual({ kind: 'unclaimed' });
  });
  it('a primary that held the newest epoch resumes it', () => {
    expect(bootDecision('primary', 4, 4, false)).toEqual({ kind: 'resume', epoch: 4 });
    expect(stateAfterBoot({ kind: 'resume', epoch: 4 })).toEqual({ kind: 'primary', epoch: 4 });
  });
  it('the old primary restarted after a promotion finds a newer epoch and is fenced', () => {
    expect(bootDecision('primary', 4, 5, false)).toEqual({ kind: 'fenced', epoch: 4, newer: 5 });
  });
  it('a server rebuilt from the replica (restored on this start) takes the next epoch', () => {
    expect(bootDecision('primary', null, 5, true)).toEqual({ kind: 'claim', epoch: 6 });
  });
  it('a primary with data of its own but no epoch, on a replica someone else holds, does not take it', () => {
    expect(bootDecision('primary', null, 5, false)).toEqual({ kind: 'fenced', epoch: 0, newer: 5 });
  });
  it('a replica with fewer epochs than this node held (emptied, a new bucket) gets the next above both', () => {
    expect(bootDecision('primary', 7, 2, false)).toEqual({ kind: 'claim', epoch: 8 });
  });
  it('a standby only records what it saw', () => {
    expect(bootDecision('standby', 3, 5, false)).toEqual({ kind: 'standby', seen: 5 });
    expect(bootDecision('standby', null, 5, false)).toEqual({ kind: 'standby', seen: 5 });
  });
  it('a node holding the newest epoch (a promoted standby restarted with its old role) refuses to stand by, naming what to do', () => {
    expect(bootDecision('standby', 5, 5, false)).toEqual({ kind: 'refuse-standby', held: 5, latest: 5 });
    expect(bootDecision('standby', 7, 2, false)).toEqual({ kind: 'refuse-standby', held: 7, latest: 2 });
    expect(() => stateAfterBoot({ kind: 'refuse-standby', held: 5, latest: 5 })).toThrow(StandbyHoldsEpochError);
    expect(() => stateAfterBoot({ kind: 'refuse-standby', held: 5, latest: 5 })).toThrow(/epoch 5, the newest.*role: primary.*haven promote/);
  });
});
