/**
 * @module node/cli/commands/ops
 * `haven doctor` (is everything outside the node right: DNS, reverse DNS,
 * port 25, the certificate, blocklists; and inside: replication lag, the
 * queue) and `haven certs renew`. The doctor's report is the same data the
 * admin API serves; certificates renewed here reach a running node without
 * a restart.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Config } from '../../config/index.js';
import { Store } from '../../store/index.js';
import { dataDirHolder, lockDataDir } from '../../util/data-dir-lock.js';
import { cliConfig, hasDirectory, masterKeyFor, withOperations } from '../context.js';
import { JSON_OPTION, CommandError, UsageError, type Args, type CliIo, type Command } from '../types.js';
import type { CertificateRenewal } from '../../admin/operations.js';

function str(args: Args, name: string): string | undefined {
  const v = args.flags[name];
  return typeof v === 'string' ? v : undefined;
}

function ipFlag(args: Args, name: 'ipv4' | 'ipv6'): string | undefined {
  const v = str(args, name);
  if (v !== undefined && !(name === 'ipv4' ? isIPv4(v) : isIPv6(v))) throw new UsageError(`--${name} expects an ${name === 'ipv4' ? 'IPv4' : 'IPv6'} address, got "${v}"`);
  return v;
}

/** "host:port", "[v6]:port" or "host" (port 25). */
function hostPort(v: string, flag: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d{1,5}))?$/.exec(v);
  if (!m) throw new UsageError(`--${flag} expects host:port, got "${v}"`);
  return { host: m[1] ?? m[2], port: m[3] ? Number(m[3]) : 25 };
}

/** The running node's replication status, or null when replication is off; undefined when the node is not running. */
async function liveReplication(config: Config) {
  if (!config.replicaUrl) return null;
  const { askReplication: askNode } = await import('../../admin/control.js');
  const reply = await askNode(config.dataDir, { cmd: 'status' }, 5_000);
  if (!reply) return undefined;
  if (!reply.ok) return { lagMs: Number.POSITIVE_INFINITY, healthy: false, lastError: reply.error };
  return { lagMs: reply.status.lagMs, healthy: reply.status.healthy, lastError: reply.status.lastError, target: reply.status.target, missing: reply.status.missing };
}

