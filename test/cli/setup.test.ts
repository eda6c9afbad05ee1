/**
 * @module test/cli/setup
 * `haven setup` driven through piped standard input: every menu item runs
 * its plain subcommand (init, certs renew, backup + replicate status,
 * upgrade timer, restore) with real effects on a temporary config, data
 * directory and file replica; end of input ends the menu; a failing item
 * makes the exit status 1. The real binary runs the menu too, and renews
 * an ACME certificate from Pebble through it.
 */
import { X509Certificate } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { memoryIo, runCli } from '../../node/cli/index.js';
import { Store } from '../../node/store/index.js';
import { startPebble } from '../tls/pebble.js';
import { runHavenBinary } from './helpers.js';
import { freePort } from '../helpers/ports.js';

const root = mkdtempSync(join(tmpdir(), 'haven-setup-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function setup(dir: string, stdin: string) {
  const io = memoryIo({ stdin, env: {}, cwd: dir, interactive: false });
  const code = await runCli(['setup', '--config', join(dir, 'haven.yaml')], io);
  return { code, out: io.stdout, err: io.stderr };
}

describe('haven setup, answers piped on standard input', () => {
  it('runs each item as its plain subcommand', async () => {
    const dir = join(root, 'menu');
    const answers = [
      '6', // help
      '1', 'mail.example.test', '', join(dir, 'data'), 'n', `file://${join(dir, 'replica')}`, // initial setup
      '4', // certificate renewal
      '2', // backups
      '3', 'haven@1.2.3', join(dir, 'units'), // automatic upgrades
      '5', '', join(dir, 'restored'), 'restore', // restore
      '9',
      'q',
    ];
    const r = await setup(root, answers.join('\n') + '\n');
    expect(r.code).toBe(0);
    const out = r.out.join('\n');

    // 6: help names the plain commands.
    expect(out).toMatch(/  4\) Certificate renewal +haven certs renew \[--force\]/);
    // 1: init with what was answered; the config, the master key (0600, outside the data dir), the domain.
    expect(r.out).toContain(`$ haven init --hostname mail.example.test --domain example.test --data-dir ${join(dir, 'data')} --self-signed --replica-url file://${join(dir, 'replica')}`);
    expect(r.out).toContain(`wrote ${join(root, 'haven.yaml')}`);
    expect(r.out).toContain('added the mail domain example.test');
    const cfg = parse(readFileSync(join(root, 'haven.yaml'), 'utf8'));
    expect(cfg).toMatchObject({ hostname: 'mail.example.test', dataDir: join(dir, 'data'), masterKeyFile: join(root, 'master.key'), replicaUrl: `file://${join(dir, 'replica')}`, listenAddress: '::', tls: { acme: { enabled: false } }, ports: { smtp: 25, https: 443 } });
    expect(statSync(join(root, 'master.key')).mode & 0o777).toBe(0o600);
    const store = Store.open({ dataDir: join(dir, 'data'), masterKey: Buffer.from(readFileSync(join(root, 'master.key'), 'utf8').trim(), 'hex') });
    expect(store.directory.getDomain('example.test')).toBeTruthy();
    expect(store.directory.dkimKeys('example.test')).toHaveLength(1);
    store.close();
    // 4: certs renew made the self-signed certificate for the host.
    expect(r.out).toContain('$ haven certs renew');
    const cert = new X509Certificate(readFileSync(join(dir, 'data', 'tls', 'cert.pem')));
    expect(cert.checkHost('mail.example.test')).toBe('mail.example.test');
    expect(out).toMatch(/made a new self-signed certificate for .*mail\.example\.test/);
    // 2: backup to the file replica, then its status.
    expect(r.out).toContain('$ haven backup');
    expect(out).toMatch(/backup complete: \d+ database snapshot\(s\) taken from the stopped data directory/);
    expect(r.out).toContain('$ haven replicate status');
    // 3: the upgrade timer's units.
    expect(r.out).toContain(`$ haven upgrade timer haven@1.2.3 --dir ${join(dir, 'units')}`);
    expect(readFileSync(join(dir, 'units', 'haven-upgrade.service'), 'utf8')).toContain('haven@1.2.3');
    expect(existsSync(join(dir, 'units', 'haven-upgrade.timer'))).toBe(true);
    // 5: restored from the replica into another directory, checked.
    expect(r.out).toContain(`$ haven restore --to ${join(dir, 'restored')}`);
    expect(existsSync(join(dir, 'restored', 'directory.sqlite'))).toBe(true);
    expect(out).toMatch(/restored \d+ database\(s\)/);
    // Anything else: say so and ask again.
    expect(r.out).toContain('"9" is not on the menu: choose 1-6, or q to quit');
    // The questions and the answers read are on stderr, in order.
    expect(r.err.filter((l) => l.startsWith('Choose: ')).map((l) => l.slice(8))).toEqual(['6', '1', '4', '2', '3', '5', '9', 'q']);
  }, 60_000);

  it('ends at the end of input; a failed item makes the exit status 1; a wrong confirmation restores nothing', async () => {
    const dir = join(root, 'eof');
    mkdirSync(dir);
    const none = await setup(dir, '4\n');
    expect(none.out).toContain(`there is no config at ${join(dir, 'haven.yaml')} yet: choose 1) Initial setup first, or pass --config <path>`);
    writeFileSync(join(dir, 'haven.yaml'), `dataDir: ${join(dir, 'data')}\n`);
    const r = await setup(dir, ['5', '', '', 'no', '2', ''].join('\n'));
    expect(r.out).toContain('nothing restored');
    expect(r.code).toBe(0);
    const failing = await setup(dir, ['5', '', join(dir, 'x'), 'restore'].join('\n'));
    expect(failing.out).toContain('(exit status 1)');
    expect(failing.err).toContain('haven: no replica configured: set replicaUrl (HAVEN_REPLICA_URL) or pass --from <url>');
    expect(failing.code).toBe(1);
  });
});

