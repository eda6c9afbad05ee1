/**
 * @module node/cli/commands/setup
 * `haven setup`: a menu for people who run a node on their own server
 * without Pulumi — initial setup, backups, automatic upgrades, certificate
 * renewal, restore, help. Every item only asks questions and then runs a
 * plain subcommand (`haven init`, `haven backup`, `haven upgrade timer`,
 * `haven certs renew`, `haven restore`), which scripts can call directly.
 * Answers come from the terminal, or line by line from piped standard input.
 *
 * `haven init` writes the config file (keeping what is already in it),
 * makes the master key outside the data directory, adds the first mail
 * domain and prints the DNS records to publish.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { loadConfig, type Config } from '../../config/index.js';
import { formatRecord, mailDnsRecords } from '../../dns/index.js';
import { dataOwner } from '../../upgrade/owner.js';
import { hasDirectory, LOCAL_MASTER_KEY_FILE, withOperations } from '../context.js';
import { CommandError, UsageError, type Args, type CliIo, type Command } from '../types.js';

/** Where `haven init` and `haven setup` keep the config without --config or HAVEN_CONFIG. */
export const DEFAULT_CONFIG_FILE = '/etc/haven/haven.yaml';
const DEFAULT_DATA_DIR = '/var/lib/haven';

/** The standard ports a public mail server listens on. */
const STANDARD_PORTS = { smtp: 25, submission: 587, submissions: 465, imap: 143, imaps: 993, pop3: 110, pop3s: 995, managesieve: 4190, http: 80, https: 443 };

