/**
 * @module node/pop3/commands/capa
 * RFC 2449 §5 CAPA, in any state. Login capabilities (USER, SASL) are listed
 * only where a login would be accepted, and STLS only before TLS (RFC 2595
 * §4), so a client never tries a cleartext password the server would refuse.
 */
import { multiline } from '../respond.js';
import type { CommandSpec } from '../state.js';

export const capa: CommandSpec<'CAPA'> = {
  states: ['authorization', 'transaction'],
  async handle(ctx) {
    const caps = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING'];
    if (ctx.state.kind === 'authorization') {
      if (ctx.plaintextAllowed) caps.push('USER', 'SASL PLAIN');
      if (!ctx.secure) caps.push('STLS');
    }
    caps.push('IMPLEMENTATION Haven');
    await ctx.send(multiline('capability list follows', caps));
  },
};