describe('haven setup as root (as the tests run here) with a service user\'s data', () => {
  it('runs each item in its own process, so dropping to the data owner in one item does not cost the next its root', async () => {
    const dir = join(root, 'owned');
    mkdirSync(join(dir, 'data'), { recursive: true });
    mkdirSync(join(dir, 'units'), { mode: 0o755 });
    chmodSync(root, 0o755);
    chmodSync(dir, 0o755);
    chownSync(join(dir, 'data'), 65534, 65534);
    writeFileSync(join(dir, 'haven.yaml'), `dataDir: ${join(dir, 'data')}\nhostname: mail.owned.test\n`);
    const r = await setup(dir, ['4', '3', 'haven@2.0.0', join(dir, 'units'), 'q'].join('\n'));
    expect(r.err.filter((l) => l.startsWith('haven:'))).toEqual([]);
    expect(r.code).toBe(0);
    // certs renew ran as the data owner: the certificate is the node user's.
    expect(statSync(join(dir, 'data', 'tls', 'cert.pem')).uid).toBe(65534);
    expect(r.out.join('\n')).toMatch(/made a new self-signed certificate for .*mail\.owned\.test/);
    // and the menu was still root for the next item (units in a root-only directory).
    expect(statSync(join(dir, 'units', 'haven-upgrade.timer')).uid).toBe(0);
    expect(process.getuid!()).toBe(0);
  }, 60_000);
});

