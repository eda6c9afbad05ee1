/**
 * @module node/pop3/commands/noop
 * RFC 1939 §5 NOOP.
 */
import { ok } from '../respond.js';
import type { CommandSpec } from '../state.js';

export const noop: CommandSpec<'NOOP'> = {
  states: ['transaction'],
  async handle(ctx) {
    await ctx.send(ok());
  },
};
