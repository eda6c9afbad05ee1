/**
 * @module node/pop3/commands/user
 * RFC 1939 §7 USER name: remembers the name for PASS. Refused before TLS
 * unless plaintext is allowed here (RFC 2595 §4: no cleartext passwords on
 * an unprotected link).
 */
import { ok } from '../respond.js';
import { requirePlaintext } from './login.js';
import type { CommandSpec } from '../state.js';

export const user: CommandSpec<'USER'> = {
  states: ['authorization'],
  async handle(ctx, cmd) {
    requirePlaintext(ctx);
    ctx.state = { kind: 'authorization', user: cmd.name };
    await ctx.send(ok('send PASS'));
  },
};
