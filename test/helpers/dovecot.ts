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
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { dovecotConfig, dovecotScratch, launchDovecot } from '../../bench/lib/dovecot.js';
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
  const { dir, owner } = dovecotScratch();
  const port = await freePort();
  const tlsPort = await freePort();
  const user = 'mover@example.net';
  const pass = 'source-password';
  const home = join(dir, 'home');
  const maildir = join(home, 'Maildir');
  mkdirSync(maildir, { recursive: true });
  if (userInfo().uid === 0) spawnSync('chown', ['-R', `${owner.uid}:${owner.gid}`, home]);
  writeFileSync(join(dir, 'passwd'), `${user}:{PLAIN}${pass}::::::\n`);
  const conf = dovecotConfig({
    dir,
    protocol: 'imap',
    port,
    tlsPort,
    owner,
    home,
    maildir,
    passdbArgs: `scheme=PLAIN username_format=%u ${dir}/passwd`,
    extra: `namespace inbox {
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
}`,
  });
  const child = await launchDovecot(dir, conf, port, 300);
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
