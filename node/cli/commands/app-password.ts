/**
 * @module node/cli/commands/app-password
 * `haven app-password add|list|revoke`: per-device passwords for mail
 * clients. Each wraps the mailbox key, so creating one needs the account's
 * password (zero-access mode: only the owner can unwrap the key); revoking
 * one deletes its wrap and it stops working at once.
 */
import { normalizeAddress } from '../../store/index.js';
import { readSecret, secretOptions, warnUnreplicated, withOperations } from '../context.js';
import { JSON_OPTION, CommandError, type Command } from '../types.js';

export const appPasswordCommands: Command[] = [
  {
    name: 'app-password add',
    summary: 'Create an app password for a mail client; prints it once.',
    details: 'Needs the account password (--password, --password-stdin or a prompt): the app password wraps the mailbox key, which only the owner can unwrap.',
    params: ['address'],
    options: {
      label: { type: 'string', value: 'name', help: 'What the password is for, e.g. "phone" (shown by list).' },
      ...secretOptions('password', 'account password'),
      json: { type: 'boolean', help: 'Print JSON: {id, label, password}.' },
    },
    async run(args, io) {
      const address = normalizeAddress(args.params.address!);
      const label = typeof args.flags.label === 'string' ? args.flags.label : 'app';
      await withOperations(args, io, async (ops) => {
        if (!(await ops.call('account.get', { address }))) throw new CommandError(`no account ${address}; see \`haven account list\``);
        const password = await readSecret(args, io, { flag: 'password', prompt: `Password for ${address}` });
        const created = await ops.call('app-password.add', { address, label, password });
        warnUnreplicated(io, created);
        if (args.flags.json) return io.out(JSON.stringify({ id: created.id, label, password: created.password }));
        io.out(`app password "${label}" for ${address} (id ${created.id}):`);
        io.out(created.password);
        io.out('It is shown only this once; use it in place of the account password in the mail client.');
      });
    },
  },
  {
    name: 'app-password list',
    summary: "List an account's app passwords (never the passwords themselves).",
    params: ['address'],
    options: { json: JSON_OPTION },
    async run(args, io) {
      await withOperations(args, io, async (ops) => {
        const list = await ops.call('app-password.list', { address: normalizeAddress(args.params.address!) });
        if (args.flags.json) return io.out(JSON.stringify(list.map((p) => ({ ...p, createdAt: Date.parse(p.createdAt), lastUsedAt: p.lastUsedAt === null ? null : Date.parse(p.lastUsedAt) }))));
        if (list.length === 0) return io.out('no app passwords; make one with `haven app-password add <address> --label <name>`');
        for (const p of list) {
          const used = p.lastUsedAt ? `last used ${p.lastUsedAt}` : 'never used';
          io.out(`${p.id}\t${p.label ?? ''}\tcreated ${p.createdAt}\t${used}`);
        }
      }, { readOnly: true });
    },
  },
  {
    name: 'app-password revoke',
    summary: 'Revoke an app password by its id (from list); it stops working at once.',
    params: ['address', 'id'],
    async run(args, io) {
      await withOperations(args, io, async (ops) => {
        const address = normalizeAddress(args.params.address!);
        warnUnreplicated(io, await ops.call('app-password.revoke', { address, id: args.params.id! }));
        io.out(`revoked app password ${args.params.id} of ${address}`);
      });
    },
  },
];
