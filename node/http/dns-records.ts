/**
 * @module node/http/dns-records
 * The DNS records one hosted domain needs, for the admin API: the list
 * node/dns computes (the same one the Pulumi program publishes) with this
 * node's addresses and the domain's active DKIM keys, flattened to
 * `{type, name, value, priority?, purpose}`, and optionally checked against
 * what DNS answers right now (`live`).
 */
import { dkimTxt, mailDnsRecords, type DmarcPolicy, type DnsRecord } from '../dns/index.js';
import type { Resolver } from '../smtp/dns.js';
import type { Store } from '../store/index.js';
import { ApiError } from './errors.js';

export interface PublicAddresses {
  ipv4: string;
  ipv6: string;
}

export interface ApiDnsRecord {
  type: DnsRecord['type'];
  name: string;
  value: string;
  priority?: number;
  ttl: number;
  purpose: string;
  live?: boolean;
}

export interface DnsRecordOptions {
  store: Store;
  mailHost: string;
  pop3: boolean;
  /** SPF terms before -all (config.spfExtra), as the Pulumi program publishes them. */
  spfExtra?: readonly string[];
  /** The DMARC policy (config.dmarcPolicy), as the Pulumi program publishes it. Default node/dns's. */
  dmarcPolicy?: DmarcPolicy;
  addresses: PublicAddresses;
}

function flatten(r: DnsRecord): ApiDnsRecord {
  const base = { type: r.type, name: r.name, ttl: r.ttl, purpose: r.purpose };
  switch (r.type) {
    case 'MX':
      return { ...base, value: r.content, priority: r.priority };
    case 'SRV':
      return { ...base, value: `${r.weight} ${r.port} ${r.target}`, priority: r.priority };
    case 'CAA':
      return { ...base, value: `${r.flags} ${r.tag} "${r.value}"` };
    default:
      return { ...base, value: r.content };
  }
}

/**
 * Records for `domain`. Every hosted domain goes into the computation so the
 * mail host's own A/AAAA land in the zone they belong to; the result keeps
 * only this domain's zone. During a DKIM rotation every active key is listed.
 */
export function domainRecords(opts: DnsRecordOptions, domain: string): ApiDnsRecord[] {
  const dir = opts.store.directory;
  const d = dir.getDomain(domain);
  if (!d) throw new ApiError(404, `no domain ${domain}; add it first`);
  const hosted = dir.listDomains().map((x) => x.name);
  const withKeys = hosted
    .map((name) => ({ name, keys: dir.dkimKeys(name) }))
    .filter((x) => x.keys.length > 0);
  if (!withKeys.some((x) => x.name === d.name)) throw new ApiError(409, `domain ${d.name} has no active DKIM key; rotate one with POST /api/v1/domains/${d.name}/dkim/rotate`);
  // A mail host outside every hosted domain is still a valid setup (mail.example.com serving example.org):
  // its zone is then not ours to list, so it is computed under a placeholder domain and dropped.
  const hostZone = withKeys.some((x) => opts.mailHost === x.name || opts.mailHost.endsWith(`.${x.name}`));
  const parent = opts.mailHost.split('.').slice(1).join('.');
  const domains = withKeys.map((x) => ({ name: x.name, dkim: { selector: x.keys[0].selector, publicKey: x.keys[0].publicKeyDns, algorithm: x.keys[0].algorithm } }));
  if (!hostZone && parent.includes('.')) domains.push({ name: parent, dkim: domains[0].dkim });
  const all = mailDnsRecords({ domains, mailHost: opts.mailHost, ipv4: opts.addresses.ipv4, ipv6: opts.addresses.ipv6, pop3: opts.pop3, spfExtra: opts.spfExtra, dmarcPolicy: opts.dmarcPolicy });
  const out = all.filter((r) => r.zone === d.name).map(flatten);
  const keys = withKeys.find((x) => x.name === d.name)!.keys;
  for (const k of keys.slice(1)) {
    out.push({
      type: 'TXT',
      name: `${k.selector}._domainkey.${d.name}`,
      value: dkimTxt({ selector: k.selector, publicKey: k.publicKeyDns, algorithm: k.algorithm }),
      ttl: out[0]?.ttl ?? 3600,
      purpose: 'DKIM public key of an older key still active during rotation; remove it once the key is retired',
    });
  }
  return out;
}

function txtJoin(answer: unknown): string[] {
  return (answer as string[][]).map((chunks) => (Array.isArray(chunks) ? chunks.join('') : String(chunks)));
}

const norm = (s: string) => s.toLowerCase().replace(/\.$/, '');
const squash = (s: string) => s.replace(/\s+/g, '').toLowerCase();

/** Whether DNS answers this record now. A lookup failure counts as not live. */
export async function isLive(r: ApiDnsRecord, resolve: Resolver): Promise<boolean> {
  try {
    switch (r.type) {
      case 'A':
      case 'AAAA':
        return ((await resolve(r.name, r.type)) as string[]).some((a) => a.toLowerCase() === r.value.toLowerCase());
      case 'CNAME':
        return ((await resolve(r.name, 'CNAME')) as string[]).some((a) => norm(a) === norm(r.value));
      case 'MX':
        return ((await resolve(r.name, 'MX')) as { exchange: string; priority: number }[]).some((m) => norm(m.exchange) === norm(r.value));
      case 'TXT':
        return txtJoin(await resolve(r.name, 'TXT')).some((t) => squash(t) === squash(r.value));
      case 'SRV': {
        const [, port, target] = r.value.split(' ');
        const srv = (await resolve(r.name, 'SRV')) as { name: string; port: number }[];
        return srv.some((s) => s.port === Number(port) && norm(s.name || '.') === norm(target));
      }
      case 'CAA': {
        const m = /^\d+ (\w+) "(.*)"$/.exec(r.value);
        const caa = (await resolve(r.name, 'CAA')) as Record<string, unknown>[];
        return !!m && caa.some((c) => c[m[1]] === m[2]);
      }
    }
  } catch {
    return false;
  }
}
