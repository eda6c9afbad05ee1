/**
 * @module node/sieve/validate
 * Turns the parse tree into a checked program: every command and test must
 * exist, belong to a `require`d extension (RFC 5228 §3.2), and get the tagged
 * and positional arguments its RFC gives it. What passes here can only fail
 * at run time for reasons outside the script (a missing include). The table
 * below is the whole language Haven speaks.
 */
import { SieveSyntaxError, type Position } from './errors.js';
import { parseScript, type Argument, type TestNode, type CommandNode } from './parse.js';

type ArgType = 'string' | 'strings' | 'number';
interface TagSpec {
  arg?: ArgType;
  ext?: string;
  /** Tags of one group exclude each other (one match type, one comparator). */
  group?: string;
}
interface Spec {
  ext?: string[];
  tags?: Record<string, TagSpec>;
  args?: ArgType[];
  /** The first positional argument may be left out (imap4flags' variable name). */
  optionalFirst?: boolean;
  tests?: 'none' | 'one' | 'many';
  block?: boolean;
}

export const EXTENSIONS = [
  'fileinto',
  'reject',
  'ereject',
  'envelope',
  'imap4flags',
  'vacation',
  'vacation-seconds',
  'copy',
  'body',
  'variables',
  'relational',
  'subaddress',
  'date',
  'index',
  'mailbox',
  'duplicate',
  'spamtest',
  'spamtestplus',
  'include',
  'comparator-i;ascii-numeric',
  'comparator-i;octet',
  'comparator-i;ascii-casemap',
] as const;

export const COMPARATORS = ['i;octet', 'i;ascii-casemap', 'i;ascii-numeric'];
export const RELATIONS = ['gt', 'ge', 'lt', 'le', 'eq', 'ne'];
export const DATE_PARTS = ['year', 'month', 'day', 'date', 'julian', 'hour', 'minute', 'second', 'time', 'iso8601', 'std11', 'zone', 'weekday'];

const COMPARATOR: Record<string, TagSpec> = { comparator: { arg: 'string', group: 'comparator' } };
const MATCH: Record<string, TagSpec> = {
  is: { group: 'match' },
  contains: { group: 'match' },
  matches: { group: 'match' },
  value: { arg: 'string', group: 'match', ext: 'relational' },
  count: { arg: 'string', group: 'match', ext: 'relational' },
};
const ADDRESS_PART: Record<string, TagSpec> = {
  all: { group: 'part' },
  localpart: { group: 'part' },
  domain: { group: 'part' },
  user: { group: 'part', ext: 'subaddress' },
  detail: { group: 'part', ext: 'subaddress' },
};
const INDEX: Record<string, TagSpec> = { index: { arg: 'number', ext: 'index' }, last: { ext: 'index' } };
const FLAGS: Record<string, TagSpec> = { flags: { arg: 'strings', ext: 'imap4flags' } };

const COMMANDS: Record<string, Spec> = {
  require: { args: ['strings'] },
  if: { tests: 'one', block: true },
  elsif: { tests: 'one', block: true },
  else: { block: true },
  stop: {},
  keep: { tags: FLAGS },
  discard: {},
  fileinto: { ext: ['fileinto'], tags: { ...FLAGS, copy: { ext: 'copy' }, create: { ext: 'mailbox' } }, args: ['string'] },
  redirect: { tags: { copy: { ext: 'copy' } }, args: ['string'] },
  reject: { ext: ['reject'], args: ['string'] },
  ereject: { ext: ['ereject'], args: ['string'] },
  setflag: { ext: ['imap4flags'], args: ['string', 'strings'], optionalFirst: true },
  addflag: { ext: ['imap4flags'], args: ['string', 'strings'], optionalFirst: true },
  removeflag: { ext: ['imap4flags'], args: ['string', 'strings'], optionalFirst: true },
  vacation: {
    ext: ['vacation'],
    tags: {
      days: { arg: 'number', group: 'period' },
      seconds: { arg: 'number', group: 'period', ext: 'vacation-seconds' },
      subject: { arg: 'string' },
      from: { arg: 'string' },
      addresses: { arg: 'strings' },
      mime: {},
      handle: { arg: 'string' },
    },
    args: ['string'],
  },
  set: {
    ext: ['variables'],
    tags: {
      lower: { group: 'case' },
      upper: { group: 'case' },
      lowerfirst: { group: 'first' },
      upperfirst: { group: 'first' },
      quotewildcard: {},
      length: {},
    },
    args: ['string', 'string'],
  },
  include: { ext: ['include'], tags: { personal: { group: 'location' }, global: { group: 'location' }, once: {}, optional: {} }, args: ['string'] },
  return: { ext: ['include'] },
  global: { ext: ['include'], args: ['strings'] },
};