describe('haven init', () => {
  it('keeps what the config file already says (comments too), is safe to run again, prints the records to publish', async () => {
    const dir = join(root, 'init');
    mkdirSync(dir);
    const file = join(dir, 'haven.yaml');
    writeFileSync(file, `# my node\ndataDir: ${join(dir, 'data')}\nlimits:\n  maxRecipients: 42 # keep this\n`);
    const argv = ['init', '--config', file, '--hostname', 'mail.init.test', '--domain', 'init.test', '--acme-email', 'me@init.test', '--challenge', 'dns-01', '--cloudflare-token', 'cf-token', '--ipv4', '203.0.113.7', '--ipv6', '2001:db8:7::1'];
    const io = memoryIo({ env: {}, cwd: dir });
    expect(await runCli(argv, io)).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^# my node\n/);
    expect(text).toContain('maxRecipients: 42 # keep this');
    expect(parse(text)).toMatchObject({ hostname: 'mail.init.test', dataDir: join(dir, 'data'), tls: { acme: { enabled: true, challenge: 'dns-01', email: 'me@init.test', cloudflareToken: 'cf-token' } } });
    const out = io.stdout.join('\n');
    expect(out).toContain('  mail.init.test. 3600 IN A 203.0.113.7');
    expect(out).toContain('  init.test. 3600 IN MX 10 mail.init.test.');
    expect(out).toMatch(/  [a-z0-9-]+\._domainkey\.init\.test\. 3600 IN TXT "v=DKIM1; k=rsa; p=MII/);
    expect(out).toContain('and set the reverse DNS (PTR) of 203.0.113.7 and 2001:db8:7::1 to mail.init.test at your hosting provider');
    const key = readFileSync(join(dir, 'master.key'), 'utf8');

    const again = memoryIo({ env: {}, cwd: dir });
    expect(await runCli(argv, again)).toBe(0);
    expect(readFileSync(join(dir, 'master.key'), 'utf8')).toBe(key);
    expect(again.stdout).not.toContain('added the mail domain init.test');
    expect(again.stdout.join('\n')).not.toContain('master key:');

    const missing = memoryIo({ env: {}, cwd: dir });
    expect(await runCli(['init', '--config', file, '--hostname', 'mail.init.test', '--domain', 'init.test', '--challenge', 'dns-02'], missing)).toBe(2);
    expect(missing.stderr).toEqual(['haven: --challenge is http-01 or dns-01, not "dns-02"']);
  });
});

describe('bin/haven.js setup', () => {
  function haven(args: string[], stdin: string, env: Record<string, string> = {}) {
    return runHavenBinary(args, { stdin, env });
  }

  it('renews an ACME certificate from Pebble through the menu, answering the CA on ports.http itself', async () => {
    const dir = join(root, 'acme');
    const httpPort = await freePort();
    const pebble = await startPebble(httpPort);
    try {
      writeFileSync(join(root, 'pebble-ca.pem'), pebble.tlsCa);
      const config = join(root, 'acme.yaml');
      writeFileSync(
        config,
        [`dataDir: ${dir}`, 'hostname: mail.acme.test', `ports:`, `  http: ${httpPort}`, 'tls:', '  acme:', '    enabled: true', `    directoryUrl: ${pebble.directoryUrl}`, ''].join('\n'),
      );
      // A mail domain: its mta-sts/autoconfig/autodiscover names go on the certificate too.
      expect(await runCli(['domain', 'add', 'acme.test', '--config', config], memoryIo({ env: {}, cwd: root }))).toBe(0);
      const r = await haven(['setup', '--config', config], '4\nq\n', { NODE_EXTRA_CA_CERTS: join(root, 'pebble-ca.pem') });
      expect(r.stderr).toBe('Choose: 4\nChoose: q\n');
      expect(r.stdout).toContain('  4) Certificate renewal\n');
      expect(r.stdout).toContain('$ haven certs renew\n');
      expect(r.stdout).toMatch(/renewed certificate for mail\.acme\.test, mta-sts\.acme\.test, autoconfig\.acme\.test, autodiscover\.acme\.test, valid until \S+ \(\d+ days\): .*acme\/cert\.pem\n/);
      expect(r.code).toBe(0);
      const chain = readFileSync(join(dir, 'tls', 'acme', 'cert.pem'), 'utf8').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)!.map((p) => new X509Certificate(p));
      expect(chain[0].subjectAltName).toBe('DNS:mail.acme.test, DNS:mta-sts.acme.test, DNS:autoconfig.acme.test, DNS:autodiscover.acme.test');
      expect(chain.at(-1)!.verify(new X509Certificate(await pebble.issuerRoot()).publicKey)).toBe(true);

      const again = await haven(['certs', 'renew', '--config', config], '', { NODE_EXTRA_CA_CERTS: join(root, 'pebble-ca.pem') });
      expect(again.code).toBe(0);
      expect(again.stdout).toMatch(/^the acme certificate for mail\.acme\.test, mta-sts\.acme\.test, autoconfig\.acme\.test, autodiscover\.acme\.test is valid until .* not due yet \(renewal starts 30 days before expiry\), nothing to do \(--force renews anyway\)\n$/);
    } finally {
      pebble.stop();
    }
  }, 60_000);
});
