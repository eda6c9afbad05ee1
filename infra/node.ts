/**
 * @module infra/node
 * The Hetzner side of a Haven node: a primary IPv4 and IPv6 that outlive
 * the server (so DNS, PTR and sender reputation survive a rebuild), the
 * firewall, a data volume that outlives the server, the server itself
 * (bootstrapped by infra/cloud-init.ts), reverse DNS for both addresses, and
 * the configuration channel: a deploy key Pulumi keeps, and a remote command
 * that hands the node its configuration bundle (infra/node-config.ts) over
 * SSH whenever the bundle or the server changes.
 *
 * What outlives the server carries Hetzner's delete protection and Pulumi's
 * `protect` while haven:retainData is true; every Hetzner name carries the
 * stack, so two stacks in one project never collide.
 */
import * as command from '@pulumi/command';
import * as hcloud from '@pulumi/hcloud';
import * as pulumi from '@pulumi/pulumi';
import * as tls from '@pulumi/tls';
import { renderCloudInit, shQuote } from './cloud-init.js';
import { floatingIpRemoveScript, floatingIpScript, type FloatingAddresses } from './floating-ip.js';
import { APPLY_SCRIPT } from './layout.js';
import { configBundle, type NodeConfigInput } from './node-config.js';

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
    tcp(4190, 'ManageSieve (RFC 5804)'),
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
  /** The Pulumi stack: part of every Hetzner name. */
  stack: string;
  mailHost: string;
  location: string;
  serverType: string;
  image: string;
  volumeSizeGb: number;
  /** Operators' keys: root's authorized_keys gets them through the configuration channel. */
  sshPublicKeys: string[];
  /** Where `pulumi up` may connect from (SSH); never empty. */
  adminSourceIps: string[];
  pop3: boolean;
  havenRelease: string;
  /** Keep the volume and addresses: Hetzner delete protection, Pulumi protect, retained on destroy. */
  retainData: boolean;
  /** The node's configuration, secrets included (they stay Pulumi secrets). */
  config: pulumi.Input<Omit<NodeConfigInput, 'authorizedKeys' | 'failover'>>;
  /**
   * Set for the standby's own resources (its Hetzner names become
   * haven-<stack>-<slot>-…; the server is named after them, since the
   * primary's server already holds the mail host's name). Unset: the names
   * a single node has always had.
   */
  slot?: string;
  /** The PTR of the node's own addresses; the mail host by default (with a standby, the node's own name). */
  ptrName?: string;
  /** With a standby: this node's role, the mail host's Floating IPs, and the token that moves them. */
  failover?: {
    role: 'primary' | 'standby';
    floatingIpIds: pulumi.Input<string[]>;
    /** Configured on this server's interface (infra/floating-ip.ts). */
    addresses: pulumi.Input<FloatingAddresses>;
    hetznerToken: pulumi.Input<string>;
    /** The other node's own name, which this node's witness checks while it stands by. */
    witnessHost?: string;
  };
}

/** Hetzner names: the stack is part of each, so two stacks in one project never collide. */
export function hetznerName(stack: string, what: string): string {
  return `haven-${stack}-${what}`.toLowerCase().replace(/[^a-z0-9-]/g, '-');
}

export class HavenNode extends pulumi.ComponentResource {
  readonly ipv4: pulumi.Output<string>;
  /** The address the MTA sends from and the AAAA record points at. */
  readonly ipv6: pulumi.Output<string>;
  readonly ipv6Network: pulumi.Output<string>;
  readonly serverId: pulumi.Output<string>;
  readonly volumeId: pulumi.Output<string>;
  readonly userData: pulumi.Output<string>;
  /** Done once the node holds the current configuration: DKIM records wait for it. */
  readonly configured: command.remote.Command;
  /** With a standby: done once the Floating IPs are configured on this server's interface. */
  readonly floatingConfigured?: command.remote.Command;

