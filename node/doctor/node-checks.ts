/**
 * @module node/doctor/node-checks
 * The checks about the node itself rather than its zone: the certificate it
 * serves, whether it can reach other MXs on port 25, whether its addresses
 * are on DNS blocklists, replication lag and the outbound queue.
 */
import type { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { fail, ok, warn, type DoctorCheck } from './types.js';
import { blocklistVerdict } from '../dns/reverse.js';
import { type Lookup, reversedName } from './lookup.js';

export function checkCertificate(cert: X509Certificate | undefined, mailHost: string, renewDaysBefore: number, now: Date, file?: string): DoctorCheck {
  const id = 'certificate';
  const title = `TLS certificate for ${mailHost}`;
  if (!cert) {
    return file
      ? warn(id, title, `no readable certificate at ${file} yet`, 'run `haven certs renew` (or start the node once)')
      : warn(id, title, 'not checked: no certificate was given', 'run haven doctor on the node itself');
  }
  const renew = 'run `haven certs renew` and read its error; with ACME check tls.acme (port 80 reachable for http-01, the Cloudflare token for dns-01)';
  const from = new Date(cert.validFrom);
  const to = new Date(cert.validTo);
  const days = Math.floor((to.getTime() - now.getTime()) / 86400_000);
  if (to <= now) return fail(id, title, `expired on ${to.toISOString()}; clients and MTA-STS senders refuse it`, renew);
  if (from > now) return fail(id, title, `not valid before ${from.toISOString()}; check the server's clock`, 'set the clock right (timedatectl set-ntp true)');
  if (cert.checkHost(mailHost) === undefined) return fail(id, title, `does not cover ${mailHost} (it names ${cert.subjectAltName ?? cert.subject})`, `set hostname to ${mailHost} and ${renew}`);
  if (cert.subject === cert.issuer && cert.verify(cert.publicKey)) {
    return fail(id, title, 'self-signed: mail clients warn and MTA-STS senders refuse to deliver', 'enable ACME (tls.acme.enabled: true, HAVEN_TLS_ACME_ENABLED=true) or set tls.certFile/tls.keyFile, then run `haven certs renew`');
  }
  if (days < renewDaysBefore) return warn(id, title, `expires in ${days} days (${to.toISOString()}); renewal was due ${renewDaysBefore} days before`, renew);
  return ok(id, title, `valid until ${to.toISOString()} (${days} days)`);
}

export interface OutboundProbe {
  host: string;
  port: number;
  /** The probe goes to the configured relay (smarthost), not straight to an MX. */
  relay?: boolean;
  /** TLS from the first byte (smtps on 465). */
  tls?: boolean;
  timeoutMs?: number;
}

/** Connects and waits for the 220 greeting; resolves with the first line or rejects. */
function greet(host: string, port: number, timeoutMs: number, implicitTls: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = implicitTls ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host }) : net.connect({ host, port });
    let buf = '';
    const done = (err: Error | null, line?: string) => {
      sock.destroy();
      if (err) reject(err);
      else resolve(line!);
    };
    sock.setTimeout(timeoutMs, () => done(new Error(`no answer within ${timeoutMs / 1000} s`)));
    sock.on('data', (b: Buffer) => {
      buf += b.toString('latin1');
      const i = buf.indexOf('\n');
      if (i >= 0) done(null, buf.slice(0, i).trim());
    });
    sock.on('error', (err: NodeJS.ErrnoException) => done(new Error(err.code ?? err.message)));
    sock.on('end', () => done(new Error('closed without a greeting')));
  });
}

export async function checkOutbound(probe: OutboundProbe | undefined): Promise<DoctorCheck> {
  const id = 'outbound-smtp';
  if (!probe) return warn('outbound-smtp', 'Outbound SMTP', 'not checked', 'run haven doctor on the node itself');
  const title = probe.relay ? `Outbound SMTP to the relay ${probe.host}:${probe.port}` : `Outbound port ${probe.port}`;
  const fix = probe.relay
    ? `check the smarthost URL and that the node can reach ${probe.host}:${probe.port}`
    : `outbound port ${probe.port} is blocked: on Hetzner new accounts must ask support to lift the block (or set smarthost to relay through a provider on 587/465)`;
  try {
    const line = await greet(probe.host, probe.port, probe.timeoutMs ?? 10_000, probe.tls ?? false);
    if (!line.startsWith('220')) return fail(id, title, `${probe.host}:${probe.port} greeted with "${line}"`, fix);
    return ok(id, title, `${probe.host}:${probe.port} answered "${line.slice(0, 60)}"`);
  } catch (err) {
    return fail(id, title, `cannot reach ${probe.host}:${probe.port}: ${(err as Error).message}`, fix);
  }
}

export const DEFAULT_BLOCKLISTS = ['zen.spamhaus.org', 'bl.spamcop.net', 'b.barracudacentral.org'] as const;

