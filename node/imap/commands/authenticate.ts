/**
 * @module node/imap/commands/authenticate
 * RFC 9051 §6.2.2 AUTHENTICATE with SASL PLAIN (RFC 4616), the initial
 * response inline (SASL-IR, RFC 4959) or after a `+` continuation. `*`
 * cancels. An authorization identity other than the user is refused.
 */
import { ImapError } from '../errors.js';
import type { Handler, Session } from '../session.js';
import { logIn } from './login.js';

async function plain(s: Session, b64: string) {
  if (b64 === '*') throw new ImapError('BAD', null, 'authentication cancelled');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new ImapError('BAD', null, 'the response is not base64');
  const parts = Buffer.from(b64, 'base64').toString('utf8').split('\0');
  if (parts.length !== 3) throw new ImapError('BAD', null, 'a PLAIN response is authzid NUL user NUL password');
  const [authz, user, pass] = parts;
  if (authz && authz.toLowerCase() !== user.toLowerCase())
    throw new ImapError('NO', 'AUTHORIZATIONFAILED', 'logging in as another user is not supported; leave the authorization identity empty');
  return logIn(s, user, pass);
}

export const authenticate: Handler<'AUTHENTICATE'> = {
  states: ['notauth'],
  async handle(s, cmd) {
    if (cmd.mechanism !== 'PLAIN') throw new ImapError('NO', 'CANNOT', `${cmd.mechanism} is not offered; use AUTHENTICATE PLAIN`);
    if (!s.ctx.loginAllowed(s)) throw new ImapError('NO', 'PRIVACYREQUIRED', 'log in over TLS: use STARTTLS first, or port 993');
    if (cmd.initial !== null) return plain(s, cmd.initial);
    s.send('+ \r\n');
    // The client's next line is the response; the session hands it here.
    s.continuation = async (line) => {
      try {
        const d = (await plain(s, line.trim())) ?? {};
        s.send(`${cmd.tag} OK ${d.code ? `[${d.code}] ` : ''}${d.text ?? 'AUTHENTICATE completed'}\r\n`);
      } catch (err) {
        s.fail(cmd.tag, err);
      }
    };
  },
};
