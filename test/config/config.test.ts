/**
 * @module test/config/config
 * Loading: defaults, the file, the environment and overrides in that order;
 * every kind of bad input reported with the option, its variable, the value
 * and the expectation; nothing written while loading.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, OPTION_LIST, parseReplicaUrl, parseSmarthostUrl, testConfig, type LoadConfigOptions } from '../../node/config/index.js';
import { DEFAULT_DMARC_POLICY, DMARC_POLICIES } from '../../node/dns/index.js';

const dir = mkdtempSync(join(tmpdir(), 'haven-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(text: string, ext = 'yaml'): string {
  const p = join(dir, `c${n++}.${ext}`);
  writeFileSync(p, text);
  return p;
}

function problems(opts: LoadConfigOptions): string[] {
  try {
    loadConfig(opts);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.message.split('\n')).toHaveLength(e.problems.length);
    return e.message.split('\n');
  }
  throw new Error('expected a ConfigError');
}

describe('defaults', () => {
  it('are a complete local node', () => {
    const c = loadConfig({ env: {}, cwd: '/srv/here' });
    expect(c.dataDir).toBe('/srv/here/data');
    expect(c.hostname).toBe('localhost');
    expect(c.listenAddress).toBe('127.0.0.1');
    expect(c.ports).toEqual({ smtp: 2525, submission: 2587, submissions: 2465, imap: 2143, imaps: 2993, pop3: 2110, pop3s: 2995, managesieve: 4190, http: 8080, https: 8443, admin: 8081 });
    expect(c.keyMode).toBe('zero-access');
    expect(c.replicaUrl).toBe('');
    expect(c.tls).toMatchObject({ certFile: '', keyFile: '', acme: { enabled: false, challenge: 'http-01' } });
    expect(c.limits.maxMessageBytes).toBe(50 * 1024 * 1024);
    expect(c.limits.imapMaxLiteralBytes).toBe(c.limits.maxMessageBytes);
    expect(c.limits).toMatchObject({ maxRecipients: 100, maxConnectionsPerIp: 20, imapMaxLineBytes: 65536, idleTimeoutSeconds: 1800 });
    expect(c.allowPlaintextAuthOnLoopback).toBe(true);
    expect(c.pop3.enabled).toBe(true);
    expect(c.log.level).toBe('info');
  });

  it('are frozen all the way down', () => {
    const c = loadConfig({ env: {} });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.limits)).toBe(true);
    expect(Object.isFrozen(c.tls.acme)).toBe(true);
    expect(Object.isFrozen(c.dnsbl)).toBe(true);
    expect(() => {
      (c.ports as { imap: number }).imap = 1;
    }).toThrow(TypeError);
  });

  it('every option has a help text and a distinct env var', () => {
    const envs = new Set(OPTION_LIST.map((o) => o.env));
    expect(envs.size).toBe(OPTION_LIST.length);
    for (const o of OPTION_LIST) expect(o.opt.help.length, o.path).toBeGreaterThan(10);
    expect(OPTION_LIST.find((o) => o.path === 'dataDir')?.env).toBe('HAVEN_DATA_DIR');
    expect(OPTION_LIST.find((o) => o.path === 'ports.imap')?.env).toBe('HAVEN_PORTS_IMAP');
    expect(OPTION_LIST.find((o) => o.path === 'replicaUrl')?.env).toBe('HAVEN_REPLICA_URL');
    expect(OPTION_LIST.find((o) => o.path === 'tls.acme.directoryUrl')?.env).toBe('HAVEN_TLS_ACME_DIRECTORY_URL');
  });
});

describe('precedence: defaults < file < env < overrides', () => {
  const f = file('hostname: file.example.com\nports:\n  imap: 1143\n  smtp: 25\nlimits:\n  maxRecipients: 7\n');

  it('the file beats defaults', () => {
    const c = loadConfig({ env: {}, file: f });
    expect(c.hostname).toBe('file.example.com');
    expect(c.ports.imap).toBe(1143);
    expect(c.ports.imaps).toBe(2993);
    expect(c.limits.maxRecipients).toBe(7);
  });

  it('the environment beats the file', () => {
    const c = loadConfig({ env: { HAVEN_PORTS_IMAP: '143', HAVEN_HOSTNAME: 'env.example.com' }, file: f });
    expect(c.ports.imap).toBe(143);
    expect(c.hostname).toBe('env.example.com');
    expect(c.ports.smtp).toBe(25);
  });

  it('overrides beat the environment', () => {
    const c = loadConfig({ env: { HAVEN_PORTS_IMAP: '143' }, file: f, overrides: { ports: { imap: 0 } } });
    expect(c.ports.imap).toBe(0);
    expect(c.ports.smtp).toBe(25);
  });

  it('finds the file through --config, --config= and HAVEN_CONFIG', () => {
    expect(loadConfig({ env: {}, argv: ['start', '--config', f] }).hostname).toBe('file.example.com');
    expect(loadConfig({ env: {}, argv: [`--config=${f}`] }).hostname).toBe('file.example.com');
    expect(loadConfig({ env: { HAVEN_CONFIG: f } }).hostname).toBe('file.example.com');
  });

  it('reads JSON as well as YAML', () => {
    const j = file(JSON.stringify({ keyMode: 'managed', pop3: { enabled: false } }), 'json');
    const c = loadConfig({ env: {}, file: j });
    expect(c.keyMode).toBe('managed');
    expect(c.pop3.enabled).toBe(false);
  });

  it('resolves relative paths against the file, or the working directory', () => {
    const sub = join(dir, 'etc');
    rmSync(sub, { recursive: true, force: true });
    const p = join(dir, 'rel.yaml');
    writeFileSync(p, 'dataDir: var/haven\n');
    expect(loadConfig({ env: {}, file: p }).dataDir).toBe(join(dir, 'var/haven'));
    expect(loadConfig({ env: { HAVEN_DATA_DIR: 'x' }, file: p, cwd: '/opt' }).dataDir).toBe('/opt/x');
    expect(loadConfig({ env: { HAVEN_DATA_DIR: '/abs' } }).dataDir).toBe('/abs');
  });

  it('treats an empty YAML key as unset', () => {
    const c = loadConfig({ env: {}, file: file('replicaUrl:\nlimits:\n') });
    expect(c.replicaUrl).toBe('');
  });
});

describe('environment parsing', () => {
  it('parses every type from text', () => {
    const c = loadConfig({
      env: {
        HAVEN_PORTS_SMTP: '0',
        HAVEN_POP3_ENABLED: 'no',
        HAVEN_ALLOW_PLAINTEXT_AUTH_ON_LOOPBACK: 'FALSE',
        HAVEN_TLS_ACME_ENABLED: '1',
        HAVEN_LIMITS_MAX_MESSAGE_BYTES: '25MB',
        HAVEN_LIMITS_IMAP_MAX_LINE_BYTES: '8192',
        HAVEN_LIMITS_IDLE_TIMEOUT_SECONDS: '10m',
        HAVEN_LIMITS_LOCKOUT_SECONDS: '3600',
        HAVEN_DNSBL: 'zen.spamhaus.org, bl.spamcop.net',
        HAVEN_SPAM_JUNK_SCORE: '4.5',
        HAVEN_KEY_MODE: 'managed',
        HAVEN_REPLICA_URL: 's3://bucket/node1?endpoint=https://s3.example.com&region=auto',
        HAVEN_MASTER_KEY: 'ab'.repeat(32),
        HAVEN_UNRELATED: undefined,
        PATH: '/bin',
      },
    });
    expect(c.ports.smtp).toBe(0);
    expect(c.pop3.enabled).toBe(false);
    expect(c.allowPlaintextAuthOnLoopback).toBe(false);
    expect(c.tls.acme.enabled).toBe(true);
    expect(c.limits.maxMessageBytes).toBe(25 * 1024 * 1024);
    expect(c.limits.imapMaxLiteralBytes).toBe(25 * 1024 * 1024);
    expect(c.limits.imapMaxLineBytes).toBe(8192);
    expect(c.limits.idleTimeoutSeconds).toBe(600);
    expect(c.limits.lockoutSeconds).toBe(3600);
    expect(c.dnsbl).toEqual(['zen.spamhaus.org', 'bl.spamcop.net']);
    expect(c.spam.junkScore).toBe(4.5);
    expect(c.keyMode).toBe('managed');
    expect(c.masterKey).toBe('ab'.repeat(32));
  });

  it('an empty list variable empties the list; a JSON array is read as one', () => {
    expect(loadConfig({ env: { HAVEN_DNSBL: '' } }).dnsbl).toEqual([]);
    expect(loadConfig({ env: { HAVEN_DNSBL: '["a.example"]' } }).dnsbl).toEqual(['a.example']);
  });
});

describe('errors', () => {
  it('a bad port names the option, the variable, the value and the expectation', () => {
    const [line] = problems({ env: { HAVEN_PORTS_IMAP: '99999' } });
    expect(line).toBe('ports.imap (HAVEN_PORTS_IMAP): got "99999" from the environment; expected a port number 0-65535 (0 picks a free port)');
    expect(problems({ env: { HAVEN_PORTS_IMAP: 'imap' } })[0]).toContain('got "imap"');
    expect(problems({ env: { HAVEN_PORTS_IMAP: '-1' } })[0]).toContain('ports.imap (HAVEN_PORTS_IMAP)');
    expect(problems({ env: { HAVEN_PORTS_IMAP: '' } })[0]).toContain('got ""');
  });

  it('a bad port in the file names the file', () => {
    const f = file('ports:\n  smtp: 70000\n');
    expect(problems({ env: {}, file: f })).toEqual([`ports.smtp (HAVEN_PORTS_SMTP): got 70000 in ${f}; expected a port number 0-65535 (0 picks a free port)`]);
  });

  it('spfExtra takes SPF mechanisms only, by the rule infra applies to haven:spfExtra', () => {
    expect(loadConfig({ env: { HAVEN_SPF_EXTRA: 'include:spf.relay.example, ip4:192.0.2.0/24' } }).spfExtra).toEqual(['include:spf.relay.example', 'ip4:192.0.2.0/24']);
    expect(loadConfig({ env: {} }).spfExtra).toEqual([]);
    const [line] = problems({ env: { HAVEN_SPF_EXTRA: 'include:spf.relay.example,+all' } });
    expect(line).toMatch(/^spfExtra \(HAVEN_SPF_EXTRA\): got "include:spf\.relay\.example,\+all" from the environment; expected an SPF mechanism such as include:/);
  });

  it('outbound.sourceAddresses takes one IPv4 and one IPv6 literal to bind to (issue 19)', () => {
    expect(loadConfig({ env: {} }).outbound.sourceAddresses).toEqual([]);
    expect(loadConfig({ env: { HAVEN_OUTBOUND_SOURCE_ADDRESSES: '203.0.113.5, 2001:db8::1' } }).outbound.sourceAddresses).toEqual(['203.0.113.5', '2001:db8::1']);
    expect(loadConfig({ env: {}, file: file('outbound:\n  sourceAddresses: [2001:db8::1]\n') }).outbound.sourceAddresses).toEqual(['2001:db8::1']);
    // A name, a wildcard, multicast and link-local cannot be bound as a source.
    for (const [bad, why] of [
      ['mail.example.com', 'an IP address'],
      ['0.0.0.0', 'a specific address, not the wildcard'],
      ['::', 'a specific address, not the wildcard'],
      ['224.0.0.1', 'a unicast address'],
      ['ff02::1', 'a unicast address'],
      ['fe80::1', 'a global IPv6 address'],
    ]) {
      const [line] = problems({ env: { HAVEN_OUTBOUND_SOURCE_ADDRESSES: bad } });
      expect(line).toMatch(new RegExp(`^outbound\\.sourceAddresses \\(HAVEN_OUTBOUND_SOURCE_ADDRESSES\\): got .* from the environment; expected ${why}`));
    }
    // Each target is reached from the one source of its family: two of a family is ambiguous.
    const [line] = problems({ env: { HAVEN_OUTBOUND_SOURCE_ADDRESSES: '203.0.113.5,203.0.113.6' } });
    expect(line).toContain('at most one IPv4 address (found 203.0.113.5, 203.0.113.6)');
  });

  it('dmarcPolicy takes the policies infra accepts for haven:dmarcPolicy, with the same default', () => {
    expect(loadConfig({ env: {} }).dmarcPolicy).toBe(DEFAULT_DMARC_POLICY);
    for (const p of DMARC_POLICIES) expect(loadConfig({ env: { HAVEN_DMARC_POLICY: p } }).dmarcPolicy).toBe(p);
    const [line] = problems({ env: { HAVEN_DMARC_POLICY: 'strict' } });
    expect(line).toBe('dmarcPolicy (HAVEN_DMARC_POLICY): got "strict" from the environment; expected one of none, quarantine, reject');
  });

  it('a bad URL says which forms are accepted', () => {
    const [line] = problems({ env: { HAVEN_REPLICA_URL: 'ftp://x/y' } });
    expect(line).toMatch(/^replicaUrl \(HAVEN_REPLICA_URL\): got "ftp:\/\/x\/y" from the environment; expected s3:\/\/bucket\/prefix/);
    expect(problems({ env: { HAVEN_REPLICA_URL: 'file://relative' } })[0]).toContain('file:///absolute/path');
    expect(problems({ env: { HAVEN_REPLICA_URL: 's3://b/p?endpoint=nope' } })[0]).toContain('endpoint must be an http(s) URL');
    expect(problems({ env: { HAVEN_TLS_ACME_DIRECTORY_URL: 'http://ca.example/dir' } })[0]).toContain('expected an https:// URL');
  });

  it('rspamd is reached by http(s) or a Unix socket with an absolute path', () => {
    expect(loadConfig({ env: { HAVEN_SPAM_RSPAMD_URL: 'unix:/run/rspamd/normal.sock' } }).spam.rspamdUrl).toBe('unix:/run/rspamd/normal.sock');
    expect(loadConfig({ env: { HAVEN_SPAM_RSPAMD_URL: 'http://127.0.0.1:11333' } }).spam.rspamdUrl).toBe('http://127.0.0.1:11333');
    expect(problems({ env: { HAVEN_SPAM_RSPAMD_URL: 'unix:normal.sock' } })[0]).toContain('needs the absolute path of the socket');
    expect(problems({ env: { HAVEN_SPAM_RSPAMD_URL: 'ftp://x' } })[0]).toContain('must start with http:// or https://');
  });

  it('an unknown key in the file is named, with a suggestion', () => {
    const f = file('limits:\n  maxRecipient: 5\nportz:\n  imap: 1\n');
    expect(problems({ env: {}, file: f })).toEqual([
      `unknown option "limits.maxRecipient" in ${f}; did you mean "limits.maxRecipients"? (every option is listed in docs/configuration.md)`,
      `unknown option "portz" in ${f}; did you mean "ports"? (every option is listed in docs/configuration.md)`,
    ]);
  });

  it('an unknown HAVEN_ variable is named, with a suggestion', () => {
    expect(problems({ env: { HAVEN_PORT_IMAP: '1' } })).toEqual(['unknown environment variable HAVEN_PORT_IMAP; did you mean HAVEN_PORTS_IMAP? (unset it; every option is listed in docs/configuration.md)']);
  });

  it('a wrong type in the file is reported per option, all at once', () => {
    const f = file('pop3:\n  enabled: "maybe"\nhostname: 42\nlimits:\n  maxRecipients: [1]\n  maxMessageBytes: 3.5TB\nports: 8080\nlog:\n  level: loud\n');
    const lines = problems({ env: {}, file: f });
    expect(lines).toEqual([
      `ports: got 8080 in ${f}; expected a section with the keys smtp, submission, submissions, imap, imaps, pop3, pop3s, managesieve, http, https, admin`,
      `hostname (HAVEN_HOSTNAME): got 42 in ${f}; expected a DNS hostname like mail.example.com`,
      `limits.maxMessageBytes (HAVEN_LIMITS_MAX_MESSAGE_BYTES): got "3.5TB" in ${f}; expected a size in bytes >= 1024, like 52428800 or "50MB" (K/M/G are 1024-based)`,
      `limits.maxRecipients (HAVEN_LIMITS_MAX_RECIPIENTS): got [1] in ${f}; expected an integer >= 1`,
      `pop3.enabled (HAVEN_POP3_ENABLED): got "maybe" in ${f}; expected true or false (also 1/0, yes/no, on/off)`,
      `log.level (HAVEN_LOG_LEVEL): got "loud" in ${f}; expected one of fatal, error, warn, info, debug, trace, silent`,
    ]);
  });

  it('secrets are never echoed', () => {
    const [line] = problems({ env: { HAVEN_MASTER_KEY: 'not-a-key-but-secret' } });
    expect(line).toBe('masterKey (HAVEN_MASTER_KEY): got (hidden, 20 characters) from the environment; expected 64 hex characters or base64 of 32 bytes (make one with: openssl rand -hex 32)');
    expect(problems({ env: { HAVEN_SMARTHOST: 'http://user:hunter2@relay' } })[0]).not.toContain('hunter2');
  });

  it('rules across options: duplicate ports, half a certificate, both key sources, dns-01 without token', () => {
    const lines = problems({
      env: {
        HAVEN_PORTS_IMAPS: '2143',
        HAVEN_TLS_CERT_FILE: '/etc/haven/cert.pem',
        HAVEN_MASTER_KEY: '00'.repeat(32),
        HAVEN_MASTER_KEY_FILE: '/run/credentials/master-key',
      },
    });
    expect(lines).toEqual([
      'ports.imaps (HAVEN_PORTS_IMAPS): got "2143" from the environment; expected a port not already used by ports.imap',
      'masterKeyFile (HAVEN_MASTER_KEY_FILE): got "/run/credentials/master-key" from the environment; expected masterKey or masterKeyFile, not both: unset one',
      'tls.keyFile (HAVEN_TLS_KEY_FILE): got "" as the default; expected tls.certFile and tls.keyFile set together (or both empty)',
    ]);
    expect(problems({ env: { HAVEN_TLS_ACME_ENABLED: 'true', HAVEN_TLS_ACME_CHALLENGE: 'dns-01' } })[0]).toContain('tls.acme.cloudflareToken (HAVEN_TLS_ACME_CLOUDFLARE_TOKEN)');
    // Port 0 may repeat: each listener gets its own free port.
    expect(loadConfig({ env: { HAVEN_PORTS_IMAP: '0', HAVEN_PORTS_IMAPS: '0' } }).ports.imaps).toBe(0);
  });

  it('a missing or broken file is one clear line', () => {
    const missing = join(dir, 'nope.yaml');
    expect(problems({ env: {}, argv: ['--config', missing] })).toEqual([`config file ${missing} (given by --config) cannot be read (ENOENT); create it or point --config at an existing file`]);
    expect(problems({ env: {}, argv: ['--config'] })).toEqual(['--config needs a path: --config /etc/haven/haven.yaml']);
    expect(problems({ env: {}, file: file('ports: [1\n') })[0]).toMatch(/is not valid YAML or JSON: .*; fix the file and start again$/);
    expect(problems({ env: {}, file: file('- a\n- b\n') })[0]).toContain('must hold a mapping of options');
  });

  it('loading writes nothing', () => {
    const empty = mkdtempSync(join(tmpdir(), 'haven-config-empty-'));
    try {
      const c = loadConfig({ env: { HAVEN_DATA_DIR: join(empty, 'data') } });
      expect(c.dataDir).toBe(join(empty, 'data'));
      expect(readdirSync(empty)).toEqual([]);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('helpers', () => {
  it('testConfig sets every port to 0 and merges overrides by section', () => {
    const c = testConfig('/tmp/x', { limits: { maxRecipients: 3 }, hostname: 'mx.test' });
    expect(Object.values(c.ports).every((p) => p === 0)).toBe(true);
    expect(c.limits.maxRecipients).toBe(3);
    expect(c.limits.maxConnectionsPerIp).toBe(20);
    expect(c.hostname).toBe('mx.test');
  });

  it('parses replica and smarthost URLs', () => {
    expect(parseReplicaUrl('s3://bkt/a/b?endpoint=https://x.r2.cloudflarestorage.com&region=auto')).toEqual({ kind: 's3', bucket: 'bkt', prefix: 'a/b', endpoint: 'https://x.r2.cloudflarestorage.com', region: 'auto', forcePathStyle: true });
    expect(parseReplicaUrl('file:///var/backups/haven')).toEqual({ kind: 'file', path: '/var/backups/haven' });
    expect(parseSmarthostUrl('smtp://me%40x.com:p%3Ass@relay.example.com')).toEqual({ host: 'relay.example.com', port: 587, secure: false, user: 'me@x.com', pass: 'p:ss' });
    expect(parseSmarthostUrl('smtps://relay.example.com').port).toBe(465);
  });
});
