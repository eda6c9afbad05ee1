/**
 * @module node/admin/standby-control
 * A standby's control socket (the same `<dataDir>/control.sock` a serving
 * node answers on, node/admin/control): `standby-status` (role, lag, the
 * epoch history) and `promote`. Everything else (operations, backups) is
 * refused with a message that names the primary as the place for changes.
 */
import type { StandbyStatus } from '../replication/failover.js';
import { controlSocketPath } from '../store/layout.js';
import type { Logger } from '../util/log.js';
import { reportUnexpected } from '../util/unexpected.js';
import { listenControl, STANDBY_REFUSAL, type ControlFailure, type ControlRequest, type ControlServer } from './control.js';

export interface StandbyControlled {
  status(): Promise<StandbyStatus>;
  catchUp(): Promise<void>;
  promote(): Promise<{ promoted: boolean }>;
}

export type StandbyReply = { ok: true; standby: StandbyStatus } | { ok: true; promoted: boolean } | ControlFailure;

export function serveStandbyControl(dataDir: string, standby: StandbyControlled, log: Logger): Promise<ControlServer> {
  const clog = log.child({ proto: 'control' });
  const answer = async (req: ControlRequest): Promise<StandbyReply> => {
    try {
      if (req.cmd === 'standby-status') return { ok: true, standby: await standby.status() };
      if (req.cmd === 'promote') {
        clog.info('control: promotion requested');
        const { promoted } = await standby.promote();
        // Once promoted the standby's replica handle is closed and the serving node answers here next.
        return { ok: true, promoted };
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
