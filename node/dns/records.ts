/**
 * @module node/dns/records
 * The one list of DNS records a Haven mail domain needs, as a pure function
 * of its inputs. The Pulumi program creates exactly these records, the
 * node's admin API shows them to people who manage DNS by hand, and
 * `haven doctor` resolves and compares them. Nothing here does I/O or
 * imports a Node built-in, so the edge Worker can use it too.
 *
 * Names and targets are fully qualified without a trailing dot and in lower
 * case (Cloudflare's API form); compare case-insensitively.
 */

export const DKIM_SELECTOR_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export interface DkimKey {
  /** The selector: `<selector>._domainkey.<domain>`. Letters, digits and hyphens. */
  selector: string;
  /** The public key as a PEM SubjectPublicKeyInfo ("-----BEGIN PUBLIC KEY-----") or its base64 DER. */
  publicKey: string;
  /** Key algorithm as DKIM names it. Default rsa. */
  algorithm?: 'rsa' | 'ed25519';
}

export interface MailDomain {
  /** The mail domain (the part after @), e.g. example.com. */
  name: string;
  dkim: DkimKey;
}

/**
 * The DMARC policies (RFC 7489 §6.3 p=), weakest first. Shared by infra's
 * haven:dmarcPolicy and the node's dmarcPolicy option, so both accept
 * exactly the same values and default to the same one.
 */
export const DMARC_POLICIES = ['none', 'quarantine', 'reject'] as const;
export type DmarcPolicy = (typeof DMARC_POLICIES)[number];
/** Strict enough to stop spoofing, forgiving while a new setup settles. */
export const DEFAULT_DMARC_POLICY: DmarcPolicy = 'quarantine';

/** What is wrong with a DMARC policy value, or undefined when it is one of DMARC_POLICIES. */
export function dmarcPolicyProblem(p: string): string | undefined {
  return (DMARC_POLICIES as readonly string[]).includes(p) ? undefined : `a DMARC policy: one of ${DMARC_POLICIES.join(', ')}`;
}
export type MtaStsMode = 'enforce' | 'testing' | 'none';

export interface MailDnsInput {
  /** Mail domains. The first is the primary one: the mail host's records go in the zone it is under. */
  domains: readonly MailDomain[];
  /** The node's public hostname: MX target, EHLO name, PTR of both addresses, certificate name. */
  mailHost: string;
  /** The server's public IPv4 address. */
  ipv4: string;
  /** The IPv6 address the MTA sends from (on Hetzner `<prefix>::1`). */
  ipv6: string;
  /** Whether POP3 is offered (adds _pop3s._tcp). */
  pop3: boolean;
  /**
   * Whether ManageSieve is offered (adds _sieve._tcp). Default true: the node
   * always runs it (ports.managesieve), and infra opens 4190 for it.
   */
  manageSieve?: boolean;
  /** Where mta-sts.<domain>, autoconfig.<domain> and autodiscover.<domain> point. Default: the mail host. */
  webHost?: string;
  /** DMARC policy. Default DEFAULT_DMARC_POLICY (quarantine). */
  dmarcPolicy?: DmarcPolicy;
  /** Where aggregate DMARC and TLS-RPT reports go. Default postmaster@<domain>. */
  reportAddress?: (domain: string) => string;
  /** MTA-STS mode. Default enforce. */
  mtaStsMode?: MtaStsMode;
  /** MTA-STS max_age in seconds. Default one week. */
  mtaStsMaxAgeSeconds?: number;
  /** SPF mechanisms added before -all, e.g. "include:spf.smarthost.example" for a relay. */
  spfExtra?: readonly string[];
  /** CAs allowed to issue certificates (CAA issue). Default Let's Encrypt. */
  caaIssuers?: readonly string[];
  /** TTL in seconds for every record. Default 3600; 1 means "automatic" to Cloudflare. */
  ttl?: number;
}

interface Base {
  /** Fully qualified owner name, lower case, no trailing dot. */
  name: string;
  /** The mail domain (and Cloudflare zone) this record belongs to. */
  zone: string;
  ttl: number;
  /** Why the record exists, for the admin UI and doctor's report. */
  purpose: string;
}

export type DnsRecord =
  | (Base & { type: 'A' | 'AAAA' | 'CNAME' | 'TXT'; content: string })
  | (Base & { type: 'MX'; content: string; priority: number })
  | (Base & { type: 'SRV'; priority: number; weight: number; port: number; target: string })
  | (Base & { type: 'CAA'; flags: number; tag: 'issue' | 'issuewild' | 'iodef'; value: string });

export class DnsInputError extends Error {
  override name = 'DnsInputError';
}

/** ManageSieve's registered port (RFC 5804 §1.8), where the node serves it in production and _sieve._tcp points. */
export const MANAGESIEVE_PORT = 4190;

