/**
 * The standby as a second witness (issue 19, item 3, node/failover/witness-rule),
 * pure. The issue's words: "automatic promotion by the edge: when the edge's
 * outside probe has seen the primary fail for a configurable time [...]
 * several probe locations' worth of evidence where Cloudflare gives it".
 * The edge is one location; the standby, from its own datacentre, is the
 * second: it refuses while it can still reach the primary, and while its own
 * failing-since is younger than the agreement window.
 */
import { describe, expect, it } from 'vitest';
import { INITIAL_WITNESS, judge, observe, parseEvidence, type CheckResult, type WitnessRule } from '../../node/failover/witness-rule.js';

const rule: WitnessRule = { enabled: true, agreementMs: 120_000, staleMs: 30_000 };
const down: CheckResult[] = [
  { name: 'health', ok: false, detail: 'ECONNREFUSED' },
  { name: 'smtp', ok: false, detail: 'ECONNREFUSED' },
  { name: 'imaps', ok: false, detail: 'no IMAP greeting within 5 s' },
];
const evidence = { failingSince: 0, failedProbes: 6, colo: 'FRA' };

describe('what counts as up', () => {
  it('any one check passing is up, and ends the failure', () => {
    for (const i of [0, 1, 2]) {
      const checks = down.map((c, j) => (j === i ? { ...c, ok: true, detail: 'answered' } : c));
      const s = observe(observe(INITIAL_WITNESS, 0, down), 10_000, checks);
      expect(s).toMatchObject({ failingSince: null, failedRounds: 0, last: { up: true } });
    }
  });
  it('every check failing starts the failure at the first such round, and keeps it', () => {
    let s = observe(INITIAL_WITNESS, 5_000, down);
    s = observe(s, 15_000, down);
    expect(s).toMatchObject({ failingSince: 5_000, failedRounds: 2, last: { at: 15_000, up: false } });
  });
});

describe('judge: the edge\'s automatic promotion', () => {
  it('refuses while the standby still reaches the primary (a path fault on the edge\'s side)', () => {
    const s = observe(INITIAL_WITNESS, 100_000, [down[0], { name: 'smtp', ok: true, detail: '220 greeting' }, down[2]]);
    const v = judge(rule, s, 101_000, evidence);
    expect(v.agree).toBe(false);
    expect(v.why).toMatch(/still reaches the primary \(smtp: 220 greeting\)/);
  });
  it('refuses while its own failing-since is younger than the agreement window, agrees at the window', () => {
    let s = observe(INITIAL_WITNESS, 0, down);
    s = observe(s, 110_000, down);
    const early = judge(rule, s, 119_999, evidence);
    expect(early.agree).toBe(false);
    expect(early.why).toMatch(/fail for only 119 s \(2 rounds\); it agrees after 120 s/);
    s = observe(s, 120_000, down);
    const v = judge(rule, s, 120_000, evidence);
    expect(v.agree).toBe(true);
    expect(v.why).toMatch(/seen the primary fail for 120 s/);
    expect(v.why).toContain('6 probes from FRA');
  });
  it('refuses before its first check, and on a stale last check (its loop stalled)', () => {
    expect(judge(rule, INITIAL_WITNESS, 0, evidence)).toMatchObject({ agree: false, why: expect.stringMatching(/not checked the primary yet/) });
    let s = observe(INITIAL_WITNESS, 0, down);
    s = observe(s, 200_000, down);
    expect(judge(rule, s, 200_000 + 30_001, evidence)).toMatchObject({ agree: false, why: expect.stringMatching(/last check of the primary is 30 s old/) });
    expect(judge(rule, s, 200_000 + 30_000, evidence).agree).toBe(true);
  });
  it('with no witness configured, takes the edge\'s word (as before the witness)', () => {
    expect(judge({ ...rule, enabled: false }, INITIAL_WITNESS, 0, null).agree).toBe(true);
  });
});

describe('the edge\'s evidence in the promotion body', () => {
  it('is optional (an older edge sends none) and checked when present', () => {
    expect(parseEvidence(undefined)).toEqual({ ok: true, evidence: null });
    expect(parseEvidence({})).toEqual({ ok: true, evidence: null });
    expect(parseEvidence({ evidence: { failingSince: 1, failedProbes: 5, colo: null } })).toEqual({ ok: true, evidence: { failingSince: 1, failedProbes: 5, colo: null } });
    expect(parseEvidence({ evidence: { failingSince: 1, failedProbes: 5, colo: 'AMS', lastError: 'x'.repeat(400) } })).toMatchObject({ ok: true, evidence: { colo: 'AMS', lastError: 'x'.repeat(300) } });
    expect(parseEvidence({ evidence: { failingSince: 'yesterday', failedProbes: 5 } })).toMatchObject({ ok: false, reason: expect.stringMatching(/failingSince/) });
    expect(parseEvidence({ evidence: { failingSince: 1, failedProbes: -1 } })).toMatchObject({ ok: false, reason: expect.stringMatching(/failedProbes/) });
    expect(parseEvidence({ evidence: { failingSince: 1, failedProbes: 1, colo: '<script>' } })).toMatchObject({ ok: false, reason: expect.stringMatching(/colo/) });
  });
});
