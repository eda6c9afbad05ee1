/**
 * @module infra/config
 * The stack's configuration, read once from Pulumi config into a typed,
 * checked object. `CONFIG_KEYS` is the list Pulumi.yaml declares (a test
 * keeps the two equal); defaults live in Pulumi.yaml, and the fallbacks here
 * only cover a program run without that file (unit tests).
 */
import * as pulumi from '@pulumi/pulumi';
import { DEFAULT_DMARC_POLICY, DKIM_SELECTOR_RE, dmarcPolicyProblem, spfMechanismProblem, type DmarcPolicy } from '../node/dns/index.js';

export interface HavenStackConfig {
  domains: string[];
  mailHost: string;
  cloudflareAccountId: string;
  location: string;
  serverType: string;
  image: string;
  volumeSizeGb: number;
  sshPublicKeys: string[];
  adminSourceIps: string[];
  pop3: boolean;
  replicaLocation: string;
  havenRelease: string;
  acmeEmail: string;
  dmarcPolicy: DmarcPolicy;
  /** SPF mechanisms before -all (a relay's include while Hetzner blocks port 25). */
  spfExtra: string[];
  dkimSelector: string;
  adminHost: string;
  edgeEntry: string;
  retainData: boolean;
  /** Secrets: always Outputs marked secret, never plain strings. */
  masterKey: pulumi.Output<string>;
  edgeSecret: pulumi.Output<string>;
  adminPasswordHash: pulumi.Output<string>;
  smarthost: pulumi.Output<string>;
  alertWebhook: pulumi.Output<string>;
  /** Whether an alert webhook is configured (decides a binding; the URL itself stays secret). */
  hasAlertWebhook: boolean;
  /** Cloudflare Access application audience tag and team name for the admin UI; both empty for the password login only. */
  accessAud: string;
  accessTeam: string;
  /** A warm standby (issue 19): a second server in standbyLocation, Floating IPs for the mail host. */
  standby: boolean;
  /** The standby's Hetzner location; '' while standby is off. */
  standbyLocation: string;
  /** Which of the two locations runs the primary (`role: primary` in its config); location by default. */
  primaryLocation: string;
  /** The edge promotes the standby after the primary failed every probe for this long. */
  failoverAfterSeconds: number;
  /** Secret: the Hetzner Cloud API token the promoted node moves the Floating IPs with. */
  failoverHetznerToken: pulumi.Output<string>;
}

/** Every key Pulumi.yaml declares under `config:` (project namespace `haven`). */
export const CONFIG_KEYS = [
  'domains',
  'mailHost',
  'cloudflareAccountId',
  'location',
  'serverType',
  'image',
  'volumeSizeGb',
  'sshPublicKeys',
  'adminSourceIps',
  'pop3',
  'replicaLocation',
  'havenRelease',
  'acmeEmail',
  'dmarcPolicy',
  'spfExtra',
  'dkimSelector',
  'adminHost',
  'edgeEntry',
  'retainData',
  'masterKey',
  'edgeSecret',
  'adminPasswordHash',
  'smarthost',
  'alertWebhook',
  'accessAud',
  'accessTeam',
  'standby',
  'standbyLocation',
  'primaryLocation',
  'failoverAfterSeconds',
  'failoverHetznerToken',
] as const;

/** Keys whose values are secrets (read with getSecret/requireSecret). */
export const SECRET_KEYS = ['masterKey', 'edgeSecret', 'adminPasswordHash', 'smarthost', 'alertWebhook', 'failoverHetznerToken'] as const;

export class StackConfigError extends Error {
  override name = 'StackConfigError';
}

function list(cfg: pulumi.Config, key: string, required: boolean): string[] {
  const v = required ? cfg.requireObject<unknown>(key) : (cfg.getObject<unknown>(key) ?? []);
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new StackConfigError(`haven:${key} must be a list of strings: set it with \`pulumi config set --path 'haven:${key}[0]' <value>\``);
  }
  return v.map((x) => x.trim()).filter((x) => x !== '');
}

function checkCidr(v: string): string {
  const [ip, bits, extra] = v.split('/');
  const v4 = /^\d{1,3}(\.\d{1,3}){3}$/.test(ip);
  const v6 = ip.includes(':') && /^[0-9a-fA-F:]+$/.test(ip);
  const max = v4 ? 32 : 128;
  if (extra !== undefined || (!v4 && !v6) || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= max))) {
    throw new StackConfigError(`haven:adminSourceIps entry "${v}" is not an address or CIDR: use e.g. 198.51.100.7/32 or 2001:db8::/48`);
  }
  // Hetzner's firewall wants CIDR notation.
  return bits === undefined ? `${ip}/${max}` : v;
}