/** The SRV services of RFC 6186 (mail), RFC 8314 (implicit TLS), RFC 5804 (ManageSieve) and RFC 6764 (DAV). */
export function srvServices(pop3: boolean, manageSieve = true): { service: string; port: number; priority: number; purpose: string }[] {
  return [
    { service: '_submissions._tcp', port: 465, priority: 0, purpose: 'RFC 8314: submission over implicit TLS' },
    { service: '_submission._tcp', port: 587, priority: 1, purpose: 'RFC 6186: submission with STARTTLS' },
    // Port 0 with target "." says "not offered" (RFC 6186 §4): clients must not fall back to plaintext IMAP.
    { service: '_imap._tcp', port: 0, priority: 0, purpose: 'RFC 6186: IMAP without TLS is not offered' },
    { service: '_imaps._tcp', port: 993, priority: 0, purpose: 'RFC 6186: IMAP over implicit TLS' },
    ...(pop3 ? [{ service: '_pop3s._tcp', port: 995, priority: 10, purpose: 'RFC 6186: POP3 over implicit TLS (less preferred than IMAP)' }] : []),
    // RFC 5804 §1.8 registers _sieve._tcp; clients read it as RFC 6186 reads the mail services (RFC 2782 fields).
    ...(manageSieve ? [{ service: '_sieve._tcp', port: MANAGESIEVE_PORT, priority: 0, purpose: 'RFC 5804: ManageSieve (Sieve filter scripts)' }] : []),
    { service: '_caldavs._tcp', port: 443, priority: 0, purpose: 'RFC 6764: CalDAV over HTTPS' },
    { service: '_carddavs._tcp', port: 443, priority: 0, purpose: 'RFC 6764: CardDAV over HTTPS' },
    { service: '_autodiscover._tcp', port: 443, priority: 0, purpose: 'Outlook autodiscover' },
  ];
}

function fqdn(name: string, what: string): string {
  const n = name.trim().toLowerCase().replace(/\.$/, '');
  const label = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
  if (n.length > 253 || !n.includes('.') || !n.split('.').every((l) => label.test(l))) {
    throw new DnsInputError(`${what} "${name}" is not a fully qualified host name: use a name like mail.example.com`);
  }
  return n;
}

function isUnder(host: string, domain: string): boolean {
  return host === domain || host.endsWith('.' + domain);
}

/** The base64 DER of a public key given as PEM or already as base64. */
export function publicKeyBase64(publicKey: string): string {
  const body = publicKey
    .replace(/-----BEGIN PUBLIC KEY-----/, '')
    .replace(/-----END PUBLIC KEY-----/, '')
    .replace(/\s+/g, '');
  if (publicKey.includes('-----BEGIN') && !publicKey.includes('-----BEGIN PUBLIC KEY-----')) {
    throw new DnsInputError('the DKIM public key must be a PEM "PUBLIC KEY" (SubjectPublicKeyInfo), not a private or RSA PUBLIC KEY block');
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) throw new DnsInputError('the DKIM public key is neither PEM nor base64: pass the PEM from `openssl pkey -pubout`');
  return body;
}

/** The DKIM TXT value for a key (RFC 6376 §3.6.1). */
export function dkimTxt(key: DkimKey): string {
  return `v=DKIM1; k=${key.algorithm ?? 'rsa'}; p=${publicKeyBase64(key.publicKey)}`;
}

const SPF_MECHANISM_RE = /^[+?~-]?(include|a|mx|ip4|ip6|exists)(:[^\s]+)?(\/\d+)?$/i;

/**
 * What is wrong with one extra SPF term, or undefined when it is fine. Only
 * the mechanisms a relay's instructions use (RFC 7208 §5: include, a, mx,
 * ip4, ip6, exists, with an optional qualifier), one term without spaces; no
 * "all" (the record ends with -all itself) and no modifiers (a redirect=
 * would be ignored next to -all). Shared by infra's haven:spfExtra and the
 * node's spfExtra option, so both accept exactly the same values.
 */
export function spfMechanismProblem(term: string): string | undefined {
  return SPF_MECHANISM_RE.test(term) ? undefined : 'an SPF mechanism such as include:spf.relay.example or ip4:192.0.2.0/24 (one term, no "all")';
}

/**
 * The extra terms that name this deployment's own nodes: `a:<name>` for a
 * name under the mail host (infra/standby's `a:<location>.<mail host>`).
 * With a standby the mail host's addresses (Floating IPs) only receive;
 * each node sends from its own address while greeting as the mail host, so
 * these belong in the HELO name's SPF too, unlike a relay's terms.
 */
export function nodeSpfTerms(extra: readonly string[], mailHost: string): string[] {
  const suffix = `.${mailHost.toLowerCase()}`;
  return extra.filter((t) => /^\+?a:/i.test(t) && t.slice(t.indexOf(':') + 1).toLowerCase().replace(/\.$/, '').endsWith(suffix));
}

