/**
 * @module node/cli/commands/alias
 * `haven alias add|list|remove`: extra addresses that deliver to accounts
 * here or forward elsewhere. `*@domain` is the domain's catch-all; targets
 * outside the node are forwarded (with SRS, by node/smtp).
 */
import { withStore } from '../context.js';
import { JSON_OPTION, CommandError, type Command } from '../types.js';

export const aliasCommands: Command[] = [
  {
    name: 'alias add',
    summary: 'Add an alias (or a catch-all *@domain) delivering to one or more targets.',
    details: 'Targets may be accounts on this node or addresses elsewhere (forwarded). Example: haven alias add sales@example.org alice@example.org bob@elsewhere.net',
    params: ['address', 'targets...'],
    async run(args, io) {
      await withStore(args, io, (store) => {
        const address = args.params.address!.trim().toLowerCase();
        if (store.directory.listAliases().some((a) => a.address === address)) {
          throw new CommandError(`alias ${address} already exists; remove it first (\`haven alias remove ${address}\`) to change its targets`);
        }
        const local = new Set(store.directory.listAccounts().map((a) => a.address));
        const alias = store.directory.addAlias(args.params.address!, args.rest);
        io.out(`added alias ${alias.address} -> ${alias.targets.join(', ')}`);
        const outside = alias.targets.filter((t) => !local.has(t));
        if (outside.length > 0) io.out(`forwarded off this node: ${outside.join(', ')}`);
      });
    },
  },
  {
    name: 'alias list',
    summary: 'List aliases, optionally of one domain.',
    params: ['domain?'],
    options: { json: JSON_OPTION },
    async run(args, io) {
      await withStore(args, io, (store) => {
        const aliases = store.directory.listAliases(args.params.domain);
        if (args.flags.json) return io.out(JSON.stringify(aliases.map((a) => ({ address: a.address, targets: a.targets }))));
        if (aliases.length === 0) return io.out('no aliases; add one with `haven alias add <address> <target>...`');
        for (const a of aliases) io.out(`${a.address}\t${a.targets.join(', ')}`);
      }, { readOnly: true });
    },
  },
  {
    name: 'alias remove',
    summary: 'Remove an alias (mail to it is then refused, unless a catch-all takes it).',
    params: ['address'],
    async run(args, io) {
      await withStore(args, io, (store) => {
        store.directory.removeAlias(args.params.address!);
        io.out(`removed alias ${args.params.address!.trim().toLowerCase()}`);
      });
    },
  },
];