/**
 * Hetzner's network zones: a Floating IP is assigned only to servers in its
 * own zone, so the standby must be in the primary's zone, in another location.
 */
export const NETWORK_ZONES: Readonly<Record<string, string>> = { fsn1: 'eu-central', nbg1: 'eu-central', hel1: 'eu-central', ash: 'us-east', hil: 'us-west', sin: 'ap-southeast' };

function checkStandby(location: string, standbyLocation: string, primaryLocation: string, token: string): void {
  if (standbyLocation === '') {
    throw new StackConfigError(`haven:standby is true but haven:standbyLocation is empty: name a second Hetzner location in the same network zone as ${location}, e.g. \`pulumi config set haven:standbyLocation ${location === 'nbg1' ? 'fsn1' : 'nbg1'}\``);
  }
  if (standbyLocation === location) {
    throw new StackConfigError(`haven:standbyLocation is ${location}, the primary's location: a standby in the same location fails with it; pick another location in its network zone`);
  }
  const zone = NETWORK_ZONES[location];
  const szone = NETWORK_ZONES[standbyLocation];
  if (zone !== undefined && szone !== undefined && zone !== szone) {
    throw new StackConfigError(`haven:standbyLocation ${standbyLocation} is in network zone ${szone}, ${location} in ${zone}: Hetzner assigns a Floating IP only within its network zone, so both servers must share one (${Object.keys(NETWORK_ZONES).filter((l) => NETWORK_ZONES[l] === zone).join(', ')})`);
  }
  if (primaryLocation !== location && primaryLocation !== standbyLocation) {
    throw new StackConfigError(`haven:primaryLocation is ${primaryLocation}: it must be haven:location (${location}) or haven:standbyLocation (${standbyLocation}), the location of the node that is primary now`);
  }
  if (token === '') {
    throw new StackConfigError('haven:standby is true but haven:failoverHetznerToken is empty: create a Read & Write API token in the Hetzner project (Security > API tokens) and `pulumi config set --secret haven:failoverHetznerToken <token>`; the promoted node moves the Floating IPs with it');
  }
}

function checkSpfMechanism(v: string): string {
  // The same rule as the node's spfExtra option, so infra never hands the node a value it refuses.
  const problem = spfMechanismProblem(v);
  if (problem) throw new StackConfigError(`haven:spfExtra entry "${v}" is not ${problem}: set the relay's term, e.g. \`pulumi config set --path 'haven:spfExtra[0]' include:spf.relay.example\``);
  return v;
}

