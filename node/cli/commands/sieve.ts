/**
 * @module node/cli/commands/sieve
 * `haven sieve …`: the operator's side of filtering. A domain's `before`
 * script runs ahead of every account's own (owners manage theirs over
 * ManageSieve); other domain scripts are what `include :global` finds.
 * Every script is checked with the compiler delivery uses before it is stored
 * (here, to point at the file, and again by the operation, which the running
 * node carries out: node/admin/operations).
 */
import { readFileSync } from 'node:fs';
import { compile, SieveSyntaxError } from '../../sieve/index.js';
import { warnUnreplicated, withOperations } from '../context.js';
import { JSON_OPTION, CommandError, type Command } from '../types.js';

function checked(file: string): string {
  let src: string;
  try {
    src = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CommandError(`cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    compile(src);
  } catch (err) {
    if (err instanceof SieveSyntaxError) throw new CommandError(`${file}: ${err.message}; fix it and run the command again`);
    throw err;
  }
  return src;
}

export const sieveCommands: Command[] = [
  {
    name: 'sieve domain-set',
    summary: 'Store a domain Sieve script: "before" runs ahead of every account\'s own script; others serve include :global.',
    details: 'Example: haven sieve domain-set example.org before /etc/haven/before.sieve (see docs/filtering.md).',
    params: ['domain', 'name', 'file'],
    async run(args, io) {
      const src = checked(args.params.file!);
      await withOperations(args, io, async (ops) => {
        const r = await ops.call('sieve.domain.put', { domain: args.params.domain!, name: args.params.name!, source: src });
        warnUnreplicated(io, r);
        io.out(`stored script "${r.name}" for ${r.domain}${r.name === 'before' ? ': it runs before every account\'s own script' : ''}`);
      });
    },
  },
  {
    name: 'sieve domain-list',
    summary: 'List a domain\'s Sieve scripts.',
    params: ['domain'],
    options: { json: JSON_OPTION },
    async run(args, io) {
      await withOperations(args, io, async (ops) => {
        const list = await ops.call('sieve.domain.list', { domain: args.params.domain! });
        if (args.flags.json) return io.out(JSON.stringify(list));
        if (list.length === 0) return io.out(`no scripts for ${args.params.domain}; add one with \`haven sieve domain-set ${args.params.domain} before <file>\``);
        for (const s of list) io.out(`${s.name}\t${s.updatedAt}`);
      }, { readOnly: true });
    },
  },
  {
    name: 'sieve domain-remove',
    summary: 'Remove a domain Sieve script.',
    params: ['domain', 'name'],
    async run(args, io) {
      await withOperations(args, io, async (ops) => {
        const r = await ops.call('sieve.domain.remove', { domain: args.params.domain!, name: args.params.name! });
        warnUnreplicated(io, r);
        io.out(`removed script "${r.name}" of ${r.domain}`);
      });
    },
  },
  {
    name: 'sieve status',
    summary: 'Show an account\'s Sieve scripts, which is active, and the last error a script had at delivery.',
    params: ['address'],
    options: { json: JSON_OPTION },
    async run(args, io) {
      await withOperations(args, io, async (ops) => {
        const { scripts, lastError } = await ops.call('sieve.status', { address: args.params.address! });
        if (args.flags.json) return io.out(JSON.stringify({ scripts, lastError }));
        if (scripts.length === 0) io.out('no scripts (the owner manages them over ManageSieve, port 4190)');
        for (const s of scripts) io.out(`${s.name}${s.active ? '\tACTIVE' : ''}`);
        io.out(lastError ? `last error ${lastError.at}: ${lastError.message}` : 'no script errors');
      }, { readOnly: true });
    },
  },
];
