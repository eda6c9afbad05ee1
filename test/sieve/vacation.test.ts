/**
 * When a vacation action may answer (RFC 5230 §4.5, RFC 3834 §2) and what
 * the answer looks like (RFC 5230 §4.4-4.6, RFC 3834 §3, §5).
 */
import { describe, expect, it } from 'vitest';
import { responseKey, runScript, sieveMessage, vacationRefusal, vacationReply } from '../../node/sieve/index.js';
import { msg } from './helpers.js';

const base = ['From: Bob <bob@example.net>', 'To: alice@example.test', 'Subject: Lunch?', 'Message-ID: <m1@example.net>'];

function vac(script = 'require "vacation"; vacation :days 3 "Away until Monday.";') {
  const a = runScript(script, { message: sieveMessage(msg([...base, '', 'x'])), envelope: { from: 'bob@example.net', to: 'alice@example.test' }, now: new Date() }).actions[0];
  if (a.type !== 'vacation') throw new Error('no vacation action');
  return a;
}

function refusal(lines: string[], sender = 'bob@example.net', action = vac()) {
  return vacationRefusal(action, { message: sieveMessage(msg([...lines, '', 'x'])), sender, recipient: 'alice@example.test', userAddresses: ['alice@example.test'], hostname: 'mx.example.test' });
}

describe('vacation: whom not to answer', () => {
  it('answers a personal message', () => {
    expect(refusal(base)).toBeNull();
  });
  it('never the null reverse-path (RFC 3834 §2)', () => {
    expect(refusal(base, '')).toBe('null sender');
  });
  it('not an Auto-Submitted message other than "no" (RFC 3834 §2, §5)', () => {
    expect(refusal([...base, 'Auto-Submitted: auto-replied'])).toBe('Auto-Submitted');
    expect(refusal([...base, 'Auto-Submitted: auto-generated (cron)'])).toBe('Auto-Submitted');
    expect(refusal([...base, 'Auto-Submitted: no'])).toBeNull();
  });
  it('not a mailing list (List-* fields) or bulk (Precedence) (RFC 3834 §2)', () => {
    expect(refusal([...base, 'List-Id: <dev.lists.example>'])).toBe('mailing list');
    expect(refusal([...base, 'List-Unsubscribe: <mailto:u@lists.example>'])).toBe('mailing list');
    expect(refusal([...base, 'Precedence: bulk'])).toBe('Precedence: bulk');
    expect(refusal([...base, 'Precedence: junk'])).toBe('Precedence: junk');
  });
  it('not automated senders: owner-*, *-request, MAILER-DAEMON (RFC 5230 §4.5)', () => {
    for (const s of ['owner-dev@lists.example', 'dev-request@lists.example', 'MAILER-DAEMON@mx.example']) expect(refusal(base, s)).toBe('automated sender');
  });
  it('not the user\'s own address', () => {
    expect(refusal(base, 'alice@example.test')).toBe('own address');
  });
  it('only when the user is named in To/Cc/Bcc, or in :addresses (RFC 5230 §4.5, §4.6)', () => {
    const lines = ['From: bob@example.net', 'To: team@example.test', 'Subject: x'];
    expect(refusal(lines)).toBe('not addressed to the user');
    expect(refusal(lines, 'bob@example.net', vac('require "vacation"; vacation :addresses "team@example.test" "Away";'))).toBeNull();
  });
});

describe('vacation: the reply', () => {
  const ctx = { message: sieveMessage(msg([...base, '', 'x'])), sender: 'bob@example.net', recipient: 'alice@example.test', userAddresses: ['alice@example.test'], hostname: 'mx.example.test' };
  it('carries Auto-Submitted: auto-replied, In-Reply-To and References (RFC 3834 §3.1.5, §5; RFC 5230 §4.6)', () => {
    const r = vacationReply(vac(), ctx).toString();
    expect(r).toMatch(/^Auto-Submitted: auto-replied/m);
    expect(r).toMatch(/^In-Reply-To: <m1@example\.net>\r$/m);
    expect(r).toMatch(/^References: <m1@example\.net>\r$/m);
    expect(r).toMatch(/^To: <bob@example\.net>\r$/m);
    expect(r).toMatch(/^From: alice@example\.test\r$/m);
    expect(r).toContain('\r\n\r\nAway until Monday.');
  });
  it('subject "Auto: " and the original by default, or :subject (RFC 5230 §4.4)', () => {
    expect(vacationReply(vac(), ctx).toString()).toMatch(/^Subject: Auto: Lunch\?\r$/m);
    expect(vacationReply(vac('require "vacation"; vacation :subject "Parti" :from "a@example.test" "x";'), ctx).toString()).toMatch(/^Subject: Parti\r$/m);
  });
  it('encodes a non-ASCII subject (RFC 2047)', () => {
    expect(vacationReply(vac('require "vacation"; vacation :subject "En congé" "x";'), ctx).toString()).toMatch(/^Subject: =\?utf-8\?B\?/m);
  });
  it('the response key differs per sender and per handle (RFC 5230 §4.2)', () => {
    const a = vac();
    expect(responseKey(a, 'bob@example.net')).toBe(responseKey(a, 'BOB@example.net'));
    expect(responseKey(a, 'bob@example.net')).not.toBe(responseKey(a, 'carol@example.net'));
    expect(responseKey(vac('require "vacation"; vacation :handle "h" "x";'), 'bob@example.net')).not.toBe(responseKey(a, 'bob@example.net'));
  });
});
