/**
 * @module bench/lib/postfix
 * The SMTP ingest peer for bench/smtp.ts: a throwaway Postfix (Debian's
 * postfix) accepting mail for a virtual domain and handing it over LMTP to a
 * throwaway Dovecot (dovecot-lmtpd) that stores it in Maildirs — the usual
 * self-hosted pipeline. Both run from their own config, queue and mail
 * directories under a temporary directory on loopback ports; the system's
 * Postfix and Dovecot are not touched. Neither is needed by the tests
 * (`.ci/run`): the bench skips the peer when the binaries are missing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, greets, idsOf } from './daemon.js';

const POSTFIX = '/usr/sbin/postfix';
const DOVECOT = '/usr/sbin/dovecot';

/** Whether Postfix, Dovecot and its LMTP server are installed (and we can run them: root). */
export function postfixAvailable(): boolean {
  return existsSync(POSTFIX) && existsSync(DOVECOT) && existsSync('/usr/lib/dovecot/lmtp') && process.getuid?.() === 0;
}

export interface PostfixDovecot {
  /** Postfix's SMTP port. */
  port: number;
  versions: string;
  /** Messages Dovecot has stored in the user's Maildir. */
  stored(user: string): number;
  /** Memory of both servers now: the sum of every process's proportional set size (kB). */
  memoryKb(): number;
  /** Stops both and removes their directory once they have exited (Dovecot's processes write state while they stop). */
  stop(): Promise<void>;
}

/**
 * Starts Dovecot LMTP, then Postfix relaying `domain`'s `users` (local parts)
 * to it. Resolves when Postfix greets.
 */
