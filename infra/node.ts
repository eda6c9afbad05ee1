/**
 * @module infra/node
 * The Hetzner side of a Haven node: SSH keys, a primary IPv4 and IPv6 that
 * outlive the server (so DNS, PTR and sender reputation survive a rebuild),
 * the firewall, a data volume that outlives the server, the server itself
 * and reverse DNS for both addresses.
 */
import * as hcloud from '@pulumi/hcloud';
import * as pulumi from '@pulumi/pulumi';

export interface FirewallRuleSpec {
  description: string;
  protocol: 'tcp' | 'udp' | 'icmp';
  port?: string;
  sourceIps: string[];
}

const ANYWHERE = ['0.0.0.0/0', '::/0'];

/** The inbound rules, as a pure function so tests and docs see the same list. Outbound stays open. */
export function firewallRules(opts: { pop3: boolean; adminSourceIps: readonly string[] }): FirewallRuleSpec[] {
  const tcp = (port: number, description: string): FirewallRuleSpec => ({ description, protocol: 'tcp', port: String(port), sourceIps: ANYWHERE });
  return [
    tcp(25, 'SMTP (MX)'),
    tcp(465, 'submission, implicit TLS'),
    tcp(587, 'submission, STARTTLS'),
    tcp(993, 'IMAP, implicit TLS'),
    ...(opts.pop3 ? [tcp(995, 'POP3, implicit TLS')] : []),
    tcp(80, 'HTTP: ACME http-01 and redirects'),
    tcp(443, 'HTTPS: CalDAV, CardDAV, autoconfig, admin API'),
    { description: 'ICMP (path MTU discovery, ping)', protocol: 'icmp', sourceIps: ANYWHERE },
    ...(opts.adminSourceIps.length > 0 ? [{ description: 'SSH from admin addresses', protocol: 'tcp' as const, port: '22', sourceIps: [...opts.adminSourceIps] }] : []),
  ];
}

/** The address the MTA sends from on Hetzner: the first host of the server's /64 (`<prefix>::1`). */
export function ipv6HostAddress(network: string): string {
  const [prefix, len] = network.split('/');
  if (len !== undefined && len !== '64') throw new Error(`IPv6 network ${network} is not a /64: Hetzner assigns a /64 per primary IP`);
  const groups = expandIpv6(prefix).slice(0, 4).map((g) => g.replace(/^0+(?=.)/, ''));
  return `${groups.join(':')}::1`;
}

function expandIpv6(a: string): string[] {
  const [head, tail] = a.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = a.includes('::') ? 8 - h.length - t.length : 0;
  const all = [...h, ...Array<string>(fill).fill('0'), ...t];
  if (all.length !== 8 || !all.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) throw new Error(`"${a}" is not an IPv6 address`);
  return all.map((g) => g.toLowerCase());
}

export interface HavenNodeArgs {
  mailHost: string;
  location: string;
  serverType: string;
  image: string;
  volumeSizeGb: number;
  sshPublicKeys: string[];
  adminSourceIps: string[];
  pop3: boolean;
  /** Keep the volume and addresses when the stack is destroyed. */
  retainData: boolean;
  /** Renders user data once the volume id is known. */
  userData: (volumeId: pulumi.Output<string>) => pulumi.Input<string>;
}

export class HavenNode extends pulumi.ComponentResource {
  readonly ipv4: pulumi.Output<string>;
  /** The address the MTA sends from and the AAAA record points at. */
  readonly ipv6: pulumi.Output<string>;
  readonly ipv6Network: pulumi.Output<string>;
  readonly serverId: pulumi.Output<string>;
  readonly volumeId: pulumi.Output<string>;
  readonly userData: pulumi.Output<string>;

  constructor(name: string, args: HavenNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super('haven:infra:Node', name, {}, opts);
    const child = { parent: this };
    // Data and identity outlive `pulumi destroy` unless the stack says otherwise.
    const keep = { ...child, retainOnDelete: args.retainData };
    const labels = { app: 'haven', node: name };

    const sshKeys = args.sshPublicKeys.map(
      (publicKey, i) => new hcloud.SshKey(`${name}-ssh-${i}`, { name: `${name}-${i}`, publicKey, labels }, child),
    );
    const ipv4 = new hcloud.PrimaryIp(
      `${name}-ipv4`,
      { name: `${name}-ipv4`, type: 'ipv4', location: args.location, assigneeType: 'server', autoDelete: false, labels },
      keep,
    );
    const ipv6 = new hcloud.PrimaryIp(
      `${name}-ipv6`,
      { name: `${name}-ipv6`, type: 'ipv6', location: args.location, assigneeType: 'server', autoDelete: false, labels },
      keep,
    );
    const firewall = new hcloud.Firewall(
      `${name}-firewall`,
      {
        name: `${name}-firewall`,
        labels,
        rules: firewallRules(args).map((r) => ({ direction: 'in', protocol: r.protocol, port: r.port, sourceIps: r.sourceIps, description: r.description })),
      },
      child,
    );
    // Formatted by Hetzner at creation, never by cloud-init: a rebuilt server must not wipe mail.
    const volume = new hcloud.Volume(
      `${name}-data`,
      { name: `${name}-data`, size: args.volumeSizeGb, location: args.location, format: 'ext4', labels },
      keep,
    );
    const volumeId = volume.id;
    const userData = pulumi.output(args.userData(volumeId));
    const server = new hcloud.Server(
      `${name}-server`,
      {
        name: args.mailHost,
        serverType: args.serverType,
        image: args.image,
        location: args.location,
        sshKeys: sshKeys.map((k) => k.id),
        firewallIds: [firewall.id.apply(Number)],
        publicNets: [{ ipv4Enabled: true, ipv4: ipv4.id.apply(Number), ipv6Enabled: true, ipv6: ipv6.id.apply(Number) }],
        userData,
        labels,
        // Let the mail server stop cleanly (flush queues, checkpoint) before Hetzner deletes it.
        shutdownBeforeDeletion: true,
      },
      {
        ...child,
        // Hetzner cannot change user data in place, so a change would replace the server. Secrets and
        // config changes are applied by `pulumi up --replace` on this resource when wanted; addresses,
        // volume and DNS stay. The image moves on by itself (unattended-upgrades), not by rebuild.
        ignoreChanges: ['userData', 'image', 'sshKeys'],
      },
    );
    new hcloud.VolumeAttachment(`${name}-data-attachment`, { serverId: server.id.apply(Number), volumeId: volume.id.apply(Number), automount: false }, child);

    const v6 = ipv6.ipNetwork.apply(ipv6HostAddress);
    // The PTR is what receivers compare with the EHLO name and the A/AAAA records (FCrDNS).
    new hcloud.Rdns(`${name}-ptr-ipv4`, { primaryIpId: ipv4.id.apply(Number), ipAddress: ipv4.ipAddress, dnsPtr: args.mailHost }, child);
    new hcloud.Rdns(`${name}-ptr-ipv6`, { primaryIpId: ipv6.id.apply(Number), ipAddress: v6, dnsPtr: args.mailHost }, child);

    this.ipv4 = ipv4.ipAddress;
    this.ipv6 = v6;
    this.ipv6Network = ipv6.ipNetwork;
    this.serverId = server.id;
    this.volumeId = volumeId;
    this.userData = userData;
    this.registerOutputs({ ipv4: this.ipv4, ipv6: this.ipv6, serverId: this.serverId, volumeId: this.volumeId });
  }
}
