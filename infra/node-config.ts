/**
 * @module infra/node-config
 * The node's configuration, as the files `haven-apply` installs on the
 * server (infra/node-scripts.ts): the config file, the EnvironmentFile with
 * the secrets the node reads from its environment, the master key and one
 * DKIM key per domain as systemd credentials, the unit drop-in that loads
 * them, and root's authorized_keys. `configBundle` packs them into the tar
 * that `pulumi up` sends over SSH on every run (infra/node.ts); none of it
 * is in user data. Pure.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { stringify } from 'yaml';
import { OPTION_LIST } from '../node/config/index.js';
import { DEFAULT_DMARC_POLICY, MANAGESIEVE_PORT, type DmarcPolicy } from '../node/dns/index.js';
import { AUTHORIZED_KEYS, CONFIG_PATH, CREDENTIALS_DIR, CREDENTIALS_DROPIN, DATA_DIR, ENV_PATH, RSPAMD_URL, RUNTIME_CREDENTIALS_DIR } from './layout.js';
import { tar, type TarFile } from './tar.js';

export interface DkimPrivateKey {
  domain: string;
  selector: string;
  /** PKCS#8 or PKCS#1 PEM. */
  privateKeyPem: string;
}

export interface NodeConfigInput {
  mailHost: string;
  pop3: boolean;
  acmeEmail: string;
  /** s3://… replica URL, or '' for none. */
  replicaUrl: string;
  /** SPF terms infra publishes before -all (haven:spfExtra): the node's DNS list and doctor expect them too. */
  spfExtra?: readonly string[];
  /** The DMARC policy infra publishes (haven:dmarcPolicy): the node's DNS list and doctor expect it too. Default node/dns's. */
  dmarcPolicy?: DmarcPolicy;
  dkimKeys: readonly DkimPrivateKey[];
  /**
   * With a standby (haven:standby): this node's role, and what it moves to itself
   * when promoted. Absent: a single node, and the config says nothing of roles.
   */
  failover?: {
    role: 'primary' | 'standby';
    /** Hetzner Floating IP ids of the mail host (IPv4 and IPv6). */
    floatingIps: readonly string[];
    /** This server's id: the node cannot ask the metadata service (the metadata guard hides it). */
    hetznerServerId: string;
    /** This node's own name (<location>.<mail host>): a standby serves a certificate for it to the edge. */
    nodeHost?: string;
    /** The other node's own name: while this one stands by, its witness checks the primary there (node/failover/witness). */
    witnessHost?: string;
    /**
     * The mail host's Floating IPs (IPv4 and the IPv6 ::1): outbound mail leaves from them
     * (node/config outbound.sourceAddresses), so the connecting address's PTR, A/AAAA, SPF and the
     * EHLO name all say the mail host.
     */
    sourceAddresses?: readonly string[];
  };
  secrets: {
    masterKey: string;
    edgeSecret: string;
    smarthost: string;
    replicaAccessKeyId: string;
    replicaSecretAccessKey: string;
    /** With a standby: the Hetzner API token the promoted node assigns the Floating IPs with. */
    hetznerToken?: string;
  };
  /** OpenSSH public keys for root: the deploy key `pulumi up` connects with, then the operators'. */
  authorizedKeys: readonly string[];
}

export class NodeConfigError extends Error {
  override name = 'NodeConfigError';
}

/** A systemd EnvironmentFile line. Double-quoted: systemd unescapes \\ and \" and expands nothing. */
function envLine(name: string, value: string): string {
  if (/[\r\n\0]/.test(value)) throw new NodeConfigError(`${name} contains a line break: secrets must be one line`);
  return `${name}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"\n`;
}

/** The credential name the node finds a domain's DKIM key under in $CREDENTIALS_DIRECTORY (node/main.ts importDkimCredentials). */
export function dkimCredentialName(k: Pick<DkimPrivateKey, 'domain' | 'selector'>): string {
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/.test(k.domain)) throw new NodeConfigError(`"${k.domain}" is not a domain name (lower-case letters, digits, hyphens, dots)`);
  if (!/^[A-Za-z0-9-]+$/.test(k.selector)) throw new NodeConfigError(`DKIM selector "${k.selector}" is not one DNS label`);
  return `dkim.${k.selector}.${k.domain}`;
}

