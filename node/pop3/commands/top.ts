/**
 * @module node/pop3/commands/top
 * RFC 1939 §7 TOP msg n: the header, the blank line, and the first n lines
 * of the body (all of it when shorter), byte-stuffed like RETR.
 */
import { messageResponse, wireMessage } from '../respond.js';
import { transaction, type CommandSpec } from '../state.js';
import { readMessage } from './retr.js';

export const top: CommandSpec<'TOP'> = {
  states: ['transaction'],
  async handle(ctx, cmd) {
    await ctx.send(messageResponse(wireMessage(readMessage(transaction(ctx), cmd.msg), cmd.lines)));
  },
};
