/**
 * The `haven` commands run in-process against a real encrypted data
 * directory: what each prints, its exit code, and what it changed in the
 * store (checked by opening the store and logging in as the node would).
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../node/cli/index.js';
import { AuthFailedError } from '../../node/store/index.js';
import { cliHarness, type CliHarness } from './helpers.js';

let h: CliHarness;
beforeEach(() => {
  h = cliHarness();
});
afterEach(() => h.cleanup());

const RECOVERY = /^recovery key: ([a-z0-9]{4}(?:-[a-z0-9]{4}){7})$/;

async function login(address: string, secret: string): Promise<boolean> {
  const store = h.openStore();
  try {
    const lease = await store.authenticate(address, secret);
    lease.release();
    return true;
  } catch (err) {
    if (err instanceof AuthFailedError) return false;
    throw err;
  } finally {
    store.close();
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

describe('help and usage errors', () => {
  it('lists every command, and --help shows a command usage', async () => {
    const r = await h.run(['help']);
    expect(r.code).toBe(0);
    const text = r.out.join('\n');
    for (const name of ['start', 'status', 'domain add', 'domain list', 'domain remove', 'account add', 'account list', 'account passwd', 'account remove', 'alias add', 'alias list', 'alias remove', 'app-password add', 'app-password list', 'app-password revoke']) {
      expect(text).toMatch(new RegExp(`^  ${name.replace('-', '\\-')}\\s{2,}\\S`, 'm'));
    }
    // Every registered command (other groups included) is listed.
    for (const c of COMMANDS) expect(text).toContain(`  ${c.name} `);

    const add = await h.run(['account', 'add', '--help']);
    expect(add.code).toBe(0);
    expect(add.out.join('\n')).toMatch(/^usage: haven account add <address> .*\[--password-stdin\]/m);
    expect((await h.run(['help', 'alias'])).out.join('\n')).toMatch(/alias add[\s\S]*alias list[\s\S]*alias remove/);
    expect((await h.run([])).out[0]).toMatch(/^usage: haven <command>/);
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    expect((await h.run(['--version'])).out).toEqual([`haven ${pkg.version}`]);
  });

  it('unknown commands, flags and missing arguments exit 2 with one line', async () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /^haven: unknown command "frobnicate"; run `haven help`/],
      [['account', 'frob'], /^haven: unknown command "haven account frob"; try one of: account add,/],
      [['account'], /^haven: "haven account" needs a subcommand: account add, account list/],
      [['domain', 'list', '--bogus'], /^haven: unknown option '--bogus' for `haven domain list`; see `haven domain list --help`$/],
      [['domain', 'add'], /^haven: `haven domain add` needs <domain>; usage: haven domain add <domain>$/],
      [['domain', 'add', 'a.org', 'b.org'], /^haven: unexpected argument "b.org" for `haven domain add`/],
      [['alias', 'add', 'x@a.org'], /^haven: `haven alias add` needs at least one <targets>/],
      [['account', 'add', 'a@b.org', '--quota', 'lots'], /^haven: --quota expects a size like 1G/],
    ];
    for (const [argv, line] of cases) {
      const r = await h.run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err, argv.join(' ')).toHaveLength(1);
      expect(r.err[0]).toMatch(line);
      expect(r.out).toEqual([]);
    }
    // None of these touched the disk.
    expect(existsSync(h.dataDir)).toBe(false);
  });

  it('a bad config value exits 78 with one line naming the option, its variable and the value', async () => {
    const r = await h.run(['status'], { env: { HAVEN_PORTS_IMAP: 'imap' } });
    expect(r.code).toBe(78);
    expect(r.err).toEqual(['haven: config: ports.imap (HAVEN_PORTS_IMAP): got "imap" from the environment; expected a port number 0-65535 (0 picks a free port)']);

    const typo = await h.run(['domain', 'list'], { env: { HAVEN_DATADIR: '/x' } });
    expect(typo.code).toBe(78);
    expect(typo.err).toHaveLength(1);
    expect(typo.err[0]).toMatch(/unknown environment variable HAVEN_DATADIR; did you mean HAVEN_DATA_DIR\?/);

    // start refuses a bad value before anything is written.
    const start = await h.run(['start'], { env: { HAVEN_PORTS_SMTP: '70000', HAVEN_KEY_MODE: 'open' } });
    expect(start.code).toBe(78);
    expect(start.err).toEqual([
      'haven: config: ports.smtp (HAVEN_PORTS_SMTP): got "70000" from the environment; expected a port number 0-65535 (0 picks a free port)',
      'haven: config: keyMode (HAVEN_KEY_MODE): got "open" from the environment; expected one of zero-access, managed',
    ]);

    const missing = await h.run(['status', '--config', join(h.dataDir, 'nope.yaml')]);
    expect(missing.code).toBe(78);
    expect(missing.err[0]).toMatch(/config file .*nope\.yaml \(given by --config\) cannot be read \(ENOENT\)/);
    expect(existsSync(h.dataDir)).toBe(false);
  });

  it('reads the data directory from --config or HAVEN_CONFIG (relative to the file), with HAVEN_* on top', async () => {
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const etc = join(h.dataDir, '..', 'etc');
    mkdirSync(etc);
    const file = join(etc, 'haven.yaml');
    writeFileSync(file, 'dataDir: ../from-file\nhostname: mail.example.org\n');
    const viaFlag = await h.run(['domain', 'add', 'example.org', '--config', file], { env: { HAVEN_DATA_DIR: '' } });
    expect(viaFlag.code, viaFlag.err.join('\n')).toBe(78);
    expect(viaFlag.err[0]).toMatch(/^haven: config: dataDir \(HAVEN_DATA_DIR\): got "" from the environment; expected a directory path$/);

    const ok = await h.run(['--config', file, 'domain', 'add', 'example.org'], { env: { HAVEN_DATA_DIR: undefined } });
    expect(ok.code, ok.err.join('\n')).toBe(0);
    expect(existsSync(join(etc, '..', 'from-file', 'directory.sqlite'))).toBe(true);
    const viaEnv = await h.run(['status', '--json'], { env: { HAVEN_DATA_DIR: undefined, HAVEN_CONFIG: file, HAVEN_HOSTNAME: 'mx.example.org' } });
    expect(JSON.parse(viaEnv.out[0])).toMatchObject({ hostname: 'mx.example.org', dataDir: join(etc, '..', 'from-file'), domains: 1 });
  });

  it('commands other than domain add refuse a data directory with no Haven data', async () => {
    const r = await h.run(['account', 'list']);
    expect(r.code).toBe(1);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(/^haven: no Haven data in .*data: run `haven start` once/);
    expect(existsSync(h.dataDir)).toBe(false);
  });
});

describe('domains, accounts, aliases and app passwords', () => {
  it('domain add|list|remove, with duplicates refused', async () => {
    const add = await h.run(['domain', 'add', 'Example.ORG']);
    expect(add.code).toBe(0);
    expect(add.out[0]).toBe('added domain example.org');
    expect(add.out[1]).toMatch(/^DKIM: publish TXT \S+\._domainkey\.example\.org "v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]{200,}"$/);
    expect(add.out[2]).toMatch(/`haven doctor`/);
    // The printed key is the one the node signs with.
    const selector = /^DKIM: publish TXT (\S+)\._domainkey/.exec(add.out[1])![1];
    const store = h.openStore();
    try {
      expect(add.out[1]).toContain(store.directory.dkimKeys('example.org').find((k) => k.selector === selector)!.publicKeyDns);
    } finally {
      store.close();
    }
    expect(add.err[0]).toMatch(/^haven: warning: generated a master key at .*master\.key/);
    expect(statSync(join(h.dataDir, 'master.key')).mode & 0o777).toBe(0o600);

    const dup = await h.run(['domain', 'add', 'example.org']);
    expect(dup.code).toBe(1);
    expect(dup.err).toEqual(['haven: domain example.org already exists; see `haven domain list`']);

    const bad = await h.run(['domain', 'add', 'not a domain']);
    expect(bad.code).toBe(1);
    expect(bad.err[0]).toMatch(/is not a valid domain name/);

    // A lost local key: refused with advice, and no new key is made over the old data.
    const { renameSync } = await import('node:fs');
    renameSync(join(h.dataDir, 'master.key'), join(h.dataDir, 'master.key.moved'));
    const lost = await h.run(['domain', 'add', 'third.net']);
    expect(lost.code).toBe(1);
    expect(lost.err).toEqual([`haven: ${h.dataDir} holds encrypted data but its master key is missing (no ${join(h.dataDir, 'master.key')}, no masterKey or masterKeyFile); put the key file back or set HAVEN_MASTER_KEY_FILE to it`]);
    expect(existsSync(join(h.dataDir, 'master.key'))).toBe(false);
    renameSync(join(h.dataDir, 'master.key.moved'), join(h.dataDir, 'master.key'));

    await h.run(['domain', 'add', 'second.net']);
    const list = await h.run(['domain', 'list', '--json']);
    expect(JSON.parse(list.out[0]).map((d: { name: string }) => d.name).sort()).toEqual(['example.org', 'second.net']);

    await h.run(['account', 'add', 'a@second.net', '--password', 'password-one']);
    const busy = await h.run(['domain', 'remove', 'second.net']);
    expect(busy.code).toBe(1);
    expect(busy.err[0]).toMatch(/still has 1 account\(s\); remove them first/);
    await h.run(['account', 'remove', 'a@second.net', '--yes']);
    const rm = await h.run(['domain', 'remove', 'second.net']);
    expect(rm.code).toBe(0);
    expect((await h.run(['domain', 'list'])).out).toEqual(['example.org\t0 account(s)\t0 alias(es)']);
    const gone = await h.run(['domain', 'remove', 'second.net']);
    expect(gone.code).toBe(1);
    expect(gone.err[0]).toMatch(/no domain second\.net/);
  });

  it('account add from a flag, standard input, a hidden prompt or a generated password; the recovery key once', async () => {
    await h.run(['domain', 'add', 'example.org']);
    const a = await h.run(['account', 'add', 'alice@example.org', '--password', 'alice-password']);
    expect(a.code).toBe(0);
    expect(a.out[0]).toBe('created account alice@example.org');
    const recovery = RECOVERY.exec(a.out[1])![1];
    expect(a.out.join('\n')).not.toContain('alice-password');

    const b = await h.run(['account', 'add', 'bob@example.org', '--password-stdin'], { stdin: 'bob-password\n' });
    expect(b.code).toBe(0);

    const c = await h.run(['account', 'add', 'carol@example.org'], { answers: ['carol-password', 'carol-password'] });
    expect(c.code).toBe(0);
    expect(c.asked).toEqual(['Password for carol@example.org: ', 'Password for carol@example.org again: ']);

    const typo = await h.run(['account', 'add', 'dave@example.org'], { answers: ['dave-password', 'dave-passwrd'] });
    expect(typo.code).toBe(1);
    expect(typo.err).toEqual(['haven: the two entries differ; run the command again']);

    const script = await h.run(['account', 'add', 'erin@example.org']);
    expect(script.code).toBe(2);
    expect(script.err).toHaveLength(1);
    expect(script.err[0]).toMatch(/give --password <value> or --password-stdin/);

    const gen = await h.run(['account', 'add', 'gen@example.org', '--generate-password', '--json', '--quota', '1G', '--name', 'Gen Eral']);
    expect(gen.code).toBe(0);
    const genOut = JSON.parse(gen.out[0]) as { address: string; password: string; recoveryKey: string };
    expect(genOut.password).toMatch(/^[a-z0-9]{5}(-[a-z0-9]{5}){3}$/);

    const dup = await h.run(['account', 'add', 'Alice@example.org', '--password', 'another-pass']);
    expect(dup.code).toBe(1);
    expect(dup.err).toEqual(['haven: account alice@example.org already exists; see `haven account list`']);
    const weak = await h.run(['account', 'add', 'frank@example.org', '--password', 'short']);
    expect(weak.code).toBe(1);
    expect(weak.err[0]).toMatch(/at least 12 characters/);
    const noDomain = await h.run(['account', 'add', 'x@elsewhere.net', '--password', 'password-x']);
    expect(noDomain.code).toBe(1);
    expect(noDomain.err[0]).toMatch(/no domain elsewhere\.net; add it first with `haven domain add elsewhere\.net`/);

    const list = await h.run(['account', 'list', '--json']);
    const listed = JSON.parse(list.out[0]) as { address: string; quotaBytes: number }[];
    expect(listed.map((x) => x.address)).toEqual(['alice@example.org', 'bob@example.org', 'carol@example.org', 'gen@example.org']);
    expect(listed.map((x) => x.quotaBytes)).toEqual([0, 0, 0, 1024 ** 3]);
    // Only the successful adds left mailbox files behind.
    expect(readdirSync(join(h.dataDir, 'mailboxes')).filter((f) => f.endsWith('.sqlite'))).toHaveLength(4);

    expect(await login('alice@example.org', 'alice-password')).toBe(true);
    expect(await login('bob@example.org', 'bob-password')).toBe(true);
    expect(await login('carol@example.org', 'carol-password')).toBe(true);
    expect(await login('gen@example.org', genOut.password)).toBe(true);
    expect(await login('alice@example.org', recovery)).toBe(false); // the recovery key is not a login

    // Nothing readable reached the disk: no address, local part or password in any file.
    for (const f of filesUnder(h.dataDir)) {
      const bytes = readFileSync(f);
      for (const needle of ['alice', 'example.org', 'alice-password', 'carol']) expect(bytes.includes(needle), `${needle} in ${f}`).toBe(false);
    }
  });

  it('account passwd: wrong current password changes nothing; right one, recovery key and --reset work', async () => {
    await h.run(['domain', 'add', 'example.org']);
    const add = await h.run(['account', 'add', 'alice@example.org', '--password', 'first-password']);
    const recovery = RECOVERY.exec(add.out[1])![1];

    const wrong = await h.run(['account', 'passwd', 'alice@example.org', '--current-password', 'not-it-at-all', '--password', 'second-password']);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toEqual(['haven: the current password for alice@example.org is wrong; nothing was changed']);
    expect(await login('alice@example.org', 'first-password')).toBe(true);
    expect(await login('alice@example.org', 'second-password')).toBe(false);

    const ok = await h.run(['account', 'passwd', 'alice@example.org', '--current-password-stdin', '--password-stdin'], { stdin: 'first-password\nsecond-password\n' });
    expect(ok.code).toBe(0);
    expect(await login('alice@example.org', 'second-password')).toBe(true);
    expect(await login('alice@example.org', 'first-password')).toBe(false);

    const viaRecovery = await h.run(['account', 'passwd', 'alice@example.org', '--recovery-key', recovery.toUpperCase(), '--password', 'third-password']);
    expect(viaRecovery.code).toBe(0);
    expect(await login('alice@example.org', 'third-password')).toBe(true);

    const badRecovery = await h.run(['account', 'passwd', 'alice@example.org', '--recovery-key', 'aaaa-bbbb', '--password', 'fourth-password']);
    expect(badRecovery.code).toBe(1);
    expect(badRecovery.err[0]).toMatch(/recovery key for alice@example\.org is wrong/);

    const nobody = await h.run(['account', 'passwd', 'nobody@example.org', '--current-password', 'x', '--password', 'yyyyyyyyyy']);
    expect(nobody.code).toBe(1);
    expect(nobody.err).toEqual(['haven: no account nobody@example.org; see `haven account list`']);

    // Managed key mode: an admin reset keeps the mail, and says so.
    expect((await h.run(['account', 'add', 'mgd@example.org', '--password', 'managed-pass-1', '--managed'])).code).toBe(0);
    expect(JSON.parse((await h.run(['account', 'list', '--json'])).out[0]).find((a: { address: string }) => a.address === 'mgd@example.org').keyMode).toBe('managed');
    const mreset = await h.run(['account', 'passwd', 'mgd@example.org', '--reset', '--password', 'managed-pass-2']);
    expect(mreset.out).toEqual(['password reset for mgd@example.org; all mail kept (managed key mode)']);
    expect(await login('mgd@example.org', 'managed-pass-2')).toBe(true);

    const reset = await h.run(['account', 'passwd', 'alice@example.org', '--reset', '--password', 'reset-password']);
    expect(reset.code).toBe(0);
    expect(reset.out.join('\n')).toMatch(/starts empty[\s\S]*set aside at .*\.set-aside-\d+[\s\S]*new recovery key: [a-z0-9-]{39}/);
    expect(await login('alice@example.org', 'reset-password')).toBe(true);
  });

  it('account remove asks on a terminal, needs --yes from a script, and deletes the mailbox', async () => {
    await h.run(['domain', 'add', 'example.org']);
    await h.run(['account', 'add', 'alice@example.org', '--password', 'alice-password']);
    const script = await h.run(['account', 'remove', 'alice@example.org']);
    expect(script.code).toBe(2);
    expect(script.err[0]).toMatch(/add --yes to confirm from a script/);
    const mismatch = await h.run(['account', 'remove', 'alice@example.org'], { answers: ['bob@example.org'] });
    expect(mismatch.code).toBe(1);
    expect(await login('alice@example.org', 'alice-password')).toBe(true);
    const confirmed = await h.run(['account', 'remove', 'alice@example.org'], { answers: ['alice@example.org'] });
    expect(confirmed.code).toBe(0);
    expect(readdirSync(join(h.dataDir, 'mailboxes')).filter((f) => f.endsWith('.sqlite'))).toEqual([]);
    const again = await h.run(['account', 'remove', 'alice@example.org', '--yes']);
    expect(again.code).toBe(1);
  });

  it('alias add|list|remove with a catch-all and forwarding targets, resolved as the MX will', async () => {
    await h.run(['domain', 'add', 'example.org']);
    await h.run(['account', 'add', 'alice@example.org', '--password', 'alice-password']);
    const fwd = await h.run(['alias', 'add', 'team@example.org', 'alice@example.org', 'bob@elsewhere.net']);
    expect(fwd.code).toBe(0);
    expect(fwd.out).toEqual(['added alias team@example.org -> alice@example.org, bob@elsewhere.net', 'forwarded off this node: bob@elsewhere.net']);
    expect((await h.run(['alias', 'add', '*@example.org', 'alice@example.org'])).code).toBe(0);

    const dup = await h.run(['alias', 'add', 'team@example.org', 'alice@example.org']);
    expect(dup.code).toBe(1);
    expect(dup.err).toEqual(['haven: alias team@example.org already exists; remove it first (`haven alias remove team@example.org`) to change its targets']);
    const shadow = await h.run(['alias', 'add', 'alice@example.org', 'bob@elsewhere.net']);
    expect(shadow.code).toBe(1);
    expect(shadow.err[0]).toMatch(/is an account; an alias cannot shadow it/);
    const foreign = await h.run(['alias', 'add', 'x@unknown.org', 'alice@example.org']);
    expect(foreign.code).toBe(1);
    expect(foreign.err[0]).toMatch(/no domain unknown\.org/);

    expect(JSON.parse((await h.run(['alias', 'list', 'example.org', '--json'])).out[0])).toEqual([
      { address: '*@example.org', targets: ['alice@example.org'] },
      { address: 'team@example.org', targets: ['alice@example.org', 'bob@elsewhere.net'] },
    ]);
    const store = h.openStore();
    try {
      const team = store.directory.resolve('team@example.org');
      expect(team?.kind === 'alias' && team.alias.targets).toEqual(['alice@example.org', 'bob@elsewhere.net']);
      const any = store.directory.resolve('whoever@example.org');
      expect(any?.kind === 'alias' && any.alias.address).toBe('*@example.org');
    } finally {
      store.close();
    }
    expect((await h.run(['alias', 'remove', '*@example.org'])).code).toBe(0);
    const missing = await h.run(['alias', 'remove', '*@example.org']);
    expect(missing.code).toBe(1);
    expect(missing.err[0]).toMatch(/no alias \*@example\.org/);
    expect((await h.run(['alias', 'list'])).out).toEqual(['team@example.org\talice@example.org, bob@elsewhere.net']);
  });

  it('app-password add|list|revoke: made with the account password, works at once, stops at once', async () => {
    await h.run(['domain', 'add', 'example.org']);
    await h.run(['account', 'add', 'alice@example.org', '--password', 'alice-password']);
    const wrong = await h.run(['app-password', 'add', 'alice@example.org', '--label', 'phone', '--password', 'not-alice']);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toEqual(['haven: the password for alice@example.org is wrong; no app password was made']);

    const made = await h.run(['app-password', 'add', 'alice@example.org', '--label', 'phone', '--password-stdin', '--json'], { stdin: 'alice-password\n' });
    expect(made.code).toBe(0);
    const { id, password, label } = JSON.parse(made.out[0]) as { id: string; password: string; label: string };
    expect(label).toBe('phone');
    expect(await login('alice@example.org', password)).toBe(true);

    const list = await h.run(['app-password', 'list', 'alice@example.org']);
    expect(list.out).toHaveLength(1);
    expect(list.out[0]).toMatch(new RegExp(`^${id}\\tphone\\tcreated \\S+\\tlast used \\S+$`));
    expect(list.out.join('\n')).not.toContain(password);

    expect((await h.run(['app-password', 'revoke', 'alice@example.org', id])).code).toBe(0);
    expect(await login('alice@example.org', password)).toBe(false);
    const again = await h.run(['app-password', 'revoke', 'alice@example.org', id]);
    expect(again.code).toBe(1);
    expect(again.err[0]).toMatch(/no app password/);
  });

  it('status reports config and counts without creating anything on an empty directory', async () => {
    const empty = await h.run(['status', '--json']);
    expect(empty.code).toBe(0);
    const e = JSON.parse(empty.out[0]);
    expect(e).toMatchObject({ hostname: 'localhost', initialised: false, nodePid: null, replication: { enabled: false }, keyMode: 'zero-access' });
    expect(e.ports).toMatchObject({ smtp: 2525, submission: 2587, submissions: 2465, imap: 2143, imaps: 2993, pop3: 2110, pop3s: 2995, http: 8080, https: 8443, admin: 8081 });
    expect(existsSync(h.dataDir)).toBe(false);

    await h.run(['domain', 'add', 'example.org']);
    await h.run(['account', 'add', 'alice@example.org', '--password', 'alice-password']);
    await h.run(['alias', 'add', 'team@example.org', 'alice@example.org']);
    const s = await h.run(['status', '--json'], { env: { HAVEN_POP3_ENABLED: 'false', HAVEN_REPLICA_URL: 'file:///srv/replica' } });
    expect(JSON.parse(s.out[0])).toMatchObject({
      initialised: true,
      domains: 1,
      accounts: 1,
      aliases: 1,
      queue: { queued: 0 },
      replication: { enabled: true, target: 'directory /srv/replica' },
      ports: { pop3: 'off', pop3s: 'off' },
    });
    const text = (await h.run(['status'])).out.join('\n');
    expect(text).toMatch(/^accounts\s+1$/m);
    expect(text).toMatch(/^replication\s+off/m);
  });

  it('status reads the certificate the node serves: the ACME one when ACME is on', async () => {
    const fixture = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'tls', 'cert.pem'));
    mkdirSync(join(h.dataDir, 'tls', 'acme'), { recursive: true });
    writeFileSync(join(h.dataDir, 'tls', 'acme', 'cert.pem'), fixture);
    const s = JSON.parse((await h.run(['status', '--json'], { env: { HAVEN_TLS_ACME_ENABLED: 'true' } })).out[0]);
    expect(s.tls).toEqual({ source: 'acme', notAfter: new Date(new X509Certificate(fixture).validTo).toISOString() });
    // Without ACME the self-signed file is the one served, and none was made yet.
    const off = JSON.parse((await h.run(['status', '--json'])).out[0]);
    expect(off.tls.source).toBe('self-signed (not made yet)');
  });
});
