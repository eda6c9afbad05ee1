/**
 * @module node/cli/commands/account
 * `haven account add|list|passwd|remove|set`. Secrets come from a flag, a line of
 * standard input or a hidden prompt (node/cli/context readSecret), so every
 * command works from a script and from a terminal. The recovery key is shown
 * once, at creation (and after a zero-access reset): the server keeps only
 * what it wraps, never the key itself.
 */
import { newAppPassword } from '../../crypto/index.js';
import { normalizeAddress } from '../../store/index.js';
import { formatBytes, readSecret, secretOptions, sizeFlag, warnUnreplicated, withOperations } from '../context.js';
import { JSON_OPTION, CommandError, UsageError, type Command } from '../types.js';

export const accountCommands: Command[] = [
  {
    name: 'account add',
    summary: 'Create an account (mailbox, calendars, contacts); prints its recovery key once.',
    details:
      'The password comes from --password, --password-stdin, or a hidden prompt on a terminal; --generate-password makes one and prints it.\n' +
      'Write the recovery key down: in zero-access mode it is the only way back into the mailbox if the password is lost.',
    params: ['address'],
    options: {
      ...secretOptions('password', 'account password'),
      'generate-password': { type: 'boolean', help: 'Generate a strong password and print it.' },
      name: { type: 'string', value: 'display name', help: 'Display name.' },
      quota: { type: 'string', value: 'size', help: 'Storage quota like 5G or 500MB; 0 (default) is unlimited.' },
      managed: { type: 'boolean', help: 'Managed key mode for this account: the server can open the mailbox without its owner (see keyMode).' },
      json: { type: 'boolean', help: 'Print JSON: {address, recoveryKey, password?}.' },
    },
    async run(args, io) {
      const address = normalizeAddress(args.params.address!);
      const quotaBytes = sizeFlag(args.flags.quota, 'quota');
      const generate = args.flags['generate-password'] === true;
      if (generate && (args.flags.password !== undefined || args.flags['password-stdin'])) throw new UsageError('--generate-password cannot be combined with --password or --password-stdin');
      await withOperations(args, io, async (ops) => {
        // Checked before the password is asked for (and before the key derivation runs), so a typo fails fast.
        if (await ops.call('account.get', { address })) throw new CommandError(`account ${address} already exists; see \`haven account list\``);
        const domain = address.slice(address.lastIndexOf('@') + 1);
        if (!(await ops.call('domain.get', { name: domain }))) throw new CommandError(`no domain ${domain}; add it first with \`haven domain add ${domain}\``);
        const password = generate ? newAppPassword() : await readSecret(args, io, { flag: 'password', prompt: `Password for ${address}`, confirm: true });
        const r = await ops.call('account.add', {
          address,
          password,
          displayName: typeof args.flags.name === 'string' ? args.flags.name : undefined,
          quotaBytes,
          managed: args.flags.managed === true ? true : undefined,
        });
        warnUnreplicated(io, r);
        if (args.flags.json) {
          io.out(JSON.stringify({ address: r.address, recoveryKey: r.recoveryKey, ...(generate ? { password } : {}) }));
          return;
        }
        io.out(`created account ${r.address}`);
        if (generate) io.out(`password:     ${password}`);
        io.out(`recovery key: ${r.recoveryKey}`);
        io.out('Write the recovery key down now: it is shown only this once and is the only way back in if the password is lost.');
      });
    },
  },
  {
    name: 'account list',
    summary: 'List accounts, optionally of one domain.',
    params: ['domain?'],
    options: { json: JSON_OPTION },
    async run(args, io) {
      await withOperations(args, io, async (ops) => {
        const rows = await ops.call('account.list', { domain: args.params.domain });
        if (args.flags.json) return io.out(JSON.stringify(rows.map((r) => ({ address: r.address, keyMode: r.keyMode, usedBytes: r.usedBytes, quotaBytes: r.quotaBytes, disabled: r.disabled, createdAt: r.createdAt }))));
        if (rows.length === 0) return io.out('no accounts yet; add one with `haven account add <address>`');
        for (const r of rows) {
          const quota = r.quotaBytes > 0 ? `${formatBytes(r.usedBytes)} of ${formatBytes(r.quotaBytes)}` : `${formatBytes(r.usedBytes)} (no quota)`;
          io.out(`${r.address}\t${r.keyMode}\t${quota}${r.disabled ? '\tdisabled' : ''}`);
        }
      }, { readOnly: true });
    },
  },
  {
    name: 'account passwd',
    summary: 'Change an account password, proven by the current password or the recovery key.',
    details:
      'Mail is not rewritten: the mailbox key is re-wrapped under the new password.\n' +
      'With --current-password-stdin and --password-stdin both, standard input holds the current password on line 1 and the new one on line 2.\n' +
      '--reset sets a password without the old one: in managed mode all mail stays; in zero-access mode the server cannot read the old\n' +
      'mailbox, so the account starts empty, the old mailbox is set aside (readable with the recovery key) and a new recovery key is printed.',
    params: ['address'],
    options: {
      ...secretOptions('current-password', 'current password'),
      'recovery-key': { type: 'string', value: 'key', help: 'Prove the change with the recovery key instead of the current password.' },
      ...secretOptions('password', 'new password'),
      reset: { type: 'boolean', help: 'Administrative reset without the current password (see above).' },
    },
    async run(args, io) {
      const address = normalizeAddress(args.params.address!);
      const recovery = typeof args.flags['recovery-key'] === 'string' ? args.flags['recovery-key'] : undefined;
      const reset = args.flags.reset === true;
      if (reset && (recovery || args.flags['current-password'] !== undefined || args.flags['current-password-stdin'])) {
        throw new UsageError('--reset needs no current password or recovery key; give one or the other');
      }
      await withOperations(args, io, async (ops) => {
        if (!(await ops.call('account.get', { address }))) throw new CommandError(`no account ${address}; see \`haven account list\``);
        const current = reset || recovery ? undefined : await readSecret(args, io, { flag: 'current-password', prompt: `Current password for ${address}` });
        const next = await readSecret(args, io, { flag: 'password', prompt: `New password for ${address}`, confirm: true });
        if (reset) {
          const r = await ops.call('account.reset', { address, password: next });
          warnUnreplicated(io, r);
          if (r.keptMail) return io.out(`password reset for ${address}; all mail kept (managed key mode)`);
          io.out(`password reset for ${address}. Zero-access mode: the old mailbox could not be opened without its owner, so the account starts empty.`);
          io.out(`The old mailbox is set aside at ${r.setAside} (open it with the old recovery key).`);
          io.out(`new recovery key: ${r.recoveryKey}`);
          return;
        }
        const r = await ops.call('account.passwd', current !== undefined ? { address, currentPassword: current, password: next } : { address, recoveryKey: recovery!, password: next });
        warnUnreplicated(io, r);
        io.out(`password changed for ${address}; mail clients using the old password must be updated (app passwords keep working)`);
      });
    },
  },
  {
    name: 'account remove',
    summary: 'Delete an account and all its mail, calendars and contacts.',
    details: 'Asks for the address again on a terminal; scripts pass --yes. The data is gone from this node at once (replicas keep history for their retention window).',
    params: ['address'],
    options: { yes: { type: 'boolean', short: 'y', help: 'Do not ask for confirmation.' } },
    async run(args, io) {
      const address = normalizeAddress(args.params.address!);
      await withOperations(args, io, async (ops) => {
        if (!(await ops.call('account.get', { address }))) throw new CommandError(`no account ${address}; see \`haven account list\``);
        if (args.flags.yes !== true) {
          if (!io.interactive) throw new UsageError(`removing ${address} deletes all its mail; add --yes to confirm from a script`);
          const typed = await io.prompt(`This deletes all mail, calendars and contacts of ${address}. Type the address to confirm: `);
          if (typed.trim().toLowerCase() !== address) throw new CommandError('the address typed does not match; nothing was removed');
        }
        warnUnreplicated(io, await ops.call('account.remove', { address }));
        io.out(`removed account ${address}`);
      });
    },
  },
  {
    name: 'account set',
    summary: 'Change an account\'s quota or what POP3 deletion does.',
    details:
      '--pop3-deletes delete (the default) removes messages a POP3 client deletes; keep only hides them from POP3,\n' +
      'so IMAP and webmail still see them (for a POP3 client that should not empty the mailbox). Takes effect at the next login.',
    params: ['address'],
    options: {
      quota: { type: 'string', value: 'size', help: 'Storage quota like 5G or 500MB; 0 is unlimited.' },
      'pop3-deletes': { type: 'string', value: 'delete|keep', help: 'What a POP3 DELE does: delete for good, or keep and hide from POP3.' },
    },
    async run(args, io) {
      const address = normalizeAddress(args.params.address!);
      const mode = args.flags['pop3-deletes'];
      if (mode !== undefined && mode !== 'delete' && mode !== 'keep') throw new UsageError('--pop3-deletes takes delete or keep');
      if (args.flags.quota === undefined && mode === undefined) throw new UsageError('nothing to change; give --quota or --pop3-deletes');
      await withOperations(args, io, async (ops) => {
        const u = await ops.call('account.set', {
          address,
          quotaBytes: args.flags.quota !== undefined ? sizeFlag(args.flags.quota, 'quota') : undefined,
          pop3Keep: mode !== undefined ? mode === 'keep' : undefined,
        });
        warnUnreplicated(io, u);
        io.out(`${address}: quota ${u.quotaBytes > 0 ? formatBytes(u.quotaBytes) : 'unlimited'}, POP3 deletes ${u.pop3Keep ? 'keep (hidden from POP3 only)' : 'delete'}`);
      });
    },
  },
];
