/**
 * @module infra/standby
 * What haven:standby adds around the two nodes (issue 19): the mail host's
 * Hetzner Floating IPs (IPv4 and IPv6) with their reverse DNS, assigned to
 * the node that is primary now, and each node's own name
 * (`<location>.<mail host>`: SSH, the edge's STANDBY_URL, and the
 * forward-confirmed PTR of the address the node sends mail from).
 *
 * The Floating IPs outlive everything else, like the primary IPs: Hetzner
 * delete protection and Pulumi protect while haven:retainData is true. The
 * promoted node moves them itself through Hetzner's API (node/failover);
 * `pulumi up` assigns them to the node haven:primaryLocation names, so after
 * a failover the operator sets that to the promoted node's location first
 * (docs/deploy.md).
 */
import * as cloudflare from '@pulumi/cloudflare';
import * as hcloud from '@pulumi/hcloud';
import * as pulumi from '@pulumi/pulumi';
import { hetznerName, ipv6HostAddress } from './node.js';
import type { FloatingAddresses } from './floating-ip.js';

/** A node's own DNS name: its location under the mail host, e.g. fsn1.mail.example.com. */
export function locationHost(location: string, mailHost: string): string {
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(location)) throw new Error(`Hetzner location "${location}" is not one DNS label`);
  return `${location}.${mailHost}`;
}

/**
 * SPF terms for the two nodes' own addresses. Outbound mail leaves from the
 * Floating IPs (outbound.sourceAddresses), but a node still sends from its
 * own address when it cannot use them: a promoted standby until Hetzner has
 * moved them to it (or for good when the move fails), and any node whose
 * interface does not carry them yet (the first `pulumi up` configures them
 * after the node's config). Without these terms that mail would fail SPF
 * instead of merely lacking a matching PTR. One `a:` term per node: each is
 * one DNS lookup of the ten SPF allows (RFC 7208 §4.6.4) and covers both its
 * A and AAAA.
 */
export function standbySpfTerms(locations: readonly string[], mailHost: string): string[] {
  return locations.map((l) => `a:${locationHost(l, mailHost)}`);
}

export interface MailHostFloatingIpsArgs {
  stack: string;
  mailHost: string;
  /** Where the addresses live (Hetzner's home location: routing is best there); the primary's location. */
  homeLocation: string;
  retainData: boolean;
}

export class MailHostFloatingIps extends pulumi.ComponentResource {
  readonly ids: pulumi.Output<string[]>;
  readonly addresses: pulumi.Output<FloatingAddresses>;
  readonly ipv4Id: pulumi.Output<string>;
  readonly ipv6Id: pulumi.Output<string>;
  private readonly name: string;
  private readonly v4: hcloud.FloatingIp;
  private readonly v6: hcloud.FloatingIp;

  constructor(name: string, args: MailHostFloatingIpsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('haven:infra:FloatingIps', name, {}, opts);
    const child = { parent: this };
    const keep = { ...child, retainOnDelete: args.retainData, protect: args.retainData };
    const labels = { app: 'haven', stack: args.stack.toLowerCase().replace(/[^a-z0-9-]/g, '-'), node: 'mail-host' };
    const ip = (type: 'ipv4' | 'ipv6') =>
      new hcloud.FloatingIp(
        `${name}-${type}`,
        {
          name: hetznerName(args.stack, `floating-${type}`),
          type,
          homeLocation: args.homeLocation,
          description: `${args.mailHost}: moves to the standby when it is promoted`,
          deleteProtection: args.retainData,
          labels,
        },
        keep,
      );
    const v4 = ip('ipv4');
    const v6 = ip('ipv6');
    // Hetzner gives a Floating IPv6 as a /64; the mail host uses its ::1, as with the primary IPs.
    const v6host = v6.ipNetwork.apply(ipv6HostAddress);
    // The PTR belongs to the address, so it moves with it: receivers see the mail host whichever node answers.
    new hcloud.Rdns(`${name}-ptr-ipv4`, { floatingIpId: v4.id.apply(Number), ipAddress: v4.ipAddress, dnsPtr: args.mailHost }, child);
    new hcloud.Rdns(`${name}-ptr-ipv6`, { floatingIpId: v6.id.apply(Number), ipAddress: v6host, dnsPtr: args.mailHost }, child);
    this.name = name;
    this.v4 = v4;
    this.v6 = v6;
    this.ipv4Id = v4.id;
    this.ipv6Id = v6.id;
    this.ids = pulumi.all([v4.id, v6.id]);
    this.addresses = pulumi.all([v4.ipAddress, v6host]).apply(([ipv4, ipv6]) => ({ ipv4, ipv6 }));
    this.registerOutputs({ ids: this.ids, addresses: this.addresses });
  }

  /**
   * Assigns both addresses to the primary's server (made after the nodes, whose configs carry the
   * addresses' ids). A resource of its own, so swapping haven:primaryLocation moves the addresses and
   * never replaces them.
   */
  assignTo(serverId: pulumi.Input<string>): hcloud.FloatingIpAssignment[] {
    return (['ipv4', 'ipv6'] as const).map((type) => {
      const fip = type === 'ipv4' ? this.v4 : this.v6;
      return new hcloud.FloatingIpAssignment(`${this.name}-${type}-assignment`, { floatingIpId: fip.id.apply(Number), serverId: pulumi.output(serverId).apply(Number) }, { parent: this });
    });
  }
}

/** A node's own name in Cloudflare: A and AAAA for its primary addresses, never proxied (SSH, the edge, FCrDNS). */
export function nodeHostRecords(
  name: string,
  args: { host: string; ipv4: pulumi.Input<string>; ipv6: pulumi.Input<string>; zoneId: pulumi.Input<string> },
  opts?: pulumi.CustomResourceOptions,
): cloudflare.DnsRecord[] {
  const rec = (type: 'A' | 'AAAA', content: pulumi.Input<string>) =>
    new cloudflare.DnsRecord(
      `${name}-${type}`,
      { zoneId: args.zoneId, name: args.host, type, ttl: 3600, content, proxied: false, comment: `haven: this node's own ${type === 'A' ? 'IPv4' : 'IPv6'} (SSH, standby URL, PTR)` },
      { deleteBeforeReplace: true, ...opts },
    );
  return [rec('A', args.ipv4), rec('AAAA', args.ipv6)];
}
