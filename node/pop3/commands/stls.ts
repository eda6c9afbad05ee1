/**
 * @module node/pop3/commands/stls
 * RFC 2595 §4 STLS: only in AUTHORIZATION, only once. Anything the client
 * pipelined after STLS is discarded by the session, and the state starts
 * over after the handshake (the client must re-issue CAPA).
 */
import { Pop3Error } from '../errors.js';
import { ok } from '../respond.js';
import type { CommandSpec } from '../state.js';

export const stls: CommandSpec<'STLS'> = {
  states: ['authorization'],
  async handle(ctx) {
    if (ctx.secure) throw new Pop3Error(null, 'TLS is already active');
    await ctx.startTls(ok('begin TLS negotiation'));
    ctx.state = { kind: 'authorization', user: null };
  },
};
