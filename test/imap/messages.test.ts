/**
 * Message commands: APPEND (MULTIAPPEND, APPENDUID), FETCH items and
 * sections, STORE, COPY/MOVE (COPYUID), EXPUNGE and UID EXPUNGE — exact
 * raw transcripts plus imapflow.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flow, Raw, login, startFixture, type ImapFixture } from './helpers.js';

let f: ImapFixture;
let raw: Raw;
let uidValidity: number;

const MULTI = [
  'From: Carol <carol@example.org>',
  'To: alice@example.test',
  'Subject: Parts',
  'Date: Fri, 27 Nov 2026 09:00:00 +0000',
  'Message-ID: <parts@example.org>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b1"',
  '',
  '--b1',
  'Content-Type: text/plain; charset=us-ascii',
  '',
  'Plain body',
  '--b1',
  'Content-Type: application/octet-stream; name="a.bin"',
  'Content-Transfer-Encoding: base64',
  'Content-Disposition: attachment; filename="a.bin"',
  '',
  'AAECAw==',
  '--b1--',
  '',
].join('\r\n');

beforeAll(async () => {
  f = await startFixture();
  raw = await Raw.connect(f.port);
  await login(raw, f);
  const sel = await raw.cmd('s', 'SELECT INBOX');
  uidValidity = Number(/UIDVALIDITY (\d+)/.exec(sel)![1]);
});
afterAll(async () => {
  raw.close();
  await f.close();
});

async function append(text: string, extra = ''): Promise<string> {
  raw.write(`ap APPEND INBOX ${extra}{${Buffer.byteLength(text)}}\r\n`);
  await raw.until((b) => b.startsWith('+ '));
  raw.take();
  raw.write(text + '\r\n');
  return raw.reply('ap');
}

describe('APPEND and FETCH', () => {
  it('appends with a synchronizing literal and reports APPENDUID and EXISTS', async () => {
    const r = await append(MULTI, '(\\Flagged) "27-Nov-2026 09:00:00 +0000" ');
    // This IMAP4rev1 session has INBOX selected: the message it appended is recent for it (RFC 3501 §6.3.11, §7.3.2).
    expect(r).toBe(`* 1 EXISTS\r\n* 1 RECENT\r\nap OK [APPENDUID ${uidValidity} 1] APPEND completed\r\n`);
  });

  it('MULTIAPPENDs atomically with LITERAL+', async () => {
    const a = 'Subject: one\r\n\r\nfirst\r\n';
    const b = 'Subject: two\r\n\r\nsecond\r\n';
    raw.write(`m APPEND INBOX {${a.length}+}\r\n${a} (\\Seen) {${b.length}+}\r\n${b}\r\n`);
    expect(await raw.reply('m')).toBe(`* 3 EXISTS\r\n* 3 RECENT\r\nm OK [APPENDUID ${uidValidity} 2:3] APPEND completed\r\n`);
    expect(await raw.cmd('m2', 'APPEND Nope {1+}\r\nx')).toMatch(/^m2 NO \[TRYCREATE\]/);
  });

  it('takes APPEND UTF8 (RFC 6855) with raw UTF-8 headers only after ENABLE UTF8=ACCEPT', async () => {
    const u = await Raw.connect(f.port);
    await login(u, f);
    await u.cmd('c', 'CREATE Utf8-check');
    const msg = Buffer.from('Subject: Grüße aus Köln\r\nFrom: Jörg <jorg@example.org>\r\n\r\nHallo\r\n');
    const append = (tag: string) => {
      u.write(Buffer.concat([Buffer.from(`${tag} APPEND Utf8-check UTF8 (~{${msg.length}+}\r\n`), msg, Buffer.from(')\r\n')]));
      return u.reply(tag);
    };
    expect(await append('a1')).toBe('a1 BAD APPEND UTF8 needs ENABLE UTF8=ACCEPT first (RFC 6855)\r\n');
    expect(await u.cmd('e', 'ENABLE UTF8=ACCEPT')).toBe('* ENABLED UTF8=ACCEPT\r\ne OK ENABLE completed\r\n');
    expect(await append('a2')).toMatch(/^a2 OK \[APPENDUID \d+ 1\]/);
    await u.cmd('s', 'SELECT Utf8-check');
    const env = Buffer.from(await u.cmd('f', 'FETCH 1 (ENVELOPE)'), 'latin1').toString('utf8');
    // The raw UTF-8 header comes back as it was (in literals: valid in either mode).
    expect(env).toContain('ENVELOPE (NIL {17}\r\nGrüße aus Köln (({5}\r\nJörg NIL "jorg" "example.org"))');
    u.close();
  });

  it('fetches flags, dates, sizes and UIDs', async () => {
    expect(await raw.cmd('f', 'FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE)')).toBe(
      `* 1 FETCH (UID 1 FLAGS (\\Flagged \\Recent) INTERNALDATE "27-Nov-2026 09:00:00 +0000" RFC822.SIZE ${Buffer.byteLength(MULTI)})\r\nf OK FETCH completed\r\n`,
    );
    expect(await raw.cmd('f2', 'UID FETCH 2:* FLAGS')).toBe('* 2 FETCH (UID 2 FLAGS (\\Recent))\r\n* 3 FETCH (UID 3 FLAGS (\\Seen \\Recent))\r\nf2 OK UID FETCH completed\r\n');
  });

  it('fetches BODYSTRUCTURE and ENVELOPE from the stored structure', async () => {
    const r = await raw.cmd('b', 'FETCH 1 (ENVELOPE BODYSTRUCTURE BODY)');
    expect(r).toBe(
      '* 1 FETCH (UID 1 ENVELOPE ("Fri, 27 Nov 2026 09:00:00 +0000" "Parts" (("Carol" NIL "carol" "example.org")) (("Carol" NIL "carol" "example.org")) (("Carol" NIL "carol" "example.org")) ((NIL NIL "alice" "example.test")) NIL NIL NIL "<parts@example.org>")' +
        ' BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 10 0 NIL NIL NIL NIL)("APPLICATION" "OCTET-STREAM" ("NAME" "a.bin") NIL NIL "BASE64" 8 NIL ("ATTACHMENT" ("FILENAME" "a.bin")) NIL NIL) "MIXED" ("BOUNDARY" "b1") NIL NIL NIL)' +
        ' BODY (("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 10 0)("APPLICATION" "OCTET-STREAM" ("NAME" "a.bin") NIL NIL "BASE64" 8) "MIXED"))\r\nb OK FETCH completed\r\n',
    );
  });

  it('fetches sections, partials, MIME headers and BINARY without setting \\Seen on PEEK', async () => {
    expect(await raw.cmd('s1', 'FETCH 1 (BODY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[HEADER.FIELDS (subject to)])')).toBe(
      '* 1 FETCH (UID 1 BODY[1] {10}\r\nPlain body BODY[2.MIME] {142}\r\nContent-Type: application/octet-stream; name="a.bin"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="a.bin"\r\n\r\n' +
        ' BODY[HEADER.FIELDS (SUBJECT TO)] {42}\r\nTo: alice@example.test\r\nSubject: Parts\r\n\r\n)\r\ns1 OK FETCH completed\r\n',
    );
    expect(await raw.cmd('s2', 'FETCH 1 (BODY.PEEK[1]<6.100> BINARY.PEEK[2] BINARY.SIZE[2])')).toBe(
      '* 1 FETCH (UID 1 BODY[1]<6> {4}\r\nbody BINARY[2] ~{4}\r\n\x00\x01\x02\x03 BINARY.SIZE[2] 4)\r\ns2 OK FETCH completed\r\n',
    );
    expect(await raw.cmd('s3', 'FETCH 1 (BODY.PEEK[HEADER.FIELDS.NOT (from to subject date message-id mime-version)])')).toBe(
      '* 1 FETCH (UID 1 BODY[HEADER.FIELDS.NOT (FROM TO SUBJECT DATE MESSAGE-ID MIME-VERSION)] {48}\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n)\r\ns3 OK FETCH completed\r\n',
    );
    expect(await raw.cmd('s4', 'FETCH 1 FLAGS')).toContain('FLAGS (\\Flagged \\Recent)');
    // A non-PEEK body fetch sets \Seen and reports it.
    expect(await raw.cmd('s5', 'FETCH 2 BODY[TEXT]')).toBe('* 2 FETCH (UID 2 BODY[TEXT] {7}\r\nfirst\r\n FLAGS (\\Seen \\Recent))\r\ns5 OK FETCH completed\r\n');
  });
});

describe('STORE, COPY, MOVE, EXPUNGE', () => {
  it('stores flags and keywords', async () => {
    // $Work is new to the mailbox: FLAGS and PERMANENTFLAGS name it before a FETCH shows it (RFC 9051 §7.3.5).
    expect(await raw.cmd('t1', 'STORE 1:2 +FLAGS (\\Deleted $Work)')).toBe(
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)\r\n' +
        '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work \\*)] flags you can change\r\n' +
        '* 1 FETCH (UID 1 FLAGS (\\Flagged \\Deleted $Work \\Recent))\r\n* 2 FETCH (UID 2 FLAGS (\\Seen \\Deleted $Work \\Recent))\r\nt1 OK STORE completed\r\n',
    );
    expect(await raw.cmd('t2', 'UID STORE 2 -FLAGS.SILENT ($Work)')).toBe('t2 OK UID STORE completed\r\n');
    expect(await raw.cmd('t3', 'STORE 3 FLAGS (\\Recent)')).toMatch(/^t3 BAD/);
  });

  it('copies with COPYUID and moves with COPYUID then EXPUNGE', async () => {
    const trash = await raw.cmd('st', 'STATUS Trash (UIDVALIDITY)');
    const tv = /UIDVALIDITY (\d+)/.exec(trash)![1];
    expect(await raw.cmd('c', 'COPY 1:2 Trash')).toBe(`c OK [COPYUID ${tv} 1:2 1:2] COPY completed\r\n`);
    expect(await raw.cmd('c2', 'COPY 1 Nope')).toMatch(/^c2 NO \[TRYCREATE\]/);
    expect(await raw.cmd('m', 'UID MOVE 3 Trash')).toBe(`* OK [COPYUID ${tv} 3 3] moved\r\n* 3 EXPUNGE\r\nm OK UID MOVE completed\r\n`);
  });

  it('UID EXPUNGEs only the given UIDs, then EXPUNGEs the rest', async () => {
    expect(await raw.cmd('e1', 'UID EXPUNGE 2')).toBe('* 2 EXPUNGE\r\ne1 OK EXPUNGE completed\r\n'.replace('e1 OK EXPUNGE', 'e1 OK UID EXPUNGE'));
    expect(await raw.cmd('e2', 'EXPUNGE')).toBe('* 1 EXPUNGE\r\ne2 OK EXPUNGE completed\r\n');
    expect(await raw.cmd('n', 'NOOP')).toBe('n OK NOOP completed\r\n');
  });

  it('UID EXPUNGE takes only the named messages that carry \\Deleted', async () => {
    await raw.cmd('c', 'CREATE Expunge-check');
    for (const n of [1, 2, 3]) await raw.cmd('a', `APPEND Expunge-check {19+}\r\nSubject: ${n}\r\n\r\nbody`);
    await raw.cmd('s', 'SELECT Expunge-check');
    await raw.cmd('d', 'UID STORE 1,3 +FLAGS.SILENT (\\Deleted)');
    expect(await raw.cmd('u', 'UID EXPUNGE 1:2')).toBe('* 1 EXPUNGE\r\nu OK UID EXPUNGE completed\r\n');
    expect(await raw.cmd('f', 'FETCH 1:* (UID FLAGS)')).toBe('* 1 FETCH (UID 2 FLAGS (\\Recent))\r\n* 2 FETCH (UID 3 FLAGS (\\Deleted \\Recent))\r\nf OK FETCH completed\r\n');
  });

  it('refuses changes in a mailbox opened with EXAMINE', async () => {
    expect(await raw.cmd('x', 'EXAMINE Trash')).toMatch(/\* 3 EXISTS[\s\S]*x OK \[READ-ONLY\] EXAMINE completed\r\n$/);
    expect(await raw.cmd('x1', 'STORE 1 +FLAGS (\\Seen)')).toMatch(/^x1 NO \[CANNOT\]/);
    expect(await raw.cmd('x2', 'FETCH 1 BODY[TEXT]')).not.toContain('FLAGS');
    expect(await raw.cmd('x3', 'CLOSE')).toBe('x3 OK CLOSE completed\r\n');
    expect(await raw.cmd('x4', 'STATUS Trash (MESSAGES)')).toContain('MESSAGES 3');
  });

  it('works for imapflow: append, fetch source, flags, move, delete', async () => {
    const c = await flow(f);
    const res = await c.append('Archive', 'Subject: via flow\r\n\r\nhello flow\r\n', ['\\Seen']);
    expect(res && typeof res === 'object' && res.uid).toBe(1);
    const lock = await c.getMailboxLock('Archive');
    try {
      const m = await c.fetchOne('1', { source: true, flags: true, uid: true });
      expect(m && m.source?.toString()).toContain('hello flow');
      expect(m && [...(m.flags ?? [])]).toEqual(['\\Seen']);
      await c.messageFlagsAdd('1', ['\\Answered']);
      const m2 = await c.fetchOne('1', { flags: true });
      expect(m2 && [...(m2.flags ?? [])].sort()).toEqual(['\\Answered', '\\Seen']);
      const moved = await c.messageMove('1', 'Junk');
      expect(moved && moved.uidMap?.get(1)).toBe(1);
      expect(c.mailbox && c.mailbox.exists).toBe(0);
    } finally {
      lock.release();
    }
    await c.logout();
  });
});