/** Options the Sieve and spam work adds to the node: set only once the node knows them (it refuses unknown keys). */
const HAS_OPTION = (path: string) => OPTION_LIST.some((o) => o.path === path);

/**
 * With a standby, each primary's lease (node/config failover.fenceLeaseMs): a primary cut off from the
 * replica stops acknowledging this long after a promotion, and the promoting standby waits it out.
 */
export const FENCE_LEASE_MS = 3000;

/**
 * The SMTP port the standby's witness greets the primary on: submission, not 25. Hetzner blocks outbound
 * 25 (and 465) from new cloud servers until asked, so from the standby port 25 would always time out; the
 * submission listener is the same process's event loop greeting 220 (RFC 6409 §4 keeps RFC 5321's greeting).
 */
export const WITNESS_SMTP_PORT = 587;

/** The node's config file (non-secret options only; secrets come from credentials and the environment). */
export function nodeConfig(input: Pick<NodeConfigInput, 'mailHost' | 'pop3' | 'acmeEmail' | 'replicaUrl' | 'spfExtra' | 'dmarcPolicy' | 'failover'>): Record<string, unknown> {
  const fo = input.failover;
  if (fo) {
    if (!/^\d+$/.test(fo.hetznerServerId)) throw new NodeConfigError(`Hetzner server id "${fo.hetznerServerId}" is not numeric`);
    for (const id of fo.floatingIps) if (!/^\d+$/.test(id)) throw new NodeConfigError(`Floating IP id "${id}" is not numeric`);
    for (const a of fo.sourceAddresses ?? []) if (isIP(a) === 0) throw new NodeConfigError(`source address "${a}" is not an IP address`);
  }
  return {
    dataDir: DATA_DIR,
    hostname: input.mailHost,
    listenAddress: '::',
    // ManageSieve on its registered port (RFC 5804 §1.8; the firewall and the _sieve._tcp SRV say 4190), once the node has it.
    ports: { smtp: 25, submission: 587, submissions: 465, imap: 143, imaps: 993, pop3: 110, pop3s: 995, http: 80, https: 443, admin: 8081, ...(HAS_OPTION('ports.managesieve') ? { managesieve: MANAGESIEVE_PORT } : {}) },
    masterKeyFile: `${RUNTIME_CREDENTIALS_DIR}/master-key`,
    replicaUrl: input.replicaUrl,
    // The SPF record infra publishes carries these terms (a relay's include): the node must expect the same one.
    spfExtra: [...(input.spfExtra ?? [])],
    // Likewise the DMARC policy: with reject published, a node expecting quarantine would call the record wrong.
    dmarcPolicy: input.dmarcPolicy ?? DEFAULT_DMARC_POLICY,
    tls: { acme: { enabled: true, email: input.acmeEmail, challenge: 'http-01' } },
    allowPlaintextAuthOnLoopback: false,
    pop3: { enabled: input.pop3 },
    log: { level: 'info' },
    // rspamd runs on the server (cloud-init), on loopback. Set once the node has the option (the Sieve and
    // spam work adds spam.rspamdUrl); a node that lacks it would refuse the key.
    ...(HAS_OPTION('spam.rspamdUrl') ? { spam: { rspamdUrl: RSPAMD_URL } } : {}),
    // Only with a standby, so a single node's config (and its bundle's hash) stays as it was.
    // Mail leaves from the Floating IPs (RFC 5321 §4.1.1.1 EHLO names the mail host; its PTR and SPF are theirs).
    ...(fo?.sourceAddresses?.length ? { outbound: { sourceAddresses: [...fo.sourceAddresses] } } : {}),
    ...(fo ? { role: fo.role, failover: { floatingIps: [...fo.floatingIps], hetznerServerId: fo.hetznerServerId, fenceLeaseMs: FENCE_LEASE_MS, ...(fo.nodeHost ? { nodeHost: fo.nodeHost } : {}), ...(fo.witnessHost ? { witness: { host: fo.witnessHost, smtpPort: WITNESS_SMTP_PORT } } : {}) } } : {}),
  };
}

