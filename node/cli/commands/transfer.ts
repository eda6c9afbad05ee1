/**
 * @module node/cli/commands/transfer
 * `haven import <address> <source>` and `haven export <address> <dir>`. The
 * job runs in the process that holds the data directory: the running node
 * (asked over its control socket; delivery goes on) or, with no node, this
 * one. The command starts it, then prints its progress until it ends: a
 * line now and then on a terminal, every reading as a JSON line with
 * --json. Ctrl-C cancels the job; run the same import again to resume it.
 */
import { isAbsolute, resolve } from 'node:path';
import type { Operations } from '../../admin/operations.js';
import type { JobView } from '../../transfer/index.js';
import { readSecret, secretOptions, withOperations } from '../context.js';
import { CommandError, UsageError, type Args, type CliIo, type Command } from '../types.js';

const POLL_MS = 500;

const str = (args: Args, k: string) => (typeof args.flags[k] === 'string' ? (args.flags[k] as string) : undefined);

function num(args: Args, k: string): number | undefined {
  const v = str(args, k);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${k} expects a number, got "${v}"`);
  return n;
}

/** `imap://user@host[:port]` or `imaps://…`; the user may hold an '@' (the URL's last '@' ends it). */
export function parseImapUrl(s: string): { host: string; port: number; secure: boolean; user: string } | null {
  const m = /^(imaps?):\/\/(?:(.*)@)?([^@/:[\]]+|\[[^\]]+\])(?::(\d{1,5}))?\/?$/i.exec(s);
  if (!m) return null;
  const secure = m[1].toLowerCase() === 'imaps';
  return { secure, user: decodeURIComponent(m[2] ?? ''), host: m[3].replace(/^\[|\]$/g, ''), port: m[4] ? Number(m[4]) : secure ? 993 : 143 };
}

