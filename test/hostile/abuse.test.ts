/**
 * Issue 21 items 7 to 12, each reproduced against a whole node, each
 * followed by the bystander check (another user's IMAP login and /health
 * within a second) and, where mail is involved, a look at what was stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALICE, BOB, rawClient, startHostileNode, stillServing, subjects, type HostileNode, type RawClient } from './harness.js';

let h: HostileNode;
beforeAll(async () => {
  h = await startHostileNode({ limits: { unknownRecipientsBeforeTarpit: 2, unknownRecipientsBeforeDisconnect: 5 } });
});
afterAll(async () => h?.close());

/** Sends one line and waits for a reply line matching `want` after it. */
async function say(c: RawClient, line: string | Buffer, want: RegExp, ms = 10_000): Promise<string> {
  const n = c.text().length;
  c.write(typeof line === 'string' ? line + '\r\n' : line);
  const all = await c.until((t) => want.test(t.slice(n)), ms);
  return all.slice(n);
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

async function smtp(port: number, from: string, opts: { tls?: boolean } = {}): Promise<RawClient> {
  const c = await rawClient(port, { from, tls: opts.tls, ca: h.ca });
  await c.until((t) => /^220 /m.test(t));
  await say(c, 'EHLO client.test', /^250 /m);
  return c;
}

describe('item 7: a failed login does not copy the whole user name into the log', () => {
  it('logs at most 64 characters of it, over IMAP and SMTP submission', async () => {
    const before = h.log().length;
    const user = 'u'.repeat(7000);
    const c = await rawClient(h.node.ports.imap!, { from: '127.0.0.1' });
    await c.until((t) => t.includes('\r\n'));
    expect(await say(c, `a LOGIN {${user.length}+}\r\n${user} wrong`, /^a (NO|BAD)/m)).toMatch(/a NO \[AUTHENTICATIONFAILED\]/);
    c.socket.destroy();
    const s = await smtp(h.node.ports.submission!, '127.0.0.1');
    expect(await say(s, `AUTH PLAIN ${b64(`\0${'v'.repeat(700)}\0wrong`)}`, /^\d{3} /m)).toMatch(/^535 /m);
    s.socket.destroy();
    const added = h.log().slice(before);
    expect(added).toMatch(/login failed/);
    expect(added).toMatch(/authentication failed/);
    expect(added).toContain('…(7000 chars)');
    expect(added).not.toContain('u'.repeat(65));
    expect(added).not.toContain('v'.repeat(65));
    expect(added.length).toBeLessThan(2000);
    await stillServing(h);
  });
});

describe('item 8: POP3 releases the maildrop however a session ends', () => {
  it('after "too many bad commands" closes the session, the next login gets in (no IN-USE)', async () => {
    const c = await rawClient(h.node.ports.pop3!, { from: '127.0.0.1' });
    await c.until((t) => t.startsWith('+OK'));
    await say(c, `USER ${BOB.address}`, /^\+OK/m);
    await say(c, `PASS ${BOB.password}`, /^\+OK/m);
    for (let i = 0; i < 10; i++) c.write(`XYZZY${i}\r\n`);
    await c.closed;
    expect(c.text()).toMatch(/too many bad commands, closing/);
    // RFC 2449 §8.1.2 [IN-USE] would mean the lock outlived the session.
    const d = await rawClient(h.node.ports.pop3!, { from: '127.0.0.1' });
    await d.until((t) => t.startsWith('+OK'));
    await say(d, `USER ${BOB.address}`, /^\+OK/m);
    expect(await say(d, `PASS ${BOB.password}`, /^[+-]/m)).toMatch(/^\+OK maildrop has/m);
    await say(d, 'QUIT', /^\+OK/m);
    await stillServing(h);
  });
});

describe('item 9: a message whose first line starts with whitespace', () => {
  // RFC 5322 §2.2.3: such a line continues the previous field, here the server's own.
  it('is refused on the MX and on submission instead of being folded into our header; the session goes on', async () => {
    const mx = await smtp(h.node.ports.smtp!, '127.0.0.6');
    await say(mx, 'MAIL FROM:<x@sender.test>', /^250 /m);
    await say(mx, `RCPT TO:<${ALICE.address}>`, /^250 /m);
    await say(mx, 'DATA', /^354 /m);
    expect(await say(mx, ' X-Haven-Spam: score=-100\r\nSubject: ws-first-mx\r\n\r\nbody\r\n.', /^\d{3} /m)).toMatch(/^554 5\.6\.0 .*space or tab/m);
    // The transaction is over, the session is not.
    await say(mx, 'MAIL FROM:<x@sender.test>', /^250 /m);
    await say(mx, 'QUIT', /^221 /m);
    const sub = await smtp(h.node.ports.submission!, '127.0.0.1');
    await say(sub, `AUTH PLAIN ${b64(`\0${ALICE.address}\0${ALICE.password}`)}`, /^235 /m);
    await say(sub, `MAIL FROM:<${ALICE.address}>`, /^250 /m);
    await say(sub, `RCPT TO:<${ALICE.address}>`, /^250 /m);
    await say(sub, 'DATA', /^354 /m);
    expect(await say(sub, `\tfolded\r\nFrom: ${ALICE.address}\r\nSubject: ws-first-sub\r\n\r\nbody\r\n.`, /^\d{3} /m)).toMatch(/^554 5\.6\.0 /m);
    sub.socket.destroy();
    expect((await subjects(h)).filter((s) => s.startsWith('ws-first'))).toEqual([]);
    await stillServing(h);
  });
});

describe('item 10: submission sends only as the account', () => {
  async function submit(headers: string): Promise<string> {
    const sub = await smtp(h.node.ports.submission!, '127.0.0.1');
    await say(sub, `AUTH PLAIN ${b64(`\0${ALICE.address}\0${ALICE.password}`)}`, /^235 /m);
    await say(sub, `MAIL FROM:<${ALICE.address}>`, /^250 /m);
    await say(sub, `RCPT TO:<${BOB.address}>`, /^250 /m);
    await say(sub, 'DATA', /^354 /m);
    const reply = await say(sub, `${headers}\r\n\r\nbody\r\n.`, /^\d{3} /m);
    sub.socket.destroy();
    return reply;
  }

  it('refuses Sender:, Resent-From: and Resent-Sender: naming another account (RFC 5322 §3.6.2, §3.6.6), accepts its own', async () => {
    expect(await submit(`From: ${ALICE.address}\r\nSender: ${BOB.address}\r\nSubject: as-bob-1`)).toMatch(/^550 5\.7\.1 <bob@example\.org>: sender address not owned/m);
    expect(await submit(`From: ${ALICE.address}\r\nResent-From: Bob <${BOB.address}>\r\nSubject: as-bob-2`)).toMatch(/^550 5\.7\.1 /m);
    expect(await submit(`From: ${ALICE.address}\r\nResent-Sender: ${BOB.address}\r\nSubject: as-bob-3`)).toMatch(/^550 5\.7\.1 /m);
    expect(await submit(`From: ${ALICE.address}\r\nSender: ${ALICE.address}\r\nSubject: as-alice`)).toMatch(/^250 /m);
    expect((await subjects(h, BOB)).filter((s) => s.startsWith('as-'))).toEqual(['as-alice']);
  });

  it('refuses AUTH PLAIN with a foreign authorization identity (RFC 4616 §2), as IMAP and POP3 do', async () => {
    const sub = await smtp(h.node.ports.submission!, '127.0.0.1');
    expect(await say(sub, `AUTH PLAIN ${b64(`${BOB.address}\0${ALICE.address}\0${ALICE.password}`)}`, /^\d{3} /m)).toMatch(/^535 5\.7\.8 logging in on behalf of another user/m);
    // Its own address as authzid is no proxy login.
    expect(await say(sub, `AUTH PLAIN ${b64(`${ALICE.address}\0${ALICE.address}\0${ALICE.password}`)}`, /^\d{3} /m)).toMatch(/^235 /m);
    sub.socket.destroy();
    await stillServing(h);
  });
});

describe('item 11: recipient probing', () => {
  it('tarpits, then disconnects a prober per IP (limits 2 and 5 here), while others deliver', async () => {
    const c = await smtp(h.node.ports.smtp!, '127.0.0.7');
    await say(c, 'MAIL FROM:<harvester@sender.test>', /^250 /m);
    const times: number[] = [];
    const replies: string[] = [];
    for (let i = 0; i < 300 && !c.socket.destroyed; i++) {
      const t = performance.now();
      replies.push((await say(c, `RCPT TO:<guess${i}@example.org>`, /^\d{3} /m).catch(() => 'closed')).trim());
      times.push(performance.now() - t);
      if (replies.at(-1)!.startsWith('421')) break;
    }
    // Two at once, then 0.5 s and 1 s held, then 421 and the close: 5 answers, not 300.
    expect(replies.map((r) => r.slice(0, 3))).toEqual(['550', '550', '550', '550', '421']);
    expect(times[1]).toBeLessThan(400);
    expect(times[2]).toBeGreaterThanOrEqual(450);
    expect(times[3]).toBeGreaterThanOrEqual(950);
    await c.closed;
    // A new connection from that IP is turned away at its first RCPT until the window passes.
    const again = await smtp(h.node.ports.smtp!, '127.0.0.7');
    await say(again, 'MAIL FROM:<harvester@sender.test>', /^250 /m);
    expect(await say(again, `RCPT TO:<${ALICE.address}>`, /^\d{3} /m)).toMatch(/^421 4\.7\.0 too many unknown recipients/m);
    // Someone else still delivers.
    const other = await smtp(h.node.ports.smtp!, '127.0.0.8');
    await say(other, 'MAIL FROM:<friend@sender.test>', /^250 /m);
    await say(other, `RCPT TO:<${ALICE.address}>`, /^250 /m);
    await say(other, 'DATA', /^354 /m);
    expect(await say(other, 'Subject: not-a-probe\r\n\r\nhello\r\n.', /^\d{3} /m)).toMatch(/^250 /m);
    expect(await subjects(h)).toContain('not-a-probe');
    await stillServing(h);
  });

  it('counts per account on submission: the account stays blocked from another address', async () => {
    const probe = async (from: string) => {
      const sub = await smtp(h.node.ports.submission!, from);
      await say(sub, `AUTH PLAIN ${b64(`\0${BOB.address}\0${BOB.password}`)}`, /^235 /m);
      await say(sub, `MAIL FROM:<${BOB.address}>`, /^250 /m);
      return sub;
    };
    const a = await probe('127.0.0.9');
    let last = '';
    for (let i = 0; i < 10 && !last.startsWith('421'); i++) last = (await say(a, `RCPT TO:<nobody${i}@example.org>`, /^\d{3} /m)).trim();
    expect(last).toMatch(/^421 4\.7\.0/);
    const b = await probe('127.0.0.10');
    expect(await say(b, `RCPT TO:<${ALICE.address}>`, /^\d{3} /m)).toMatch(/^421 4\.7\.0/m);
    await stillServing(h, undefined, ALICE);
  });
});

describe('item 12: malformed names and NUL bytes', () => {
  it('refuses malformed modified UTF-7 names: &ZZZ- and &ZZY- can no longer be one folder (RFC 3501 §5.1.3)', async () => {
    const c = await rawClient(h.node.ports.imap!, { from: '127.0.0.1' });
    await c.until((t) => t.includes('\r\n'));
    await say(c, `l LOGIN ${ALICE.address} "${ALICE.password}"`, /^l OK/m);
    expect(await say(c, 'c1 CREATE "&ZZZ-"', /^c1 /m)).toMatch(/^c1 BAD mailbox name is not valid modified UTF-7/m);
    expect(await say(c, 'c2 CREATE "&ZZY-"', /^c2 /m)).toMatch(/^c2 OK/m);
    expect(await say(c, 'c3 SELECT "&ZZZ-"', /^c3 /m)).toMatch(/^c3 BAD/m);
    expect(await say(c, 'c4 CREATE "&AGE-"', /^c4 /m)).toMatch(/^c4 BAD .*US-ASCII/m);
    expect(await say(c, 'c5 CREATE "&2D0-"', /^c5 /m)).toMatch(/^c5 BAD .*surrogate/m);
    expect(await say(c, 'c6 CREATE "a&b"', /^c6 /m)).toMatch(/^c6 BAD/m);
    const list = await say(c, 'c7 LIST "" "*"', /^c7 OK/m);
    expect(list).toMatch(/^\* LIST \([^)]*\) "\/" "?&ZZY-"?\r$/m);
    expect(list).not.toContain('&ZZZ-');
    c.socket.destroy();
  });

  it('never echoes a raw NUL in an IMAP reply', async () => {
    const c = await rawClient(h.node.ports.imap!, { from: '127.0.0.1' });
    await c.until((t) => t.includes('\r\n'));
    await say(c, `l LOGIN ${ALICE.address} "${ALICE.password}"`, /^l OK/m);
    const n = c.text().length;
    c.write('n1 SELECT {5+}\r\na\0b\0c\r\n');
    c.write('n2 CREATE {3+}\r\nx\0y\r\n');
    c.write('n3 FETCH 1 (BODY[\0])\r\n');
    c.write('\0n4 NOOP\r\n');
    c.write('n5 NOOP\r\n');
    await c.until((t) => /^n5 /m.test(t.slice(n)));
    const out = c.text().slice(n);
    expect(out).toMatch(/^n1 (NO|BAD) /m);
    expect(out).not.toContain('\0');
    c.socket.destroy();
    await stillServing(h);
  });

  it('the MX refuses NUL in a header or the body (RFC 5321 §2.3.8, RFC 5322 §2.2 and §3.5) and stores nothing', async () => {
    for (const [i, msg] of [`Subject: nul-header-\0x\r\n\r\nbody`, `Subject: nul-body\r\n\r\nbefore\0after`].entries()) {
      const mx = await smtp(h.node.ports.smtp!, '127.0.0.11');
      await say(mx, `MAIL FROM:<n${i}@sender.test>`, /^250 /m);
      await say(mx, `RCPT TO:<${ALICE.address}>`, /^250 /m);
      await say(mx, 'DATA', /^354 /m);
      expect(await say(mx, `${msg}\r\n.`, /^\d{3} /m)).toMatch(/^554 5\.6\.0 .*NUL/m);
      mx.socket.destroy();
    }
    expect((await subjects(h)).filter((s) => s.startsWith('nul-'))).toEqual([]);
    await stillServing(h);
  });
});