export const opsCommands: Command[] = [
  {
    name: 'doctor',
    summary: 'Check DNS, reverse DNS, port 25, the certificate, blocklists, replication and the queue; each OK, WARN or FAIL with its fix.',
    details:
      'The records expected are the ones `haven` publishes through Pulumi (node/dns). The server\'s public addresses are read from its network interfaces unless given. ' +
      'Exit status 1 when any check fails, so it can run from a timer or CI.',
    options: {
      json: JSON_OPTION,
      ipv4: { type: 'string', value: 'address', help: 'The server\'s public IPv4 address (default: from the network interfaces).' },
      ipv6: { type: 'string', value: 'address', help: 'The IPv6 address the node sends mail from (default: from the interfaces, preferring <prefix>::1).' },
      dns: { type: 'string', value: 'server', help: 'Ask this DNS server (ip or ip:port, comma-separated) instead of the system resolver, e.g. a zone\'s authoritative server.' },
      probe: { type: 'string', value: 'host:port', help: 'Where to test outbound SMTP (default: the smarthost, else gmail-smtp-in.l.google.com:25).' },
      blocklist: { type: 'string', multiple: true, value: 'zone', help: 'DNS blocklist to look the addresses up in (repeatable; default zen.spamhaus.org, bl.spamcop.net, b.barracudacentral.org).' },
    },
    async run(args, io) {
      const { DoctorInputError, doctorDepsFor, formatDoctorReport, runDoctor } = await import('../../doctor/index.js');
      const { resolverFor } = await import('../../smtp/index.js');
      const { actAsDataOwner } = await import('../../upgrade/owner.js');
      const config = cliConfig(args, io);
      // Opening the store as root would leave root-owned WAL files the node cannot open.
      actAsDataOwner(config.dataDir);
      const replication = await liveReplication(config);
      const dns = str(args, 'dns');
      const probe = str(args, 'probe');
      const lists = args.flags.blocklist;
      const report = await withOperations(args, io, async (ops) => {
        // The doctor reads the domains and their DKIM keys, and the queue depth, as the node reports them.
        const domains = await ops.call('domain.list', {});
        const summary = await ops.call('summary', {});
        const directory = { listDomains: () => domains, dkimKeys: (name: string) => domains.find((d) => d.name === name)?.dkim ?? [] };
        try {
          const deps = doctorDepsFor({
            config,
            directory,
            resolver: dns ? resolverFor(dns.split(',').map((s) => s.trim()), { timeoutMs: 3000 }) : undefined,
            ipv4: ipFlag(args, 'ipv4'),
            ipv6: ipFlag(args, 'ipv6'),
            outbound: probe ? { ...hostPort(probe, 'probe'), timeoutMs: 10_000 } : undefined,
            blocklists: Array.isArray(lists) ? lists : undefined,
            replication: replication === undefined ? undefined : () => replication,
            queue: () => summary.queue ?? { queued: 0, oldestAt: null },
          });
          return await runDoctor(deps);
        } catch (err) {
          if (err instanceof DoctorInputError || (err as Error).name === 'DnsInputError') throw new CommandError((err as Error).message);
          throw err;
        }
      }, { readOnly: true });
      if (args.flags.json) io.out(JSON.stringify(report));
      else for (const line of formatDoctorReport(report)) io.out(line);
      return report.ok ? 0 : 1;
    },
  },
  {
    name: 'certs renew',
    summary: 'Renew the node\'s certificate now if it is due (ACME), or make the local self-signed one; a running node picks it up without a restart.',
    details:
      'With tls.acme.challenge http-01 the CA must reach ports.http as port 80: a running node answers it; a stopped node\'s port is served by this command. ' +
      'With dns-01 the TXT record goes through the Cloudflare API (tls.acme.cloudflareToken).',
    options: {
      force: { type: 'boolean', help: 'Renew even when the certificate is not due yet.' },
      json: JSON_OPTION,
    },
    async run(args, io) {
      const { renewCertificate, webNamesFor } = await import('../../tls/index.js');
      const config = cliConfig(args, io);
      const { actAsDataOwner } = await import('../../upgrade/owner.js');
      // A running node renews itself (its ACME client, its own answer to the CA on ports.http).
      if (dataDirHolder(config.dataDir) !== null) {
        const r = await withOperations(args, io, (ops) => ops.call('certs.renew', { force: args.flags.force === true }));
        return printRenewal(io, config, r, args.flags.json === true);
      }
      // No node: read the web names of the directory's domains here (under the data directory's
      // lock) once the command runs as the data owner, after port 80 is bound.
      let names: string[] | undefined;
      const extraNames = (): string[] => {
        if (names) return names;
        names = [];
        if (!hasDirectory(config)) return names;
        try {
          const lock = lockDataDir(config.dataDir);
          try {
            const store = Store.open({ dataDir: config.dataDir, masterKey: masterKeyFor(config, { allowGenerate: false }).key, keyMode: config.keyMode });
            try {
              names = webNamesFor(store.directory.listDomains().map((d) => d.name));
            } finally {
              store.close();
            }
          } finally {
            lock.release();
          }
        } catch (err) {
          io.err(`haven: warning: cannot read the mail domains (${(err as Error).message}); the certificate covers ${config.hostname} only`);
        }
        return names;
      };
      // Bind port 80 as root if need be, then write the files as the node's user.
      const r = await renewCertificate(config, { force: args.flags.force === true, extraNames, afterBind: () => void actAsDataOwner(config.dataDir) });
      if (args.flags.json) return io.out(JSON.stringify(r));
      return printRenewal(io, config, { result: r.result, source: r.source, certFile: r.certFile, validTo: r.info?.validTo.toISOString() ?? null, names: r.info?.subjectAltName.replace(/DNS:/g, '') ?? null, answeredBy: r.answeredBy }, false);
    },
  },
];

function printRenewal(io: CliIo, config: Config, r: CertificateRenewal, json: boolean): void {
  if (json) return io.out(JSON.stringify(r));
  if (r.result === 'external') {
    io.out(`the certificate comes from tls.certFile (${r.certFile}): renew it with the tool that writes that file; the node picks up a replaced file by itself`);
    return;
  }
  const validTo = r.validTo ? new Date(r.validTo) : null;
  const until = validTo ? `${validTo.toISOString()} (${Math.floor((validTo.getTime() - Date.now()) / 86400_000)} days)` : '?';
  const covered = r.names ?? config.hostname;
  if (r.result === 'current') {
    io.out(`the ${r.source} certificate for ${covered} is valid until ${until}; not due yet${r.source === 'acme' ? ` (renewal starts ${config.tls.acme.renewDaysBefore} days before expiry)` : ''}, nothing to do${r.source === 'acme' ? ' (--force renews anyway)' : ''}`);
    return;
  }
  io.out(`${r.source === 'acme' ? 'renewed' : 'made a new self-signed'} certificate for ${covered}, valid until ${until}: ${r.certFile}`);
  if (r.answeredBy === 'running-node') io.out('the running node answered the CA and now serves the new certificate');
  else io.out('a running node switches to it without a restart; a stopped one uses it when it starts');
  if (r.source === 'self-signed') io.out('mail clients and other servers do not trust a self-signed certificate: enable ACME (tls.acme.enabled) for a public server');
}
