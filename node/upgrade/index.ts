/**
 * @module node/upgrade
 * `haven upgrade` and `haven migrate`: releases side by side with a
 * `current` symlink, a verified snapshot before any new code touches the
 * data, the new release's own migrations and checks as the health check,
 * and a rollback (snapshot and release) when it is unhealthy.
 */
export { upgrade, runRelease, trialStart, waitHealthy, UpgradeError, type UpgradeOptions, type UpgradeResult } from './upgrade.js';
export { migrateAll, HealthCheckError, type MigrateReport, type MigratedDb } from './migrate.js';
export { stageRelease, readRelease, linkedRelease, runningRelease, setLink, pruneReleases, ReleaseError, type ReleaseInfo } from './release.js';
export { takeSnapshot, takeVerifiedSnapshot, restoreSnapshot, readManifest, databaseFiles, SnapshotError, type SnapshotManifest, type SnapshotFile } from './snapshot.js';
export { upgradeUnits, type TimerOptions } from './timer.js';
export { actAsDataOwner, dataOwner, chownTo, type Owner } from './owner.js';
export { nodeRunning } from './running.js';