/** Reads and checks the stack's `haven:*` config. Throws StackConfigError with the fix in its message. */
export function readStackConfig(cfg: pulumi.Config = new pulumi.Config('haven')): HavenStackConfig {
  const domains = list(cfg, 'domains', true).map((d) => d.toLowerCase());
  if (domains.length === 0) throw new StackConfigError('haven:domains is empty: list at least one mail domain, e.g. `pulumi config set --path "haven:domains[0]" example.com`');
  const mailHost = (cfg.get('mailHost') || `mail.${domains[0]}`).toLowerCase();
  // The same values and default as the node's dmarcPolicy option, so infra never hands the node a value it refuses.
  const dmarcPolicy = cfg.get('dmarcPolicy') ?? DEFAULT_DMARC_POLICY;
  const dmarcProblem = dmarcPolicyProblem(dmarcPolicy);
  if (dmarcProblem) throw new StackConfigError(`haven:dmarcPolicy "${dmarcPolicy}" is not ${dmarcProblem}: e.g. \`pulumi config set haven:dmarcPolicy quarantine\``);
  const dkimSelector = cfg.get('dkimSelector') ?? 'haven';
  if (!DKIM_SELECTOR_RE.test(dkimSelector)) throw new StackConfigError(`haven:dkimSelector "${dkimSelector}" must be one DNS label (letters, digits, hyphens)`);
  const sshPublicKeys = list(cfg, 'sshPublicKeys', true);
  if (sshPublicKeys.length === 0) throw new StackConfigError('haven:sshPublicKeys is empty: add your public key (`pulumi config set --path "haven:sshPublicKeys[0]" "$(cat ~/.ssh/id_ed25519.pub)"`)');
  // `pulumi up` configures the node over SSH, so the machine it runs on must be let in.
  const adminSourceIps = list(cfg, 'adminSourceIps', true).map(checkCidr);
  if (adminSourceIps.length === 0) {
    throw new StackConfigError(
      'haven:adminSourceIps is empty: `pulumi up` configures the server over SSH, so list the addresses it runs from, e.g. `pulumi config set --path "haven:adminSourceIps[0]" "$(curl -s https://ifconfig.me)"` (0.0.0.0/0 and ::/0 open SSH to everyone; it accepts keys only)',
    );
  }
  const edgeSecret = cfg.requireSecret('edgeSecret').apply((s) => {
    if (s.length < 32) throw new StackConfigError('haven:edgeSecret must be at least 32 characters: `pulumi config set --secret haven:edgeSecret "$(openssl rand -hex 32)"`');
    return s;
  });
  const accessAud = (cfg.get('accessAud') ?? '').trim();
  const accessTeam = (cfg.get('accessTeam') ?? '').trim();
  if ((accessAud === '') !== (accessTeam === '')) {
    throw new StackConfigError('haven:accessAud and haven:accessTeam go together: set both (the Access application\'s audience tag and your team name) or neither');
  }
  if (accessAud !== '' && !/^[0-9a-f]{64}$/i.test(accessAud)) {
    throw new StackConfigError(`haven:accessAud "${accessAud}" is not an Access audience tag: copy the 64 hex characters from Zero Trust > Access > Applications > (the admin app) > Overview`);
  }
  const masterKey = cfg.requireSecret('masterKey').apply((s) => {
    if (!/^[0-9a-fA-F]{64}$/.test(s.trim())) throw new StackConfigError('haven:masterKey must be 64 hex characters: `pulumi config set --secret haven:masterKey "$(openssl rand -hex 32)"`');
    return s.trim();
  });
  const location = cfg.get('location') ?? 'fsn1';
  const standby = cfg.getBoolean('standby') ?? false;
  const standbyLocation = (cfg.get('standbyLocation') ?? '').trim();
  const primaryLocation = (cfg.get('primaryLocation') ?? '').trim() || location;
  const failoverAfterSeconds = cfg.getNumber('failoverAfterSeconds') ?? 300;
  if (!Number.isInteger(failoverAfterSeconds) || failoverAfterSeconds < 60) {
    throw new StackConfigError(`haven:failoverAfterSeconds ${failoverAfterSeconds} is not a whole number of seconds, at least 60: the edge probes once a minute`);
  }
  // Read raw for its emptiness only, as alertWebhook; the value stays a secret below.
  if (standby) checkStandby(location, standbyLocation, primaryLocation, pulumi.runtime.getConfig('haven:failoverHetznerToken') ?? '');
  else if (primaryLocation !== location) {
    throw new StackConfigError(`haven:primaryLocation is ${primaryLocation} but haven:standby is off: there is one node, in haven:location (${location}); remove primaryLocation (\`pulumi config rm haven:primaryLocation\`)`);
  }
  return {
    domains,
    mailHost,
    cloudflareAccountId: cfg.require('cloudflareAccountId'),
    location,
    serverType: cfg.get('serverType') ?? 'cx23',
    image: cfg.get('image') ?? 'debian-13',
    volumeSizeGb: cfg.getNumber('volumeSizeGb') ?? 10,
    sshPublicKeys,
    adminSourceIps,
    pop3: cfg.getBoolean('pop3') ?? false,
    replicaLocation: cfg.get('replicaLocation') ?? 'weur',
    havenRelease: cfg.require('havenRelease'),
    acmeEmail: cfg.get('acmeEmail') || `postmaster@${domains[0]}`,
    dmarcPolicy: dmarcPolicy as DmarcPolicy,
    spfExtra: list(cfg, 'spfExtra', false).map(checkSpfMechanism),
    dkimSelector,
    adminHost: (cfg.get('adminHost') || `admin.${domains[0]}`).toLowerCase(),
    edgeEntry: cfg.get('edgeEntry') ?? 'edge/worker.ts',
    retainData: cfg.getBoolean('retainData') ?? true,
    masterKey,
    edgeSecret,
    adminPasswordHash: cfg.requireSecret('adminPasswordHash'),
    smarthost: pulumi.secret(cfg.getSecret('smarthost') ?? ''),
    alertWebhook: pulumi.secret(cfg.getSecret('alertWebhook') ?? ''),
    // Read raw so Pulumi does not warn about reading a secret in plain text; only its emptiness is used.
    hasAlertWebhook: (pulumi.runtime.getConfig('haven:alertWebhook') ?? '') !== '',
    accessAud,
    accessTeam,
    standby,
    standbyLocation: standby ? standbyLocation : '',
    primaryLocation,
    failoverAfterSeconds,
    failoverHetznerToken: pulumi.secret(cfg.getSecret('failoverHetznerToken') ?? ''),
  };
}
