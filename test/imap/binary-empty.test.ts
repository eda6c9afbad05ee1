/**
 * RFC 3516 §4.2: a BINARY[section] response carries its content as a
 * literal (literal8 when it holds NUL): an empty part is `{0}`, whatever its
 * transfer encoding, and so is a partial fetch past the end; BINARY.SIZE of
 * it is 0 (§4.3).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Checked } from './checker.js';
import { Raw, login, startFixture, type ImapFixture } from './helpers.js';

let f: ImapFixture;
beforeAll(async () => {
  f = await startFixture();
});
afterAll(async () => f.close());

const MESSAGE = [
  'Subject: empty parts',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary=b',
  '',
  '--b',
  'Content-Type: text/plain',
  'Content-Transfer-Encoding: base64',
  '',
  '',
  '--b',
  'Content-Type: text/plain',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  '',
  '--b',
  'Content-Type: application/octet-stream',
  '',
  '',
  '--b--',
  '',
].join('\r\n');

describe('BINARY of an empty part (RFC 3516 §4.2)', () => {
  it('is the literal {0} for base64, quoted-printable and 7bit parts, and for a partial past the end', async () => {
    const c = new Checked(await Raw.connect(f.port));
    await login(c.raw, f);
    expect(await c.cmd('a', `APPEND INBOX {${MESSAGE.length}+}\r\n${MESSAGE}`)).toMatch(/a OK/);
    await c.cmd('s', 'SELECT INBOX');
    const r = await c.cmd('f', 'FETCH 1 (BINARY.PEEK[1] BINARY.PEEK[2] BINARY.PEEK[3] BINARY.PEEK[1]<0.10> BINARY.SIZE[1] BINARY.SIZE[3])');
    expect(r).toBe(
      '* 1 FETCH (UID 1 BINARY[1] {0}\r\n BINARY[2] {0}\r\n BINARY[3] {0}\r\n BINARY[1]<0> {0}\r\n BINARY.SIZE[1] 0 BINARY.SIZE[3] 0)\r\nf OK FETCH completed\r\n',
    );
    expect(r).not.toMatch(/BINARY\[\d\](<\d+>)? ""/);
    expect(c.violations).toEqual([]);
    c.raw.close();
  });
});
