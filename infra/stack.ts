/**
 * @module infra/stack
 * Wires one Haven deployment together: DKIM keys, the replica bucket, the
 * Hetzner node (bootstrapped by cloud-init, configured over SSH on every
 * `pulumi up`), the DNS records and the edge Worker, and returns the stack
 * outputs. infra/index.ts calls it with the stack's config.
 */
import * as cloudflare from '@pulumi/cloudflare';
import * as pulumi from '@pulumi/pulumi';
import * as tls from '@pulumi/tls';
import { mtaStsPolicyFor } from '../node/dns/index.js';
import type { HavenStackConfig } from './config.js';
import { HavenDns } from './dns.js';
import { buildEdgeWorker, edgeEntryExists, EdgeWorker } from './edge.js';
import { HavenNode } from './node.js';
import { ReplicaBucket } from './replica.js';
import { locationHost, MailHostFloatingIps, nodeHostRecords, standbySpfTerms } from './standby.js';

export interface HavenOutputs {
  ipv4: pulumi.Output<string>;
  ipv6: pulumi.Output<string>;
  mailHost: string;
  adminUrl: pulumi.Output<string> | undefined;
  dnsRecords: pulumi.Output<string[]>;
  mtaStsPolicy: string;
  replicaUrl: pulumi.Output<string>;
  ssh: pulumi.Output<string>;
  logs: pulumi.Output<string>;
  /** Secret: the S3 credentials the node replicates with, for a manual restore elsewhere. */
  replicaAccessKeyId: pulumi.Output<string>;
  replicaSecretAccessKey: pulumi.Output<string>;
  /** With haven:standby: how to reach the node standing by now. */
  standbySsh?: pulumi.Output<string>;
}

function zoneOf(host: string, domains: readonly string[]): string {
  const zone = [...domains].sort((a, b) => b.length - a.length).find((d) => host === d || host.endsWith('.' + d));
  if (!zone) throw new Error(`${host} is not under any of haven:domains (${domains.join(', ')}): use a host in one of them`);
  return zone;
}

