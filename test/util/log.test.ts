/**
 * The node's logger redacts passwords, secrets, Authorization headers and
 * message bodies wherever a protocol puts them: checked on the JSON lines
 * pino writes with the node's own options.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { loggerOptions } from '../../node/util/log.js';

function capture(level = 'trace') {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  return { log: pino(loggerOptions(level), stream), lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('log redaction', () => {
  it('redacts secrets and bodies at the top level, in children, and nested', () => {
    const c = capture();
    const child = c.log.child({ proto: 'imap', cid: 'x1' });
    child.info({ user: 'alice@example.org', password: 'hunter2-top' }, 'login');
    child.info({ cmd: 'AUTH', auth: 'AGFsaWNlAGh1bnRlcjI=', pass: 'hunter2-pass' }, 'sasl');
    child.info({ session: { auth: { username: 'alice', password: 'hunter2-nested' } } }, 'smtp auth');
    child.info({ req: { method: 'GET', headers: { authorization: 'Basic YWxpY2U6aHVudGVyMg==', cookie: 'sid=abc' } } }, 'http');
    child.info({ account: 'a1', recoveryKey: 'RK-1234', newPassword: 'hunter2-new', appPassword: 'abcd efgh' }, 'admin');
    child.debug({ raw: 'Subject: secret plans\r\n\r\nthe body text', body: 'the body text' }, 'message');
    child.trace({ line: 'a1 LOGIN alice "hunter2-line"' }, 'transcript');
    child.info({ msg2: { body: 'nested body text' } }, 'nested body');
    const out = c.lines();
    const text = JSON.stringify(out);
    for (const secret of ['hunter2', 'AGFsaWNl', 'YWxpY2U6', 'sid=abc', 'RK-1234', 'abcd efgh', 'secret plans', 'body text']) {
      expect(text).not.toContain(secret);
    }
    expect(out[0]).toMatchObject({ proto: 'imap', cid: 'x1', user: 'alice@example.org', password: '[redacted]', msg: 'login' });
    expect(out[2]).toMatchObject({ session: { auth: '[redacted]' } });
    expect(out[3]).toMatchObject({ req: { method: 'GET', headers: { authorization: '[redacted]', cookie: '[redacted]' } } });
    expect(out[5]).toMatchObject({ raw: '[redacted]', body: '[redacted]' });
    expect(out).toHaveLength(8);
  });

  it('keeps the fields an operator needs', () => {
    const c = capture('info');
    c.log.info({ cid: 'c9', remote: '192.0.2.1', cmd: 'FETCH', ms: 3.2, result: 'OK', status: 207 }, 'command');
    expect(c.lines()[0]).toEqual({ level: 30, time: expect.any(Number), cid: 'c9', remote: '192.0.2.1', cmd: 'FETCH', ms: 3.2, result: 'OK', status: 207, msg: 'command' });
  });
});