  constructor(name: string, args: HavenNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super('haven:infra:Node', name, {}, opts);
    const child = { parent: this };
    // Data and identity outlive the server, `pulumi destroy` and a slip of the hand unless the stack says otherwise.
    const keep = { ...child, retainOnDelete: args.retainData, protect: args.retainData };
    const labels = { app: 'haven', stack: args.stack.toLowerCase().replace(/[^a-z0-9-]/g, '-'), node: name };
    const hname = (what: string) => hetznerName(args.stack, args.slot ? `${args.slot}-${what}` : what);

    // The key `pulumi up` configures the node with; it lives in the stack's state (secret), nowhere else.
    const deployKey = new tls.PrivateKey(`${name}-deploy-key`, { algorithm: 'ED25519' }, child);
    const deploySshKey = new hcloud.SshKey(`${name}-deploy`, { name: hname('deploy'), publicKey: deployKey.publicKeyOpenssh, labels }, child);
    const ipv4 = new hcloud.PrimaryIp(
      `${name}-ipv4`,
      { name: hname('ipv4'), type: 'ipv4', location: args.location, assigneeType: 'server', autoDelete: false, deleteProtection: args.retainData, labels },
      keep,
    );
    const ipv6 = new hcloud.PrimaryIp(
      `${name}-ipv6`,
      { name: hname('ipv6'), type: 'ipv6', location: args.location, assigneeType: 'server', autoDelete: false, deleteProtection: args.retainData, labels },
      keep,
    );
    const firewall = new hcloud.Firewall(
      `${name}-firewall`,
      {
        name: hname('firewall'),
        labels,
        rules: firewallRules(args).map((r) => ({ direction: 'in', protocol: r.protocol, port: r.port, sourceIps: r.sourceIps, description: r.description })),
      },
      child,
    );
    // Formatted by Hetzner at creation, never by cloud-init: a rebuilt server must not wipe mail.
    const volume = new hcloud.Volume(
      `${name}-data`,
      { name: hname('data'), size: args.volumeSizeGb, location: args.location, format: 'ext4', deleteProtection: args.retainData, labels },
      keep,
    );
    // Bootstrap only, nothing secret: a change (release, volume, mail host) is a new server, which is right.
    const userData = volume.id.apply((vid) => renderCloudInit({ mailHost: args.mailHost, volumeId: vid, havenRelease: args.havenRelease }));
    const server = new hcloud.Server(
      `${name}-server`,
      {
        // Hetzner server names are unique per project: the mail host's name goes to the first node.
        name: args.slot ? hname('server') : args.mailHost,
        serverType: args.serverType,
        image: args.image,
        location: args.location,
        sshKeys: [deploySshKey.id],
        firewallIds: [firewall.id.apply(Number)],
        publicNets: [{ ipv4Enabled: true, ipv4: ipv4.id.apply(Number), ipv6Enabled: true, ipv6: ipv6.id.apply(Number) }],
        userData,
        labels,
        // Let the mail server stop cleanly (flush queues, checkpoint) before Hetzner deletes it.
        shutdownBeforeDeletion: true,
      },
      {
        ...child,
        // The addresses and the volume belong to one server at a time: the old one goes first.
        deleteBeforeReplace: true,
        // Hetzner would rebuild in place on a new image, keeping the id; a new server gets its configuration sent.
        replaceOnChanges: ['image'],
      },
    );
    const attachment = new hcloud.VolumeAttachment(
      `${name}-data-attachment`,
      { serverId: server.id.apply(Number), volumeId: volume.id.apply(Number), automount: false },
      { ...child, deleteBeforeReplace: true },
    );

    const v6 = ipv6.ipNetwork.apply(ipv6HostAddress);
    // The PTR is what receivers compare with the EHLO name and the A/AAAA records (FCrDNS).
    new hcloud.Rdns(`${name}-ptr-ipv4`, { primaryIpId: ipv4.id.apply(Number), ipAddress: ipv4.ipAddress, dnsPtr: args.ptrName ?? args.mailHost }, child);
    new hcloud.Rdns(`${name}-ptr-ipv6`, { primaryIpId: ipv6.id.apply(Number), ipAddress: v6, dnsPtr: args.ptrName ?? args.mailHost }, child);

    // The configuration channel. stdin (the bundle) is secret; a new bundle or a new server runs haven-apply.
    const fo = args.failover;
    const failover = fo
      ? pulumi.all([fo.floatingIpIds, server.id, fo.hetznerToken, fo.addresses]).apply(([floatingIps, hetznerServerId, hetznerToken, a]) => ({ role: fo.role, floatingIps, hetznerServerId, hetznerToken, sourceAddresses: [a.ipv4, a.ipv6] }))
      : pulumi.output(undefined);
    const bundle = pulumi.all([pulumi.output(args.config), deployKey.publicKeyOpenssh, failover]).apply(([config, deployPub, f]) => {
      const c = config as Omit<NodeConfigInput, 'authorizedKeys' | 'failover'>;
      return configBundle({
        ...c,
        ...(f ? { failover: { role: f.role, floatingIps: f.floatingIps, hetznerServerId: f.hetznerServerId, nodeHost: args.ptrName, sourceAddresses: f.sourceAddresses, ...(fo?.witnessHost ? { witnessHost: fo.witnessHost } : {}) }, secrets: { ...c.secrets, hetznerToken: f.hetznerToken } } : {}),
        authorizedKeys: [deployPub.trim(), ...args.sshPublicKeys],
      });
    });
    this.configured = new command.remote.Command(
      `${name}-config`,
      {
        connection: {
          host: ipv4.ipAddress,
          user: 'root',
          privateKey: deployKey.privateKeyOpenssh,
          // A new server answers SSH a minute or so after Hetzner reports it running.
          dialErrorLimit: 40,
          perDialTimeout: 30,
        },
        create: APPLY_SCRIPT,
        update: APPLY_SCRIPT,
        stdin: pulumi.secret(bundle.apply((b) => b.base64)),
        triggers: [server.id, pulumi.secret(bundle.apply((b) => b.sha256))],
      },
      { ...child, dependsOn: [attachment], additionalSecretOutputs: ['stdin'] },
    );

    if (fo) {
      // Both servers carry the Floating IPs all the time; Hetzner's assignment decides which one receives them.
      const addresses = pulumi.output(fo.addresses);
      this.floatingConfigured = new command.remote.Command(
        `${name}-floating-ip`,
        {
          connection: { host: ipv4.ipAddress, user: 'root', privateKey: deployKey.privateKeyOpenssh, dialErrorLimit: 40, perDialTimeout: 30 },
          // Run by sh whatever root's login shell is.
          create: addresses.apply((a) => `sh -c ${shQuote(floatingIpScript(a))}`),
          update: addresses.apply((a) => `sh -c ${shQuote(floatingIpScript(a))}`),
          // Standby turned off: the addresses leave the server with the stack's Floating IPs.
          delete: addresses.apply((a) => `sh -c ${shQuote(floatingIpRemoveScript(a))}`),
          triggers: [server.id, addresses],
        },
        { ...child, dependsOn: [this.configured] },
      );
    }

    this.ipv4 = ipv4.ipAddress;
    this.ipv6 = v6;
    this.ipv6Network = ipv6.ipNetwork;
    this.serverId = server.id;
    this.volumeId = volume.id;
    this.userData = userData;
    this.registerOutputs({ ipv4: this.ipv4, ipv6: this.ipv6, serverId: this.serverId, volumeId: this.volumeId });
  }
}
