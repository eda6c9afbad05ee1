/**
 * @module node/replication/control
 * What a running node's replication answers on the node's control channel
 * (node/admin/control): live status, a flush, a backup. The `haven` CLI
 * asks the node for these instead of starting a second replicator on the
 * same databases, which would fork the chain.
 */
import type { Logger } from '../util/log.js';
import type { DatabaseStatus, ReplicationStatus } from './replicator.js';

export type ReplicationRequest = { cmd: 'status' } | { cmd: 'backup'; timeoutMs?: number } | { cmd: 'flush'; timeoutMs?: number };

export type ReplicationReply =
  | { ok: true; status: ReplicationStatus; databases: DatabaseStatus[]; snapshots?: number }
  | { ok: false; error: string };

interface Served {
  status(): ReplicationStatus;
  databases(): DatabaseStatus[];
  flush(timeoutMs?: number): Promise<void>;
  backupNow(timeoutMs?: number): Promise<{ snapshots: number }>;
}

export interface ReplicationControl {
  handle(req: ReplicationRequest): Promise<ReplicationReply>;
}

export function replicationControl(rep: Served, log: Logger): ReplicationControl {
  return {
    async handle(req) {
      try {
        if (req.cmd === 'status') return { ok: true, status: rep.status(), databases: rep.databases() };
        if (req.cmd === 'flush') {
          await rep.flush(req.timeoutMs);
          return { ok: true, status: rep.status(), databases: rep.databases() };
        }
        const { snapshots } = await rep.backupNow(req.timeoutMs);
        log.info({ snapshots }, 'replication: backup requested over the control socket is in the replica');
        return { ok: true, status: rep.status(), databases: rep.databases(), snapshots };
      } catch (err) {
        return { ok: false, error: (err as Error).message };
      }
    },
  };
}