export function createHaven(cfg: HavenStackConfig, name = 'haven'): HavenOutputs {
  const stack = pulumi.getStack();
  const zoneIds: Record<string, pulumi.Output<string>> = Object.fromEntries(
    cfg.domains.map((d) => [d, cloudflare.getZoneOutput({ filter: { name: d, account: { id: cfg.cloudflareAccountId } } }).apply((z) => z.id)]),
  );

  // One RSA key per domain, kept in Pulumi state (stable across runs). RSA-2048: every verifier supports it.
  const dkim = cfg.domains.map((domain) => ({ domain, key: new tls.PrivateKey(`${name}-dkim-${domain}`, { algorithm: 'RSA', rsaBits: 2048 }) }));

  const replica = new ReplicaBucket(`${name}-replica`, {
    accountId: cfg.cloudflareAccountId,
    bucketName: `haven-${stack}-replica`.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 63),
    location: cfg.replicaLocation,
    prefix: 'node-1',
    retainData: cfg.retainData,
  });

  // With a standby, mail leaves from the Floating IPs, and from a node's own address while it cannot use them
  // (infra/standby standbySpfTerms): SPF names both nodes too.
  const spfExtra = cfg.standby ? [...cfg.spfExtra, ...standbySpfTerms([cfg.location, cfg.standbyLocation], cfg.mailHost)] : cfg.spfExtra;
  // Sent over SSH on every `pulumi up` that changes it (infra/node.ts); never in user data.
  const config = pulumi
    .all([replica.url, replica.accessKeyId, replica.secretAccessKey, cfg.masterKey, cfg.edgeSecret, cfg.smarthost, pulumi.all(dkim.map((d) => d.key.privateKeyPemPkcs8))])
    .apply(([url, keyId, secretKey, masterKey, edgeSecret, smarthost, pems]) => ({
      mailHost: cfg.mailHost,
      pop3: cfg.pop3,
      acmeEmail: cfg.acmeEmail,
      replicaUrl: url,
      spfExtra,
      dmarcPolicy: cfg.dmarcPolicy,
      dkimKeys: dkim.map((d, i) => ({ domain: d.domain, selector: cfg.dkimSelector, privateKeyPem: pems[i] })),
      secrets: { masterKey, edgeSecret, smarthost, replicaAccessKeyId: keyId, replicaSecretAccessKey: secretKey },
    }));
  const nodeArgs = {
    stack,
    mailHost: cfg.mailHost,
    serverType: cfg.serverType,
    image: cfg.image,
    volumeSizeGb: cfg.volumeSizeGb,
    sshPublicKeys: cfg.sshPublicKeys,
    adminSourceIps: cfg.adminSourceIps,
    pop3: cfg.pop3,
    havenRelease: cfg.havenRelease,
    retainData: cfg.retainData,
    config,
  };

  // The mail host's Floating IPs: made before the nodes, whose configs name them; assigned to the primary after.
  const floating = cfg.standby ? new MailHostFloatingIps(`${name}-floating`, { stack, mailHost: cfg.mailHost, homeLocation: cfg.location, retainData: cfg.retainData }) : undefined;
  const failoverFor = (location: string) =>
    floating && {
      role: location === cfg.primaryLocation ? ('primary' as const) : ('standby' as const),
      floatingIpIds: floating.ids,
      addresses: floating.addresses,
      hetznerToken: cfg.failoverHetznerToken,
      // Each node names the other: whichever stands by checks the primary from its own location, by its own name
      // (not the Floating IPs, which follow whoever is primary).
      witnessHost: locationHost(location === cfg.location ? cfg.standbyLocation : cfg.location, cfg.mailHost),
    };
  const node = new HavenNode(name, {
    ...nodeArgs,
    location: cfg.location,
    ...(floating ? { ptrName: locationHost(cfg.location, cfg.mailHost), failover: failoverFor(cfg.location) } : {}),
  });
  // The same bootstrap, its own volume and addresses, in another location of the same network zone.
  const second = floating
    ? new HavenNode(`${name}-standby`, { ...nodeArgs, location: cfg.standbyLocation, slot: 'standby', ptrName: locationHost(cfg.standbyLocation, cfg.mailHost), failover: failoverFor(cfg.standbyLocation) })
    : undefined;
  const primary = second && cfg.primaryLocation === cfg.standbyLocation ? second : node;
  const standing = second && (primary === node ? second : node);
  const assignments = floating?.assignTo(primary.serverId) ?? [];
  // DNS moves to the Floating IPs only once they reach the primary and both servers answer on them.
  const ready = [...assignments.map((a) => a.id), ...[node, second].flatMap((n) => (n?.floatingConfigured ? [n.floatingConfigured.id] : []))];

  const dnsLayout = {
    domains: cfg.domains.map((d) => ({ name: d, selector: cfg.dkimSelector })),
    mailHost: cfg.mailHost,
    pop3: cfg.pop3,
    dmarcPolicy: cfg.dmarcPolicy,
    spfExtra,
  };
  const dns = new HavenDns(`${name}-dns`, {
    layout: dnsLayout,
    // The mail host's addresses: the Floating IPs with a standby, the node's own otherwise.
    addresses: floating ? pulumi.all([floating.addresses, pulumi.all(ready)]).apply(([a]) => a) : pulumi.all([node.ipv4, node.ipv6]).apply(([ipv4, ipv6]) => ({ ipv4, ipv6 })),
    dkimPublicKeys: Object.fromEntries(dkim.map((d) => [d.domain, d.key.publicKeyPem])),
    zoneIds,
    // A domain's DKIM record is published only once the node holds its key.
    dkimDependsOn: [node.configured, ...(second ? [second.configured] : [])],
  });
  if (second) {
    const zoneId = zoneIds[zoneOf(cfg.mailHost, cfg.domains)];
    for (const [n, location] of [[node, cfg.location], [second, cfg.standbyLocation]] as const) {
      nodeHostRecords(`${name}-host-${location}`, { host: locationHost(location, cfg.mailHost), ipv4: n.ipv4, ipv6: n.ipv6, zoneId });
    }
  }

  let adminUrl: pulumi.Output<string> | undefined;
  if (edgeEntryExists(cfg.edgeEntry)) {
    const edge = new EdgeWorker(`${name}-edge`, {
      accountId: cfg.cloudflareAccountId,
      scriptName: `haven-${stack}-edge`.toLowerCase().replace(/[^a-z0-9-]/g, '-'),
      adminHost: cfg.adminHost,
      adminZoneId: zoneIds[zoneOf(cfg.adminHost, cfg.domains)],
      content: pulumi.output(buildEdgeWorker(cfg.edgeEntry)),
      nodeUrl: `https://${cfg.mailHost}`,
      mailHost: cfg.mailHost,
      domains: cfg.domains,
      pop3: cfg.pop3,
      edgeSecret: cfg.edgeSecret,
      adminPasswordHash: cfg.adminPasswordHash,
      alertWebhook: cfg.hasAlertWebhook ? cfg.alertWebhook : undefined,
      access: cfg.accessAud ? { aud: cfg.accessAud, team: cfg.accessTeam } : undefined,
      failover: standing ? { standbyUrl: `https://${locationHost(standing === node ? cfg.location : cfg.standbyLocation, cfg.mailHost)}`, afterSeconds: cfg.failoverAfterSeconds } : undefined,
    });
    adminUrl = edge.adminUrl;
  } else {
    // Not an error: the program must load (and its tests run) before the edge app exists.
    void pulumi.log.warn(`${cfg.edgeEntry} not found: the edge Worker (admin UI, outside probe) is not deployed`);
  }

  const mailAddresses = floating ? floating.addresses : undefined;
  return {
    ipv4: mailAddresses ? mailAddresses.ipv4 : node.ipv4,
    ipv6: mailAddresses ? mailAddresses.ipv6 : node.ipv6,
    mailHost: cfg.mailHost,
    adminUrl,
    dnsRecords: dns.zoneLines,
    mtaStsPolicy: mtaStsPolicyFor({ mailHost: cfg.mailHost }),
    replicaUrl: replica.url,
    ssh: pulumi.interpolate`ssh root@${primary.ipv4}`,
    logs: pulumi.interpolate`ssh root@${primary.ipv4} journalctl -u haven -f`,
    replicaAccessKeyId: pulumi.secret(replica.accessKeyId),
    replicaSecretAccessKey: replica.secretAccessKey,
    ...(standing ? { standbySsh: pulumi.interpolate`ssh root@${standing.ipv4}` } : {}),
  };
}
