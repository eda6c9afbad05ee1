/**
 * @module node/cli/commands/start
 * `haven start` (and `npm start`): runs the node until SIGTERM or SIGINT.
 * On the first local run (empty data directory, no master key configured)
 * it also creates a first domain and account so a fresh checkout is usable
 * at once, and prints their credentials: the only place the password ever
 * appears. Logs go to stderr; stdout carries the banner alone.
 */
import { newAppPassword } from '../../crypto/index.js';
import type { ListenerName, NodeHandle } from '../../main.js';
import type { Config } from '../../config/index.js';
import { createLogger, type Logger } from '../../util/log.js';
import { cliConfig } from '../context.js';
import { terminalLogger } from '../log-format.js';
import type { CliIo, Command } from '../types.js';

/**
 * The first local account. `haven.localhost` is under the loopback-only
 * `localhost.` name (RFC 6761 §6.3), so nothing sent to it can leave the
 * machine, and its dot satisfies the name@domain.tld check many mail clients
 * (Apple Mail, Outlook) apply to a bare `me@localhost`.
 */
export const FIRST_DOMAIN = 'haven.localhost';
export const FIRST_ADDRESS = `me@${FIRST_DOMAIN}`;

const LISTENERS: readonly [ListenerName, string][] = [
  ['smtp', 'SMTP MX (inbound mail, STARTTLS offered)'],
  ['submission', 'submission, STARTTLS (mail clients send here)'],
  ['submissions', 'submission, implicit TLS'],
  ['imap', 'IMAP, STARTTLS'],
  ['imaps', 'IMAP, implicit TLS'],
  ['pop3', 'POP3, STLS'],
  ['pop3s', 'POP3, implicit TLS'],
  ['http', 'HTTP (ACME challenges, redirect to HTTPS)'],
  ['https', 'HTTPS: CalDAV, CardDAV, admin API, /health'],
  ['admin', 'admin UI'],
];

interface FirstAccount {
  address: string;
  password: string;
  recoveryKey: string;
}

async function createFirstAccount(node: NodeHandle): Promise<FirstAccount> {
  const ops = node.operations;
  await ops.call('domain.add', { name: FIRST_DOMAIN, ifMissing: true });
  const password = newAppPassword();
  const { address, recoveryKey } = await ops.call('account.add', { address: FIRST_ADDRESS, password });
  return { address, password, recoveryKey };
}

function printBanner(io: CliIo, node: NodeHandle, first: FirstAccount | null): void {
  const host = node.config.listenAddress;
  const shown = host.includes(':') ? `[${host}]` : host;
  io.out(`Haven is running on ${node.config.hostname} (data in ${node.config.dataDir})`);
  io.out('');
  io.out('ports:');
  for (const [name, what] of LISTENERS) {
    const port = node.ports[name];
    if (port === undefined) continue;
    io.out(`  ${name.padEnd(12)} ${`${shown}:${port}`.padEnd(22)} ${what}`);
  }
  if (node.ports.pop3 === undefined) io.out('  (POP3 is off: pop3.enabled)');
  io.out('');
  if (node.admin) {
    io.out(`admin UI:     ${node.admin.url}`);
    io.out(`admin login:  ${node.admin.login ?? 'see the admin UI'}`);
  } else {
    io.out('admin UI:     not served here (only on a loopback listenAddress; a server uses the edge Worker); the `haven` commands do the same (haven help)');
  }
  io.out(`certificate:  ${node.certificate.source}${node.certificate.source === 'self-signed' ? ` (${node.certificate.certFile}); mail clients ask once to trust it` : ''}`);
  if (node.masterKey.warning) io.out(`master key:   ${node.masterKey.warning}`);
  io.out(`replication:  ${node.replication ? 'on' : 'off (set replicaUrl to stream every change off-site)'}${node.restored ? '; restored from the replica on this start' : ''}`);
  io.out('');
  if (first) {
    io.out('first account (created now; the password is stored nowhere, so note it):');
    io.out(`  address:      ${first.address}`);
    io.out(`  password:     ${first.password}`);
    io.out(`  recovery key: ${first.recoveryKey}`);
    io.out(`  log in with IMAP on port ${node.ports.imaps ?? node.ports.imap} and send with submission on port ${node.ports.submission ?? node.ports.submissions}, user = the address`);
    if (node.ports.https !== undefined) io.out(`  calendars and contacts: https://${shown}:${node.ports.https}/ (CalDAV/CardDAV clients find them from there)`);
  } else {
    const accounts = node.store.directory.listAccounts();
    const names = accounts.slice(0, 5).map((a) => a.address).join(', ');
    io.out(
      accounts.length === 0
        ? 'accounts:     none yet; add one with `haven account add <address>`'
        : `accounts:     ${accounts.length} exist (${names}${accounts.length > 5 ? ', …' : ''}); their passwords are not shown again (change one with \`haven account passwd\`)`,
    );
  }
  io.out('');
  io.out('ready; stop with Ctrl-C (SIGINT) or SIGTERM');
}

export const startCommands: Command[] = [
  {
    name: 'start',
    summary: 'Run the mail node (SMTP, IMAP, POP3, CalDAV/CardDAV, admin) until stopped.',
    details:
      'With nothing configured this is a complete local node: unprivileged ports on 127.0.0.1, a self-signed certificate and a master key\n' +
      `generated into the data directory, and on the first run a first account ${FIRST_ADDRESS} whose password is printed once.\n` +
      'With replicaUrl set and an empty data directory, the node restores itself from the replica before it serves.',
    async run(args, io) {
      const config = cliConfig(args, io);
      // A person at a terminal reads text; systemd and redirected output keep JSON lines.
      const log = process.stderr.isTTY ? terminalLogger(config.log.level) : createLogger(config.log.level, 2);
      // Listen for the stop signal before booting: a SIGTERM during a long first-boot restore
      // then ends the node once it is consistent, instead of killing it halfway.
      const stop = io.waitForStop();
      if (config.role === 'standby') return runStandby(config, log, io, stop);
      // Loaded here, not at the top: the other commands should not pay for loading every server.
      const { startNode } = await import('../../main.js');
      // An error nobody caught is logged and counted; the node keeps serving everyone else (node/net/process-policy).
      (await import('../../net/index.js')).installProcessPolicy(log);
      const node = await startNode(config, { log });
      let first: FirstAccount | null = null;
      try {
        // Only a local run (the key was generated into the data directory just now) gets an account made for it.
        if (node.fresh && node.masterKey.origin === 'generated') first = await createFirstAccount(node);
        printBanner(io, node, first);
      } catch (err) {
        await node.close();
        throw err;
      }
      const signal = await stop;
      log.info({ signal }, 'shutting down');
      await node.close();
      io.err(`haven: stopped (${signal})`);
    },
  },
];

/** `haven start` with role: standby: follow the replica until stopped, or serve once promoted. */
async function runStandby(config: Config, log: Logger, io: CliIo, stop: Promise<string>): Promise<void> {
  const { startStandby } = await import('../../standby.js');
  const standby = await startStandby(config, { log });
  io.out(`haven standby: following ${config.replicaUrl.replace(/\/\/[^/@]*@/, '//')} into ${config.dataDir}; serving nothing until \`haven promote\``);
  io.out('ready; stop with Ctrl-C (SIGINT) or SIGTERM');
  const signal = await stop;
  log.info({ signal }, 'shutting down');
  await standby.close();
  io.err(`haven: stopped (${signal})`);
}
