/**
 * @module node/doctor/from-node
 * DoctorDeps for this node, from its config and directory: the mail host,
 * the domains with the DKIM keys in use, the public addresses (from the
 * network interfaces unless given), the certificate file the node serves,
 * and where outbound SMTP is tested (the smarthost, else a large mail
 * provider's MX on port 25). Shared by `haven doctor` and the admin API.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { BlockList } from 'node:net';
import { join } from 'node:path';
import { parseSmarthostUrl, type Config } from '../config/index.js';
import { systemResolver, type Resolver } from '../smtp/index.js';
import type { DoctorDeps, DoctorDkimKey } from './index.js';
import { CloudflareDns } from '../tls/index.js';
import type { OutboundProbe, ReplicationSnapshot, ZoneFinder } from './node-checks.js';

export class DoctorInputError extends Error {
  override name = 'DoctorInputError';
}

/** A port-25 server that always answers, to tell "port 25 is blocked" from "that server is down". */
export const DEFAULT_OUTBOUND_PROBE: OutboundProbe = { host: 'gmail-smtp-in.l.google.com', port: 25 };

const NOT_PUBLIC = new BlockList();
for (const [net, prefix] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.168.0.0', 16]] as const) NOT_PUBLIC.addSubnet(net, prefix, 'ipv4');
const GLOBAL_V6 = new BlockList();
GLOBAL_V6.addSubnet('2000::', 3, 'ipv6');

/**
 * The machine's public addresses from its interfaces (a Hetzner server has
 * both on eth0). For IPv6 the MTA sends from `<prefix>::1`, so an address
 * ending in ::1 is preferred.
 */
export function publicAddresses(): { ipv4?: string; ipv6?: string } {
  const all = Object.values(networkInterfaces()).flat().filter((a) => a && !a.internal);
  const v4 = all.filter((a) => a!.family === 'IPv4' && !NOT_PUBLIC.check(a!.address, 'ipv4')).map((a) => a!.address);
  const v6 = all.filter((a) => a!.family === 'IPv6' && GLOBAL_V6.check(a!.address, 'ipv6')).map((a) => a!.address);
  return { ipv4: v4[0], ipv6: v6.find((a) => a.endsWith('::1')) ?? v6[0] };
}

/** Every public address on the machine's interfaces (a standby deployment's node has its own and the Floating IPs). */
export function allPublicAddresses(): string[] {
  const all = Object.values(networkInterfaces()).flat().filter((a) => a && !a.internal);
  return all.filter((a) => (a!.family === 'IPv4' ? !NOT_PUBLIC.check(a!.address, 'ipv4') : GLOBAL_V6.check(a!.address, 'ipv6'))).map((a) => a!.address);
}

/** The certificate file the node serves with this config (the stored ACME one once issued). */
export function servedCertificateFile(config: Config): string {
  if (config.tls.certFile) return config.tls.certFile;
  const acme = join(config.dataDir, 'tls', 'acme', 'cert.pem');
  if (config.tls.acme.enabled && existsSync(acme)) return acme;
  return join(config.dataDir, 'tls', 'cert.pem');
}

export interface NodeDoctorOptions {
  config: Config;
  directory: { listDomains(): { name: string }[]; dkimKeys(domain: string): DoctorDkimKey[] };
  resolver?: Resolver;
  ipv4?: string;
  ipv6?: string;
  /** Default: read from servedCertificateFile(config). */
  certificate?: X509Certificate;
  outbound?: OutboundProbe;
  blocklists?: readonly string[];
  replication?: () => ReplicationSnapshot | null;
  queue?: () => { queued: number; oldestAt: number | null };
  /** Default: a Cloudflare client from tls.acme.cloudflareToken when ACME uses dns-01. */
  acmeDns?: ZoneFinder;
  /** With failover.nodeHost: this machine's public addresses (default: allPublicAddresses()). */
  interfaceAddresses?: readonly string[];
  /** With outbound.sourceAddresses: every address on this machine's interfaces (default: machineAddresses()). */
  machineAddresses?: readonly string[];
}

/** Every address on the machine's interfaces, loopback and private ones included: what a socket can bind. */
export function machineAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a) => !!a)
    .map((a) => a!.address);
}

export function doctorDepsFor(o: NodeDoctorOptions): DoctorDeps {
  const found = o.ipv4 && o.ipv6 ? {} : publicAddresses();
  const ipv4 = o.ipv4 ?? found.ipv4;
  const ipv6 = o.ipv6 ?? found.ipv6;
  if (!ipv4) throw new DoctorInputError('no public IPv4 address on this machine\'s interfaces: pass the server\'s address with --ipv4');
  if (!ipv6) throw new DoctorInputError('no public IPv6 address on this machine\'s interfaces: pass the address the node sends mail from with --ipv6');
  const domains = o.directory.listDomains().map((d) => ({ name: d.name, dkim: o.directory.dkimKeys(d.name).map((k) => ({ selector: k.selector, algorithm: k.algorithm, publicKeyDns: k.publicKeyDns })) }));
  if (domains.length === 0) throw new DoctorInputError('no mail domains yet: add one with `haven domain add <domain>`');
  let certificate = o.certificate;
  const certificateFile = o.certificate ? undefined : servedCertificateFile(o.config);
  if (certificateFile) {
    try {
      certificate = new X509Certificate(readFileSync(certificateFile));
    } catch {
      certificate = undefined;
    }
  }
  let outbound = o.outbound;
  if (!outbound && o.config.smarthost) {
    const relay = parseSmarthostUrl(o.config.smarthost);
    outbound = { host: relay.host, port: relay.port, relay: true, tls: relay.secure };
  }
  const acme = o.config.tls.acme;
  return {
    resolver: o.resolver ?? systemResolver,
    acmeDns: o.acmeDns ?? (acme.enabled && acme.challenge === 'dns-01' && acme.cloudflareToken ? new CloudflareDns({ token: acme.cloudflareToken }) : undefined),
    mailHost: o.config.hostname,
    ipv4,
    ipv6,
    domains,
    pop3: o.config.pop3.enabled,
    // The relay's SPF terms the Pulumi program publishes too (haven:spfExtra → config.spfExtra).
    // The DMARC policy it publishes (haven:dmarcPolicy → config.dmarcPolicy).
    dns: { dmarcPolicy: o.config.dmarcPolicy, ...(o.config.spfExtra.length > 0 ? { spfExtra: o.config.spfExtra } : {}) },
    certificate,
    certificateFile,
    renewDaysBefore: o.config.tls.acme.renewDaysBefore,
    outbound: outbound ?? DEFAULT_OUTBOUND_PROBE,
    blocklists: o.blocklists,
    replication: o.replication ?? (o.config.replicaUrl ? undefined : () => null),
    queue: o.queue,
    // A standby deployment's node: Floating IPs for the mail host, its own addresses for sending.
    ...(o.config.failover.nodeHost ? { standby: { nodeHost: o.config.failover.nodeHost, addresses: o.interfaceAddresses ?? allPublicAddresses() } } : {}),
    // Where outbound mail leaves from, and whether this machine has those addresses (loopback included).
    ...(o.config.outbound.sourceAddresses.length > 0 ? { outboundSource: { addresses: o.config.outbound.sourceAddresses, onMachine: o.machineAddresses ?? machineAddresses() } } : {}),
  };
}
