/**
 * @module node/config/schema
 * Every option Haven has, once: name, type, default, help text. The zod
 * schema, the `Config` type, the environment variable names, the docs table
 * and the example file are all derived from `OPTIONS`. The defaults are the
 * local run's: unprivileged ports on 127.0.0.1, a data directory beside the
 * checkout, a self-signed certificate. Production overrides them in a file.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { bool, bytes, checkHostname, checkIp, int, list, num, oneOf, port, seconds, str, parseUrl, type Opt } from './options.js';
import { DEFAULT_DMARC_POLICY, DMARC_POLICIES, spfMechanismProblem } from '../dns/index.js';
import { checkHttpUrl, checkReplicaUrl, checkRspamdUrl, checkSmarthostUrl } from './urls.js';

function checkMasterKey(v: string): string | undefined {
  const t = v.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : /^[A-Za-z0-9+/_-]+={0,2}$/.test(t) ? Buffer.from(t, /[-_]/.test(t) ? 'base64url' : 'base64') : Buffer.alloc(0);
  return key.length === 32 ? undefined : '64 hex characters or base64 of 32 bytes (make one with: openssl rand -hex 32)';
}

/** One literal address to bind to: not a wildcard, multicast or (for IPv6) link-local, which needs a zone. */
function checkSourceAddress(v: string): string | undefined {
  const family = isIP(v);
  if (family === 0) return 'an IP address like 203.0.113.5 or 2001:db8::1';
  const t = v.toLowerCase();
  if (t === '0.0.0.0' || /^[0:]+$/.test(t)) return 'a specific address, not the wildcard (leave the list empty for the kernel\'s choice)';
  if (family === 4 ? Number(t.split('.')[0]) >= 224 : /^ff/.test(t)) return 'a unicast address (not multicast or broadcast)';
  if (family === 6 && /^fe[89ab]/.test(t)) return 'a global IPv6 address (a link-local one needs an interface zone)';
  return undefined;
}

function checkHttpsUrl(v: string): string | undefined {
  return parseUrl(v)?.protocol === 'https:' ? undefined : 'an https:// URL';
}

function checkEmail(v: string): string | undefined {
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v) ? undefined : 'an email address like postmaster@example.com';
}

