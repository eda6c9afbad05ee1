/**
 * @module node/imap/parse
 * A whole request (from the receiver) to a typed command. Pure and total:
 * anything malformed throws ImapError BAD, never anything else, so the
 * session can answer and carry on. A cursor over the request's parts
 * (cursor.ts), as in mox's parse.go; one function per command family, the
 * larger grammars in their own modules (parse-fetch, parse-search,
 * parse-notify), registered here by command name.
 */
import { ImapError } from './errors.js';
import type { Part } from './receiver.js';
import type { SeqSet } from './seqset.js';
import { bad, Cursor } from './cursor.js';
import { parseFetch, type FetchAtt } from './parse-fetch.js';
import { parseNotify, type NotifyGroup } from './parse-notify.js';
import { parseSearch, parseSort, parseThread, type SearchKey } from './parse-search.js';

export { Cursor } from './cursor.js';
export type { FetchAtt } from './parse-fetch.js';
export type { NotifyGroup } from './parse-notify.js';
export type { SearchKey } from './parse-search.js';

export interface StatusItems {
  items: string[];
}
export interface ListReturn {
  subscribed: boolean;
  children: boolean;
  specialUse: boolean;
  status: string[] | null;
}
export interface QresyncParams {
  uidValidity: number;
  modseq: number;
  knownUids?: SeqSet;
  seqMatch?: { seqs: SeqSet; uids: SeqSet };
}
export interface AppendMessage {
  flags: string[];
  date: number | null;
  data: Buffer;
  binary: boolean;
  /** RFC 6855 §4 `UTF8 (literal)`: a message with raw UTF-8 headers. */
  utf8?: boolean;
}

type Base = { tag: string; uid?: boolean };
export type Command = Base &
  (
    | { name: 'CAPABILITY' | 'NOOP' | 'LOGOUT' | 'STARTTLS' | 'CHECK' | 'CLOSE' | 'UNSELECT' | 'EXPUNGE' | 'IDLE' | 'NAMESPACE' }
    | { name: 'LOGIN'; user: string; pass: string }
    | { name: 'AUTHENTICATE'; mechanism: string; initial: string | null }
    | { name: 'ENABLE'; caps: string[] }
    | { name: 'ID'; params: Record<string, string | null> | null }
    | { name: 'COMPRESS'; mechanism: string }
    | { name: 'SELECT' | 'EXAMINE'; mailbox: string; condstore: boolean; qresync: QresyncParams | null }
    | { name: 'CREATE'; mailbox: string; specialUse: string | null }
    | { name: 'DELETE' | 'SUBSCRIBE' | 'UNSUBSCRIBE'; mailbox: string }
    | { name: 'RENAME'; from: string; to: string }
    | { name: 'LIST'; selection: string[]; ref: string; patterns: string[]; returns: ListReturn }
    | { name: 'LSUB'; ref: string; patterns: string[] }
    | { name: 'STATUS'; mailbox: string; items: string[] }
    | { name: 'APPEND'; mailbox: string; messages: AppendMessage[] }
    | { name: 'FETCH'; set: SeqSet; atts: FetchAtt[]; changedSince: number | null; vanished: boolean }
    | { name: 'STORE'; set: SeqSet; mode: 'set' | 'add' | 'remove'; silent: boolean; flags: string[]; unchangedSince: number | null }
    | { name: 'COPY' | 'MOVE'; set: SeqSet; mailbox: string }
    | { name: 'UIDEXPUNGE'; set: SeqSet }
    | { name: 'SEARCH'; returns: string[] | null; key: SearchKey }
    | { name: 'SORT'; returns: string[] | null; criteria: { key: string; reverse: boolean }[]; key: SearchKey }
    | { name: 'THREAD'; algorithm: 'REFERENCES' | 'ORDEREDSUBJECT'; key: SearchKey }
    | { name: 'GETQUOTA' | 'GETQUOTAROOT'; root: string }
    | { name: 'SETQUOTA'; root: string }
    | { name: 'NOTIFY'; set: { status: boolean; groups: NotifyGroup[] } | null }
  );
export type CommandName = Command['name'];

export type CommandParser = (c: Cursor, tag: string) => Command;
const parsers = new Map<string, CommandParser>();

/** Parses one request. Throws ImapError BAD (with the tag when one was read). */
export function parseCommand(parts: Part[]): Command {
  const c = new Cursor(parts);
  let tag: string;
  try {
    tag = c.atom('tag');
    if (tag.includes('+')) bad('a tag must not contain "+"');
    c.sp();
  } catch (err) {
    throw Object.assign(err as Error, { tag: '*' });
  }
  try {
    let name = c.atom('command').toUpperCase();
    let uid = false;
    if (name === 'UID') {
      c.sp();
      name = c.atom('command').toUpperCase();
      if (!['FETCH', 'STORE', 'COPY', 'MOVE', 'SEARCH', 'EXPUNGE', 'SORT', 'THREAD'].includes(name)) bad(`UID ${name} is not a command`);
      uid = true;
      if (name === 'EXPUNGE') name = 'UIDEXPUNGE';
    }
    const p = parsers.get(name);
    if (!p) bad(`unknown command ${name}; see CAPABILITY for what this server supports`);
    const cmd = p(c, tag);
    c.end();
    if (uid) cmd.uid = true;
    return cmd;
  } catch (err) {
    throw Object.assign(err as Error, { tag });
  }
}

