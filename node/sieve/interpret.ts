/**
 * @module node/sieve/interpret
 * Runs a compiled script against one message and returns what to do with
 * it: a list of actions (RFC 5228 §4) with the implicit keep made explicit.
 * No I/O: everything outside the message (other scripts for include, the
 * duplicate history, mailbox names, the spam score, the clock) comes in
 * through SieveEnv, synchronously, and anything to remember (duplicate ids)
 * goes out in the result, to be recorded only if delivery succeeds.
 */
import { SieveRuntimeError } from './errors.js';
import { asciiLower, matchAny, type Matcher, type MatchType } from './match.js';
import { datePart, parseDateField, parseZone, type ZonedInstant } from './dates.js';
import { compile, type Node, type Program, type Value } from './validate.js';

export interface SieveMessage {
  /** Every field of that name, in order, unfolded and with RFC 2047 words decoded. */
  header(name: string): string[];
  /** Addresses (local@domain) in every field of that name, in field order. */
  addresses(name: string): { fieldIndex: number; address: string }[];
  size: number;
  /** Body texts for the body test (RFC 5173 §5): the raw body, text parts, or parts of given types. */
  body(transform: { kind: 'raw' } | { kind: 'text' } | { kind: 'content'; types: string[] }): string[];
}

export interface SieveEnv {
  message: SieveMessage;
  envelope: { from: string; to: string };
  now: Date;
  /** Local zone offset in minutes, for date tests without :zone. */
  zoneOffset?: number;
  /** RFC 3685 value 0..10 and RFC 5235 percent 0..100; null when the message was not tested. */
  spam?: { value: number; percent: number } | null;
  mailboxExists?(name: string): boolean;
  /** Whether the id was seen under the handle within its period (RFC 7352). */
  isDuplicate?(handle: string, id: string): boolean;
  /** Source of another script (RFC 6609); null when it does not exist. */
  include?(name: string, location: 'personal' | 'global'): string | null;
}

export type Action =
  | { type: 'keep'; flags: string[] }
  | { type: 'fileinto'; mailbox: string; flags: string[]; create: boolean; copy: boolean }
  | { type: 'redirect'; address: string; copy: boolean }
  | { type: 'discard' }
  | { type: 'reject'; reason: string; extended: boolean }
  | {
      type: 'vacation';
      reason: string;
      subject: string | null;
      from: string | null;
      addresses: string[];
      mime: boolean;
      handle: string;
      /** Minimum time between replies to one sender, in seconds (0: every time). */
      periodSeconds: number;
    };

export interface SieveResult {
  /** Every action in order; when implicitKeep is set, the last one is that keep. */
  actions: Action[];
  /** No action cancelled the implicit keep (RFC 5228 §2.10.2). */
  implicitKeep: boolean;
  /** Duplicate ids to remember once the message is delivered. */
  duplicates: { handle: string; id: string; seconds: number }[];
}

export const LIMITS = { maxActions: 32, maxRedirects: 5, maxIncludeDepth: 8, maxVariableLength: 4096, maxVariables: 256 };
const FLAGS_VAR = '__imap4flags';
const DAY = 86_400;

type Flow = 'next' | 'stop' | 'return';

interface Frame {
  program: Program;
  vars: Map<string, string>;
  globals: Set<string>;
}

