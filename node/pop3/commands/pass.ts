/**
 * @module node/pop3/commands/pass
 * RFC 1939 §7 PASS string: logs in as the USER name with the account
 * password or an app password. A failure returns to AUTHORIZATION with no
 * name remembered, so the client starts again with USER.
 */
import { Pop3Error } from '../errors.js';
import type { CommandSpec } from '../state.js';
import { login, loginFailed, requirePlaintext } from './login.js';

export const pass: CommandSpec<'PASS'> = {
  states: ['authorization'],
  async handle(ctx, cmd) {
    requirePlaintext(ctx);
    const name = ctx.state.kind === 'authorization' ? ctx.state.user : null;
    if (!name) throw new Pop3Error(null, 'send USER first');
    await login(ctx, name, cmd.secret).catch((err) => {
      throw loginFailed(ctx, name, err);
    });
  },
};
