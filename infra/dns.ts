/**
 * @module infra/dns
 * Creates in Cloudflare exactly the records `node/dns` lists for the mail
 * domains (the list `haven doctor` and the admin API check): fully qualified
 * names, never proxied (mail and its PTR checks need the server's own
 * addresses). DKIM records wait until the node holds their key. Before anything is created, the zones' existing records
 * are read and any that would clash are named in a warning (`conflicts`).
 *
 * Record values depend on outputs (addresses, DKIM keys), but resources must
 * be declared up front so previews show them. The set of records (type and
 * name) depends only on known inputs, so the layout comes from the same
 * function run with placeholder values, and each resource takes its values
 * from the real list by position, checked to match.
 */
import * as cloudflare from '@pulumi/cloudflare';
import * as pulumi from '@pulumi/pulumi';
import { formatRecord, mailDnsRecords, type DnsRecord, type MailDnsInput } from '../node/dns/index.js';
import { conflicts } from './dns-conflicts.js';

export { conflicts };

/** Values only known once the node and keys exist. */
export interface DnsValues {
  ipv4: string;
  ipv6: string;
  /** PEM public key per mail domain. */
  dkimPublicKeys: Record<string, string>;
}

export type DnsLayoutInput = Omit<MailDnsInput, 'ipv4' | 'ipv6' | 'domains'> & { domains: { name: string; selector: string }[] };

/**
 * node/dns's list, the one the node's doctor and admin API expect too, with
 * the mail host's own SPF record (RFC 7208 §2.3) and `_sieve._tcp` (RFC 5804
 * §1.8: the node infra deploys runs ManageSieve on 4190, manageSieve's default).
 */
export function recordsFor(layout: DnsLayoutInput, v: DnsValues): DnsRecord[] {
  return mailDnsRecords({
    ...layout,
    ipv4: v.ipv4,
    ipv6: v.ipv6,
    domains: layout.domains.map((d) => {
      const publicKey = v.dkimPublicKeys[d.name];
      if (!publicKey) throw new Error(`no DKIM key for ${d.name}`);
      return { name: d.name, dkim: { selector: d.selector, publicKey } };
    }),
  });
}

/** A stable logical name per record, so reordering the list never recreates records. */
export function recordKey(r: DnsRecord): string {
  return r.type === 'CAA' ? `${r.type}-${r.name}-${r.tag}-${r.value}` : `${r.type}-${r.name}`;
}

/** Cloudflare's arguments for one record. */
export function cloudflareArgs(r: DnsRecord): Omit<cloudflare.DnsRecordArgs, 'zoneId'> {
  const base = { name: r.name, type: r.type, ttl: r.ttl, comment: `haven: ${r.purpose}`.slice(0, 100) };
  switch (r.type) {
    case 'A':
    case 'AAAA':
    case 'CNAME':
      return { ...base, content: r.content, proxied: false };
    case 'TXT':
      return { ...base, content: r.content };
    case 'MX':
      return { ...base, content: r.content, priority: r.priority };
    case 'SRV':
      // Cloudflare answers an SRV record's priority at the top level too; leaving it out there shows a diff on every run.
      return { ...base, priority: r.priority, data: { priority: r.priority, weight: r.weight, port: r.port, target: r.target } };
    case 'CAA':
      return { ...base, data: { flags: r.flags, tag: r.tag, value: r.value } };
  }
}

export interface HavenDnsArgs {
  layout: DnsLayoutInput;
  /** The server's addresses. */
  addresses: pulumi.Input<{ ipv4: string; ipv6: string }>;
  /** PEM public key per mail domain. */
  dkimPublicKeys: Record<string, pulumi.Input<string>>;
  /** Cloudflare zone id per mail domain. */
  zoneIds: Record<string, pulumi.Input<string>>;
  /** What must exist before a DKIM record is published: the node holding the key (infra/node.ts `configured`). */
  dkimDependsOn?: pulumi.Resource[];
  /** Skip reading the zones' existing records (conflict warnings). */
  skipConflictCheck?: boolean;
}

