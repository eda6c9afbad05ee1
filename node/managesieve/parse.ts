/**
 * @module node/managesieve/parse
 * A received request to a typed command (RFC 5804 §2): the verb, then
 * exactly the strings and numbers it takes. Pure.
 */
import { no } from './errors.js';
import type { Token } from './receiver.js';

export type Command =
  | { verb: 'AUTHENTICATE'; mechanism: string; initial: string | null }
  | { verb: 'STARTTLS' | 'LOGOUT' | 'CAPABILITY' | 'LISTSCRIPTS' | 'UNAUTHENTICATE' }
  | { verb: 'NOOP'; tag: string | null }
  | { verb: 'HAVESPACE'; name: string; size: number }
  | { verb: 'PUTSCRIPT'; name: string; script: string }
  | { verb: 'CHECKSCRIPT'; script: string }
  | { verb: 'GETSCRIPT' | 'DELETESCRIPT' | 'SETACTIVE'; name: string }
  | { verb: 'RENAMESCRIPT'; from: string; to: string };

type Shape = ('string' | 'number' | 'string?')[];

const SHAPES: Record<Command['verb'], Shape> = {
  AUTHENTICATE: ['string', 'string?'],
  STARTTLS: [],
  LOGOUT: [],
  CAPABILITY: [],
  LISTSCRIPTS: [],
  UNAUTHENTICATE: [],
  NOOP: ['string?'],
  HAVESPACE: ['string', 'number'],
  PUTSCRIPT: ['string', 'string'],
  CHECKSCRIPT: ['string'],
  GETSCRIPT: ['string'],
  DELETESCRIPT: ['string'],
  SETACTIVE: ['string'],
  RENAMESCRIPT: ['string', 'string'],
};

export function parseCommand(tokens: Token[]): Command {
  const [head, ...rest] = tokens;
  if (!head || head.kind !== 'atom') throw no(null, 'expected a command such as CAPABILITY');
  const verb = head.value.toUpperCase() as Command['verb'];
  const shape = SHAPES[verb];
  if (!shape) throw no(null, `unknown command ${head.value}; CAPABILITY lists what this server does`);
  const required = shape.filter((s) => !s.endsWith('?')).length;
  if (rest.length < required || rest.length > shape.length) throw no(null, `${verb} takes ${required === shape.length ? required : `${required} to ${shape.length}`} arguments`);
  const args = rest.map((t, i) => {
    if (shape[i] === 'number') {
      if (t.kind !== 'atom' || !/^[0-9]{1,10}$/.test(t.value)) throw no(null, `${verb}: argument ${i + 1} must be a number`);
      return Number(t.value);
    }
    if (t.kind !== 'string') throw no(null, `${verb}: argument ${i + 1} must be a quoted string or a literal`);
    return t.value;
  });
  switch (verb) {
    case 'AUTHENTICATE':
      return { verb, mechanism: (args[0] as string).toUpperCase(), initial: (args[1] as string | undefined) ?? null };
    case 'NOOP':
      return { verb, tag: (args[0] as string | undefined) ?? null };
    case 'HAVESPACE':
      return { verb, name: args[0] as string, size: args[1] as number };
    case 'PUTSCRIPT':
      return { verb, name: args[0] as string, script: args[1] as string };
    case 'CHECKSCRIPT':
      return { verb, script: args[0] as string };
    case 'GETSCRIPT':
    case 'DELETESCRIPT':
    case 'SETACTIVE':
      return { verb, name: args[0] as string };
    case 'RENAMESCRIPT':
      return { verb, from: args[0] as string, to: args[1] as string };
    default:
      return { verb } as Command;
  }
}