function str(args: Args, name: string): string | undefined {
  const v = args.flags[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function configPath(args: Args, io: CliIo): string {
  return resolve(io.cwd, args.configFile ?? io.env.HAVEN_CONFIG ?? DEFAULT_CONFIG_FILE);
}

/**
 * Sets values in the YAML config file, keeping its comments and other
 * options, and checks the result loads; the old file stays when it does not.
 */
export function updateConfigFile(file: string, values: Readonly<Record<string, unknown>>, io: CliIo): Config {
  const before = existsSync(file) ? readFileSync(file, 'utf8') : null;
  const doc = parseDocument(before ?? '');
  if (doc.errors.length) throw new CommandError(`${file} is not valid YAML (${doc.errors[0].message}); fix it or move it away first`);
  if (doc.contents === null) doc.contents = doc.createNode({}) as never;
  for (const [path, value] of Object.entries(values)) doc.setIn(path.split('.'), value);
  mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
  writeFileSync(file, String(doc), { mode: 0o640 });
  try {
    // Only the file: the variables of the shell running setup are not the node's.
    return loadConfig({ env: {}, argv: ['--config', file], cwd: io.cwd });
  } catch (err) {
    if (before === null) writeFileSync(file, '');
    else writeFileSync(file, before);
    throw err;
  }
}

export const setupCommands: Command[] = [
  {
    name: 'init',
    summary: 'Write the config for a server (hostname, ACME, replica), make the master key, add the first domain and print its DNS records.',
    details:
      `The config goes to --config, HAVEN_CONFIG or ${DEFAULT_CONFIG_FILE}; options already in it are kept. ` +
      'The master key is written next to it (mode 0600) unless one is configured: keep a copy somewhere safe, a backup cannot be opened without it.',
    params: [],
    options: {
      hostname: { type: 'string', value: 'name', help: 'The node\'s mail host name, e.g. mail.example.com (required).' },
      domain: { type: 'string', value: 'domain', help: 'The first mail domain, e.g. example.com (required).' },
      'data-dir': { type: 'string', value: 'dir', help: `Data directory (default: the config's, else ${DEFAULT_DATA_DIR}).` },
      'acme-email': { type: 'string', value: 'address', help: 'Contact for the ACME (Let\'s Encrypt) account.' },
      challenge: { type: 'string', value: 'http-01|dns-01', help: 'ACME challenge (default http-01: port 80 must be reachable).' },
      'cloudflare-token': { type: 'string', value: 'token', help: 'Cloudflare API token (Zone.DNS:Edit), for dns-01.' },
      'self-signed': { type: 'boolean', help: 'No ACME: keep the self-signed certificate (tests, private networks).' },
      'replica-url': { type: 'string', value: 'url', help: 'Off-site replica (s3://bucket/prefix?endpoint=…&region=… or file:///path).' },
      'keep-ports': { type: 'boolean', help: 'Keep the ports and listen address as configured (default: the standard ports on every address).' },
      ipv4: { type: 'string', value: 'address', help: 'Public IPv4, for the DNS records printed (default: from the interfaces).' },
      ipv6: { type: 'string', value: 'address', help: 'Public IPv6 the node sends from, for the DNS records (default: from the interfaces).' },
    },
    async run(args, io) {
      const hostname = str(args, 'hostname');
      const domain = str(args, 'domain')?.toLowerCase();
      if (!hostname || !domain) throw new UsageError('`haven init` needs --hostname <mail.example.com> and --domain <example.com>');
      const challenge = str(args, 'challenge') ?? 'http-01';
      if (challenge !== 'http-01' && challenge !== 'dns-01') throw new UsageError(`--challenge is http-01 or dns-01, not "${challenge}"`);
      const file = configPath(args, io);
      const existing = existsSync(file) ? loadConfig({ env: {}, argv: ['--config', file], cwd: io.cwd }) : null;
      const values: Record<string, unknown> = { hostname };
      const dataDir = str(args, 'data-dir') ?? (existing ? undefined : DEFAULT_DATA_DIR);
      if (dataDir) values.dataDir = resolve(io.cwd, dataDir);
      if (args.flags['self-signed'] === true) values['tls.acme.enabled'] = false;
      else {
        values['tls.acme.enabled'] = true;
        values['tls.acme.challenge'] = challenge;
        const email = str(args, 'acme-email');
        if (email) values['tls.acme.email'] = email;
        const token = str(args, 'cloudflare-token');
        if (token) values['tls.acme.cloudflareToken'] = token;
        else if (challenge === 'dns-01' && !existing?.tls.acme.cloudflareToken) throw new UsageError('dns-01 needs --cloudflare-token <token> (a Cloudflare API token with Zone.DNS:Edit)');
      }
      const replica = str(args, 'replica-url');
      if (replica) values.replicaUrl = replica;
      if (args.flags['keep-ports'] !== true) {
        values.listenAddress = '::';
        for (const [k, v] of Object.entries(STANDARD_PORTS)) values[`ports.${k}`] = v;
      }
      // The master key lives outside the data directory; a local run's key moves out with the same value.
      let keyNote: string | undefined;
      if (!existing?.masterKey && !existing?.masterKeyFile) {
        const keyFile = join(dirname(file), 'master.key');
        const localKey = existing ? join(existing.dataDir, LOCAL_MASTER_KEY_FILE) : undefined;
        if (!existsSync(keyFile)) {
          mkdirSync(dirname(keyFile), { recursive: true, mode: 0o700 });
          if (localKey && existing && hasDirectory(existing) && existsSync(localKey)) copyFileSync(localKey, keyFile);
          else writeFileSync(keyFile, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
        }
        values.masterKeyFile = keyFile;
        keyNote = `master key: ${keyFile} (copy it somewhere safe now: without it no backup can be opened)`;
      }
      const config = updateConfigFile(file, values, io);
      io.out(`wrote ${file}`);
      if (keyNote) io.out(keyNote);

      const initArgs: Args = { ...args, configFile: file };
      const keys = await withOperations(
        initArgs,
        { ...io, env: {} },
        async (ops) => {
          const d = await ops.call('domain.add', { name: domain, ifMissing: true });
          if (d.created) io.out(`added the mail domain ${domain}`);
          return d.dkim;
        },
        { create: true },
      );
      const { publicAddresses } = await import('../../doctor/index.js');
      const found = publicAddresses();
      const ipv4 = str(args, 'ipv4') ?? found.ipv4;
      const ipv6 = str(args, 'ipv6') ?? found.ipv6;
      io.out('');
      if (!ipv4 || !ipv6) {
        io.out('publish the DNS records `haven doctor` lists once the addresses are known (pass --ipv4 and --ipv6 to print them here)');
      } else {
        io.out(`publish these DNS records (then check with: haven doctor):`);
        const recs = mailDnsRecords({ domains: [{ name: domain, dkim: { selector: keys[0].selector, publicKey: keys[0].publicKeyDns, algorithm: keys[0].algorithm } }], mailHost: config.hostname, ipv4, ipv6, pop3: config.pop3.enabled, spfExtra: config.spfExtra, dmarcPolicy: config.dmarcPolicy });
        for (const r of recs) io.out(`  ${formatRecord(r)}`);
        io.out(`and set the reverse DNS (PTR) of ${ipv4} and ${ipv6} to ${config.hostname} at your hosting provider`);
      }
      io.out('');
      if (process.getuid?.() === 0) {
        io.out(`the node should not run as root: create its user (useradd --system --home ${config.dataDir} haven), give it the data (chown -R haven: ${config.dataDir}${config.masterKeyFile ? ` ${config.masterKeyFile}` : ''}) and run it as that user`);
      }
      io.out(`next: start the node (haven start --config ${file}, or its systemd unit), add an account (haven account add you@${domain}), then run haven doctor`);
    },
  },
  {
    name: 'setup',
    summary: 'Interactive menu: initial setup, backups, automatic upgrades, certificate renewal, restore, help.',
    details: 'Each item runs a plain subcommand, shown before it runs. Answers are read from the terminal, or one per line from standard input when it is piped.',
    async run(args, io) {
      return menu(args, io);
    },
  },
];

const ITEMS = [
  ['1', 'Initial setup', 'haven init --hostname <name> --domain <domain> [--acme-email <address>] [--replica-url <url>]'],
  ['2', 'Backups', 'haven backup; haven replicate status (replicaUrl in the config)'],
  ['3', 'Automatic upgrades', 'haven upgrade timer <release> [--dir /etc/systemd/system]'],
  ['4', 'Certificate renewal', 'haven certs renew [--force]'],
  ['5', 'Restore from backup', 'haven restore [--at <time>] [--to <dir>] [--force]'],
  ['6', 'Help', 'haven help'],
] as const;

/** The `haven` executable of this installation (bin/haven.js beside node/ or dist/). */
function havenBin(): string {
  for (const rel of ['../../../bin/haven.js', '../../../../bin/haven.js']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new CommandError('cannot find bin/haven.js next to this installation; run the commands the menu shows by hand');
}

/** Runs one `haven` command in a child process, its output line by line into `io`. */
function runChild(argv: string[], io: CliIo): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [havenBin(), ...argv], { cwd: io.cwd, env: { ...process.env, ...io.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    createInterface({ input: child.stdout! }).on('line', (l) => io.out(l));
    createInterface({ input: child.stderr! }).on('line', (l) => io.err(l));
    child.once('error', reject);
    child.once('close', (code, signal) => resolvePromise(code ?? (signal ? 128 : 1)));
  });
}

/** Answers from the terminal, or successive lines of piped standard input (null once it ends). */
class Answers {
  #lines?: Promise<string[]>;
  constructor(private readonly io: CliIo) {}

  async ask(question: string, def?: string): Promise<string | null> {
    const q = `${question}${def !== undefined && def !== '' ? ` [${def}]` : ''}: `;
    let answer: string | undefined;
    if (this.io.interactive) answer = await this.io.prompt(q);
    else {
      this.#lines ??= this.io.readStdin().then((t) => {
        const lines = t.split(/\r?\n/);
        if (lines.at(-1) === '') lines.pop();
        return lines;
      });
      answer = (await this.#lines).shift();
      if (answer === undefined) return null;
      this.io.err(q + answer);
    }
    answer = answer.trim();
    return answer === '' ? (def ?? '') : answer;
  }
}

async function menu(args: Args, io: CliIo): Promise<number> {
  const { runCli } = await import('../index.js');
  const answers = new Answers(io);
  const file = configPath(args, io);
  let failures = 0;
  const run = async (argv: string[]) => {
    io.out(`$ haven ${argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a}'`)).join(' ')}`);
    // Commands that touch the data drop from root to its owner for good; as root with
    // a service user's data, each item runs in its own process so the menu stays root.
    const cfg = current();
    const code = cfg && dataOwner(cfg.dataDir) ? await runChild([...argv, '--config', file], io) : await runCli([...argv, '--config', file], io);
    if (code !== 0) {
      failures++;
      io.out(`(exit status ${code})`);
    }
    return code;
  };
  const current = (): Config | null => {
    try {
      return existsSync(file) ? loadConfig({ env: {}, argv: ['--config', file], cwd: io.cwd }) : null;
    } catch {
      return null;
    }
  };

  io.out(`Haven setup (config: ${file})`);
  for (;;) {
    io.out('');
    for (const [key, label] of ITEMS) io.out(`  ${key}) ${label}`);
    io.out('  q) Quit');
    const choice = await answers.ask('Choose');
    if (choice === null || choice === 'q' || choice === 'quit') break;
    const cfg = current();
    if (['2', '3', '4', '5'].includes(choice) && !existsSync(file)) {
      io.out(`there is no config at ${file} yet: choose 1) Initial setup first, or pass --config <path>`);
      continue;
    }
    switch (choice) {
      case '1': {
        const hostname = await answers.ask('Mail host name (the MX, e.g. mail.example.com)', cfg && cfg.hostname !== 'localhost' ? cfg.hostname : undefined);
        if (!hostname) break;
        const domain = await answers.ask('First mail domain', hostname.split('.').slice(1).join('.'));
        if (!domain) break;
        const dataDir = await answers.ask('Data directory', cfg?.dataDir ?? DEFAULT_DATA_DIR);
        if (dataDir === null) break;
        const acme = await answers.ask('Get a certificate from Let\'s Encrypt (y/n)', 'y');
        if (acme === null) break;
        const argv = ['init', '--hostname', hostname, '--domain', domain, '--data-dir', dataDir];
        if (/^n/i.test(acme)) argv.push('--self-signed');
        else {
          const email = await answers.ask('Contact address for expiry warnings (empty: none)', '');
          const challenge = await answers.ask('Challenge: http-01 (port 80 reachable) or dns-01 (Cloudflare)', 'http-01');
          if (email === null || challenge === null) break;
          if (email) argv.push('--acme-email', email);
          argv.push('--challenge', challenge);
          if (challenge === 'dns-01') {
            const token = await answers.ask('Cloudflare API token with Zone.DNS:Edit');
            if (!token) break;
            argv.push('--cloudflare-token', token);
          }
        }
        const replica = await answers.ask('Off-site replica URL (s3://… or file:///…; empty: set up later under Backups)', cfg?.replicaUrl ?? '');
        if (replica === null) break;
        if (replica) argv.push('--replica-url', replica);
        await run(argv);
        break;
      }
      case '2': {
        if (!cfg?.replicaUrl) {
          const url = await answers.ask('Replica URL (s3://bucket/prefix?endpoint=…&region=… or file:///path; empty: back)', '');
          if (!url) break;
          try {
            updateConfigFile(file, { replicaUrl: url }, io);
          } catch (err) {
            failures++;
            io.out(`could not save the replica URL: ${(err as Error).message}`);
            break;
          }
          io.out(`saved replicaUrl in ${file}; restart a running node so it streams to the replica`);
        }
        if ((await run(['backup'])) === 0) await run(['replicate', 'status']);
        break;
      }
      case '3': {
        const release = await answers.ask('Release to follow (an npm spec, git+https URL or tarball)', 'haven');
        const dir = await answers.ask('Directory for the systemd units', '/etc/systemd/system');
        if (!release || !dir) break;
        await run(['upgrade', 'timer', release, '--dir', dir]);
        break;
      }
      case '4':
        await run(['certs', 'renew']);
        break;
      case '5': {
        const at = await answers.ask('Point in time (ISO time or an age like 2h; empty: latest)', '');
        const to = await answers.ask('Restore into (empty: the data directory; stop the node first)', '');
        if (at === null || to === null) break;
        const sure = await answers.ask(`Type "restore" to restore ${to || 'over the data directory'}`);
        if (sure !== 'restore') {
          io.out('nothing restored');
          break;
        }
        const argv = ['restore'];
        if (at) argv.push('--at', at);
        if (to) argv.push('--to', to);
        else argv.push('--force');
        await run(argv);
        break;
      }
      case '6':
        io.out('Each item runs a plain command, for scripts and for doing one step again:');
        for (const [key, label, cmd] of ITEMS) io.out(`  ${key}) ${label.padEnd(20)} ${cmd}`);
        io.out('Also: haven doctor (is DNS, reverse DNS, port 25 and the certificate right?), haven status, haven help <command>.');
        break;
      default:
        io.out(`"${choice}" is not on the menu: choose 1-6, or q to quit`);
    }
  }
  return failures > 0 ? 1 : 0;
}
