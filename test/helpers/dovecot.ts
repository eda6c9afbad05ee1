/**
 * @module test/helpers/dovecot
 * A throwaway Dovecot IMAP server (Debian's dovecot-imapd) as the source of
 * an import: its own config, base dir and Maildir under a temporary
 * directory, plaintext and TLS listeners on free loopback ports,
 * passwd-file auth with one user, and special-use folders declared as a
 * deployed Dovecot declares them (RFC 6154), plus Gmail's shape ([Gmail]/All
 * Mail as \\All, [Gmail]/Starred as \\Flagged). Tests fill it over IMAP with
 * a real client. Nothing of the system's Dovecot is touched.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { greets, idsOf } from '../../bench/lib/daemon.js';
import { freePort } from './ports.js';

export interface TestDovecot {
  port: number;
  tlsPort: number;
  user: string;
  pass: string;
  /** The Maildir++ root of the user. */
  maildir: string;
  /** Drops every IMAP connection of the user (doveadm kick): a connection lost mid-transfer. */
  kick(): void;
  /** The user's IMAP connections open now, as Dovecot counts them (doveadm who -1: one line each). */
  sessions(): number;
  /** Stops Dovecot and waits for it to exit before removing its files. */
  stop(): Promise<void>;
}

export async function startTestDovecot(): Promise<TestDovecot> {
  const dir = mkdtempSync(join(tmpdir(), 'haven-dovecot-'));
  // Dovecot's auth and mail processes run as other users: they need to traverse this directory.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const tlsPort = await freePort();
  const tlsDir = join(import.meta.dirname, '..', 'fixtures', 'tls');
  const user = 'mover@example.net';
  const pass = 'source-password';
  const owner = userInfo().uid === 0 ? idsOf('nobody') : { uid: userInfo().uid, gid: userInfo().gid };
  const home = join(dir, 'home');
  const maildir = join(home, 'Maildir');
  mkdirSync(maildir, { recursive: true });
  if (userInfo().uid === 0) spawnSync('chown', ['-R', `${owner.uid}:${owner.gid}`, home]);
  writeFileSync(join(dir, 'passwd'), `${user}:{PLAIN}${pass}::::::\n`);
  mkdirSync(join(dir, 'run'));
  mkdirSync(join(dir, 'state'));
  const conf = `
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <${tlsDir}/cert.pem
ssl_key = <${tlsDir}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = ${owner.uid}
last_valid_uid = ${owner.uid}
first_valid_gid = 0
mail_location = maildir:${maildir}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    special_use = \\Sent
    auto = create
  }
  mailbox Drafts {
    special_use = \\Drafts
    auto = create
  }
  mailbox Trash {
    special_use = \\Trash
    auto = create
  }
  mailbox Spam {
    special_use = \\Junk
    auto = create
  }
  # Gmail's shape: every message again under \\All, and a \\Flagged view.
  mailbox "[Gmail]/All Mail" {
    special_use = \\All
    auto = create
  }
  mailbox "[Gmail]/Starred" {
    special_use = \\Flagged
    auto = create
  }
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dir}/passwd
}
userdb {
  driver = static
  args = uid=${owner.uid} gid=${owner.gid} home=${home}
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = ${tlsPort}
    ssl = yes
  }
}
service stats {
  unix_listener stats-writer {
    mode = 0666
  }
}
`;
  writeFileSync(join(dir, 'dovecot.conf'), conf);
  const child: ChildProcess = spawn('/usr/sbin/dovecot', ['-F', '-c', join(dir, 'dovecot.conf')], { stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`dovecot exited with ${code}; see ${dir}/dovecot.log`))));
  exited.catch(() => undefined);
  await greets(port, 'dovecot', exited, `${dir}/dovecot.log`, 300);
  return {
    port,
    tlsPort,
    user,
    pass,
    maildir,
    kick() {
      const r = spawnSync('/usr/bin/doveadm', ['-c', join(dir, 'dovecot.conf'), 'kick', user]);
      if (r.status !== 0) throw new Error(`doveadm kick failed: ${r.stderr.toString()}`);
    },
    sessions() {
      const r = spawnSync('/usr/bin/doveadm', ['-c', join(dir, 'dovecot.conf'), 'who', '-1', user], { timeout: 10_000 });
      if (r.status !== 0) throw new Error(`doveadm who failed: ${r.stderr.toString()}`);
      return r.stdout.toString().split('\n').filter((l) => l.startsWith(`${user} `)).length;
    },
    async stop() {
      if (child.exitCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}