const TESTS: Record<string, Spec> = {
  address: { tags: { ...COMPARATOR, ...MATCH, ...ADDRESS_PART, ...INDEX }, args: ['strings', 'strings'] },
  envelope: { ext: ['envelope'], tags: { ...COMPARATOR, ...MATCH, ...ADDRESS_PART }, args: ['strings', 'strings'] },
  header: { tags: { ...COMPARATOR, ...MATCH, ...INDEX }, args: ['strings', 'strings'] },
  exists: { args: ['strings'] },
  size: { tags: { over: { group: 'size' }, under: { group: 'size' } }, args: ['number'] },
  allof: { tests: 'many' },
  anyof: { tests: 'many' },
  not: { tests: 'one' },
  true: {},
  false: {},
  body: { ext: ['body'], tags: { ...COMPARATOR, ...MATCH, raw: { group: 'transform' }, text: { group: 'transform' }, content: { arg: 'strings', group: 'transform' } }, args: ['strings'] },
  string: { ext: ['variables'], tags: { ...COMPARATOR, ...MATCH }, args: ['strings', 'strings'] },
  date: { ext: ['date'], tags: { ...COMPARATOR, ...MATCH, ...INDEX, zone: { arg: 'string', group: 'zone' }, originalzone: { group: 'zone' } }, args: ['string', 'string', 'strings'] },
  currentdate: { ext: ['date'], tags: { ...COMPARATOR, ...MATCH, zone: { arg: 'string' } }, args: ['string', 'strings'] },
  mailboxexists: { ext: ['mailbox'], args: ['strings'] },
  duplicate: {
    ext: ['duplicate'],
    tags: { handle: { arg: 'string' }, header: { arg: 'string', group: 'id' }, uniqueid: { arg: 'string', group: 'id' }, seconds: { arg: 'number' }, last: {} },
  },
  spamtest: { ext: ['spamtest', 'spamtestplus'], tags: { ...COMPARATOR, ...MATCH, percent: { ext: 'spamtestplus' } }, args: ['string'] },
  hasflag: { ext: ['imap4flags'], tags: { ...COMPARATOR, ...MATCH }, args: ['strings', 'strings'], optionalFirst: true },
};

export type Value = string[] | number | true;

/** A checked command or test: tags by name, positional arguments in order. */
export interface Node {
  name: string;
  tags: Map<string, Value>;
  args: (string[] | number)[];
  tests: Node[];
  block: Node[] | null;
  pos: Position;
}

export interface Program {
  commands: Node[];
  extensions: Set<string>;
  /** Every command and test the script names, so delivery fetches only what a script can ask for. */
  uses: Set<string>;
}