/** One check per address across all lists (RFC 5782: an A answer in 127.0.0.0/8 means listed). */
export async function checkBlocklists(l: Lookup, ip: string, lists: readonly string[]): Promise<DoctorCheck> {
  const id = `dnsbl:${ip}`;
  const title = `Blocklists for ${ip}`;
  const listed: string[] = [];
  const unknown: string[] = [];
  await Promise.all(
    lists.map(async (zone) => {
      const name = reversedName(ip, zone);
      const r = await l.a(name);
      if (r.error !== undefined) return void unknown.push(`${zone} (${r.error})`);
      const { verdict, hits } = blocklistVerdict(r.answers);
      if (verdict === 'clear') return;
      if (verdict === 'refused') return void unknown.push(`${zone} (refused the query: ${hits.join(', ')})`);
      const reason = (await l.txt(name)).answers?.[0];
      listed.push(`${zone} (${hits.join(', ')}${reason ? `: ${reason}` : ''})`);
    }),
  );
  if (listed.length) {
    return fail(id, title, `listed on ${listed.sort().join('; ')}`, `find and stop what sent spam from ${ip}, then ask each list to delist it (the listing's text names the page)`);
  }
  if (unknown.length) return warn(id, title, `could not check ${unknown.sort().join('; ')}`, 'use a resolver of your own (not a public one such as 8.8.8.8) for blocklist queries');
  return ok(id, title, `not listed on ${lists.join(', ')}`);
}

export interface ReplicationSnapshot {
  lagMs: number;
  healthy: boolean;
  lastError: string | null;
  target?: string;
  /** Databases of the data directory the replica does not hold at all. */
  missing?: string[];
}

export function checkReplication(status: ReplicationSnapshot | null | undefined): DoctorCheck {
  const id = 'replication';
  const title = 'Replication';
  if (status === undefined) return warn(id, title, 'not checked: the node is not running here', 'run haven doctor on the node while it runs');
  if (status === null) return warn(id, title, 'off: nothing is copied off the server', 'set replicaUrl (s3://… or file:///…) and restart; see haven setup → backups');
  const lag = `${(status.lagMs / 1000).toFixed(1)} s`;
  const fix = `check the replica${status.target ? ` (${status.target})` : ''} is reachable and its credentials valid: haven replicate status`;
  if (status.missing && status.missing.length > 0) {
    return fail(id, title, `${status.missing.length} database(s) not in the replica (${status.missing.slice(0, 3).join(', ')}${status.missing.length > 3 ? ', …' : ''}): a restore would lose them`, `${fix}; \`haven backup\` ships every database now`);
  }
  if (!status.healthy || status.lagMs > 60_000) return fail(id, title, `lag ${lag}${status.lastError ? `; last error: ${status.lastError}` : ''}`, fix);
  if (status.lagMs > 5_000) return warn(id, title, `lag ${lag}`, fix);
  return ok(id, title, `lag ${lag}`);
}

export function checkQueue(depth: { queued: number; oldestAt: number | null } | undefined, now: Date): DoctorCheck {
  const id = 'queue';
  const title = 'Outbound queue';
  if (!depth) return warn(id, title, 'not checked: the node is not running here', 'run haven doctor on the node while it runs');
  const ageH = depth.oldestAt === null ? 0 : (now.getTime() - depth.oldestAt) / 3600_000;
  const detail = `${depth.queued} recipient${depth.queued === 1 ? '' : 's'} waiting${depth.queued ? `, oldest ${ageH.toFixed(1)} h` : ''}`;
  const fix = 'see why with `haven queue list`: usually outbound port 25 is blocked or a remote server refuses the node (PTR, SPF, blocklists)';
  if (ageH > 24) return fail(id, title, detail, fix);
  if (depth.queued > 100 || ageH > 1) return warn(id, title, detail, fix);
  return ok(id, title, detail);
}

/** What the dns-01 check needs of node/tls's Cloudflare client. */
export interface ZoneFinder {
  zoneFor(name: string): Promise<{ id: string; name: string }>;
}

/** With ACME dns-01: can the Cloudflare token reach the zone the challenge record goes in? */
export async function checkAcmeDns(api: ZoneFinder | undefined, mailHost: string): Promise<DoctorCheck | null> {
  if (!api) return null;
  const id = 'acme-dns-01';
  const title = 'ACME dns-01 through Cloudflare';
  try {
    const zone = await api.zoneFor(`_acme-challenge.${mailHost}`);
    return ok(id, title, `the token reaches the zone ${zone.name}, where _acme-challenge.${mailHost} goes`);
  } catch (err) {
    const msg = (err as Error).message;
    const [what, fix] = msg.includes('; ') ? [msg.slice(0, msg.indexOf('; ')), msg.slice(msg.indexOf('; ') + 2)] : [msg, 'check tls.acme.cloudflareToken'];
    return fail(id, title, `${what}: certificates cannot be renewed`, fix);
  }
}
