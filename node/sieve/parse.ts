/**
 * @module node/sieve/parse
 * The grammar of RFC 5228 §8.2 over the lexer's tokens:
 *   commands = *command; command = identifier arguments (";" / block)
 *   arguments = *argument [ test / test-list ]; argument = string-list / number / tag
 *   test = identifier arguments; test-list = "(" test *("," test) ")"
 * It knows no command by name: which commands and tests exist, and what
 * arguments they take, is the validator's business (validate.ts).
 */
import { SieveSyntaxError, type Position } from './errors.js';
import { tokenize, type Token } from './lexer.js';

export type Argument =
  | { kind: 'strings'; values: string[]; list: boolean; pos: Position }
  | { kind: 'number'; value: number; pos: Position }
  | { kind: 'tag'; name: string; pos: Position };

export interface TestNode {
  name: string;
  args: Argument[];
  tests: TestNode[];
  pos: Position;
}

export interface CommandNode extends TestNode {
  /** Commands in the block; null when the command ended with ";". */
  block: CommandNode[] | null;
}

/** Nesting deeper than this is refused: a hostile script must not exhaust the stack. */
const MAX_NESTING = 64;

export function parseScript(src: string): CommandNode[] {
  const toks = tokenize(src);
  let k = 0;
  const peek = (): Token => toks[k];
  const next = (): Token => toks[k++];
  const fail = (msg: string, t: Token = peek()): never => {
    throw new SieveSyntaxError(msg, t.pos);
  };
  const isPunct = (t: Token, v: string) => t.kind === 'punct' && t.value === v;

  const commands = (depth: number, inBlock: boolean): CommandNode[] => {
    const out: CommandNode[] = [];
    for (;;) {
      const t = peek();
      if (t.kind === 'eof') {
        if (inBlock) fail('missing "}" at the end of a block');
        return out;
      }
      if (inBlock && isPunct(t, '}')) return out;
      out.push(command(depth));
    }
  };

  const command = (depth: number): CommandNode => {
    const t = next();
    if (t.kind !== 'identifier') fail(`expected a command name, found ${describe(t)}`, t);
    const { args, tests } = argumentsOf(depth);
    const end = next();
    if (isPunct(end, ';')) return { name: (t as { value: string }).value, args, tests, block: null, pos: t.pos };
    if (isPunct(end, '{')) {
      if (depth >= MAX_NESTING) fail('blocks nested too deeply', end);
      const block = commands(depth + 1, true);
      next(); // '}'
      return { name: (t as { value: string }).value, args, tests, block, pos: t.pos };
    }
    return fail(`expected ";" or "{" after ${(t as { value: string }).value}, found ${describe(end)}`, end);
  };

  const argumentsOf = (depth: number): { args: Argument[]; tests: TestNode[] } => {
    const args: Argument[] = [];
    for (;;) {
      const t = peek();
      if (t.kind === 'string') {
        next();
        args.push({ kind: 'strings', values: [t.value], list: false, pos: t.pos });
      } else if (t.kind === 'number') {
        next();
        args.push({ kind: 'number', value: t.value, pos: t.pos });
      } else if (t.kind === 'tag') {
        next();
        args.push({ kind: 'tag', name: t.value, pos: t.pos });
      } else if (isPunct(t, '[')) {
        next();
        const values: string[] = [];
        for (;;) {
          const s = next();
          if (s.kind !== 'string') fail(`expected a string in the list, found ${describe(s)}`, s);
          values.push((s as { value: string }).value);
          const sep = next();
          if (isPunct(sep, ']')) break;
          if (!isPunct(sep, ',')) fail(`expected "," or "]" in the string list, found ${describe(sep)}`, sep);
        }
        args.push({ kind: 'strings', values, list: true, pos: t.pos });
      } else break;
    }
    const t = peek();
    if (t.kind === 'identifier') return { args, tests: [test(depth + 1)] };
    if (isPunct(t, '(')) {
      next();
      const tests: TestNode[] = [];
      for (;;) {
        tests.push(test(depth + 1));
        const sep = next();
        if (isPunct(sep, ')')) break;
        if (!isPunct(sep, ',')) fail(`expected "," or ")" in the test list, found ${describe(sep)}`, sep);
      }
      return { args, tests };
    }
    return { args, tests: [] };
  };

  const test = (depth: number): TestNode => {
    if (depth >= MAX_NESTING) fail('tests nested too deeply');
    const t = next();
    if (t.kind !== 'identifier') fail(`expected a test, found ${describe(t)}`, t);
    const { args, tests } = argumentsOf(depth);
    return { name: (t as { value: string }).value, args, tests, pos: t.pos };
  };

  return commands(0, false);
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'the end of the script';
    case 'string':
      return 'a string';
    case 'number':
      return `the number ${t.value}`;
    case 'tag':
      return `:${t.value}`;
    case 'identifier':
      return `"${t.value}"`;
    case 'punct':
      return `"${t.value}"`;
  }
}
