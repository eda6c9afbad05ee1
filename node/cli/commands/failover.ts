/**
 * @module node/cli/commands/failover
 * `haven promote` and `haven standby status`: a standby node (`role:
 * standby`) answers both on its control socket. Promotion takes the next
 * epoch in the replica with a conditional write, so a promotion that races
 * another (the edge's, an operator's) ends with one primary: the loser is
 * told and stays a standby.
 */
import { askNode } from '../../admin/control.js';
import type { StandbyReply } from '../../admin/standby-control.js';
import type { StandbyStatus } from '../../replication/failover.js';
import { witnessSummary } from '../../failover/index.js';
import { cliConfig } from '../context.js';
import { CommandError, JSON_OPTION, type CliIo, type Command } from '../types.js';

async function ask(dataDir: string, req: { cmd: 'standby-status' } | { cmd: 'promote' }, timeoutMs: number): Promise<Extract<StandbyReply, { ok: true }>> {
  const r = (await askNode(dataDir, req, timeoutMs)) as StandbyReply | null;
  if (!r) throw new CommandError(`no node is running on ${dataDir}; start the standby with \`haven start\` (role: standby) first`);
  if (!r.ok) throw new CommandError(r.error);
  return r;
}

export function printStandby(io: CliIo, s: StandbyStatus): void {
  const f = s.follow;
  io.out(`role: ${s.role}${s.fence.kind === 'standby' ? ` (newest epoch in the replica: ${s.fence.seen})` : ''}`);
  io.out(`follow: ${f.databases} database(s) applied; lag ${f.lagMs} ms, ${f.behindObjects} object(s) behind; last caught up ${f.caughtUpAt ? new Date(f.caughtUpAt).toISOString() : 'never'}`);
  if (f.lastError) io.out(`last error: ${f.lastError}`);
  if (s.diverged) {
    const d = s.diverged;
    io.out(
      d.unshipped.length > 0
        ? `REJOINED with unshipped changes: ${d.unshipped.join(', ')} had changes the replica never got (held epoch ${d.heldEpoch}); set aside, encrypted, in ${d.dir} (report.json), NOT merged`
        : `rejoined: this node's databases from epoch ${d.heldEpoch} are set aside in ${d.dir}; everything had been shipped`,
    );
  }
  for (const h of s.history) io.out(`epoch ${h.epoch}\t${new Date(h.at).toISOString()}\t${h.how}\t${h.node}`);
}

export const failoverCommands: Command[] = [
  {
    name: 'standby status',
    summary: 'A standby\'s follow lag and the replica\'s primaries (epochs) over time.',
    options: { json: JSON_OPTION },
    async run(args, io) {
      const config = cliConfig(args, io);
      const r = await ask(config.dataDir, { cmd: 'standby-status' }, 10_000);
      if (!('standby' in r)) throw new CommandError('the node sent no standby status');
      if (args.flags.json) io.out(JSON.stringify(r.standby));
      else {
        printStandby(io, r.standby);
        if (r.witness) io.out(witnessSummary(r.witness));
      }
    },
  },
  {
    name: 'promote',
    summary: 'Make this standby the primary: take the next epoch, apply the replica to its end, start serving.',
    details:
      'The old primary, if it still runs, sees the newer epoch within failover.fenceCheckMs and stops acknowledging\n' +
      '(SMTP 451, IMAP NO [UNAVAILABLE], HTTP 503); restart it with role: standby to make it the new standby.\n' +
      'Exit 1 when another node took the epoch first (this one stays a standby).\n' +
      'Not subject to the standby\'s witness (failover.witness), which only gates the edge\'s automatic promotion:\n' +
      'it prints what the witness saw of the primary, and promotes regardless.',
    async run(args, io) {
      const config = cliConfig(args, io);
      const r = await ask(config.dataDir, { cmd: 'promote' }, 600_000);
      if (!('promoted' in r)) throw new CommandError('the node sent no promotion result');
      if (r.witness) io.out(`before promoting, ${witnessSummary(r.witness)}`);
      if (!r.promoted) {
        io.err('haven: another node took the primary role first; this node stays a standby');
        return 1;
      }
      io.out('promoted: this node is the primary and serving');
    },
  },
];