/** The EnvironmentFile: secrets the node reads from its environment (HAVEN_* and the S3 client's AWS_*). */
export function nodeEnvironment(input: Pick<NodeConfigInput, 'secrets'>): string {
  const s = input.secrets;
  return (
    '# From `pulumi up` (haven-apply); read by systemd (as root) for haven.service; mode 0600, root only.\n' +
    envLine('HAVEN_ADMIN_SECRET', s.edgeSecret) +
    (s.smarthost ? envLine('HAVEN_SMARTHOST', s.smarthost) : '') +
    (s.replicaAccessKeyId ? envLine('AWS_ACCESS_KEY_ID', s.replicaAccessKeyId) + envLine('AWS_SECRET_ACCESS_KEY', s.replicaSecretAccessKey) : '') +
    // failover.hetznerToken (node/config): a secret, so never in the config file the node user reads.
    (s.hetznerToken ? envLine('HAVEN_FAILOVER_HETZNER_TOKEN', s.hetznerToken) : '')
  );
}

/** The unit drop-in: one LoadCredential= per credential file the bundle carries. */
export function credentialsDropIn(input: Pick<NodeConfigInput, 'dkimKeys'>): string {
  const lines = [
    `LoadCredential=master-key:${CREDENTIALS_DIR}/master-key`,
    ...input.dkimKeys.map((k) => `LoadCredential=${dkimCredentialName(k)}:${CREDENTIALS_DIR}/${dkimCredentialName(k)}.pem`),
  ];
  return `# From \`pulumi up\` (haven-apply): the credentials haven.service receives.\n[Service]\n${lines.join('\n')}\n`;
}

export function authorizedKeys(keys: readonly string[]): string {
  for (const k of keys) if (/[\r\n]/.test(k) || !/^(ssh-|ecdsa-|sk-)\S+ \S+/.test(k.trim())) throw new NodeConfigError(`"${k.slice(0, 40)}…" is not one OpenSSH public key line`);
  return `# From \`pulumi up\` (haven-apply): the deploy key first, then haven:sshPublicKeys.\n${keys.map((k) => k.trim()).join('\n')}\n`;
}

/** Every file of the bundle, absolute paths on the server. */
export function nodeConfigFiles(input: NodeConfigInput): { path: string; content: string; mode: number }[] {
  if (!/^[0-9a-fA-F]{64}$/.test(input.secrets.masterKey)) throw new NodeConfigError('the master key must be 64 hex characters');
  return [
    { path: CONFIG_PATH, content: stringify(nodeConfig(input)), mode: 0o644 },
    { path: ENV_PATH, content: nodeEnvironment(input), mode: 0o600 },
    { path: CREDENTIALS_DROPIN, content: credentialsDropIn(input), mode: 0o644 },
    { path: AUTHORIZED_KEYS, content: authorizedKeys(input.authorizedKeys), mode: 0o600 },
    { path: `${CREDENTIALS_DIR}/master-key`, content: input.secrets.masterKey + '\n', mode: 0o600 },
    ...input.dkimKeys.map((k) => ({ path: `${CREDENTIALS_DIR}/${dkimCredentialName(k)}.pem`, content: k.privateKeyPem.trimEnd() + '\n', mode: 0o600 })),
  ];
}

export interface ConfigBundle {
  /** What `haven-apply` reads on standard input: a base64 ustar archive, paths relative to /. */
  base64: string;
  /** SHA-256 of the archive, hex: changes exactly when a file or mode changes. */
  sha256: string;
}

export function configBundle(input: NodeConfigInput): ConfigBundle {
  const files: TarFile[] = nodeConfigFiles(input).map((f) => ({ path: f.path.slice(1), content: f.content, mode: f.mode }));
  const archive = tar(files);
  // Line-wrapped like base64(1) writes it; `base64 -d` on the server takes either.
  const base64 = archive.toString('base64').replace(/.{76}/g, '$&\n') + '\n';
  return { base64, sha256: createHash('sha256').update(archive).digest('hex') };
}