export class HavenDns extends pulumi.ComponentResource {
  /** The records as created, in node/dns order. */
  readonly records: pulumi.Output<DnsRecord[]>;
  /** Zone-file lines, for people and for `pulumi stack output`. */
  readonly zoneLines: pulumi.Output<string[]>;

  constructor(name: string, args: HavenDnsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('haven:infra:Dns', name, {}, opts);
    const placeholder: DnsValues = {
      ipv4: '192.0.2.1',
      ipv6: '2001:db8::1',
      dkimPublicKeys: Object.fromEntries(args.layout.domains.map((d) => [d.name, 'AA=='])),
    };
    const layout = recordsFor(args.layout, placeholder);
    const keys = layout.map(recordKey);
    if (new Set(keys).size !== keys.length) throw new Error(`node/dns produced two records with one name and type: ${keys.join(', ')}`);

    const check = (real: DnsRecord[]) => {
      real.forEach((r, i) => {
        if (recordKey(r) !== keys[i]) throw new Error(`DNS layout changed between plan and values at ${keys[i]}: ${recordKey(r)}`);
      });
      return real;
    };
    // Each record's values depend only on what goes into it (the addresses; a DKIM record also its domain's
    // key), not on every key of every domain: with many domains the engine would otherwise track
    // domains x records dependencies.
    const addresses = pulumi.output(args.addresses);
    const withAddresses = addresses.apply((a) => check(recordsFor(args.layout, { ...a, dkimPublicKeys: placeholder.dkimPublicKeys })));
    const keyOf = (domain: string) => {
      const k = args.dkimPublicKeys[domain];
      if (k === undefined) throw new Error(`no DKIM key for ${domain}`);
      return k;
    };
    this.records = pulumi
      .all([addresses, pulumi.all(Object.fromEntries(args.layout.domains.map((d) => [d.name, keyOf(d.name)])))])
      .apply(([a, dkimPublicKeys]) => check(recordsFor(args.layout, { ...a, dkimPublicKeys })));
    layout.forEach((shape, i) => {
      const zoneId = args.zoneIds[shape.zone];
      if (zoneId === undefined) throw new Error(`no Cloudflare zone for ${shape.zone}`);
      const isDkim = shape.type === 'TXT' && shape.name.includes('._domainkey.');
      const record = isDkim
        ? pulumi.all([addresses, keyOf(shape.zone)]).apply(([a, pub]) => check(recordsFor(args.layout, { ...a, dkimPublicKeys: { ...placeholder.dkimPublicKeys, [shape.zone]: pub } }))[i])
        : withAddresses.apply((rs) => rs[i]);
      const field = <K extends keyof ReturnType<typeof cloudflareArgs>>(k: K) => record.apply((r) => cloudflareArgs(r)[k]);
      new cloudflare.DnsRecord(
        `${name}-${keys[i]}`,
        {
          zoneId,
          name: shape.name,
          type: shape.type,
          ttl: shape.ttl,
          comment: field('comment') as pulumi.Output<string | undefined>,
          content: field('content') as pulumi.Output<string | undefined>,
          priority: field('priority') as pulumi.Output<number | undefined>,
          proxied: field('proxied') as pulumi.Output<boolean | undefined>,
          data: field('data') as pulumi.Output<cloudflare.types.input.DnsRecordData | undefined>,
        },
        { parent: this, deleteBeforeReplace: true, dependsOn: isDkim ? args.dkimDependsOn : undefined },
      );
    });
    if (!args.skipConflictCheck) {
      for (const zone of [...new Set(layout.map((r) => r.zone))]) {
        const zoneId = args.zoneIds[zone];
        const existing = cloudflare.getDnsRecordsOutput({ zoneId, maxItems: 5000 }, { parent: this }).results;
        pulumi.output(existing).apply((rs) => {
          for (const w of conflicts(layout.filter((r) => r.zone === zone), rs)) void pulumi.log.warn(w, this);
        });
      }
    }
    this.zoneLines = this.records.apply((rs) => rs.map(formatRecord));
    this.registerOutputs({ records: this.records, zoneLines: this.zoneLines });
  }
}
