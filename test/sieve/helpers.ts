/**
 * @module test/sieve/helpers
 * Runs a script on a message given as text lines, with a fixed clock and
 * envelope, and returns its actions: what the per-extension tests assert on.
 */
import { runScript, sieveMessage, type SieveEnv } from '../../node/sieve/index.js';

export function msg(lines: string[]): Buffer {
  return Buffer.from(lines.join('\r\n'));
}

export const BASIC = msg([
  'Date: Tue, 1 Apr 1997 09:06:31 -0800 (PST)',
  'From: coyote@desert.example.org',
  'To: roadrunner@acme.example.com',
  'Subject: I have a present for you',
  'Message-ID: <abc123@desert.example.org>',
  '',
  'Look, I\'m sorry about the whole anvil thing, and I really',
  'didn\'t mean to try and drop it on you from the top of the',
  'cliff.  I want to try to make it up to you.',
  '',
]);

export function run(script: string, raw: Buffer = BASIC, env: Partial<SieveEnv> = {}) {
  return runScript(script, {
    message: sieveMessage(raw),
    envelope: { from: 'coyote@desert.example.org', to: 'roadrunner@acme.example.com' },
    now: new Date('2026-12-07T10:00:00Z'),
    ...env,
  }).actions;
}

export const keep = { type: 'keep', flags: [] };
export const into = (mailbox: string, extra: Record<string, unknown> = {}) => ({ type: 'fileinto', mailbox, flags: [], create: false, copy: false, ...extra });