export async function startPostfixDovecot(domain: string, users: string[]): Promise<PostfixDovecot> {
  const dir = mkdtempSync(join(tmpdir(), 'haven-postfix-'));
  chmodSync(dir, 0o755);
  const lmtpPort = await freePort();
  const smtpPort = await freePort();
  const vmail = idsOf('nobody');

  // ---- Dovecot: LMTP only, Maildir per user, fsync as shipped (optimized).
  const mail = join(dir, 'mail');
  mkdirSync(mail);
  for (const u of users) for (const d of ['cur', 'new', 'tmp']) mkdirSync(join(mail, u, 'Maildir', d), { recursive: true });
  spawnSync('chown', ['-R', `${vmail.uid}:${vmail.gid}`, mail]);
  mkdirSync(join(dir, 'dovecot-run'));
  mkdirSync(join(dir, 'dovecot-state'));
  const dovecotConf = join(dir, 'dovecot.conf');
  writeFileSync(
    dovecotConf,
    `base_dir = ${dir}/dovecot-run
state_dir = ${dir}/dovecot-state
log_path = ${dir}/dovecot.log
protocols = lmtp
listen = 127.0.0.1
ssl = no
first_valid_uid = ${vmail.uid}
last_valid_uid = ${vmail.uid}
first_valid_gid = 0
mail_location = maildir:~/Maildir
postmaster_address = postmaster@${domain}
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = static
  args = uid=${vmail.uid} gid=${vmail.gid} home=${mail}/%n
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${lmtpPort}
  }
}
service stats {
  unix_listener stats-writer {
    mode = 0666
  }
}
`,
  );
  const dovecot: ChildProcess = spawn(DOVECOT, ['-F', '-c', dovecotConf], { stdio: ['ignore', 'inherit', 'inherit'], detached: true });
  const dovecotExit = new Promise<never>((_, reject) => dovecot.once('exit', (code) => reject(new Error(`dovecot exited with ${code}; see ${dir}/dovecot.log`))));
  dovecotExit.catch(() => undefined);
  await greets(lmtpPort, 'dovecot', dovecotExit, `${dir}/dovecot.log`);

  // ---- Postfix: one virtual domain, recipients checked at RCPT, LMTP to Dovecot.
  const etc = join(dir, 'etc');
  mkdirSync(etc);
  writeFileSync(join(etc, 'vmailbox'), users.map((u) => `${u}@${domain} ${u}/\n`).join(''));
  writeFileSync(
    join(etc, 'main.cf'),
    `compatibility_level = 3.6
queue_directory = ${dir}/spool
data_directory = ${dir}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.postfix.test
mydomain = postfix.test
mydestination =
local_recipient_maps =
relay_domains =
virtual_mailbox_domains = ${domain}
virtual_mailbox_maps = texthash:${etc}/vmailbox
virtual_transport = lmtp:inet:127.0.0.1:${lmtpPort}
smtpd_recipient_restrictions = reject_unauth_destination
smtputf8_enable = no
biff = no
maillog_file_prefixes = ${dir}
maillog_file = ${dir}/postfix.log
`,
  );
  // Postfix's master signals its whole process group when it stops: give it its own
  // (detached). Its messages go to postfix.log (maillog_file), not to our stdout.
  // Debian's master.cf with the SMTP listener on our port and no chroot (the
  // chroot would need copies of /etc files inside the temporary queue).
  const master = readFileSync('/etc/postfix/master.cf', 'utf8')
    .split('\n')
    .map((line) => {
      if (/^\s|^#|^$/.test(line)) return line;
      const f = line.split(/\s+/);
      if (f.length < 8) return line;
      if (f[0] === 'smtp' && f[1] === 'inet') f[0] = `127.0.0.1:${smtpPort}`;
      f[4] = 'n';
      return f.join(' ');
    })
    .join('\n');
  writeFileSync(join(etc, 'master.cf'), master);
  mkdirSync(join(dir, 'spool'));
  mkdirSync(join(dir, 'data'));
  spawnSync('chown', ['postfix', join(dir, 'data')]);
  // `check` also creates the queue directories with their owners and modes.
  const check = spawnSync(POSTFIX, ['-c', etc, 'check'], { encoding: 'utf8' });
  if (check.status !== 0) {
    dovecot.kill('SIGTERM');
    throw new Error(`postfix check failed (exit ${check.status}); run: script -qc "postfix -c ${etc} check" /dev/null`);
  }
  const postfix: ChildProcess = spawn(POSTFIX, ['-c', etc, 'start-fg'], { stdio: 'ignore', detached: true });
  const postfixExit = new Promise<never>((_, reject) => postfix.once('exit', (code) => reject(new Error(`postfix exited with ${code}; see ${dir}/postfix.log`))));
  postfixExit.catch(() => undefined);
  try {
    await greets(smtpPort, 'postfix', postfixExit, `${dir}/postfix.log`);
  } catch (err) {
    // Never leave either server behind (the temporary directory stays, for its logs).
    spawnSync(POSTFIX, ['-c', etc, 'stop'], { stdio: 'ignore' });
    postfix.kill('SIGTERM');
    dovecot.kill('SIGTERM');
    throw err;
  }

  const versions = `Postfix ${spawnSync('/usr/sbin/postconf', ['-h', 'mail_version'], { encoding: 'utf8' }).stdout.trim()}, Dovecot ${spawnSync(DOVECOT, ['--version'], { encoding: 'utf8' }).stdout.trim()}`;
  const roots = [postfix.pid!, dovecot.pid!];

  return {
    port: smtpPort,
    versions,
    stored: (user) => readdirSync(join(mail, user, 'Maildir', 'new')).length + readdirSync(join(mail, user, 'Maildir', 'cur')).length,
    memoryKb() {
      // Postfix and Dovecot are many processes sharing libraries: PSS splits
      // shared pages between them, so the sum is not inflated by the sharing.
      let kb = 0;
      for (const pid of descendants(roots)) {
        try {
          kb += Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
        } catch {
          // exited meanwhile
        }
      }
      return kb;
    },
    async stop() {
      const exited = (p: ChildProcess) => (p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => p.once('exit', () => r())));
      spawnSync(POSTFIX, ['-c', etc, 'stop'], { stdio: 'ignore' });
      postfix.kill('SIGTERM');
      dovecot.kill('SIGTERM');
      await Promise.all([exited(postfix), exited(dovecot)]);
      // A helper the master left behind may still be closing a file there: rmSync retries ENOTEMPTY.
      rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    },
  };
}

/** Every process below the given roots, roots included. */
function descendants(roots: number[]): number[] {
  const out: number[] = [];
  const stack = [...roots];
  while (stack.length) {
    const pid = stack.pop()!;
    out.push(pid);
    try {
      for (const t of readdirSync(`/proc/${pid}/task`)) {
        const kids = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
        if (kids) stack.push(...kids.split(/\s+/).map(Number));
      }
    } catch {
      // gone
    }
  }
  return out;
}