/** The SPF TXT value authorising exactly the server's addresses (plus any relay). */
export function spfTxt(ipv4: string, ipv6: string, extra: readonly string[] = []): string {
  return ['v=spf1', `ip4:${ipv4}`, `ip6:${ipv6}`, ...extra, '-all'].join(' ');
}

export interface MtaStsPolicyInput {
  mode: MtaStsMode;
  mx: readonly string[];
  maxAgeSeconds: number;
}

/** The policy file served at https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461 §3.2), CRLF lines. */
export function mtaStsPolicy(p: MtaStsPolicyInput): string {
  const lines = ['version: STSv1', `mode: ${p.mode}`, ...p.mx.map((m) => `mx: ${m.toLowerCase()}`), `max_age: ${p.maxAgeSeconds}`];
  return lines.join('\r\n') + '\r\n';
}

/**
 * The policy id (RFC 8461 §3.1: 1–32 alphanumerics) as a hash of the policy
 * text, so the TXT record changes exactly when the policy does and senders
 * refetch it. FNV-1a 64 keeps this module free of node:crypto.
 */
export function mtaStsPolicyId(policy: string): string {
  let h = 0xcbf29ce484222325n;
  const bytes = new TextEncoder().encode(policy);
  for (const b of bytes) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
}

function checkIpv4(ip: string): string {
  const parts = ip.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)) {
    throw new DnsInputError(`"${ip}" is not an IPv4 address: pass the server's public IPv4 like 203.0.113.10`);
  }
  return ip;
}

function checkIpv6(ip: string): string {
  const ok = /^[0-9a-fA-F:]+$/.test(ip) && ip.includes(':') && (ip.match(/::/g) ?? []).length <= 1 && ip.split(':').every((g) => g.length <= 4);
  if (!ok) throw new DnsInputError(`"${ip}" is not an IPv6 address: pass the address the MTA sends from, like 2001:db8::1`);
  return ip.toLowerCase();
}