async function follow(ops: Operations, id: string, io: CliIo, json: boolean): Promise<JobView> {
  const { formatProgress } = await import('../../transfer/progress.js');
  let stop: string | null = null;
  void io.waitForStop().then((sig) => {
    stop = sig;
    void ops.call('transfer.cancel', { id }).catch(() => undefined);
  });
  let lastLine = 0;
  for (;;) {
    const v = await ops.call('transfer.status', { id });
    const p = v.progress;
    const ended = p.phase === 'done' || p.phase === 'failed' || p.phase === 'cancelled';
    if (json) io.out(JSON.stringify({ id, ...p }));
    else if (ended || Date.now() - lastLine > 2000) {
      io.out(formatProgress(p));
      lastLine = Date.now();
    }
    if (ended) {
      if (p.phase === 'failed') throw new CommandError(`${p.error ?? 'failed'}; what was done is kept, run the same command again to continue`);
      if (p.phase === 'cancelled') throw new CommandError(`cancelled${stop ? ` (${stop})` : ''}; run the same command again to continue where it stopped`);
      return v;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

export const transferCommands: Command[] = [
  {
    name: 'import',
    summary: 'Bring mail, calendars and contacts into an account: from an IMAP server, an mbox file, a Maildir, .ics/.vcf files or a Haven export.',
    details:
      'Source: imap://user@host[:port] or imaps://user@host[:port] (every folder, flags, keywords, dates; Gmail labels without duplicates), ' +
      'https://user@host[/path] for a CalDAV/CardDAV server (every calendar and address book, with names and colours), ' +
      'or a path on the node\'s machine: a Maildir (Maildir++ .Sub.Folder), an mbox file, a .ics or .vcf file, or a directory `haven export` wrote.\n' +
      'The account is opened with its password or an app password (--password-stdin reads it first, then --source-password-stdin the source\'s). ' +
      'Interrupted, run it again: it continues and never duplicates a message.',
    params: ['address', 'source'],
    options: {
      ...secretOptions('password', 'account password or app password'),
      ...secretOptions('source-password', "source server's password (an app password for Gmail)"),
      user: { type: 'string', value: 'name', help: 'The source login, when the URL has none.' },
      folder: { type: 'string', multiple: true, value: 'name', help: 'Only this source folder (repeatable; as the server lists it).' },
      into: { type: 'string', value: 'folder', help: 'mbox: the folder to import into (default: from the file name; mbox or inbox means INBOX).' },
      as: { type: 'string', value: 'kind', help: 'Read the path as mbox, maildir, calendar, contacts or export (default: detect).' },
      'mbox-variant': { type: 'string', value: 'mboxrd|mboxo', help: 'How the mbox quotes "From " lines (default mboxrd; mboxo for old Unix mail files).' },
      rate: { type: 'string', value: 'msg/s', help: 'Most messages per second (spares the source; default: no limit). With --concurrency, for all connections together.' },
      concurrency: { type: 'string', value: 'n', help: 'IMAP: connections reading folders in parallel (default 1, at most 16; Dovecot allows 10 per user and address unless configured otherwise).' },
      batch: { type: 'string', value: 'n', help: 'Messages per transaction (default 200).' },
      insecure: { type: 'boolean', help: 'Accept the source\'s certificate without checking it (a test or old server).' },
      json: { type: 'boolean', help: 'Print progress as JSON lines.' },
    },
    async run(args, io) {
      const address = args.params.address!;
      const src = args.params.source!;
      const url = /^imaps?:\/\//i.test(src) ? parseImapUrl(src) : null;
      if (/^imaps?:\/\//i.test(src) && !url) throw new UsageError(`"${src}" is not an IMAP URL; write imaps://user@host[:port]`);
      const as = str(args, 'as');
      if (as && !['mbox', 'maildir', 'calendar', 'contacts', 'export'].includes(as)) throw new UsageError('--as expects mbox, maildir, calendar, contacts or export');
      const variant = str(args, 'mbox-variant');
      if (variant && variant !== 'mboxrd' && variant !== 'mboxo') throw new UsageError('--mbox-variant expects mboxrd or mboxo');
      await withOperations(args, io, async (ops) => {
        if (!(await ops.call('account.get', { address }))) throw new CommandError(`no account ${address}; see \`haven account list\``);
        const password = await readSecret(args, io, { flag: 'password', prompt: `Password (or app password) for ${address}` });
        let source;
        const dav = /^https?:\/\//i.test(src) ? new URL(src) : null;
        if (dav) {
          const user = str(args, 'user') ?? decodeURIComponent(dav.username);
          if (!user) throw new UsageError('the CalDAV/CardDAV URL names no user: write https://user@host or give --user');
          const sourcePassword = await readSecret(args, io, { flag: 'source-password', prompt: `Password for ${user} on ${dav.host}` });
          dav.username = '';
          dav.password = '';
          source = { type: 'dav' as const, url: dav.href, user, password: sourcePassword, insecure: args.flags.insecure === true || undefined };
        } else if (url) {
          const user = str(args, 'user') ?? url.user;
          if (!user) throw new UsageError('the IMAP URL names no user: write imaps://user@host or give --user');
          const sourcePassword = await readSecret(args, io, { flag: 'source-password', prompt: `Password for ${user} on ${url.host}` });
          const folders = args.flags.folder as string[] | undefined;
          const concurrency = num(args, 'concurrency');
          if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 16)) throw new UsageError(`--concurrency expects a whole number from 1 to 16, got ${concurrency}`);
          source = { type: 'imap' as const, host: url.host, port: url.port, secure: url.secure, user, password: sourcePassword, insecure: args.flags.insecure === true || undefined, folders, concurrency };
        } else {
          const path = isAbsolute(src) ? src : resolve(io.cwd, src);
          source = { type: 'path' as const, path, as: as as 'mbox' | undefined, into: str(args, 'into'), variant: variant as 'mboxrd' | undefined };
        }
        // Run here (no node): this process serves nobody, so the import may pause it to free dead Buffers (transfer/memory.ts).
        if (ops.where === 'local') (await import('../../transfer/index.js')).allowForcedCollections();
        const started = await ops.call('transfer.start', { kind: 'import', address, password, source, rate: num(args, 'rate'), batch: num(args, 'batch') });
        const json = args.flags.json === true;
        if (!json) io.out(`importing into ${address} from ${started.what} (job ${started.id}${ops.where === 'node' ? ', in the running node' : ''})`);
        await follow(ops, started.id, io, json);
      });
    },
  },
  {
    name: 'export',
    summary: 'Write an account out in open formats: Maildir++ (or mbox), one .ics per calendar, one .vcf per address book, and a manifest.',
    details: 'The directory is written by the process that holds the data directory (the node, if it runs): give a path it can write. Files are 0600 in 0700 directories.',
    params: ['address', 'dir'],
    options: {
      ...secretOptions('password', 'account password or app password'),
      format: { type: 'string', value: 'maildir|mbox', help: 'Mail as Maildir++ (default) or one mboxrd file per folder.' },
      json: { type: 'boolean', help: 'Print progress as JSON lines, the manifest at the end.' },
    },
    async run(args, io) {
      const address = args.params.address!;
      const format = str(args, 'format') ?? 'maildir';
      if (format !== 'maildir' && format !== 'mbox') throw new UsageError('--format expects maildir or mbox');
      const dir = isAbsolute(args.params.dir!) ? args.params.dir! : resolve(io.cwd, args.params.dir!);
      await withOperations(args, io, async (ops) => {
        if (!(await ops.call('account.get', { address }))) throw new CommandError(`no account ${address}; see \`haven account list\``);
        const password = await readSecret(args, io, { flag: 'password', prompt: `Password (or app password) for ${address}` });
        const started = await ops.call('transfer.start', { kind: 'export', address, password, dir, format });
        const json = args.flags.json === true;
        const v = await follow(ops, started.id, io, json);
        const m = v.manifest!;
        if (json) io.out(JSON.stringify({ manifest: m }));
        else io.out(`exported ${m.folders.reduce((n, f) => n + f.messages, 0)} messages in ${m.folders.length} folders, ${m.calendars.length} calendars, ${m.addressBooks.length} address books to ${dir} (manifest.json lists them with their SHA-256)`);
      });
    },
  },
];
