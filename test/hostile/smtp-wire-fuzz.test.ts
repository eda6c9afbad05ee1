/**
 * The SMTP command line is parsed by smtp-server, so it is fuzzed on the
 * wire: a seeded run of mutated commands (RFC 5321 §4.1 verbs and their
 * parameters, NUL and 8-bit bytes included) against a real MX listener.
 * Every command gets a well-formed reply (RFC 5321 §4.2: three digits, then
 * space or hyphen) or a closed connection after a 421/221, never silence;
 * and afterwards the MX still takes a message.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../node/store/index.js';
import { mutate } from '../helpers/fuzz.js';
import { rng } from '../helpers/rng.js';
import { sampleMessage } from '../helpers/store.js';
import { folderRaws, MX_PASSWORD, rawSession, startMxFixture, type MxFixture } from '../smtp/harness.js';

const PW = MX_PASSWORD;
let fx: MxFixture;
let store: Store;
let mx: { port: number; close(): Promise<void> };

beforeAll(async () => {
  // Probe limits out of the way: this run is about the command parser, and mutated recipients are mostly unknown.
  fx = await startMxFixture({ limits: { maxMessageBytes: 64 * 1024, unknownRecipientsBeforeTarpit: 10_000, unknownRecipientsBeforeDisconnect: 10_000 } });
  ({ store, mx } = fx);
});

afterAll(async () => fx?.close());

const SEEDS = [
  'EHLO client.sender.test',
  'HELO [127.0.0.1]',
  'MAIL FROM:<someone@sender.test> SIZE=100 BODY=8BITMIME',
  'MAIL FROM:<> RET=HDRS ENVID=abc',
  'RCPT TO:<alice@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;alice@example.test',
  'RCPT TO:<"quoted local"@example.test>',
  'RSET',
  'NOOP hello',
  'VRFY alice',
  'HELP',
];
const ALPHABET = [' ', ':', '<', '>', '@', '"', '\\', '=', ';', ',', '.', '[', ']', '\0', '\xff', '\t', 'SMTPUTF8', 'SIZE=', '99999999999999999999', 'xn--', '+', 'DATA'];

describe('SMTP commands on the wire', () => {
  it('answer every mutated command with a well-formed reply, and keep taking mail', async () => {
    const r = rng(20261207);
    let s = await rawSession(mx.port);
    expect(await s.reply()).toMatch(/^220 /);
    const started = Date.now();
    let replies = 0;
    let reconnects = 0;
    for (let i = 0; i < 600 && Date.now() - started < 4000; i++) {
      // One line per command: splitting lines is the receiver's business, tested on its own.
      const line = mutate(r, SEEDS[i % SEEDS.length], ALPHABET).replace(/[\r\n]/g, '');
      // STARTTLS would hand the socket to a handshake this test does not make.
      if (/STARTTLS/i.test(line)) continue;
      let reply = await s.cmd(line);
      if (reply.startsWith('354')) reply = await s.cmd('.');
      if (reply === '') {
        // Closed: only after a reply that says so (421, 221), never in silence.
        reconnects++;
        s = await rawSession(mx.port);
        expect(await s.reply()).toMatch(/^220 /);
        continue;
      }
      expect(reply, JSON.stringify(line)).toMatch(/^(\d{3}-[^\r\n]*\r\n)*\d{3}( [^\r\n]*)?\r\n$/);
      replies++;
      if (/^(421|221) /m.test(reply)) {
        reconnects++;
        s.close();
        s = await rawSession(mx.port);
        expect(await s.reply()).toMatch(/^220 /);
      }
    }
    s.close();
    expect(replies, `${reconnects} sessions ended by QUIT or 421 along the way`).toBeGreaterThan(200);
    // Still an MX.
    const ok = await rawSession(mx.port);
    await ok.reply();
    expect(await ok.cmd('EHLO client.sender.test')).toMatch(/^250/);
    expect(await ok.cmd('MAIL FROM:<someone@sender.test>')).toMatch(/^250 /);
    expect(await ok.cmd('RCPT TO:<alice@example.test>')).toMatch(/^250 /);
    expect(await ok.cmd('DATA')).toMatch(/^354 /);
    ok.send(sampleMessage({ from: 'someone@sender.test', body: 'marker-after-wire-fuzz' }));
    expect(await ok.cmd('.')).toMatch(/^250 /);
    ok.close();
    expect((await folderRaws(store, 'alice@example.test', PW)).some((m) => m.includes('marker-after-wire-fuzz'))).toBe(true);
  });
});