/** Every record the mail domains need, in a stable order. Throws DnsInputError on bad input. */
export function mailDnsRecords(input: MailDnsInput): DnsRecord[] {
  if (input.domains.length === 0) throw new DnsInputError('no mail domains: configure at least one domain like example.com');
  const mailHost = fqdn(input.mailHost, 'the mail host');
  const webHost = fqdn(input.webHost ?? mailHost, 'the web host');
  const ipv4 = checkIpv4(input.ipv4);
  const ipv6 = checkIpv6(input.ipv6);
  const ttl = input.ttl ?? 3600;
  const dmarcPolicy = input.dmarcPolicy ?? DEFAULT_DMARC_POLICY;
  const dmarcProblem = dmarcPolicyProblem(dmarcPolicy);
  if (dmarcProblem) throw new DnsInputError(`DMARC policy "${dmarcPolicy}" is not ${dmarcProblem}`);
  for (const term of input.spfExtra ?? []) {
    const problem = spfMechanismProblem(term);
    if (problem) throw new DnsInputError(`extra SPF term "${term}" is not ${problem}`);
  }
  const domains = input.domains.map((d) => ({ ...d, name: fqdn(d.name, 'the mail domain') }));
  const seen = new Set<string>();
  for (const d of domains) {
    if (seen.has(d.name)) throw new DnsInputError(`the mail domain ${d.name} is listed twice: list each domain once`);
    seen.add(d.name);
    if (!DKIM_SELECTOR_RE.test(d.dkim.selector)) throw new DnsInputError(`DKIM selector "${d.dkim.selector}" for ${d.name} is not a single DNS label: use letters, digits and hyphens`);
  }
  // The longest matching domain owns the host, so mail.eu.example.com lands in eu.example.com when both are listed.
  const hostZone = [...domains].sort((a, b) => b.name.length - a.name.length).find((d) => isUnder(mailHost, d.name));
  if (!hostZone) {
    throw new DnsInputError(`the mail host ${mailHost} is not under any mail domain (${domains.map((d) => d.name).join(', ')}): use a host like mail.${domains[0].name}`);
  }
  if (domains.some((d) => d.name === mailHost)) throw new DnsInputError(`the mail host ${mailHost} must not be a mail domain itself: use a host like mail.${mailHost}`);

  const out: DnsRecord[] = [
    { type: 'A', name: mailHost, zone: hostZone.name, ttl, content: ipv4, purpose: 'mail host IPv4; the PTR of this address names the mail host' },
    { type: 'AAAA', name: mailHost, zone: hostZone.name, ttl, content: ipv6, purpose: 'mail host IPv6 (the address the MTA sends from); its PTR names the mail host' },
    // Bounces and DSNs go out with an empty MAIL FROM, so receivers check SPF against the HELO name, which is the
    // mail host (RFC 7208 §2.3); without a record there the result is "none". Of spfExtra only the deployment's own
    // nodes (nodeSpfTerms: they greet as the mail host from their own addresses); a relay greets with its own name.
    { type: 'TXT', name: mailHost, zone: hostZone.name, ttl, content: spfTxt(ipv4, ipv6, nodeSpfTerms(input.spfExtra ?? [], mailHost)), purpose: 'SPF for the HELO name: bounces (empty MAIL FROM) are checked against it' },
  ];
  const mode = input.mtaStsMode ?? 'enforce';
  const policy = mtaStsPolicy({ mode, mx: [mailHost], maxAgeSeconds: input.mtaStsMaxAgeSeconds ?? 604800 });
  const policyId = mtaStsPolicyId(policy);
  for (const d of domains) {
    const zone = d.name;
    const report = input.reportAddress?.(d.name) ?? `postmaster@${d.name}`;
    out.push(
      { type: 'MX', name: zone, zone, ttl, content: mailHost, priority: 10, purpose: 'mail for the domain goes to the mail host' },
      { type: 'TXT', name: zone, zone, ttl, content: spfTxt(ipv4, ipv6, input.spfExtra), purpose: 'SPF: only the server (and any relay) sends for the domain' },
      { type: 'TXT', name: `${d.dkim.selector}._domainkey.${zone}`, zone, ttl, content: dkimTxt(d.dkim), purpose: 'DKIM public key the node signs with' },
      { type: 'TXT', name: `_dmarc.${zone}`, zone, ttl, content: `v=DMARC1; p=${dmarcPolicy}; rua=mailto:${report}; adkim=s; aspf=s`, purpose: 'DMARC policy and aggregate reports' },
      { type: 'TXT', name: `_mta-sts.${zone}`, zone, ttl, content: `v=STSv1; id=${policyId}`, purpose: 'MTA-STS: senders must use TLS to the MX; the id changes with the policy' },
      { type: 'CNAME', name: `mta-sts.${zone}`, zone, ttl, content: webHost, purpose: 'MTA-STS policy host (serves /.well-known/mta-sts.txt over HTTPS)' },
      { type: 'TXT', name: `_smtp._tls.${zone}`, zone, ttl, content: `v=TLSRPTv1; rua=mailto:${report}`, purpose: 'TLS-RPT: where senders report TLS failures' },
    );
    for (const s of srvServices(input.pop3, input.manageSieve ?? true)) {
      out.push({ type: 'SRV', name: `${s.service}.${zone}`, zone, ttl, priority: s.priority, weight: s.port === 0 ? 0 : 1, port: s.port, target: s.port === 0 ? '.' : mailHost, purpose: s.purpose });
    }
    out.push(
      { type: 'CNAME', name: `autoconfig.${zone}`, zone, ttl, content: webHost, purpose: 'Thunderbird-style client autoconfiguration' },
      { type: 'CNAME', name: `autodiscover.${zone}`, zone, ttl, content: webHost, purpose: 'Outlook-style client autodiscovery' },
    );
    for (const ca of input.caaIssuers ?? ['letsencrypt.org']) {
      out.push({ type: 'CAA', name: zone, zone, ttl, flags: 0, tag: 'issue', value: ca, purpose: `only ${ca} may issue certificates for the domain` });
    }
  }
  return out;
}

/** The MTA-STS policy text for the same inputs as `mailDnsRecords` (the TXT id is its hash). */
export function mtaStsPolicyFor(input: Pick<MailDnsInput, 'mailHost' | 'mtaStsMode' | 'mtaStsMaxAgeSeconds'>): string {
  return mtaStsPolicy({ mode: input.mtaStsMode ?? 'enforce', mx: [fqdn(input.mailHost, 'the mail host')], maxAgeSeconds: input.mtaStsMaxAgeSeconds ?? 604800 });
}

/** A one-line zone-file-like rendering, for the admin UI, doctor and stack outputs. */
export function formatRecord(r: DnsRecord): string {
  switch (r.type) {
    case 'MX':
      return `${r.name}. ${r.ttl} IN MX ${r.priority} ${r.content}.`;
    case 'SRV':
      return `${r.name}. ${r.ttl} IN SRV ${r.priority} ${r.weight} ${r.port} ${r.target === '.' ? '.' : r.target + '.'}`;
    case 'CAA':
      return `${r.name}. ${r.ttl} IN CAA ${r.flags} ${r.tag} "${r.value}"`;
    case 'TXT':
      return `${r.name}. ${r.ttl} IN TXT "${r.content.replace(/"/g, '\\"')}"`;
    case 'CNAME':
      return `${r.name}. ${r.ttl} IN CNAME ${r.content}.`;
    default:
      return `${r.name}. ${r.ttl} IN ${r.type} ${r.content}`;
  }
}
