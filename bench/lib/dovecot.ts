/**
 * @module bench/lib/dovecot
 * A throwaway Dovecot (Debian's dovecot-pop3d / dovecot-imapd) for the
 * side-by-side POP3 and IMAP figures: its own config, base dir and Maildir
 * under a temporary directory, plaintext and TLS on loopback, a passwd-file
 * with one user. Nothing of the system's Dovecot is touched. Lives under
 * lib/ so bench/run.ts does not take it for a bench. Its scratch directory,
 * config builder and start (dovecotScratch, dovecotConfig, launchDovecot)
 * also serve test/helpers/dovecot, the import tests' source server.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, greets, idsOf } from './daemon.js';

export const DOVECOT = '/usr/sbin/dovecot';

export type DovecotProtocol = 'pop3' | 'imap';

/** Whether the Dovecot binary and the protocol's login/mail binaries are installed. */
export function dovecotAvailable(protocol: DovecotProtocol): boolean {
  return existsSync(DOVECOT) && existsSync(`/usr/lib/dovecot/${protocol}`) && existsSync(`/usr/lib/dovecot/${protocol}-login`);
}

export interface Dovecot {
  port: number;
  tlsPort: number;
  user: string;
  pass: string;
  version: string;
  /** The master process id (the protocol processes are its descendants). */
  pid: number;
  stop(): void;
}

export interface DovecotAccounts {
  /** User names; each gets its own Maildir holding `messages(i)` and the password `pass`. */
  users: string[];
  pass: string;
  messages(userIndex: number): Iterable<Buffer>;
}

/**
 * Starts Dovecot with `messages` in the user's Maildir; resolves once it accepts connections.
 * With `accounts`, many users instead, their passwords hashed with SHA512-CRYPT and Dovecot's
 * auth cache on, login processes in high-performance mode (service_count = 0): Dovecot as deployed.
 */
/** A scratch directory Dovecot's own processes can traverse, its run/ and state/ made, and the unprivileged owner of the mail. */
export function dovecotScratch(): { dir: string; owner: { uid: number; gid: number } } {
  const dir = mkdtempSync(join(tmpdir(), 'haven-dovecot-'));
  // Dovecot's auth and mail processes run as other users: they need to traverse this directory.
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'run'));
  mkdirSync(join(dir, 'state'));
  // Mail processes may not run as root; use the unprivileged 'nobody' when we are root.
  const owner = userInfo().uid === 0 ? idsOf('nobody') : { uid: userInfo().uid, gid: userInfo().gid };
  return { dir, owner };
}

export interface DovecotConfig {
  /** From dovecotScratch: base_dir, state_dir and the log live here. */
  dir: string;
  protocol: DovecotProtocol;
  port: number;
  tlsPort: number;
  owner: { uid: number; gid: number };
  /** The userdb's home (may hold %u) and the Maildir. */
  home: string;
  maildir: string;
  /** The passwd-file passdb's args. */
  passdbArgs: string;
  /** More global settings and sections (namespaces, auth cache, UIDL format, limits). */
  extra?: string;
  /** Settings at the top of the login service (its process model). */
  loginService?: string;
}

/**
 * The one dovecot.conf of a throwaway Dovecot on loopback: plaintext and TLS
 * listeners (the test certificate), plaintext auth allowed, passwd-file
 * passdb, a static userdb owned by `owner`, stats writable by anyone.
 */
export function dovecotConfig(c: DovecotConfig): string {
  const tlsDir = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'tls');
  return `
base_dir = ${c.dir}/run
state_dir = ${c.dir}/state
log_path = ${c.dir}/dovecot.log
protocols = ${c.protocol}
listen = 127.0.0.1
ssl = yes
ssl_cert = <${tlsDir}/cert.pem
ssl_key = <${tlsDir}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = ${c.owner.uid}
last_valid_uid = ${c.owner.uid}
first_valid_gid = 0
mail_location = maildir:${c.maildir}
passdb {
  driver = passwd-file
  args = ${c.passdbArgs}
}
userdb {
  driver = static
  args = uid=${c.owner.uid} gid=${c.owner.gid} home=${c.home}
}
service ${c.protocol}-login {
${c.loginService ?? ''}  inet_listener ${c.protocol} {
    address = 127.0.0.1
    port = ${c.port}
  }
  inet_listener ${c.protocol}s {
    address = 127.0.0.1
    port = ${c.tlsPort}
    ssl = yes
  }
}
service stats {
  unix_listener stats-writer {
    mode = 0666
  }
}
${c.extra ?? ''}
`;
}

