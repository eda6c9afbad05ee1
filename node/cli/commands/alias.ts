/**
 * @module node/cli/commands/alias
 * `haven alias add|list|remove`: extra addresses that deliver to accounts
 * here or forward elsewhere. `*@domain` is the domain's catch-all; targets
 * outside the node are forwarded (with SRS, by node/smtp).
 */
import { warnUnreplicated, withOperations } from '../context.js';
import { JSON_OPTION, type Command } from '../types.js';

export const aliasCommands: Command[] = [
  {
    name: 'alias add',
    summary: 'Add an alias (or a catch-all *@domain) delivering to one or more targets.',
    details: 'Targets may be accounts on this node or addresses elsewhere (forwarded). Example: haven alias add sales@example.org alice@example.org bob@elsewhere.net',
    params: ['address', 'targets...'],
    async run(args, io) {
      await withOperations(args, io, async (ops) => {
        const alias = await ops.call('alias.add', { address: args.params.address!, targets: args.rest });
        warnUnreplicated(io, alias);
        io.out(`added alias ${alias.address} -> ${alias.targets.join(', ')}`);
        if (alias.forwarded.length > 0) io.out(`forwarded off this node: ${alias.forwarded.join(', ')}`);
      });
    },
  },
  {
    name: 'alias list',
    summary: 'List aliases, optionally of one domain.',
    params: ['domain?'],
    options: { json: JSON_OPTION },
    async run(args, io) {
      await withOperations(args, io, async (ops) => {
        const aliases = await ops.call('alias.list', { domain: args.params.domain });
        if (args.flags.json) return io.out(JSON.stringify(aliases));
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
      await withOperations(args, io, async (ops) => {
        const r = await ops.call('alias.remove', { address: args.params.address! });
        warnUnreplicated(io, r);
        io.out(`removed alias ${r.address}`);
      });
    },
  },
];