export const OPTIONS = {
  dataDir: str('./data', {
    isPath: true,
    allowEmpty: false,
    expect: 'a directory path',
    help: 'Where the encrypted databases, the spool and (locally) the generated certificate and keys live. Relative paths resolve against the config file\'s directory, or the working directory when set by default or environment.',
  }),
  hostname: str('localhost', {
    check: checkHostname,
    allowEmpty: false,
    expect: 'a DNS hostname like mail.example.com',
    help: 'The node\'s public mail hostname: SMTP greeting, HELO for outbound mail, certificate name.',
  }),
  listenAddress: str('127.0.0.1', {
    check: checkIp,
    allowEmpty: false,
    expect: 'an IP address like 127.0.0.1, 0.0.0.0 or ::',
    help: 'Address every listener binds to. 127.0.0.1 keeps a local run private; use :: (or 0.0.0.0) on a server.',
  }),
  ports: {
    smtp: port(2525, { help: 'Inbound MX (SMTP, STARTTLS offered). 25 in production.' }),
    submission: port(2587, { help: 'Message submission with STARTTLS required before AUTH. 587 in production.' }),
    submissions: port(2465, { help: 'Message submission over implicit TLS. 465 in production.' }),
    imap: port(2143, { help: 'IMAP with STARTTLS. 143 in production.' }),
    imaps: port(2993, { help: 'IMAP over implicit TLS. 993 in production.' }),
    pop3: port(2110, { help: 'POP3 with STLS (only when pop3.enabled). 110 in production.' }),
    pop3s: port(2995, { help: 'POP3 over implicit TLS (only when pop3.enabled). 995 in production.' }),
    managesieve: port(4190, { help: 'ManageSieve (RFC 5804, STARTTLS) where mail clients manage their Sieve filters. 4190 in production too.' }),
    http: port(8080, { help: 'Plain HTTP: ACME http-01 challenges and redirects to HTTPS. 80 in production.' }),
    https: port(8443, { help: 'HTTPS: CalDAV, CardDAV, autoconfig, the admin API, health. 443 in production.' }),
    admin: port(8081, { help: 'The admin UI (the edge app served from Node) on a local run; on Cloudflare the Worker serves it instead.' }),
  },
  keyMode: oneOf(['zero-access', 'managed'] as const, 'zero-access', {
    help: 'zero-access: a mailbox opens only with its owner\'s password, app password or recovery key; mail for a locked mailbox is sealed to it. managed: the master key also wraps mailbox keys, so the server can open any mailbox (server-side search and filtering while logged out, admin password resets).',
  }),
  masterKey: str('', {
    secret: true,
    check: checkMasterKey,
    expect: '64 hex characters or base64 of 32 bytes',
    help: 'The master key (encrypts the directory and the spool) as 64 hex characters or base64. Prefer masterKeyFile. When both are empty a local run generates one into the data directory, with a warning.',
  }),
  masterKeyFile: str('', {
    isPath: true,
    expect: 'a file path',
    help: 'File holding the master key (e.g. a systemd credential), kept outside the data directory so a copy of the data alone is useless.',
  }),
  replicaUrl: str('', {
    check: checkReplicaUrl,
    type: 'url',
    expect: 's3://bucket/prefix?endpoint=…&region=… or file:///path',
    help: 'Off-site replica: s3://bucket/prefix?endpoint=https://…&region=… for any S3-compatible store (credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), or file:///absolute/path. Empty turns replication off.',
  }),
  role: oneOf(['primary', 'standby'] as const, 'primary', {
    help: 'primary: serves mail and is the only node that writes the replica (it takes an epoch in the replica at start). standby: restores from replicaUrl and follows it, serving no mail and taking no writes, until `haven promote` (or the edge) makes it the primary. A primary that finds a newer epoch in the replica stops acknowledging and must be restarted as a standby.',
  }),
  failover: {
    fenceCheckMs: int(1000, { min: 50, help: 'How often the primary looks in the replica for a newer epoch (a promoted standby); it stops acknowledging writes within about this long of a promotion.' }),
    fenceLeaseMs: int(0, {
      min: 0,
      help: 'With a standby (both nodes; the Pulumi program sets 3000): the primary acknowledges a write only while its last look at the replica that found no newer epoch began at most this long ago, so after a promotion it acknowledges nothing for longer than this, even cut off from the replica; a standby taking over waits this long before applying the last objects. The price: with the replica unreachable for longer, writes get temporary errors (SMTP 451) until it answers. 0: no lease, for a single node, whose mail must not stop when the replica does (a primary then acknowledges until it sees a newer epoch).',
    }),
    followMs: int(1000, { min: 50, help: 'How often a standby lists the replica for new objects to apply.' }),
    hetznerToken: str('', {
      secret: true,
      expect: 'a Hetzner Cloud API token',
      help: 'Hetzner Cloud API token allowed to assign the Floating IPs (its own project, read/write): after a promotion the node moves failover.floatingIps to itself. Empty: the addresses are not moved (move them by hand or with DNS).',
    }),
    floatingIps: list([], { item: 'Hetzner Floating IP ids', check: (v) => (/^\d+$/.test(v) ? undefined : 'a numeric Floating IP id'), help: 'Ids of the mail host\'s Floating IPs (IPv4 and IPv6) that move to this node when it is promoted.' }),
    nodeHost: str('', {
      check: checkHostname,
      expect: 'a DNS hostname like fsn1.mail.example.com',
      help: 'This node\'s own name (<location>.<hostname>, which the infra points at this server\'s own addresses). With tls.acme.enabled a standby gets a certificate for it and serves it on its HTTPS listener, where the edge calls it (STANDBY_URL); empty: the standby serves the node\'s certificate.',
    }),
    hetznerServerId: str('', { expect: 'a numeric Hetzner server id', check: (v) => (/^\d+$/.test(v) ? undefined : 'a numeric server id'), help: 'This server\'s Hetzner id; empty reads it from the metadata service (169.254.169.254).' }),
    witness: {
      host: str('', {
        check: (v) => (checkIp(v) === undefined ? undefined : checkHostname(v)),
        expect: 'the primary\'s own DNS name or IP address',
        help: 'On a standby: the primary\'s own address (its own name or IP, not the Floating IPs). The standby checks it every failover.witness.intervalMs from its own datacentre and refuses the edge\'s automatic promotion (HTTP 409) while the primary answers there, or until it has seen the primary fail for failover.witness.agreementMs. Empty: no witness; the standby takes the edge\'s word, as one vantage point. `haven promote` is never subject to it.',
      }),
      healthUrl: str('', { check: checkHttpUrl, type: 'url', expect: 'an http:// or https:// URL', defaultDoc: 'https://<failover.witness.host>/health', help: 'The primary\'s /health as the standby fetches it (certificate not verified: the witness asks whether the primary answers, not who it is).' }),
      smtpPort: int(25, { min: 0, max: 65535, help: 'The primary\'s SMTP port the witness expects a 220 greeting on; 0 skips this check.' }),
      imapsPort: int(993, { min: 0, max: 65535, help: 'The primary\'s IMAPS port the witness expects a TLS handshake and `* OK` greeting on; 0 skips this check.' }),
      intervalMs: int(10_000, { min: 100, help: 'How often the standby checks the primary.' }),
      timeoutMs: int(5_000, { min: 100, help: 'How long each check waits for an answer.' }),
      agreementMs: int(120_000, { min: 0, help: 'How long the standby must itself have seen every check fail before it agrees to the edge\'s automatic promotion.' }),
    },
  },
  tls: {
    certFile: str('', {
      isPath: true,
      expect: 'a PEM certificate chain file path',
      help: 'PEM certificate chain. Empty: ACME when tls.acme.enabled, otherwise a self-signed certificate made in <dataDir>/tls on first run. Watched: a replaced file is picked up without a restart.',
    }),
    keyFile: str('', {
      isPath: true,
      expect: 'a PEM private key file path',
      help: 'PEM private key for tls.certFile.',
    }),
    acme: {
      enabled: bool(false, { help: 'Obtain and renew the certificate from an ACME CA (Let\'s Encrypt by default).' }),
      directoryUrl: str('https://acme-v02.api.letsencrypt.org/directory', {
        check: checkHttpsUrl,
        allowEmpty: false,
        type: 'url',
        expect: 'an https:// ACME directory URL',
        help: 'ACME directory. Let\'s Encrypt staging: https://acme-staging-v02.api.letsencrypt.org/directory.',
      }),
      email: str('', {
        check: checkEmail,
        expect: 'an email address',
        help: 'Contact address for the ACME account (expiry warnings). Empty registers without one.',
      }),
      challenge: oneOf(['http-01', 'dns-01'] as const, 'http-01', {
        help: 'http-01 needs ports.http reachable as port 80 from the internet; dns-01 uses the Cloudflare API (tls.acme.cloudflareToken).',
      }),
      cloudflareToken: str('', {
        secret: true,
        expect: 'a Cloudflare API token',
        help: 'Cloudflare API token with Zone.DNS edit rights, for dns-01.',
      }),
      renewDaysBefore: int(30, { min: 1, max: 89, help: 'Renew when the certificate expires within this many days.' }),
    },
  },
  smarthost: str('', {
    secret: true,
    check: checkSmarthostUrl,
    type: 'url',
    expect: 'smtp://user:password@host:587 or smtps://user:password@host:465',
    help: 'Relay all outbound mail through this host (many providers block outbound port 25): smtp://user:password@host:587 (STARTTLS) or smtps://…:465. Empty delivers directly to each domain\'s MX.',
  }),
  outbound: {
    sourceAddresses: list([], {
      item: 'IP addresses',
      check: checkSourceAddress,
      help: 'Addresses outbound SMTP connections leave from: at most one IPv4 and one IPv6, each used for targets of its own family (a target of a family not listed gets the kernel\'s default source). Set them to the addresses whose PTR, A/AAAA and SPF name the mail host (with haven:standby the Pulumi program sets the Floating IPs). On a node that is promoted from standby they are used only once the Floating IPs have moved to it. An address this machine does not have is skipped for that attempt (logged once, counted in haven_outbound_source_fallbacks_total), never holding mail back. Empty: the kernel picks the source.',
    }),
  },
  spfExtra: list([], {
    item: 'SPF mechanisms',
    check: spfMechanismProblem,
    help: 'SPF mechanisms each domain\'s SPF record lists before -all, such as the smarthost\'s include:spf.relay.example. The node publishes no DNS itself: this is what the admin API\'s DNS list and haven doctor expect. The Pulumi program sets it from haven:spfExtra, the terms it publishes.',
  }),
  dmarcPolicy: oneOf(DMARC_POLICIES, DEFAULT_DMARC_POLICY, {
    help: 'The DMARC policy (p=) each domain\'s _dmarc record publishes. The node publishes no DNS itself: this is what the admin API\'s DNS list, haven doctor and haven setup expect, and doctor fails a published policy weaker than this. The Pulumi program sets it from haven:dmarcPolicy, the policy it publishes.',
  }),
  limits: {
    maxMessageBytes: bytes(50 * 1024 * 1024, { min: 1024, help: 'Largest message accepted (SMTP SIZE, IMAP APPEND).' }),
    maxRecipients: int(100, { min: 1, help: 'Recipients per message (RCPT TO per transaction).' }),
    maxConnectionsPerIp: int(20, { min: 1, help: 'Concurrent connections from one IP address per protocol; more are refused.' }),
    imapMaxLineBytes: bytes(64 * 1024, { min: 1024, help: 'Longest IMAP command line, literals excluded.' }),
    imapMaxLiteralBytes: bytes(0, { min: 0, defaultDoc: 'limits.maxMessageBytes', help: 'Largest IMAP literal. 0 means the same as limits.maxMessageBytes.' }),
    imapLiteralMinus: bool(false, {
      help: 'Advertise LITERAL- instead of LITERAL+ (RFC 7888): clients send literals over 4096 bytes synchronizing, so an APPEND over the limit is refused before its bytes cross the network. For a node on a slow or metered link.',
    }),
    idleTimeoutSeconds: seconds(30 * 60, { min: 1, help: 'Close a connection idle this long (IMAP IDLE included: clients re-issue IDLE within 29 minutes).' }),
    authFailuresBeforeLockout: int(10, { min: 1, help: 'Failed logins from one IP (or for one account) before it is locked out.' }),
    lockoutSeconds: seconds(15 * 60, { min: 1, help: 'How long a lockout lasts.' }),
    messagesPerHourPerAccount: int(500, { min: 1, help: 'Messages an account may submit per hour; more get a temporary 451 so a stolen password cannot spray spam.' }),
    preLoginMaxBytes: bytes(8 * 1024, {
      min: 1024,
      help: 'Longest IMAP or ManageSieve line, literal or request before login succeeds (a LOGIN or AUTHENTICATE fits in a few KB): IMAP refuses a bigger literal with NO [TOOBIG] before it is sent, and closes the connection with BYE on a longer line or unasked literal; ManageSieve skips a bigger literal unread and answers NO.',
    }),
    memoryBudgetBytes: bytes(256 * 1024 * 1024, {
      min: 1024 * 1024,
      help: 'Client input held in memory at once, all connections together (IMAP literals, SMTP DATA). Past it new work gets a temporary error (IMAP NO [UNAVAILABLE], SMTP 452 4.3.1) and clients retry later.',
    }),
    memoryHighWaterBytes: bytes(0, {
      min: 0,
      defaultDoc: '80% of the memory limit',
      help: 'Resident memory past which new work is refused the same way. 0 means 80% of the memory the process may use (its cgroup limit, such as systemd MemoryMax=, or the machine\'s).',
    }),
    unknownRecipientsBeforeTarpit: int(3, {
      min: 1,
      help: 'Unknown-recipient replies (550 5.1.1) one IP address, or one logged-in account, gets within limits.unknownRecipientWindowSeconds before each further one is delayed (a growing tarpit against address harvesting).',
    }),
    unknownRecipientsBeforeDisconnect: int(10, {
      min: 1,
      help: 'Unknown-recipient replies within the window after which the client gets 421 4.7.0 and is disconnected; further connections from that IP (or logins of that account) meet the same until the window passes.',
    }),
    unknownRecipientWindowSeconds: seconds(10 * 60, { min: 1, help: 'The window the unknown-recipient counts cover.' }),
    maxEventLoopLagMs: int(1000, {
      min: 10,
      help: 'Event loop lag (ms) past which /health reports the node unhealthy, for 30 seconds after the stall: every session waited that long.',
    }),
  },
  memory: {
    maxOpenMailboxes: int(200, { min: 1, help: 'Most mailbox databases kept open at once; past it the least recently used unused ones close (in zero-access mode the next login derives the key again).' }),
    mailboxCacheBytes: bytes(1024 * 1024, { min: 64 * 1024, help: 'Decrypted-page cache of each open mailbox database (SQLite cache_size). Pages outside it are read again from the OS cache and decrypted (a few µs each).' }),
    trimIdleSeconds: seconds(30, { min: 1, help: 'An open mailbox nobody has used this long gives back its page cache and flag indexes (it stays open and unlocked until the idle close).' }),
    davResponseCacheBytes: bytes(4 * 1024 * 1024, {
      min: 0,
      help: 'Rendered CalDAV/CardDAV REPORT responses (each object\'s <response> with its data) each open mailbox keeps, so a calendar app\'s repeated multiget or full calendar-query copies text instead of building it. Dropped with the page cache after trimIdleSeconds unused and when the mailbox closes; 0 turns it off.',
    }),
    davResponseCacheTotalBytes: bytes(32 * 1024 * 1024, {
      min: 0,
      help: 'What the rendered DAV responses of all open mailboxes hold together (each mailbox also keeps within davResponseCacheBytes); past it nothing more is kept until a mailbox trims or closes.',
    }),
  },
  search: {
    indexBatch: int(64, {
      min: 1,
      max: 100_000,
      help: 'New mail\'s full-text index rows are written after delivery, many messages to a transaction (FTS5 writes an index segment at every commit, so one message per transaction cost several times its share of a batch); the indexer runs once this many messages wait. Until then SEARCH reads the waiting messages themselves, so answers are the same.',
    }),
    indexDelayMs: int(250, {
      min: 0,
      max: 3_600_000,
      help: 'Longest new mail waits for the full-text indexer when fewer than indexBatch messages are waiting (ms).',
    }),
  },
  earlyTalker: {
    pauseMs: int(100, {
      min: 0,
      max: 30_000,
      help: 'The MX holds a client it has not seen behave this many milliseconds before its 220 greeting; a client that talks first (RFC 5321 §4.3.1) is refused with 421. 0 turns the check off. Submission ports never pause.',
    }),
    rememberSeconds: seconds(24 * 3600, {
      min: 0,
      help: 'How long a client address that waited the whole pause is greeted at once (Postfix postscreen\'s pregreet TTL). 0 pauses every connection.',
    }),
    maxRemembered: int(10_000, { min: 0, help: 'Most client addresses remembered as polite (about 100 bytes each); past it the oldest are forgotten and pause again.' }),
    pauseLoopback: bool(false, { help: 'Pause loopback clients too (local tools normally skip it; a benchmark standing in for remote senders turns it on).' }),
  },
  allowPlaintextAuthOnLoopback: bool(true, {
    help: 'Allow AUTH/LOGIN without TLS from 127.0.0.1 and ::1 (local clients and tests). Elsewhere TLS is always required first.',
  }),
  pop3: {
    enabled: bool(true, { help: 'Serve POP3 on ports.pop3 and ports.pop3s.' }),
  },
  log: {
    level: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info', {
      help: 'Log level. trace adds protocol transcripts (AUTH and bodies redacted).',
    }),
  },
  admin: {
    secret: str('', {
      secret: true,
      expect: 'a random string of at least 32 characters',
      check: (v) => (v.length >= 32 ? undefined : 'at least 32 characters (make one with: openssl rand -hex 32)'),
      defaultDoc: 'generated',
      help: 'Shared secret the edge signs admin API requests with (HMAC). Empty on a local run: one is generated into the data directory.',
    }),
  },
  dnsbl: list(['zen.spamhaus.org'], {
    item: 'DNS blocklist zones',
    check: checkHostname,
    help: 'DNS blocklists checked for each connecting IP. Spamhaus refuses queries sent through public resolvers: run a local resolver or empty this list.',
  }),
  trustedArcSealers: list([], {
    item: 'ARC sealer domains',
    check: checkHostname,
    help: 'Domains whose ARC seal is trusted to vouch for mail they forwarded (mailing lists such as lists.example.org): when their seal passes and they saw the message authenticate, a DMARC reject is overridden and the mail is delivered. Empty trusts nobody.',
  }),
  spam: {
    junkScore: num(5, { min: 0, help: 'Spam score at or above which a message is delivered to Junk.' }),
    rejectScore: num(15, { min: 0, help: 'Spam score at or above which a message is refused at SMTP time (550 5.7.1).' }),
    rspamdUrl: str('', {
      check: checkRspamdUrl,
      type: 'url',
      expect: 'an http:// or https:// URL such as http://127.0.0.1:11333, or unix:/run/rspamd/normal.sock',
      help: "rspamd's normal worker (HTTP protocol, /checkv2), or its Unix socket as unix:/path. When set, every inbound message is scored by rspamd too: its score is added to Haven's own for SPF, DKIM and DMARC (rspamd is set up not to repeat those checks) and replaces Haven's DNS blocklist checks, which, with the rest of Haven's own score, remain the fallback while rspamd does not answer. Empty: Haven's own score only.",
    }),
    rspamdControllerUrl: str('', {
      check: checkHttpUrl,
      type: 'url',
      expect: 'an http:// or https:// URL such as http://127.0.0.1:11334',
      help: "rspamd's controller, which learns spam and ham when users move mail into and out of Junk. Empty: spam.rspamdUrl's host on port 11334.",
    }),
    rspamdPassword: str('', {
      secret: true,
      help: "The controller's password (its `password`/`enable_password`); empty when the controller trusts loopback (rspamd's default secure_ip).",
    }),
    rspamdTimeoutSeconds: seconds(5, { min: 1, help: 'How long a check may take before the message is scored without rspamd.' }),
  },
} as const;

