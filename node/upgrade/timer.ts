/**
 * @module node/upgrade/timer
 * The optional systemd units that run `haven upgrade` on a schedule: a
 * oneshot service and its timer (daily at a quiet hour, randomised so a
 * fleet does not upgrade at once, persistent so a missed run happens at
 * boot). The upgrade stops and starts the node's own unit and rolls back by
 * itself, so an unattended run is safe; its log is in the journal.
 */

export interface TimerOptions {
  /** The release source to follow (a tarball URL that always names the latest, or git+https://…#stable). */
  source: string;
  /** The `haven` executable to run the upgrade with. */
  bin: string;
  root: string;
  service: string;
  configFile?: string;
  /** systemd OnCalendar expression (default: daily at 03:30). */
  onCalendar?: string;
  /** File with the HAVEN_* environment (the node's own EnvironmentFile). */
  environmentFile?: string;
}

export function upgradeUnits(o: TimerOptions): { 'haven-upgrade.service': string; 'haven-upgrade.timer': string } {
  const args = ['upgrade', q(o.source), '--root', q(o.root), '--service', q(o.service), ...(o.configFile ? ['--config', q(o.configFile)] : [])];
  const service = `[Unit]
Description=Upgrade Haven (verified snapshot first, rolls back by itself if unhealthy)
Wants=network-online.target
After=network-online.target ${o.service}

[Service]
Type=oneshot
ExecStart=${o.bin} ${args.join(' ')}
${o.environmentFile ? `EnvironmentFile=${o.environmentFile}\n` : ''}TimeoutStartSec=30min
`;
  const timer = `[Unit]
Description=Run haven-upgrade.service on a schedule

[Timer]
OnCalendar=${o.onCalendar ?? '*-*-* 03:30:00'}
RandomizedDelaySec=30min
Persistent=true

[Install]
WantedBy=timers.target
`;
  return { 'haven-upgrade.service': service, 'haven-upgrade.timer': timer };
}

/** systemd command-line quoting: double quotes, with \\ and \" escaped, only where needed. */
function q(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./#-]+$/.test(s) ? s : `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
