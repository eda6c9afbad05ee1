/**
 * @module node/cli/commands/replication
 * `haven restore`, `haven backup`, `haven backup verify`, `haven replicate
 * status`: the replica from the command line. A running node is reached
 * through its control socket (live status, a backup it takes itself), never
 * replicated a second time from here; without a node these commands work on
 * the data directory and the replica directly.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Config } from '../../config/index.js';
import {
  NothingToRestoreError,
  ReplicaConfigError,
  ReplicaCorruptError,
  RestoreRefusedError,
  RestoreVerifyError,
  configuredMasterKey,
  openTarget,
  replicaSummary,
  replicate,
  restore,
  verifyBackup,
  type RestoreProgress,
} from '../../replication/index.js';
import { askNode as askAny, askReplication as askNode, STANDBY_REFUSAL } from '../../admin/control.js';
import type { StandbyReply } from '../../admin/standby-control.js';
import { printStandby } from './failover.js';
import { accountInReplica } from '../../replication/lookup.js';
import { databaseFiles, directoryPath } from '../../store/layout.js';
import { lockDataDir } from '../../util/data-dir-lock.js';
import { actAsDataOwner } from '../../upgrade/owner.js';
import { nodeRunning } from '../../upgrade/running.js';
import { Store } from '../../store/index.js';
import { silentLogger } from '../../util/log.js';
import { cliConfig } from '../context.js';
import { JSON_OPTION, CommandError, UsageError, type CliIo, type Command } from '../types.js';

/** Replication's domain errors are things a user can act on: one line, exit 1. */
async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ReplicaCorruptError || err instanceof RestoreRefusedError || err instanceof RestoreVerifyError || err instanceof NothingToRestoreError || err instanceof ReplicaConfigError) {
      throw new CommandError(err.message);
    }
    // The object store refused or could not be reached: not a bug, something to check.
    const e = err as { $metadata?: unknown; code?: string; name?: string; message?: string };
    if (e.$metadata !== undefined || ['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'ECONNRESET', 'EACCES', 'ENOENT'].includes(e.code ?? '')) {
      throw new CommandError(`the replica could not be read (${e.name ?? e.code}: ${e.message}); check replicaUrl, its credentials and the network, then try again`);
    }
    throw err;
  }
}

function replicaUrl(config: Config, from: unknown): string {
  const url = typeof from === 'string' ? from : config.replicaUrl;
  if (!url) throw new CommandError('no replica configured: set replicaUrl (HAVEN_REPLICA_URL) or pass --from <url>');
  return url;
}

function needKey(config: Config): Buffer {
  const key = configuredMasterKey(config);
  if (!key) throw new CommandError('no master key: set HAVEN_MASTER_KEY_FILE (or HAVEN_MASTER_KEY) to the node\'s key; restored databases are checked by opening them with it');
  return key;
}

/** `--at`: an ISO 8601 time, or a moment in the past like `90m`, `2h`, `3d` ago. */
export function parseAt(v: string): Date {
  const rel = /^(\d+)\s*(s|m|h|d)$/.exec(v.trim());
  if (rel) return new Date(Date.now() - Number(rel[1]) * { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[rel[2] as 's' | 'm' | 'h' | 'd']);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new UsageError(`--at ${JSON.stringify(v)} is not a time; give ISO 8601 (2026-12-01T09:30:00Z) or an age like 90m, 2h, 3d`);
  return new Date(t);
}

const mb = (n: number) => (n / 1e6).toFixed(1);

export function formatProgress(p: RestoreProgress): string {
  const rate = p.elapsedMs > 0 ? p.bytesDone / 1e3 / p.elapsedMs : 0;
  const eta = p.etaMs === null ? '' : `, about ${Math.ceil(p.etaMs / 1000)} s left`;
  return `restore: ${p.phase}${p.db ? ` ${p.db}` : ''}: ${p.objectsDone}/${p.objectsTotal} objects, ${mb(p.bytesDone)} of ${mb(p.bytesTotal)} MB (${rate.toFixed(1)} MB/s)${eta}`;
}

/** Progress on stderr at most twice a second, plus the first and last lines. */
function progressPrinter(io: CliIo): (p: RestoreProgress) => void {
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (p.phase !== 'plan' && p.phase !== 'done' && now - last < 500) return;
    last = now;
    io.err(formatProgress(p));
  };
}

function isEmptyDir(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).length === 0;
}

