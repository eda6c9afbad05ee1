/**
 * @module node/pop3/parse
 * A command line to a typed command (RFC 1939 §3: a case-insensitive keyword
 * of three or four characters, arguments separated by single spaces). Pure:
 * syntax errors are thrown as Pop3Error values, nothing is written.
 */
import { Pop3Error } from './errors.js';

export type Command =
  | { verb: 'USER'; name: string }
  | { verb: 'PASS'; secret: string }
  | { verb: 'AUTH'; mechanism: string | null; initial: string | null }
  | { verb: 'CAPA' }
  | { verb: 'STLS' }
  | { verb: 'STAT' }
  | { verb: 'LIST'; msg: number | null }
  | { verb: 'UIDL'; msg: number | null }
  | { verb: 'RETR'; msg: number }
  | { verb: 'TOP'; msg: number; lines: number }
  | { verb: 'DELE'; msg: number }
  | { verb: 'NOOP' }
  | { verb: 'RSET' }
  | { verb: 'QUIT' };

export type Verb = Command['verb'];

/** Thrown for a keyword this server does not know; the session counts these as bad commands. */
export class UnknownCommandError extends Pop3Error {
  constructor(readonly keyword: string) {
    super(null, `unknown command ${JSON.stringify(keyword.slice(0, 16))}; send CAPA for the list this server supports`);
  }
}

const MAX_NUMBER = 2 ** 31 - 1;

function number(arg: string | undefined, what: string, min: number): number {
  if (arg === undefined || !/^\d{1,10}$/.test(arg)) throw new Pop3Error(null, `${what} must be a number`);
  const n = Number(arg);
  if (n < min || n > MAX_NUMBER) throw new Pop3Error(null, `${what} out of range`);
  return n;
}

function noArgs(verb: string, args: string[]): void {
  if (args.length) throw new Pop3Error(null, `${verb} takes no arguments`);
}

function optionalMsg(verb: string, args: string[]): number | null {
  if (args.length > 1) throw new Pop3Error(null, `${verb} takes at most one message number`);
  return args.length ? number(args[0], 'message number', 1) : null;
}

export function parseCommand(line: string): Command {
  const sp = line.indexOf(' ');
  const keyword = (sp === -1 ? line : line.slice(0, sp)).toUpperCase();
  const rest = sp === -1 ? '' : line.slice(sp + 1);
  // PASS takes the rest of the line verbatim: passwords may contain spaces (RFC 1939 §7 note).
  if (keyword === 'PASS') {
    if (rest === '') throw new Pop3Error(null, 'PASS needs a password');
    return { verb: 'PASS', secret: rest };
  }
  const args = rest.split(' ').filter((a) => a !== '');
  switch (keyword) {
    case 'USER':
      if (args.length !== 1) throw new Pop3Error(null, 'USER needs one argument: your address');
      return { verb: 'USER', name: args[0] };
    case 'AUTH':
      if (args.length > 2) throw new Pop3Error(null, 'AUTH takes a mechanism and an optional initial response');
      return { verb: 'AUTH', mechanism: args[0]?.toUpperCase() ?? null, initial: args[1] ?? null };
    case 'CAPA':
    case 'STLS':
    case 'STAT':
    case 'NOOP':
    case 'RSET':
    case 'QUIT':
      noArgs(keyword, args);
      return { verb: keyword };
    case 'LIST':
    case 'UIDL':
      return { verb: keyword, msg: optionalMsg(keyword, args) };
    case 'RETR':
    case 'DELE':
      if (args.length !== 1) throw new Pop3Error(null, `${keyword} needs one message number`);
      return { verb: keyword, msg: number(args[0], 'message number', 1) };
    case 'TOP':
      if (args.length !== 2) throw new Pop3Error(null, 'TOP needs a message number and a line count');
      return { verb: 'TOP', msg: number(args[0], 'message number', 1), lines: number(args[1], 'line count', 0) };
    default:
      throw new UnknownCommandError(keyword);
  }
}
