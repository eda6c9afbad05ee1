/**
 * @module node/pop3/commands/auth
 * RFC 5034 AUTH with SASL PLAIN (RFC 4616), with an initial response or
 * through one continuation ("+ "); "*" cancels. Bare AUTH lists the
 * mechanisms, as older Outlook versions expect. No proxy logins: an authzid
 * must be empty or equal the authcid.
 */
import { Pop3Error } from '../errors.js';
import { continuation, multiline } from '../respond.js';
import type { CommandSpec, Pop3Context } from '../state.js';
import { login, loginFailed, requirePlaintext } from './login.js';

export const auth: CommandSpec<'AUTH'> = {
  states: ['authorization'],
  async handle(ctx, cmd) {
    if (cmd.mechanism === null) {
      await ctx.send(multiline('SASL mechanisms follow', ctx.plaintextAllowed ? ['PLAIN'] : []));
      return;
    }
    if (cmd.mechanism !== 'PLAIN') throw new Pop3Error(null, `mechanism ${cmd.mechanism.slice(0, 20)} is not supported; use PLAIN`);
    requirePlaintext(ctx);
    if (cmd.initial === null) {
      ctx.state = { kind: 'sasl', mechanism: 'PLAIN' };
      await ctx.send(continuation());
      return;
    }
    await plain(ctx, cmd.initial);
  },
};

/** The client's line after "+ ": the SASL response, or "*" to cancel (RFC 5034 §4). */
export async function saslResponse(ctx: Pop3Context, line: string): Promise<void> {
  ctx.state = { kind: 'authorization', user: null };
  if (line.trim() === '*') throw new Pop3Error(null, 'authentication cancelled');
  await plain(ctx, line.trim());
}

async function plain(ctx: Pop3Context, b64: string): Promise<void> {
  // "=" is the empty initial response (RFC 5034 §4); PLAIN cannot succeed with it.
  if (b64 === '=' || !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(b64))
    throw new Pop3Error(null, 'the SASL response is not valid base64; send base64(authzid NUL user NUL password)');
  const parts = Buffer.from(b64, 'base64').toString('utf8').split('\0');
  if (parts.length !== 3 || !parts[1] || !parts[2]) throw new Pop3Error(null, 'PLAIN needs authzid NUL user NUL password');
  const [authz, user, secret] = parts;
  if (authz && authz !== user) throw new Pop3Error('AUTH', 'logging in on behalf of another user is not supported; leave the authorization id empty');
  await login(ctx, user, secret).catch((err) => {
    throw loginFailed(ctx, user, err);
  });
}