/** Writes `conf`, starts Dovecot in the foreground and resolves once `port` greets (rejects if it exits first). */
export async function launchDovecot(dir: string, conf: string, port: number, tries?: number): Promise<ChildProcess> {
  writeFileSync(join(dir, 'dovecot.conf'), conf);
  const child: ChildProcess = spawn(DOVECOT, ['-F', '-c', join(dir, 'dovecot.conf')], { stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`dovecot exited with ${code}; see ${dir}/dovecot.log`))));
  exited.catch(() => undefined);
  await greets(port, 'dovecot', exited, `${dir}/dovecot.log`, tries);
  return child;
}

export async function startDovecot(protocol: DovecotProtocol, messages: Iterable<Buffer>, accounts?: DovecotAccounts, folderOf?: (i: number) => string | null): Promise<Dovecot> {
  const { dir, owner } = dovecotScratch();
  const port = await freePort();
  const tlsPort = await freePort();
  const user = 'bench';
  const pass = 'bench-password';
  const homes = join(dir, 'homes');
  const home = accounts ? join(homes, '%u') : join(dir, 'home');
  const fill = (maildir: string, msgs: Iterable<Buffer>, folder?: (i: number) => string | null) => {
    for (const d of ['cur', 'new', 'tmp']) mkdirSync(join(maildir, d), { recursive: true });
    // S=<size> in the name spares Dovecot a stat per message; no flags, as Haven's copy has none.
    let i = 0;
    for (const m of msgs) {
      // A folder other than INBOX is a Maildir++ subfolder (.Name), made on first use.
      const name = folder?.(i);
      const dir = name ? join(maildir, `.${name}`) : maildir;
      if (name) for (const d of ['cur', 'new', 'tmp']) mkdirSync(join(dir, d), { recursive: true });
      writeFileSync(join(dir, 'cur', `${1_700_000_000 + i}.M${i}P1.bench,S=${m.length}:2,`), m);
      i++;
    }
  };
  const maildir = join(home, 'Maildir');
  if (accounts) {
    const lines: string[] = [];
    accounts.users.forEach((u, i) => {
      fill(join(homes, u, 'Maildir'), accounts.messages(i));
      // openssl passwd -6 is SHA512-CRYPT ($6$, 5000 rounds): what doveadm pw -s SHA512-CRYPT makes.
      const hash = spawnSync('openssl', ['passwd', '-6', '-stdin'], { input: accounts.pass }).stdout.toString().trim();
      lines.push(`${u}:{SHA512-CRYPT}${hash}::::::`);
    });
    writeFileSync(join(dir, 'passwd'), lines.join('\n') + '\n');
  } else {
    fill(maildir, messages, folderOf);
    writeFileSync(join(dir, 'passwd'), `${user}:{PLAIN}${pass}::::::\n`);
  }
  if (userInfo().uid === 0) spawnSync('chown', ['-R', `${owner.uid}:${owner.gid}`, accounts ? homes : home]);
  const conf = dovecotConfig({
    dir,
    protocol,
    port,
    tlsPort,
    owner,
    home,
    maildir,
    passdbArgs: `${accounts ? '' : 'scheme=PLAIN '}username_format=%u ${dir}/passwd`,
    // Dovecot as deployed for many accounts: its auth cache on, login processes in high-performance mode.
    loginService: accounts ? '  service_count = 0\n  process_min_avail = 2\n' : '',
    extra: `pop3_uidl_format = %08Xu%08Xv
${accounts ? 'auth_cache_size = 10M\nauth_cache_ttl = 1 hour\nauth_cache_negative_ttl = 1 hour' : ''}
default_process_limit = 1000
default_client_limit = 4000
protocol imap {
  mail_max_userip_connections = 1000
}`,
  });
  const version = spawnSync(DOVECOT, ['--version']).stdout.toString().trim();
  const child = await launchDovecot(dir, conf, port, 200);
  return {
    port,
    tlsPort,
    user: accounts ? accounts.users[0] : user,
    pass: accounts ? accounts.pass : pass,
    version,
    pid: child.pid!,
    stop() {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
