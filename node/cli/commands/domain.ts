/**
 * @module node/cli/commands/domain
 * `haven domain add|list|remove`: the mail domains this node hosts. Adding a
 * domain also makes its first DKIM key; the DNS records to publish come from
 * `node/dns` (printed by the admin UI and published by the infra program).
 */
import { warnUnreplicated, withOperations } from '../context.js';
import { JSON_OPTION, type Command } from '../types.js';

export const domainCommands: Command[] = [
  {
    name: 'domain add',
    summary: 'Host a mail domain on this node (makes its first DKIM key).',
    params: ['domain'],
    async run(args, io) {
      await withOperations(
        args,
        io,
        async (ops) => {
          const d = await ops.call('domain.add', { name: args.params.domain! });
          warnUnreplicated(io, d);
          const dkim = d.dkim[0];
          io.out(`added domain ${d.name}`);
          if (dkim) io.out(`DKIM: publish TXT ${dkim.selector}._domainkey.${d.name} "${dkim.txt}"`);
          // MX, SPF, DMARC, MTA-STS and SRV need the server's public addresses, which the doctor finds.
          io.out(`every record the domain needs (MX, SPF, DMARC, MTA-STS, SRV): \`haven doctor\`, the admin UI, or \`pulumi up\` publishes them`);
        },
        { create: true },
      );
    },
  },
  {
    name: 'domain list',
    summary: 'List hosted domains with their account and alias counts.',
    options: { json: JSON_OPTION },
    async run(args, io) {
      await withOperations(args, io, async (ops) => {
        const rows = (await ops.call('domain.list', {})).map((d) => ({ name: d.name, accounts: d.accounts, aliases: d.aliases, createdAt: d.createdAt }));
        if (args.flags.json) return io.out(JSON.stringify(rows));
        if (rows.length === 0) return io.out('no domains yet; add one with `haven domain add <domain>`');
        for (const r of rows) io.out(`${r.name}\t${r.accounts} account(s)\t${r.aliases} alias(es)`);
      }, { readOnly: true });
    },
  },
  {
    name: 'domain remove',
    summary: 'Stop hosting a domain (refused while it has accounts).',
    params: ['domain'],
    async run(args, io) {
      await withOperations(args, io, async (ops) => {
        const r = await ops.call('domain.remove', { name: args.params.domain! });
        warnUnreplicated(io, r);
        io.out(`removed domain ${r.name}${r.aliasesRemoved > 0 ? ` and its ${r.aliasesRemoved} alias(es)` : ''}`);
      });
    },
  },
];
