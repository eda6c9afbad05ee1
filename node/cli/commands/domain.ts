/**
 * @module node/cli/commands/domain
 * `haven domain add|list|remove`: the mail domains this node hosts. Adding a
 * domain also makes its first DKIM key; the DNS records to publish come from
 * `node/dns` (printed by the admin UI and published by the infra program).
 */
import { dkimTxt } from '../../dns/index.js';
import { withStore } from '../context.js';
import { JSON_OPTION, CommandError, type Command } from '../types.js';

export const domainCommands: Command[] = [
  {
    name: 'domain add',
    summary: 'Host a mail domain on this node (makes its first DKIM key).',
    params: ['domain'],
    async run(args, io) {
      await withStore(
        args,
        io,
        (store) => {
          if (store.directory.getDomain(args.params.domain!)) {
            throw new CommandError(`domain ${args.params.domain!.toLowerCase()} already exists; see \`haven domain list\``);
          }
          const d = store.directory.addDomain(args.params.domain!);
          const dkim = store.directory.dkimKeys(d.name).find((k) => k.active);
          io.out(`added domain ${d.name}`);
          if (dkim) io.out(`DKIM: publish TXT ${dkim.selector}._domainkey.${d.name} "${dkimTxt({ selector: dkim.selector, publicKey: dkim.publicKeyDns, algorithm: dkim.algorithm })}"`);
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
      await withStore(args, io, (store) => {
        const rows = store.directory.listDomains().map((d) => ({
          name: d.name,
          accounts: store.directory.listAccounts(d.name).length,
          aliases: store.directory.listAliases(d.name).length,
          createdAt: new Date(d.createdAt).toISOString(),
        }));
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
      await withStore(args, io, (store) => {
        const name = args.params.domain!.toLowerCase();
        // Aliases belong to the domain and go with it (the schema cascades); accounts must be removed first so no mailbox is lost.
        const aliases = store.directory.getDomain(name) ? store.directory.listAliases(name).length : 0;
        store.directory.removeDomain(name);
        io.out(`removed domain ${name}${aliases > 0 ? ` and its ${aliases} alias(es)` : ''}`);
      });
    },
  },
];
