/**
 * @module node/cli/commands/status
 * `haven status`: what this node is configured to be and what it holds, read
 * without changing anything (no listener is contacted; for liveness use the
 * node's /health or `haven doctor`).
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { parseReplicaUrl, type Config } from '../../config/index.js';
import { dataDirHolder } from '../../util/data-dir-lock.js';
import { cliConfig, hasDirectory, withOperations } from '../context.js';
import { JSON_OPTION, type Command } from '../types.js';

interface Summary {
  hostname: string;
  dataDir: string;
  listenAddress: string;
  keyMode: string;
  ports: Record<string, number | 'off'>;
  tls: { source: string; notAfter?: string };
  /** `live` only while a node runs here: its replicator's own view. */
  replication: { enabled: boolean; target?: string; live?: { lagSeconds: number; healthy: boolean; lastError: string | null } };
  initialised: boolean;
  /** The pid of the node running on this data directory, or null. */
  nodePid: number | null;
  domains?: number;
  accounts?: number;
  aliases?: number;
  queue?: { queued: number; oldest?: string };
}

function replicaText(config: Config): string | undefined {
  if (!config.replicaUrl) return undefined;
  const t = parseReplicaUrl(config.replicaUrl);
  return t.kind === 'file' ? `directory ${t.path}` : `s3 bucket ${t.bucket}${t.prefix ? `/${t.prefix}` : ''}${t.endpoint ? ` at ${new URL(t.endpoint).host}` : ''}`;
}

async function tlsSummary(config: Config): Promise<Summary['tls']> {
  // Loaded here, not at the top: the doctor's module graph is heavy and every other command would pay for it.
  // The same choice of file the doctor makes (an ACME certificate lives apart from the self-signed one).
  const { servedCertificateFile } = await import('../../doctor/from-node.js');
  const file = servedCertificateFile(config);
  const source = config.tls.certFile ? 'files' : config.tls.acme.enabled ? 'acme' : 'self-signed';
  if (!existsSync(file)) return { source: `${source} (not made yet)` };
  try {
    return { source, notAfter: new Date(new X509Certificate(readFileSync(file)).validTo).toISOString() };
  } catch {
    return { source: `${source} (${file} is unreadable)` };
  }
}

export const statusCommands: Command[] = [
  {
    name: 'status',
    summary: 'Show the configuration summary and counts of domains, accounts, aliases and queued mail.',
    options: { json: JSON_OPTION },
    async run(args, io) {
      const config = cliConfig(args, io);
      const ports: Summary['ports'] = { ...config.ports };
      if (!config.pop3.enabled) ports.pop3 = ports.pop3s = 'off';
      const s: Summary = {
        hostname: config.hostname,
        dataDir: config.dataDir,
        listenAddress: config.listenAddress,
        keyMode: config.keyMode,
        ports,
        tls: await tlsSummary(config),
        replication: { enabled: config.replicaUrl !== '', target: replicaText(config) },
        initialised: hasDirectory(config),
        nodePid: dataDirHolder(config.dataDir),
      };
      if (s.replication.enabled && s.nodePid !== null) {
        // Asked over the node's control socket: this process has no replicator of its own.
        const { askReplication: askNode } = await import('../../admin/control.js');
        const reply = await askNode(config.dataDir, { cmd: 'status' }, 5_000).catch(() => null);
        if (reply?.ok) s.replication.live = { lagSeconds: reply.status.lagMs / 1000, healthy: reply.status.healthy, lastError: reply.status.lastError };
      }
      if (s.initialised) {
        await withOperations(args, io, async (ops) => {
          const sum = await ops.call('summary', {});
          s.domains = sum.domains;
          s.accounts = sum.accounts;
          s.aliases = sum.aliases;
          const depth = sum.queue ?? { queued: 0, oldestAt: null };
          s.queue = { queued: depth.queued, oldest: depth.oldestAt ? new Date(depth.oldestAt).toISOString() : undefined };
        }, { readOnly: true });
      }
      if (args.flags.json) return io.out(JSON.stringify(s));
      io.out(`hostname      ${s.hostname}`);
      io.out(`data          ${s.dataDir}${s.initialised ? '' : ' (empty: `haven start` initialises it)'}`);
      io.out(`node          ${s.nodePid ? `running (pid ${s.nodePid})` : 'not running'}`);
      io.out(`listening on  ${s.listenAddress}`);
      io.out(`ports         ${Object.entries(s.ports).map(([k, v]) => `${k} ${v}`).join(', ')}`);
      io.out(`key mode      ${s.keyMode}`);
      io.out(`certificate   ${s.tls.source}${s.tls.notAfter ? `, valid until ${s.tls.notAfter}` : ''}`);
      const live = s.replication.live;
      const liveText = live ? `; ${live.healthy ? 'healthy' : 'UNHEALTHY'}, lag ${live.lagSeconds.toFixed(1)} s${live.lastError ? `, last error: ${live.lastError}` : ''}` : '';
      io.out(`replication   ${s.replication.enabled ? `on, to ${s.replication.target}${liveText}` : 'off (set replicaUrl to stream every change off-site)'}`);
      if (s.initialised) {
        io.out(`domains       ${s.domains}`);
        io.out(`accounts      ${s.accounts}`);
        io.out(`aliases       ${s.aliases}`);
        io.out(`queue         ${s.queue!.queued} recipient(s) waiting${s.queue!.oldest ? `, oldest since ${s.queue!.oldest}` : ''}`);
      }
    },
  },
];
