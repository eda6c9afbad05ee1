/**
 * @module node/admin/standby-control
 * A standby's control socket (the same `<dataDir>/control.sock` a serving
 * node answers on, node/admin/control): `standby-status` (role, lag, the
 * epoch history) and `promote`. Everything else (operations, backups) is
 * refused with a message that names the primary as the place for changes.
 */
import type { StandbyStatus } from '../replication/failover.js';
import type { WitnessView } from '../failover/witness.js';
import { controlSocketPath } from '../store/layout.js';
import type { Logger } from '../util/log.js';
import { reportUnexpected } from '../util/unexpected.js';
import { listenControl, STANDBY_REFUSAL, type ControlFailure, type ControlRequest, type ControlServer } from './control.js';

export interface StandbyControlled {
  status(): Promise<StandbyStatus>;
  catchUp(): Promise<void>;
  promote(): Promise<{ promoted: boolean }>;
  /** What the standby's own look at the primary shows; told to the operator, never a condition on `haven promote`. */
  witness?: { view(): WitnessView };
}

export type StandbyReply = { ok: true; standby: StandbyStatus; witness?: WitnessView } | { ok: true; promoted: boolean; witness?: WitnessView } | ControlFailure;

export function serveStandbyControl(dataDir: string, standby: StandbyControlled, log: Logger): Promise<ControlServer> {
  const clog = log.child({ proto: 'control' });
  const answer = async (req: ControlRequest): Promise<StandbyReply> => {
    try {
      if (req.cmd === 'standby-status') return { ok: true, standby: await standby.status(), witness: standby.witness?.view() };
      if (req.cmd === 'promote') {
        // As it stood when the operator asked: the promotion stops the witness.
        const witness = standby.witness?.view();
        clog.info({ witnessSawPrimaryUp: witness?.state.last?.up ?? null }, 'control: promotion requested');
        const { promoted } = await standby.promote();
        // Once promoted the standby's replica handle is closed and the serving node answers here next.
        return { ok: true, promoted, witness };
      }
      // A refusal the user acts on (send the change to the primary), not the node's bug.
      return { ok: false, error: STANDBY_REFUSAL, errorName: 'WritesRefusedError', domain: true };
    } catch (err) {
      reportUnexpected(err);
      clog.error({ err, cmd: req.cmd }, 'control: unexpected error');
      return { ok: false, error: (err as Error)?.message ?? String(err) };
    }
  };
  return listenControl(controlSocketPath(dataDir), answer, clog);
}
