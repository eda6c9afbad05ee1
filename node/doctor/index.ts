/**
 * @module node/doctor
 * `haven doctor`: everything outside the node that decides whether its mail
 * is delivered and trusted — DNS (A/AAAA, MX, forward-confirmed PTR for
 * both addresses, SPF for each domain and for the mail host's own name,
 * DKIM against the keys in use, DMARC, MTA-STS record and policy, TLS-RPT,
 * SRV for clients and ManageSieve, CAA), outbound SMTP, the certificate, DNS
 * blocklists — plus replication lag and the queue. `runDoctor` returns the
 * report; the CLI prints it (or its JSON) and the admin API returns it.
 * The expected records come from node/dns, the one list.
 */
import type { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { mailDnsRecords, mtaStsPolicyFor, type DnsRecord, type MailDnsInput } from '../dns/index.js';
import type { Resolver } from '../smtp/index.js';
import { checkAddressRecord, checkCaa, checkDkim, checkDmarc, checkHeloSpf, checkMtaStsPolicy, checkMtaStsTxt, checkMx, checkPtr, checkSpfRecord, checkSrv, checkTlsRpt } from './dns-checks.js';
import { Lookup } from './lookup.js';
import { checkSourceAddresses, standbyLayout, type StandbyDoctorInput } from './standby-checks.js';
import type { PolicyFetchOptions } from './mta-sts.js';
import { checkAcmeDns, checkBlocklists, checkCertificate, checkOutbound, checkQueue, checkReplication, DEFAULT_BLOCKLISTS, type OutboundProbe, type ReplicationSnapshot, type ZoneFinder } from './node-checks.js';
import type { CheckStatus, DoctorCheck, DoctorReport } from './types.js';

export type { CheckStatus, DoctorCheck, DoctorReport } from './types.js';
export { DEFAULT_BLOCKLISTS, type OutboundProbe, type ReplicationSnapshot, type ZoneFinder } from './node-checks.js';
export { fetchMtaStsPolicy, parseMtaStsPolicy, type PolicyFetchOptions } from './mta-sts.js';
export { checkSpf, type SpfOutcome, type SpfResult } from './spf.js';
export { arpaName, reversedName } from './lookup.js';
export type { StandbyDoctorInput } from './standby-checks.js';
export { allPublicAddresses, DEFAULT_OUTBOUND_PROBE, DoctorInputError, doctorDepsFor, publicAddresses, servedCertificateFile, type NodeDoctorOptions } from './from-node.js';

/** A DKIM key the node signs with, as the directory holds it. */
export interface DoctorDkimKey {
  selector: string;
  algorithm: 'rsa' | 'ed25519';
  /** The p= value. */
  publicKeyDns: string;
}

export interface DoctorDeps {
  /** Every DNS question goes here (node/smtp's resolver shape). */
  resolver: Resolver;
  mailHost: string;
  ipv4: string;
  ipv6: string;
  /** Mail domains with their active DKIM keys (newest first). */
  domains: readonly { name: string; dkim: readonly DoctorDkimKey[] }[];
  pop3: boolean;
  /** The rest of node/dns's input (DMARC policy, MTA-STS mode, CAA issuers, …) where it differs from the defaults. */
  dns?: Omit<Partial<MailDnsInput>, 'domains' | 'mailHost' | 'ipv4' | 'ipv6' | 'pop3'>;
  /** The certificate the node serves. */
  certificate?: X509Certificate;
  /** Where it was looked for (named when it is missing). */
  certificateFile?: string;
  renewDaysBefore?: number;
  /** With ACME dns-01: the Cloudflare client the renewals use (node/tls's CloudflareDns). */
  acmeDns?: ZoneFinder;
  /** Where to test outbound SMTP; undefined skips it with a warning. */
  outbound?: OutboundProbe;
  blocklists?: readonly string[];
  mtaSts?: PolicyFetchOptions;
  /** The running node's replication status (null: replication is off). */
  replication?: () => ReplicationSnapshot | null;
  queue?: () => { queued: number; oldestAt: number | null };
  /**
   * A node of a standby deployment (failover.nodeHost set): ipv4/ipv6 are
   * then the mail host's Floating IPs, picked from `addresses` (node/doctor/standby-checks).
   */
  standby?: StandbyDoctorInput;
  /**
   * outbound.sourceAddresses and the addresses this machine has (all of them, loopback included): mail
   * leaves from the configured ones, which must be here (node/doctor/standby-checks checkSourceAddresses).
   */
  outboundSource?: { addresses: readonly string[]; onMachine: readonly string[] };
  now?: Date;
}

/** node/dns's input for these deps (the DKIM record of each domain is its newest key). */
export function doctorDnsInput(deps: DoctorDeps): MailDnsInput {
  return {
    ...deps.dns,
    domains: deps.domains.map((d) => {
      if (d.dkim.length === 0) return { name: d.name, dkim: { selector: 'missing', publicKey: 'AA==' } };
      return { name: d.name, dkim: { selector: d.dkim[0].selector, publicKey: d.dkim[0].publicKeyDns, algorithm: d.dkim[0].algorithm } };
    }),
    mailHost: deps.mailHost,
    ipv4: deps.ipv4,
    ipv6: deps.ipv6,
    pop3: deps.pop3,
  };
}

type Rec<T extends DnsRecord['type']> = DnsRecord & { type: T };

function byType<T extends DnsRecord['type']>(recs: readonly DnsRecord[], type: T, pred: (r: Rec<T>) => boolean = () => true): Rec<T>[] {
  return recs.filter((r): r is Rec<T> => r.type === type && pred(r as Rec<T>));
}

/** Runs every check; never throws for what it finds (bad input to node/dns does throw its DnsInputError). */
export async function runDoctor(given: DoctorDeps): Promise<DoctorReport> {
  const now = given.now ?? new Date();
  const l = new Lookup(given.resolver);
  const jobs: Promise<DoctorCheck | DoctorCheck[]>[] = [];
  let deps = given;
  // Where mail leaves from: the mail host's addresses, or with a standby each node's own as well.
  let senders = [given.ipv4, given.ipv6];
  const sources = given.outboundSource?.addresses ?? [];
  const sourceOf = (family: 4 | 6) => sources.find((a) => isIP(a) === family);
  if (given.standby) {
    // The source addresses are the Floating IPs (infra sets them so): the surest way to tell them from the node's own.
    const hint = { ipv4: sourceOf(4) ?? given.ipv4, ipv6: sourceOf(6) ?? given.ipv6 };
    const sb = await standbyLayout(l, { ...given.standby, sendsFromSource: sources.length > 0 }, hint);
    jobs.push(Promise.resolve(sb.checks));
    const term = `a:${sb.nodeHost}`;
    const extra = given.dns?.spfExtra ?? [];
    // SPF authorises this node's own addresses through its name (infra publishes one a: term per node).
    const spfExtra = extra.some((t) => t.toLowerCase().replace(/^\+/, '') === term) ? extra : [...extra, term];
    deps = { ...given, ipv4: sb.floating.ipv4, ipv6: sb.floating.ipv6, dns: { ...given.dns, spfExtra } };
    const own = [sb.own.ipv4, sb.own.ipv6].filter((a): a is string => !!a);
    senders = [...new Set([deps.ipv4, deps.ipv6, ...own])];
    const when = sources.length > 0 ? 'mail leaves from it while the Floating IPs cannot be used' : 'mail leaves from it';
    if (sb.own.ipv4) jobs.push(checkPtr(l, 'ipv4', sb.own.ipv4, sb.nodeHost, { id: 'ptr:node-ipv4', title: `Reverse DNS (PTR) of ${sb.own.ipv4}, this node's own (${when})` }));
    if (sb.own.ipv6) jobs.push(checkPtr(l, 'ipv6', sb.own.ipv6, sb.nodeHost, { id: 'ptr:node-ipv6', title: `Reverse DNS (PTR) of ${sb.own.ipv6}, this node's own (${when})` }));
  }
  if (given.outboundSource && sources.length > 0) {
    jobs.push(Promise.resolve(checkSourceAddresses(sources, given.outboundSource.onMachine, [deps.ipv4, deps.ipv6])));
    // SPF must pass for them too (when they are the mail host's, they are in the list already).
    senders = [...new Set([...senders, ...sources])];
  }
  const input = doctorDnsInput(deps);
  const recs = mailDnsRecords(input);
  const mailHost = recs.find((r) => r.type === 'A')!.name;
  const policy = mtaStsPolicyFor(input);
  const addresses = senders;

  for (const r of byType(recs, 'A')) jobs.push(checkAddressRecord(l, r));
  for (const r of byType(recs, 'AAAA')) jobs.push(checkAddressRecord(l, r));
  jobs.push(checkPtr(l, 'ipv4', deps.ipv4, mailHost), checkPtr(l, 'ipv6', deps.ipv6, mailHost));
  jobs.push(checkHeloSpf(l, byType(recs, 'TXT', (r) => r.name === mailHost)[0], addresses));
  for (const d of input.domains) {
    const zone = d.name.toLowerCase();
    const inZone = (r: DnsRecord) => r.zone === zone;
    const txt = byType(recs, 'TXT', inZone);
    for (const r of byType(recs, 'MX', inZone)) jobs.push(checkMx(l, r));
    jobs.push(checkSpfRecord(l, txt.find((r) => r.name === zone)!, addresses, input.spfExtra));
    const keys = deps.domains.find((x) => x.name.toLowerCase() === zone)!.dkim;
    if (keys.length === 0) {
      jobs.push(Promise.resolve({ id: `dkim:${zone}`, title: `DKIM for ${zone}`, status: 'fail' as const, detail: `the directory has no active DKIM key for ${zone}`, fix: `add one: haven domain add ${zone} makes a key for a new domain` }));
    }
    for (const k of keys) {
      const name = `${k.selector}._domainkey.${zone}`;
      const rec = { type: 'TXT' as const, name, zone, ttl: txt[0].ttl, content: `v=DKIM1; k=${k.algorithm}; p=${k.publicKeyDns}`, purpose: 'DKIM' };
      jobs.push(checkDkim(l, rec, k));
    }
    jobs.push(checkDmarc(l, txt.find((r) => r.name === `_dmarc.${zone}`)!));
    jobs.push(checkMtaStsTxt(l, txt.find((r) => r.name === `_mta-sts.${zone}`)!));
    jobs.push(checkMtaStsPolicy(zone, mailHost, policy, deps.mtaSts));
    jobs.push(checkTlsRpt(l, txt.find((r) => r.name === `_smtp._tls.${zone}`)!));
    jobs.push(checkSrv(l, zone, byType(recs, 'SRV', inZone)));
    jobs.push(checkCaa(l, zone, byType(recs, 'CAA', inZone)));
  }
  // The certificate is for the mail host: its CAA set (possibly inherited) must allow the CA too.
  if (!input.domains.some((d) => d.name.toLowerCase() === mailHost)) jobs.push(checkCaa(l, mailHost, byType(recs, 'CAA', (r) => mailHost.endsWith(`.${r.zone}`)).slice(0, 1)));
  jobs.push(checkOutbound(deps.outbound));
  jobs.push(checkAcmeDns(deps.acmeDns, mailHost).then((c) => (c ? [c] : [])));
  jobs.push(Promise.resolve(checkCertificate(deps.certificate, mailHost, deps.renewDaysBefore ?? 30, now, deps.certificateFile)));
  for (const ip of addresses) jobs.push(checkBlocklists(l, ip, deps.blocklists ?? DEFAULT_BLOCKLISTS));
  jobs.push(Promise.resolve(checkReplication(deps.replication ? deps.replication() : undefined)));
  jobs.push(Promise.resolve(checkQueue(deps.queue?.(), now)));

  const checks = (await Promise.all(jobs)).flat();
  const summary: Record<CheckStatus, number> = { ok: 0, warn: 0, fail: 0 };
  for (const c of checks) summary[c.status]++;
  return { ok: summary.fail === 0, summary, checks, at: now.toISOString() };
}

const LABEL: Record<CheckStatus, string> = { ok: 'OK  ', warn: 'WARN', fail: 'FAIL' };

/** The report as terminal lines: one per check, the fix indented under anything not OK. */
export function formatDoctorReport(report: DoctorReport): string[] {
  const lines: string[] = [];
  for (const c of report.checks) {
    lines.push(`${LABEL[c.status]}  ${c.title}: ${c.detail}`);
    if (c.fix) for (const [i, f] of c.fix.split('\n').entries()) lines.push(`${i === 0 ? '      fix: ' : '           '}${f}`);
  }
  const s = report.summary;
  lines.push('', `${s.ok} OK, ${s.warn} warning${s.warn === 1 ? '' : 's'}, ${s.fail} failed`);
  return lines;
}
