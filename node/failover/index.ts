/**
 * @module node/failover
 * What a promoted standby does outside the node itself: moving the mail
 * host's Hetzner Floating IPs to this server. (Which node may write, and the
 * standby's following and promotion, are node/replication's: the replica is
 * the arbiter.)
 */
export { moveFloatingIps, FloatingIpError, type FloatingIpOptions, type MovedIp } from './hetzner.js';
export { startWitness, witnessSummary, witnessTarget, type Witness, type WitnessView } from './witness.js';
export { judge, observe, parseEvidence, INITIAL_WITNESS, type CheckResult, type EdgeEvidence, type Verdict, type WitnessRule, type WitnessState } from './witness-rule.js';