// ---- derived: type, zod schema, flattened list -----------------------------

type Tree = { readonly [k: string]: Opt<unknown> | Tree };
type ValuesOf<T> = { readonly [K in keyof T]: T[K] extends Opt<infer V> ? V : ValuesOf<T[K]> };

/** The loaded, validated, frozen configuration. */
export type Config = ValuesOf<typeof OPTIONS>;

export interface OptionInfo {
  /** Dotted path as written in the file: "limits.maxMessageBytes". */
  readonly path: string;
  readonly keys: readonly string[];
  /** "HAVEN_LIMITS_MAX_MESSAGE_BYTES". */
  readonly env: string;
  readonly opt: Opt<unknown>;
}

export function isOpt(v: unknown): v is Opt<unknown> {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'opt';
}

export function envName(keys: readonly string[]): string {
  return 'HAVEN_' + keys.map((k) => k.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');
}

function flatten(tree: Tree, prefix: readonly string[], out: OptionInfo[]): OptionInfo[] {
  for (const [k, v] of Object.entries(tree)) {
    const keys = [...prefix, k];
    if (isOpt(v)) out.push({ path: keys.join('.'), keys, env: envName(keys), opt: v });
    else flatten(v, keys, out);
  }
  return out;
}

/** Every option in declaration order. */
export const OPTION_LIST: readonly OptionInfo[] = Object.freeze(flatten(OPTIONS, [], []));

function buildSchema(tree: Tree): z.ZodType {
  const shape: Record<string, z.ZodType> = {};
  for (const [k, v] of Object.entries(tree)) {
    shape[k] = isOpt(v) ? v.schema.describe(v.help) : buildSchema(v);
  }
  return z.strictObject(shape);
}

const ALL_PORTS = Object.keys(OPTIONS.ports) as (keyof typeof OPTIONS.ports)[];

/**
 * The one schema: each leaf is the option's own zod schema described by its
 * help text; the refinement holds the rules that span options.
 */
export const configSchema = (buildSchema(OPTIONS) as z.ZodType<Config>).superRefine((c, ctx) => {
  const seen = new Map<number, string>();
  for (const name of ALL_PORTS) {
    if (name.startsWith('pop3') && !c.pop3.enabled) continue;
    const p = c.ports[name];
    if (p === 0) continue;
    const other = seen.get(p);
    if (other) ctx.addIssue({ code: 'custom', path: ['ports', name], message: `a port not already used by ports.${other}` });
    else seen.set(p, name);
  }
  if (c.masterKey && c.masterKeyFile) {
    ctx.addIssue({ code: 'custom', path: ['masterKeyFile'], message: 'masterKey or masterKeyFile, not both: unset one' });
  }
  if ((c.tls.certFile === '') !== (c.tls.keyFile === '')) {
    ctx.addIssue({ code: 'custom', path: ['tls', c.tls.certFile ? 'keyFile' : 'certFile'], message: 'tls.certFile and tls.keyFile set together (or both empty)' });
  }
  if (c.tls.acme.enabled && c.tls.certFile) {
    ctx.addIssue({ code: 'custom', path: ['tls', 'acme', 'enabled'], message: 'tls.acme.enabled or tls.certFile, not both: ACME manages its own certificate' });
  }
  if (c.tls.acme.enabled && c.tls.acme.challenge === 'dns-01' && !c.tls.acme.cloudflareToken) {
    ctx.addIssue({ code: 'custom', path: ['tls', 'acme', 'cloudflareToken'], message: 'a Cloudflare API token, required by the dns-01 challenge' });
  }
  for (const family of [4, 6] as const) {
    const same = c.outbound.sourceAddresses.filter((a) => isIP(a) === family);
    if (same.length > 1) ctx.addIssue({ code: 'custom', path: ['outbound', 'sourceAddresses'], message: `at most one IPv${family} address (found ${same.join(', ')}): each target is reached from the one address of its family` });
  }
  if (c.spam.rejectScore < c.spam.junkScore) {
    ctx.addIssue({ code: 'custom', path: ['spam', 'rejectScore'], message: `a score >= spam.junkScore (${c.spam.junkScore})` });
  }
});
