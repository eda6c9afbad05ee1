/**
 * @module node/pop3/commands/retr
 * RFC 1939 §5 RETR msg: the whole message, CRLF-normalized and byte-stuffed
 * (respond.ts). A message IMAP removed since login is reported, not faked.
 */
import { Pop3Error } from '../errors.js';
import { messageResponse, wireMessage } from '../respond.js';
import { entry, transaction, type CommandSpec, type TransactionState } from '../state.js';

export const retr: CommandSpec<'RETR'> = {
  states: ['transaction'],
  async handle(ctx, cmd) {
    await ctx.send(messageResponse(wireMessage(readMessage(transaction(ctx), cmd.msg))));
  },
};

export function readMessage(s: TransactionState, n: number): Buffer {
  const raw = s.drop.read(entry(s, n).uid);
  if (!raw) throw new Pop3Error(null, `message ${n} was deleted by another client since you logged in; reconnect to refresh the list`);
  return raw;
}