export function register(names: string[], p: CommandParser): void {
  for (const n of names) parsers.set(n, p);
}

// Commands without arguments.
for (const n of ['CAPABILITY', 'NOOP', 'LOGOUT', 'STARTTLS', 'CHECK', 'CLOSE', 'UNSELECT', 'EXPUNGE', 'IDLE', 'NAMESPACE'] as const) {
  register([n], (_c, tag) => ({ tag, name: n }));
}

register(['LOGIN'], (c, tag) => {
  c.sp();
  const user = c.astring();
  c.sp();
  return { tag, name: 'LOGIN', user, pass: c.astring() };
});

register(['AUTHENTICATE'], (c, tag) => {
  c.sp();
  const mechanism = c.atom('mechanism').toUpperCase();
  let initial: string | null = null;
  if (c.take(' ')) initial = c.take('=') ? '' : c.astringChars();
  return { tag, name: 'AUTHENTICATE', mechanism, initial };
});

register(['ENABLE'], (c, tag) => {
  const caps: string[] = [];
  while (c.take(' ')) caps.push(c.atom('capability').toUpperCase());
  if (!caps.length) bad('ENABLE needs at least one capability');
  return { tag, name: 'ENABLE', caps };
});

register(['COMPRESS'], (c, tag) => {
  c.sp();
  return { tag, name: 'COMPRESS', mechanism: c.atom('mechanism').toUpperCase() };
});

register(['ID'], (c, tag) => {
  c.sp();
  if (c.takeCi('NIL')) return { tag, name: 'ID', params: null };
  const params: Record<string, string | null> = {};
  const flat = c.list(() => c.nstring());
  if (flat.length % 2 || flat.length > 60) bad('ID takes up to 30 field-value pairs');
  for (let i = 0; i < flat.length; i += 2) params[String(flat[i]).slice(0, 30)] = flat[i + 1] === null ? null : String(flat[i + 1]).slice(0, 1024);
  return { tag, name: 'ID', params };
});

// SELECT/EXAMINE share a parser that needs to know its own name.
for (const n of ['SELECT', 'EXAMINE'] as const) {
  register([n], (c, tag) => {
    c.sp();
    const mailbox = c.mailbox();
    let condstore = false;
    let qresync: QresyncParams | null = null;
    if (c.take(' ')) {
      c.list(() => {
        const p = c.atom('parameter').toUpperCase();
        if (p === 'CONDSTORE') condstore = true;
        else if (p === 'QRESYNC') {
          c.sp();
          c.expect('(');
          const uidValidity = c.nzNumber('uidvalidity');
          c.sp();
          const q: QresyncParams = { uidValidity, modseq: c.modseq() };
          if (c.take(' ')) {
            if (c.peek() !== '(') {
              q.knownUids = c.seqSet();
              c.take(' ');
            }
            if (c.peek() === '(') {
              c.expect('(');
              const seqs = c.seqSet();
              c.sp();
              q.seqMatch = { seqs, uids: c.seqSet() };
              c.expect(')');
            }
          }
          c.expect(')');
          qresync = q;
        } else bad(`unknown SELECT parameter ${p}`);
      }, false);
    }
    return { tag, name: n, mailbox, condstore, qresync };
  });
}

register(['CREATE'], (c, tag) => {
  c.sp();
  const mailbox = c.mailbox();
  let specialUse: string | null = null;
  if (c.take(' ')) {
    c.list(() => {
      if (!c.takeCi('USE')) bad('the only CREATE parameter is USE');
      c.sp();
      const uses = c.list(() => c.flag());
      if (uses.length > 1) throw new ImapError('NO', 'USEATTR', 'one special-use attribute per folder; pick one');
      specialUse = uses[0] ?? null;
    });
  }
  return { tag, name: 'CREATE', mailbox, specialUse };
});

for (const n of ['DELETE', 'SUBSCRIBE', 'UNSUBSCRIBE'] as const) {
  register([n], (c, tag) => {
    c.sp();
    return { tag, name: n, mailbox: c.mailbox() };
  });
}

register(['RENAME'], (c, tag) => {
  c.sp();
  const from = c.mailbox();
  c.sp();
  return { tag, name: 'RENAME', from, to: c.mailbox() };
});

function listMailbox(c: Cursor): string {
  if (c.peek() === '"' || c.atLiteral()) return c.string();
  return c.listChars();
}