export const replicationCommands: Command[] = [
  {
    name: 'restore',
    summary: 'Restore the node, or one account, from the replica (latest or a point in time).',
    details:
      'Restores into the live data directory by default, refusing to overwrite databases without --force (stop the node first), ' +
      'or into another directory with --to. Every restored database is checked: opened with its key and PRAGMA integrity_check where the key is known, ' +
      'page structure otherwise (zero-access mailboxes). Progress and an estimate go to stderr.',
    options: {
      account: { type: 'string', value: 'address', help: 'Restore only this account\'s mailbox (found in the replica\'s directory at the same time).' },
      at: { type: 'string', value: 'time', help: 'Point in time: ISO 8601 or an age like 2h; default the latest state.' },
      to: { type: 'string', value: 'dir', help: 'Restore into this directory instead of the live data directory.' },
      force: { type: 'boolean', help: 'Overwrite existing databases (the node must be stopped).' },
      from: { type: 'string', value: 'url', help: 'Restore from this replica URL instead of replicaUrl.' },
      json: JSON_OPTION,
    },
    async run(args, io) {
      const config = cliConfig(args, io);
      const url = replicaUrl(config, args.flags.from);
      const at = typeof args.flags.at === 'string' ? parseAt(args.flags.at) : undefined;
      const into = typeof args.flags.to === 'string' ? resolve(io.cwd, args.flags.to) : config.dataDir;
      const masterKey = needKey(config);
      // Files root restores into the node's directory must stay the node's.
      actAsDataOwner(into === config.dataDir ? config.dataDir : dirname(into));
      const running = into === config.dataDir && !isEmptyDir(into) ? await nodeRunning(config) : null;
      if (running) {
        throw new CommandError(`the node is running on ${config.dataDir} (${running} answers); stop it first (systemctl stop haven), or restore elsewhere with --to <dir>`);
      }
      // The one writer while it restores: a node started meanwhile finds the directory busy.
      const lock = into === config.dataDir ? lockDataDir(into) : null;
      const result = await guard(async () => {
        const target = openTarget(url);
        try {
          const account = typeof args.flags.account === 'string' ? await accountInReplica(target, args.flags.account, masterKey, at) : null;
          const mailboxKeys = account?.key ? { [account.id]: account.key } : undefined;
          return await restore({ target, into, only: account?.id, at, force: args.flags.force === true, masterKey, mailboxKeys, onProgress: progressPrinter(io) });
        } finally {
          target.close();
        }
      }).finally(() => lock?.release());
      if (args.flags.json) return io.out(JSON.stringify(result));
      for (const d of result.databases) io.out(`${d.db}\t${d.pages} pages\tstate at ${new Date(d.stateAt).toISOString()}\tchecked: ${d.verified}`);
      io.out(`restored ${result.databases.length} database(s), ${mb(result.bytes)} MB in ${(result.ms / 1000).toFixed(1)} s into ${into}`);
    },
  },
  {
    name: 'backup',
    summary: 'Take a snapshot of every open database now and wait until the replica has everything.',
    details: 'With the node running, the node does it (through its control socket); otherwise this command opens the data directory, ships anything left unshipped, and stops.',
    options: { json: JSON_OPTION, timeout: { type: 'string', value: 'seconds', help: 'Give up after this long (default 120).' } },
    async run(args, io) {
      const config = cliConfig(args, io);
      if (!config.replicaUrl) throw new CommandError('no replica configured: set replicaUrl (HAVEN_REPLICA_URL) to back up to');
      const timeoutMs = (typeof args.flags.timeout === 'string' ? Number(args.flags.timeout) : 120) * 1000;
      if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new UsageError('--timeout takes a number of seconds');
      const live = await askNode(config.dataDir, { cmd: 'backup', timeoutMs }, timeoutMs + 10_000);
      let snapshots: number;
      let via: 'node' | 'offline';
      if (live) {
        if (!live.ok) throw new CommandError(`the node could not finish the backup: ${live.error}`);
        snapshots = live.snapshots ?? 0;
        via = 'node';
      } else {
        const masterKey = needKey(config);
        actAsDataOwner(config.dataDir);
        if (!existsSync(directoryPath(config.dataDir))) throw new CommandError(`no Haven data in ${config.dataDir} to back up`);
        // No node runs: this command is the one writer until it is done.
        const lock = lockDataDir(config.dataDir);
        const rep = replicate({ url: config.replicaUrl, dataDir: config.dataDir, log: silentLogger, retentionCheckMs: 0 });
        try {
          const store = Store.open({ dataDir: config.dataDir, masterKey, keyMode: config.keyMode });
          try {
            snapshots = (await rep.backupNow(timeoutMs)).snapshots;
          } finally {
            store.close();
          }
          await rep.flush(timeoutMs);
        } catch (err) {
          // What could not be shipped stays in the outbox and ships with the node's next start.
          throw new CommandError(`backup incomplete: ${(err as Error).message}`);
        } finally {
          await rep.stop(1_000);
          lock.release();
        }
        via = 'offline';
      }
      if (args.flags.json) return io.out(JSON.stringify({ ok: true, via, snapshots }));
      io.out(`backup complete: ${snapshots} database snapshot(s) taken ${via === 'node' ? 'by the running node' : 'from the stopped data directory'}; the replica holds everything committed`);
    },
  },
  {
    name: 'backup verify',
    summary: 'Restore the latest state of every database into a scratch directory and compare it with the live one.',
    options: { json: JSON_OPTION },
    async run(args, io) {
      const config = cliConfig(args, io);
      const url = replicaUrl(config, undefined);
      const masterKey = needKey(config);
      const replication = {
        async flush(timeoutMs?: number) {
          const r = await askNode(config.dataDir, { cmd: 'flush', timeoutMs });
          if (r && !r.ok) throw new CommandError(`the node could not catch up with the replica: ${r.error}`);
        },
      };
      const verify = () => guard(() => verifyBackup({ target: url, dataDir: config.dataDir, masterKey, replication, onProgress: progressPrinter(io) }));
      let report = await verify();
      // A running node may commit between its flush and our copy of the live files: one more try tells that apart from damage.
      if (!report.ok && (await askNode(config.dataDir, { cmd: 'status' }, 5_000))) {
        io.err('backup verify: differences while the node is writing; flushing and comparing once more');
        report = await verify();
      }
      if (args.flags.json) io.out(JSON.stringify({ ok: report.ok, databases: report.databases }));
      else {
        for (const d of report.databases) io.out(`${d.db}\t${d.result}${d.detail ? `\t${d.detail}` : ''}`);
        io.out(report.ok ? `backup verified: ${report.databases.length} database(s) match the replica` : 'backup verification FAILED: see the lines above; run `haven backup` and verify again');
      }
      return report.ok ? 0 : 1;
    },
  },
  {
    name: 'replicate status',
    summary: 'Replication lag, last object shipped and generation per database.',
    details: 'Live figures come from the running node; the replica\'s own listing is shown either way.',
    options: { json: JSON_OPTION },
    async run(args, io) {
      const config = cliConfig(args, io);
      const url = replicaUrl(config, undefined);
      const live = await askNode(config.dataDir, { cmd: 'status' }, 10_000);
      const target = openTarget(url);
      let replica;
      try {
        replica = replicaSummary(await guard(() => target.list()));
      } finally {
        target.close();
      }
      const node = live?.ok ? { status: live.status, databases: live.databases } : null;
      // Every database file in the data directory, and whether the replica has it: one missing is a failure.
      const inReplica = new Map(replica.map((r) => [r.db, r]));
      const databases = databaseFiles(config.dataDir).map((f) => {
        const r = inReplica.get(f.name);
        return { db: f.name, inReplica: r !== undefined, generation: r?.generation ?? null, lastIndex: r?.lastIndex ?? null };
      });
      const missing = databases.filter((d) => !d.inReplica).map((d) => d.db);
      if (args.flags.json) {
        io.out(JSON.stringify({ running: node !== null, node, replica, databases, missing }));
        return missing.length > 0 ? 1 : 0;
      }
      io.out(`replica: ${target.description}`);
      if (!live?.ok && live?.error === STANDBY_REFUSAL) {
        // A standby ships nothing: its figures are how far behind the replica it is.
        const sb = (await askAny(config.dataDir, { cmd: 'standby-status' }, 10_000)) as StandbyReply | null;
        if (sb?.ok && 'standby' in sb) printStandby(io, sb.standby);
      }
      if (node) {
        const s = node.status;
        io.out(`node: running; lag ${s.lagMs} ms, ${s.pendingObjects} object(s) / ${s.pendingBytes} bytes waiting${s.outboxObjects ? ` (${s.outboxObjects} in the outbox)` : ''}, ${s.healthy ? 'healthy' : 'UNHEALTHY'}`);
        if (s.lastError) io.out(`last error: ${s.lastError} at ${new Date(s.lastErrorAt!).toISOString()}`);
      } else io.out('node: not running (figures below are from the replica alone)');
      const liveBy = new Map((node?.databases ?? []).map((d) => [d.db, d]));
      for (const r of replica) {
        const l = liveBy.get(r.db);
        const shipped = l?.lastShippedAt ?? r.lastShippedAt;
        io.out(
          `${r.db}\tgeneration ${r.generation}\tobject ${r.lastIndex}\tlast shipped ${shipped ? new Date(shipped).toISOString() : 'unknown'}` +
            (l ? `\tlag ${l.lagMs} ms\t${l.pendingObjects} waiting` : ''),
        );
      }
      for (const db of missing) {
        const l = node?.databases.find((d) => d.db === db);
        io.out(`${db}\tMISSING from the replica${l ? `\t${l.pendingObjects} waiting` : ''}`);
      }
      if (missing.length > 0) {
        io.out(`FAIL: ${missing.length} database(s) of this data directory are not in the replica; a restore would lose them (start the node, or run \`haven backup\`)`);
        return 1;
      }
    },
  },
];
