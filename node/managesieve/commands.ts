/**
 * @module node/managesieve/commands
 * The script commands of an authenticated session (RFC 5804 §2.3-2.12),
 * each returning its whole reply. Scripts are checked with the same compiler
 * delivery uses, so what PUTSCRIPT accepts is what runs.
 */
import { compile, isScriptName, SieveSyntaxError } from '../sieve/index.js';
import { ActiveScriptError, NotFoundError, ScriptExistsError, ScriptQuotaError, SIEVE_LIMITS, type SieveRepo } from '../store/index.js';
import { no } from './errors.js';
import type { Command } from './parse.js';
import { response, str } from './respond.js';

function checkName(name: string): void {
  if (!isScriptName(name)) throw no(null, 'a script name is 1 to 128 characters with no control characters');
}

/** Compiles or throws NO with the error's line and column (RFC 5804 §2.6). */
function check(script: string): void {
  try {
    compile(script);
  } catch (err) {
    if (err instanceof SieveSyntaxError) throw no(null, err.message);
    throw err;
  }
}

/** Store errors to their RFC 5804 response codes, in one place. */
function mapped<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof NotFoundError) throw no('NONEXISTENT', err.message);
    if (err instanceof ScriptExistsError) throw no('ALREADYEXISTS', err.message);
    if (err instanceof ActiveScriptError) throw no('ACTIVE', err.message);
    if (err instanceof ScriptQuotaError) throw no(err.message.includes('bytes') ? 'QUOTA/MAXSIZE' : 'QUOTA/MAXSCRIPTS', err.message);
    throw err;
  }
}

export function scriptCommand(repo: SieveRepo, accountId: string, cmd: Command): string {
  switch (cmd.verb) {
    case 'HAVESPACE':
      // RFC 5804 §2.3: would a script of this name and size fit?
      checkName(cmd.name);
      mapped(() => repo.checkSpace(accountId, cmd.name, cmd.size));
      return response('OK', null, 'putscript would succeed');
    case 'PUTSCRIPT':
      checkName(cmd.name);
      if (Buffer.byteLength(cmd.script) > SIEVE_LIMITS.maxScriptBytes) throw no('QUOTA/MAXSIZE', `a script may hold at most ${SIEVE_LIMITS.maxScriptBytes} bytes`);
      check(cmd.script);
      mapped(() => repo.put(accountId, cmd.name, cmd.script));
      return response('OK', null, 'script stored');
    case 'CHECKSCRIPT':
      check(cmd.script);
      return response('OK', null, 'script is valid');
    case 'LISTSCRIPTS':
      return repo
        .list(accountId)
        .map((s) => `${str(s.name)}${s.active ? ' ACTIVE' : ''}\r\n`)
        .join('') + response('OK', null, 'listscripts completed');
    case 'GETSCRIPT': {
      const src = repo.get(accountId, cmd.name);
      if (src === null) throw no('NONEXISTENT', `no script named "${cmd.name}"`);
      // RFC 5804 §2.9: always a literal, so the script comes back byte for byte.
      return `{${Buffer.byteLength(src)}}\r\n${src}\r\n` + response('OK', null, 'getscript completed');
    }
    case 'SETACTIVE':
      mapped(() => repo.setActive(accountId, cmd.name === '' ? null : cmd.name));
      return response('OK', null, cmd.name === '' ? 'no script active' : 'script active');
    case 'DELETESCRIPT':
      mapped(() => repo.remove(accountId, cmd.name));
      return response('OK', null, 'script deleted');
    case 'RENAMESCRIPT':
      checkName(cmd.to);
      mapped(() => repo.rename(accountId, cmd.from, cmd.to));
      return response('OK', null, 'script renamed');
    default:
      throw no(null, `${cmd.verb} is not valid here`);
  }
}