register(['LIST'], (c, tag) => {
  c.sp();
  let selection: string[] = [];
  if (c.peek() === '(') {
    selection = c.list(() => c.atom('selection option').toUpperCase());
    c.sp();
  }
  const ref = c.astring();
  c.sp();
  const patterns = c.peek() === '(' ? c.list(() => listMailbox(c), false) : [listMailbox(c)];
  const returns: ListReturn = { subscribed: false, children: false, specialUse: false, status: null };
  if (c.take(' ')) {
    if (!c.takeCi('RETURN ')) bad('expected RETURN (...)');
    c.list(() => {
      const o = c.atom('return option').toUpperCase();
      if (o === 'SUBSCRIBED') returns.subscribed = true;
      else if (o === 'CHILDREN') returns.children = true;
      else if (o === 'SPECIAL-USE') returns.specialUse = true;
      else if (o === 'STATUS') {
        c.sp();
        returns.status = c.list(() => c.atom('status item').toUpperCase(), false);
      } else bad(`unknown LIST return option ${o}`);
    });
  }
  for (const s of selection) if (!['SUBSCRIBED', 'REMOTE', 'RECURSIVEMATCH', 'SPECIAL-USE'].includes(s)) bad(`unknown LIST selection option ${s}`);
  // RFC 5258 §3.1: RECURSIVEMATCH alone, or with only REMOTE, is a syntax error.
  if (selection.includes('RECURSIVEMATCH') && selection.every((o) => o === 'RECURSIVEMATCH' || o === 'REMOTE'))
    bad('RECURSIVEMATCH needs another selection option, such as SUBSCRIBED');
  return { tag, name: 'LIST', selection, ref, patterns, returns };
});

register(['LSUB'], (c, tag) => {
  c.sp();
  const ref = c.astring();
  c.sp();
  return { tag, name: 'LSUB', ref, patterns: [listMailbox(c)] };
});

const STATUS_ITEMS = new Set(['MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'DELETED', 'SIZE', 'HIGHESTMODSEQ', 'RECENT', 'APPENDLIMIT']);
register(['STATUS'], (c, tag) => {
  c.sp();
  const mailbox = c.mailbox();
  c.sp();
  const items = c.list(() => {
    const it = c.atom('status item').toUpperCase();
    if (!STATUS_ITEMS.has(it)) bad(`unknown STATUS item ${it}`);
    return it;
  }, false);
  return { tag, name: 'STATUS', mailbox, items };
});

register(['APPEND'], (c, tag) => {
  c.sp();
  const mailbox = c.mailbox();
  const messages: AppendMessage[] = [];
  while (c.take(' ')) {
    let flags: string[] = [];
    let date: number | null = null;
    if (c.peek() === '(') {
      flags = c.list(() => c.flag());
      c.sp();
    }
    if (c.peek() === '"') {
      date = c.dateTime();
      c.sp();
    }
    let binary = false;
    let data: Buffer;
    const utf8 = c.takeCi('UTF8 (');
    ({ data, binary } = c.literal());
    if (utf8) c.expect(')');
    messages.push({ flags, date, data, binary, utf8 });
  }
  if (!messages.length) bad('APPEND needs a message literal');
  return { tag, name: 'APPEND', mailbox, messages };
});

register(['FETCH'], parseFetch);

register(['STORE'], (c, tag) => {
  c.sp();
  const set = c.seqSet();
  c.sp();
  let unchangedSince: number | null = null;
  if (c.peek() === '(') {
    c.list(() => {
      if (!c.takeCi('UNCHANGEDSINCE ')) bad('the only STORE modifier is UNCHANGEDSINCE');
      unchangedSince = c.modseq();
    }, false);
    c.sp();
  }
  const op = c.atom('store operation').toUpperCase();
  const m = /^([+-]?)FLAGS(\.SILENT)?$/.exec(op);
  if (!m) bad(`${op} is not FLAGS, +FLAGS or -FLAGS`);
  c.sp();
  const flags = c.peek() === '(' ? c.list(() => c.flag()) : (() => {
    const f = [c.flag()];
    while (c.take(' ')) f.push(c.flag());
    return f;
  })();
  return { tag, name: 'STORE', set, mode: m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'set', silent: !!m[2], flags, unchangedSince };
});

for (const n of ['COPY', 'MOVE'] as const) {
  register([n], (c, tag) => {
    c.sp();
    const set = c.seqSet();
    c.sp();
    return { tag, name: n, set, mailbox: c.mailbox() };
  });
}

register(['UIDEXPUNGE'], (c, tag) => {
  c.sp();
  return { tag, name: 'UIDEXPUNGE', set: c.seqSet() };
});

register(['SEARCH'], parseSearch);
register(['SORT'], parseSort);
register(['THREAD'], parseThread);

for (const n of ['GETQUOTA', 'GETQUOTAROOT'] as const) {
  register([n], (c, tag) => {
    c.sp();
    return { tag, name: n, root: c.astring() };
  });
}
register(['SETQUOTA'], (c, tag) => {
  c.sp();
  const root = c.astring();
  c.sp();
  c.list(() => {
    c.atom('resource');
    c.sp();
    return c.number('limit');
  });
  return { tag, name: 'SETQUOTA', root };
});

register(['NOTIFY'], parseNotify);