export function runScript(programOrSource: Program | string, env: SieveEnv): SieveResult {
  const main = typeof programOrSource === 'string' ? compile(programOrSource) : programOrSource;
  const actions: Action[] = [];
  const duplicates: SieveResult['duplicates'] = [];
  const globalVars = new Map<string, string>();
  let matchVars: string[] = [];
  let implicitKeep = true;
  let redirects = 0;
  const included = new Set<string>();
  const running: string[] = [];
  let flagsVar = '';

  const add = (a: Action) => {
    if (actions.length >= LIMITS.maxActions) throw new SieveRuntimeError(`more than ${LIMITS.maxActions} actions`);
    const reject = actions.find((x) => x.type === 'reject');
    // RFC 5429 §2.1: reject cannot be combined with actions that deliver or answer the message.
    if (a.type === 'reject' && (reject || actions.some((x) => x.type === 'keep' || x.type === 'vacation' || (x.type === 'fileinto' && !x.copy) || (x.type === 'redirect' && !x.copy)))) {
      throw new SieveRuntimeError('reject cannot be combined with keep, fileinto, redirect or vacation');
    }
    if (reject && (a.type === 'keep' || a.type === 'fileinto' || a.type === 'redirect' || a.type === 'vacation')) {
      throw new SieveRuntimeError(`${a.type} cannot follow reject`);
    }
    if (a.type === 'vacation' && actions.some((x) => x.type === 'vacation')) throw new SieveRuntimeError('only one vacation action per message (RFC 5230 §4.7)');
    actions.push(a);
  };

  const runBlock = (frame: Frame, cmds: Node[]): Flow => {
    let lastIf: boolean | null = null;
    for (const c of cmds) {
      if (c.name === 'elsif' || c.name === 'else') {
        if (lastIf) continue;
        const hit = c.name === 'else' ? true : test(frame, c.tests[0]);
        lastIf = c.name === 'else' ? true : hit;
        if (hit) {
          const f = runBlock(frame, c.block!);
          if (f !== 'next') return f;
        }
        continue;
      }
      lastIf = null;
      if (c.name === 'if') {
        lastIf = test(frame, c.tests[0]);
        if (lastIf) {
          const f = runBlock(frame, c.block!);
          if (f !== 'next') return f;
        }
        continue;
      }
      const f = command(frame, c);
      if (f !== 'next') return f;
    }
    return 'next';
  };

  // ----------------------------------------------------------------- values

  const vars = (frame: Frame, name: string): string => {
    const n = name.toLowerCase();
    if (n.startsWith('global.')) return globalVars.get(n.slice(7)) ?? '';
    if (frame.globals.has(n)) return globalVars.get(n) ?? '';
    return frame.vars.get(n) ?? '';
  };
  const setVar = (frame: Frame, name: string, value: string) => {
    const n = name.toLowerCase();
    const v = value.length > LIMITS.maxVariableLength ? value.slice(0, LIMITS.maxVariableLength) : value;
    const target = n.startsWith('global.') ? globalVars : frame.globals.has(n) ? globalVars : frame.vars;
    const key = n.startsWith('global.') ? n.slice(7) : n;
    if (!target.has(key) && target.size >= LIMITS.maxVariables) throw new SieveRuntimeError(`more than ${LIMITS.maxVariables} variables`);
    target.set(key, v);
  };

  /** RFC 5229 §3: "${name}" and "${0}".."${9}"; anything else is left as written. */
  const expand = (frame: Frame, s: string): string => {
    if (!frame.program.extensions.has('variables') || !s.includes('${')) return s;
    return s.replace(/\$\{([A-Za-z_][A-Za-z0-9_.]*|[0-9]+)\}/g, (_, name: string) => {
      if (/^[0-9]+$/.test(name)) return matchVars[Number(name)] ?? '';
      return vars(frame, name);
    });
  };
  const strs = (frame: Frame, v: Value | (string[] | number) | undefined): string[] => (Array.isArray(v) ? v.map((s) => expand(frame, s)) : []);
  const str = (frame: Frame, v: Value | (string[] | number) | undefined): string => strs(frame, v)[0] ?? '';
  const num = (v: Value | undefined): number | undefined => (typeof v === 'number' ? v : undefined);

  const matcherOf = (frame: Frame, n: Node): Matcher => {
    const cmp = n.tags.get('comparator');
    const comparator = Array.isArray(cmp) ? cmp[0].toLowerCase() : 'i;ascii-casemap';
    let type: MatchType = { kind: 'is' };
    if (n.tags.has('contains')) type = { kind: 'contains' };
    else if (n.tags.has('matches')) type = { kind: 'matches' };
    else if (n.tags.has('value')) type = { kind: 'value', relation: str(frame, n.tags.get('value')) };
    else if (n.tags.has('count')) type = { kind: 'count', relation: str(frame, n.tags.get('count')) };
    return { comparator, type };
  };

  const matches = (frame: Frame, n: Node, values: string[], keys: string[]): boolean => {
    const m = matcherOf(frame, n);
    const r = matchAny(m, values, keys);
    // RFC 5229 §3.2: a successful :matches replaces the match variables.
    if (r.hit && m.type.kind === 'matches' && frame.program.extensions.has('variables')) matchVars = r.captures ?? [];
    return r.hit;
  };

  /** RFC 5260 §6: :index picks the Nth field of that name (1-based), counted from the end with :last. */
  const pick = <T>(n: Node, items: T[]): T[] => {
    const idx = num(n.tags.get('index'));
    if (idx === undefined) return items;
    const i = n.tags.has('last') ? items.length - idx : idx - 1;
    return i >= 0 && i < items.length ? [items[i]] : [];
  };

  const addressPart = (n: Node, address: string): string | null => {
    const at = address.lastIndexOf('@');
    const local = at < 0 ? address : address.slice(0, at);
    const domain = at < 0 ? '' : address.slice(at + 1);
    // RFC 5233 §4: "+" separates user and detail; without one, :detail matches nothing.
    const plus = local.indexOf('+');
    if (n.tags.has('localpart')) return local;
    if (n.tags.has('domain')) return domain;
    if (n.tags.has('user')) return plus < 0 ? local : local.slice(0, plus);
    if (n.tags.has('detail')) return plus < 0 ? null : local.slice(plus + 1);
    return address;
  };

  const flagList = (items: string[]): string[] => {
    const out: string[] = [];
    for (const item of items) for (const f of item.split(/\s+/)) if (f && !out.some((o) => asciiLower(o) === asciiLower(f))) out.push(f);
    return out;
  };
  const flagsOf = (frame: Frame, name: string | null): string[] => flagList([name === null ? flagsVar : vars(frame, name)]);
  const setFlags = (frame: Frame, name: string | null, flags: string[]) => {
    const v = flagList(flags).join(' ');
    if (name === null) flagsVar = v;
    else setVar(frame, name, v);
  };
  const actionFlags = (frame: Frame, n: Node): string[] =>
    n.tags.has('flags') ? flagList(strs(frame, n.tags.get('flags'))) : frame.program.extensions.has('imap4flags') ? flagList([flagsVar]) : [];

  // ------------------------------------------------------------------ tests

  const test = (frame: Frame, n: Node): boolean => {
    const msg = env.message;
    switch (n.name) {
      case 'true':
        return true;
      case 'false':
        return false;
      case 'not':
        return !test(frame, n.tests[0]);
      case 'allof':
        return n.tests.every((t) => test(frame, t));
      case 'anyof':
        return n.tests.some((t) => test(frame, t));
      case 'exists':
        return strs(frame, n.args[0]).every((h) => msg.header(h).length > 0);
      case 'size': {
        const limit = n.args[0] as number;
        return n.tags.has('over') ? msg.size > limit : msg.size < limit;
      }
      case 'header': {
        const values = strs(frame, n.args[0]).flatMap((h) => pick(n, msg.header(h)));
        return matches(frame, n, values, strs(frame, n.args[1]));
      }
      case 'address': {
        const values: string[] = [];
        for (const h of strs(frame, n.args[0])) {
          const all = msg.addresses(h);
          const fieldIdx = pick(n, [...new Set(all.map((a) => a.fieldIndex))]);
          for (const a of all) if (fieldIdx.includes(a.fieldIndex)) values.push(...nonNull(addressPart(n, a.address)));
        }
        return matches(frame, n, values, strs(frame, n.args[1]));
      }
      case 'envelope': {
        const values: string[] = [];
        for (const part of strs(frame, n.args[0])) {
          const p = part.toLowerCase();
          if (p !== 'from' && p !== 'to') throw new SieveRuntimeError(`unknown envelope part "${part}"`);
          const addr = env.envelope[p];
          // RFC 5228 §5.4: the null reverse-path matches "" and nothing else.
          values.push(...(addr === '' ? [''] : nonNull(addressPart(n, addr))));
        }
        return matches(frame, n, values, strs(frame, n.args[1]));
      }
      case 'body':
        return matches(frame, n, bodyTexts(frame, n), strs(frame, n.args[0]));
      case 'string':
        return matches(frame, n, strs(frame, n.args[0]).filter((s, _, a) => a.length === 1 || s !== ''), strs(frame, n.args[1]));
      case 'date': {
        const zone = zoneOf(frame, n);
        const instants = pick(n, msg.header(str(frame, n.args[0])))
          .map(parseDateField)
          .filter((d): d is ZonedInstant => d !== null);
        const part = str(frame, n.args[1]);
        const values = instants.map((d) => datePart(zone === 'original' ? d : { ms: d.ms, offset: zone }, part)).filter((v): v is string => v !== null);
        return matches(frame, n, values, strs(frame, n.args[2]));
      }
      case 'currentdate': {
        const zone = zoneOf(frame, n);
        const v = datePart({ ms: env.now.getTime(), offset: zone === 'original' ? 0 : zone }, str(frame, n.args[0]));
        return v !== null && matches(frame, n, [v], strs(frame, n.args[1]));
      }
      case 'mailboxexists':
        return strs(frame, n.args[0]).every((m) => env.mailboxExists?.(m) ?? m.toUpperCase() === 'INBOX');
      case 'spamtest': {
        const s = env.spam;
        // RFC 3685 §2.3 / RFC 5235 §3.2: "0" means the message was not tested.
        const value = !s ? '0' : n.tags.has('percent') ? String(s.percent) : String(s.value);
        return matches(frame, n, [value], [str(frame, n.args[0])]);
      }
      case 'hasflag': {
        const names = n.args.length === 2 ? strs(frame, n.args[0]) : null;
        const keys = strs(frame, n.args[n.args.length - 1]);
        const flags = names ? names.flatMap((v) => flagsOf(frame, v)) : flagsOf(frame, null);
        return matches(frame, n, flags, keys);
      }
      case 'duplicate':
        return duplicate(frame, n);
    }
    throw new SieveRuntimeError(`test "${n.name}" is not implemented`);
  };

  const zoneOf = (frame: Frame, n: Node): number | 'original' => {
    if (n.tags.has('originalzone')) return 'original';
    const z = n.tags.get('zone');
    if (!z) return env.zoneOffset ?? 0;
    const parsed = parseZone(str(frame, z));
    if (parsed === null) throw new SieveRuntimeError(`bad :zone "${str(frame, z)}" (use +hhmm or -hhmm)`);
    return parsed;
  };

  const bodyTexts = (frame: Frame, n: Node): string[] => {
    if (n.tags.has('raw')) return env.message.body({ kind: 'raw' });
    if (n.tags.has('content')) return env.message.body({ kind: 'content', types: strs(frame, n.tags.get('content')) });
    return env.message.body({ kind: 'text' });
  };

  /** RFC 7352 §3: the id is Message-ID by default; the handle keeps separate uses apart. */
  const duplicate = (frame: Frame, n: Node): boolean => {
    const handle = str(frame, n.tags.get('handle'));
    let id: string | undefined;
    if (n.tags.has('uniqueid')) id = str(frame, n.tags.get('uniqueid'));
    else {
      const field = n.tags.has('header') ? str(frame, n.tags.get('header')) : 'message-id';
      id = env.message.header(field)[0]?.trim();
      if (field.toLowerCase() === 'message-id' && id) id = id.replace(/\s+/g, '');
    }
    if (!id) return false;
    const seen = env.isDuplicate?.(handle, id) ?? false;
    // Without :last the period starts at the first sighting: a seen id is not refreshed (RFC 7352 §3.3).
    if (!seen || n.tags.has('last')) duplicates.push({ handle, id, seconds: num(n.tags.get('seconds')) ?? 7 * DAY });
    return seen;
  };

  // --------------------------------------------------------------- commands

  const command = (frame: Frame, c: Node): Flow => {
    switch (c.name) {
      case 'stop':
        return 'stop';
      case 'return':
        return 'return';
      case 'keep':
        add({ type: 'keep', flags: actionFlags(frame, c) });
        implicitKeep = false;
        return 'next';
      case 'discard':
        implicitKeep = false;
        add({ type: 'discard' });
        return 'next';
      case 'fileinto': {
        const copy = c.tags.has('copy');
        add({ type: 'fileinto', mailbox: str(frame, c.args[0]), flags: actionFlags(frame, c), create: c.tags.has('create'), copy });
        if (!copy) implicitKeep = false;
        return 'next';
      }
      case 'redirect': {
        if (++redirects > LIMITS.maxRedirects) throw new SieveRuntimeError(`more than ${LIMITS.maxRedirects} redirects`);
        const address = str(frame, c.args[0]).trim();
        if (!/^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/.test(address)) throw new SieveRuntimeError(`redirect to "${address}": not an address`);
        const copy = c.tags.has('copy');
        add({ type: 'redirect', address, copy });
        if (!copy) implicitKeep = false;
        return 'next';
      }
      case 'reject':
      case 'ereject':
        add({ type: 'reject', reason: str(frame, c.args[0]), extended: c.name === 'ereject' });
        implicitKeep = false;
        return 'next';
      case 'setflag':
      case 'addflag':
      case 'removeflag': {
        const name = c.args.length === 2 ? str(frame, c.args[0]) : null;
        const given = strs(frame, c.args[c.args.length - 1]);
        const current = flagsOf(frame, name);
        const next =
          c.name === 'setflag'
            ? given
            : c.name === 'addflag'
              ? [...current, ...given]
              : current.filter((f) => !flagList(given).some((g) => asciiLower(g) === asciiLower(f)));
        setFlags(frame, name, next);
        return 'next';
      }
      case 'set':
        setVar(frame, (c.args[0] as string[])[0], modify(c, str(frame, c.args[1])));
        return 'next';
      case 'global':
        for (const g of strs(frame, c.args[0])) frame.globals.add(g.toLowerCase());
        return 'next';
      case 'vacation':
        add(vacation(frame, c));
        return 'next';
      case 'include':
        return include(frame, c);
    }
    throw new SieveRuntimeError(`command "${c.name}" is not implemented`);
  };

  const vacation = (frame: Frame, c: Node): Action => {
    const reason = str(frame, c.args[0]);
    const subject = c.tags.has('subject') ? str(frame, c.tags.get('subject')) : null;
    const from = c.tags.has('from') ? str(frame, c.tags.get('from')) : null;
    const addresses = strs(frame, c.tags.get('addresses'));
    const mime = c.tags.has('mime');
    const seconds = num(c.tags.get('seconds'));
    const days = num(c.tags.get('days'));
    // RFC 5230 §4.1: 7 days by default, 0 days raised to the site minimum (one day);
    // RFC 6131 §2: :seconds 0 means reply every time.
    const periodSeconds = seconds !== undefined ? seconds : Math.max(1, days ?? 7) * DAY;
    // RFC 5230 §4.2: without :handle, replies that differ in text count as different.
    const handle = c.tags.has('handle') ? str(frame, c.tags.get('handle')) : `auto:${JSON.stringify([reason, subject, from, addresses, mime])}`;
    return { type: 'vacation', reason, subject, from, addresses, mime, handle, periodSeconds };
  };

  const include = (frame: Frame, c: Node): Flow => {
    const name = str(frame, c.args[0]);
    const location = c.tags.has('global') ? 'global' : 'personal';
    const key = `${location}:${name}`;
    if (c.tags.has('once') && included.has(key)) return 'next';
    if (running.includes(key)) throw new SieveRuntimeError(`include of "${name}" loops back to itself`);
    if (running.length >= LIMITS.maxIncludeDepth) throw new SieveRuntimeError(`includes nested deeper than ${LIMITS.maxIncludeDepth}`);
    const src = env.include?.(name, location) ?? null;
    if (src === null) {
      if (c.tags.has('optional')) return 'next';
      throw new SieveRuntimeError(`included script "${name}" does not exist`);
    }
    let program: Program;
    try {
      program = compile(src);
    } catch (err) {
      throw new SieveRuntimeError(`included script "${name}": ${(err as Error).message}`);
    }
    included.add(key);
    running.push(key);
    const flow = runBlock({ program, vars: new Map(), globals: new Set() }, program.commands);
    running.pop();
    return flow === 'stop' ? 'stop' : 'next';
  };

  running.push('personal:<main>');
  runBlock({ program: main, vars: new Map(), globals: new Set() }, main.commands);
  if (implicitKeep) actions.push({ type: 'keep', flags: main.extensions.has('imap4flags') ? flagList([flagsVar]) : [] });
  return { actions, implicitKeep, duplicates };
}

function nonNull(v: string | null): string[] {
  return v === null ? [] : [v];
}

/** RFC 5229 §4.1: modifiers apply from the highest precedence (case) to the lowest (:length). */
function modify(c: Node, value: string): string {
  let v = value;
  if (c.tags.has('lower')) v = v.toLowerCase();
  if (c.tags.has('upper')) v = v.toUpperCase();
  if (c.tags.has('lowerfirst')) v = v.charAt(0).toLowerCase() + v.slice(1);
  if (c.tags.has('upperfirst')) v = v.charAt(0).toUpperCase() + v.slice(1);
  if (c.tags.has('quotewildcard')) v = v.replace(/[*?\\]/g, (m) => '\\' + m);
  if (c.tags.has('length')) v = String([...v].length);
  return v;
}