export function compile(src: string): Program {
  const tree = parseScript(src);
  const extensions = new Set<string>();
  const uses = new Set<string>();
  const fail = (msg: string, pos: Position): never => {
    throw new SieveSyntaxError(msg, pos);
  };

  const check = (n: TestNode, spec: Spec | undefined, what: 'command' | 'test'): Node => {
    if (!spec) return fail(`unknown ${what} "${n.name}"`, n.pos);
    uses.add(n.name);
    if (spec.ext && !spec.ext.some((e) => extensions.has(e))) fail(`"${n.name}" needs require "${spec.ext[0]}"`, n.pos);
    const tags = new Map<string, Value>();
    const groups = new Map<string, string>();
    const args: (string[] | number)[] = [];
    const positional: Argument[] = [];
    const as = n.args;
    for (let i = 0; i < as.length; i++) {
      const a = as[i];
      if (a.kind !== 'tag') {
        args.push(a.kind === 'number' ? a.value : a.values);
        positional.push(a);
        continue;
      }
      if (args.length > 0) fail(`tag :${a.name} must come before the positional arguments of "${n.name}"`, a.pos);
      const t = spec.tags?.[a.name];
      if (!t) fail(`"${n.name}" takes no :${a.name}`, a.pos);
      if (t!.ext && !extensions.has(t!.ext)) fail(`:${a.name} needs require "${t!.ext}"`, a.pos);
      if (tags.has(a.name)) fail(`:${a.name} given twice`, a.pos);
      if (t!.group) {
        const other = groups.get(t!.group);
        if (other) fail(`:${a.name} cannot be used with :${other}`, a.pos);
        groups.set(t!.group, a.name);
      }
      if (t!.arg) {
        const v = as[++i];
        if (!v || !fits(v, t!.arg)) fail(`:${a.name} needs ${expected(t!.arg)}`, v?.pos ?? a.pos);
        tags.set(a.name, v.kind === 'number' ? v.value : (v as { values: string[] }).values);
      } else tags.set(a.name, true);
    }
    const want = spec.args ?? [];
    let types = want;
    if (spec.optionalFirst && args.length === want.length - 1) types = want.slice(1);
    if (args.length !== types.length) fail(`"${n.name}" takes ${want.length} argument${want.length === 1 ? '' : 's'} after its tags, got ${args.length}`, n.pos);
    positional.forEach((a, i) => {
      if (!fits(a, types[i])) fail(`argument ${i + 1} of "${n.name}" must be ${expected(types[i])}`, a.pos);
    });
    const testCount = n.tests.length;
    if (spec.tests === 'one' && testCount !== 1) fail(`"${n.name}" needs one test`, n.pos);
    if (spec.tests === 'many' && testCount < 1) fail(`"${n.name}" needs a list of tests`, n.pos);
    if (!spec.tests && testCount > 0) fail(`"${n.name}" takes no test`, n.tests[0].pos);
    if (tags.has('last') && n.name !== 'duplicate' && !tags.has('index')) fail(':last needs :index', n.pos);
    checkValues(n, tags, args, fail);
    return { name: n.name, tags, args, tests: n.tests.map((t) => check(t, TESTS[t.name], 'test')), block: null, pos: n.pos };
  };

  const block = (cmds: CommandNode[], top: boolean): Node[] => {
    const out: Node[] = [];
    let requiresAllowed = top;
    let prev: string | null = null;
    for (const c of cmds) {
      if (c.name === 'require') {
        if (!requiresAllowed) fail('require must come before any other command', c.pos);
        for (const a of c.args) {
          if (a.kind !== 'strings') return fail('require takes a list of extension names', a.pos);
          for (const e of a.values) {
            if (!(EXTENSIONS as readonly string[]).includes(e)) fail(`unsupported extension "${e}"`, a.pos);
            extensions.add(e);
            if (e === 'spamtestplus') extensions.add('spamtest');
          }
        }
        continue;
      }
      requiresAllowed = false;
      const spec = COMMANDS[c.name];
      if ((c.name === 'elsif' || c.name === 'else') && prev !== 'if' && prev !== 'elsif') fail(`"${c.name}" must follow "if" or "elsif"`, c.pos);
      const node = check(c, spec, 'command');
      if (spec?.block && !c.block) fail(`"${c.name}" needs a block {…}`, c.pos);
      if (!spec?.block && c.block) fail(`"${c.name}" takes no block; end it with ";"`, c.pos);
      node.block = c.block ? block(c.block, false) : null;
      out.push(node);
      prev = c.name;
    }
    return out;
  };

  return { commands: block(tree, true), extensions, uses };

  function checkValues(n: TestNode, tags: Map<string, Value>, args: (string[] | number)[], failAt: (m: string, p: Position) => never): void {
    const cmp = tags.get('comparator');
    if (Array.isArray(cmp)) {
      if (!COMPARATORS.includes(cmp[0])) failAt(`unknown comparator "${cmp[0]}"`, n.pos);
      if (cmp[0] === 'i;ascii-numeric' && !extensions.has('comparator-i;ascii-numeric')) failAt('comparator "i;ascii-numeric" needs require "comparator-i;ascii-numeric"', n.pos);
    }
    for (const rel of ['value', 'count']) {
      const r = tags.get(rel);
      if (Array.isArray(r) && !RELATIONS.includes(r[0].toLowerCase())) failAt(`:${rel} needs one of ${RELATIONS.join(', ')}, not "${r[0]}"`, n.pos);
    }
    if (n.name === 'size' && !tags.has('over') && !tags.has('under')) failAt('size needs :over or :under', n.pos);
    if (n.name === 'envelope') {
      for (const p of args[0] as string[]) if (!['from', 'to'].includes(p.toLowerCase()) && !extensions.has('variables')) failAt(`unknown envelope part "${p}" (from or to)`, n.pos);
    }
    if (n.name === 'date' || n.name === 'currentdate') {
      const part = (args[n.name === 'date' ? 1 : 0] as string[])[0];
      if (!DATE_PARTS.includes(part.toLowerCase()) && !extensions.has('variables')) failAt(`unknown date part "${part}"`, n.pos);
    }
    if (n.name === 'set' && !/^[A-Za-z_][A-Za-z0-9_]*$/.test((args[0] as string[])[0])) failAt(`"${(args[0] as string[])[0]}" is not a variable name`, n.pos);
    if (n.name === 'vacation') {
      const period = tags.get('days') ?? tags.get('seconds');
      if (typeof period === 'number' && period < 0) failAt('the vacation period cannot be negative', n.pos);
    }
    if (n.name === 'include') {
      const name = (args[0] as string[])[0];
      if (!isScriptName(name) || name.includes('/')) failAt(`"${name}" is not a script name`, n.pos);
    }
  }
}

export function isScriptName(name: string): boolean {
  // RFC 5804 §1.6: no control characters, at most 128 characters here.
  return name.length > 0 && name.length <= 128 && !/[\x00-\x1f\x7f\u0080-\u009f\u2028\u2029]/.test(name);
}

function fits(a: Argument, t: ArgType): boolean {
  if (t === 'number') return a.kind === 'number';
  if (a.kind !== 'strings') return false;
  return t === 'strings' || (!a.list && a.values.length === 1);
}

function expected(t: ArgType): string {
  return t === 'number' ? 'a number' : t === 'string' ? 'a string' : 'a string or a list of strings';
}
