/**
 * @module node/smtp/spam
 * The spam-scoring hook: a few built-in signals (authentication results,
 * DNS blocklists) plus any scorers the operator adds, summed into a score
 * that decides reject / junk / accept against two thresholds. Scoring is
 * deliberately simple and explainable: every point comes with a reason that
 * lands in the X-Haven-Spam header.
 */
import type { AuthenticateResult } from 'mailauth';
import { dnsblListings, type Resolver } from './dns.js';

export interface SpamInput {
  ip: string;
  helo: string;
  mailFrom: string;
  raw: Buffer;
  auth: AuthenticateResult;
  resolver: Resolver;
}

export interface SpamSignal {
  score: number;
  reason: string;
}

/** An extra scorer: returns signals (possibly none). */
export type SpamScorer = (input: SpamInput) => Promise<SpamSignal[]> | SpamSignal[];

export interface SpamOptions {
  /** At or above: deliver to Junk. */
  junkScore: number;
  /** At or above: refuse at SMTP time. */
  rejectScore: number;
  /** DNSBL zones queried for the connecting IP. */
  dnsbl: readonly string[];
  /** Points per DNSBL listing. */
  dnsblScore?: number;
  scorers?: readonly SpamScorer[];
}

export const DEFAULT_SPAM: SpamOptions = { junkScore: 5, rejectScore: 15, dnsbl: [] };

export type SpamAction = 'accept' | 'junk' | 'reject';

export interface SpamVerdict {
  score: number;
  action: SpamAction;
  reasons: string[];
}

/** Built-in signals from SPF, DKIM and DMARC. */
export function authSignals(auth: AuthenticateResult): SpamSignal[] {
  const out: SpamSignal[] = [];
  const spf = auth.spf ? auth.spf.status.result : 'none';
  if (spf === 'fail') out.push({ score: 3, reason: 'spf=fail' });
  else if (spf === 'softfail') out.push({ score: 1, reason: 'spf=softfail' });
  const dkim = auth.dkim.results ?? [];
  const dkimPass = dkim.some((r) => r.status.result === 'pass');
  // A broken signature is a signal; an unsigned message ("none") only counts below.
  if (!dkimPass && dkim.some((r) => r.status.result === 'fail')) out.push({ score: 2, reason: 'dkim=fail' });
  if (!dkimPass && spf !== 'pass') out.push({ score: 1, reason: 'unauthenticated' });
  if (auth.dmarc && auth.dmarc.status.result === 'fail') {
    // quarantine means "treat as suspicious": enough on its own to reach Junk.
    const policy = auth.dmarc.policy;
    out.push({ score: policy === 'quarantine' ? 5 : 2, reason: `dmarc=fail(p=${policy})` });
  }
  return out;
}

export async function scoreMessage(input: SpamInput, opts: SpamOptions): Promise<SpamVerdict> {
  const signals = authSignals(input.auth);
  for (const zone of await dnsblListings(input.resolver, input.ip, opts.dnsbl)) {
    signals.push({ score: opts.dnsblScore ?? 5, reason: `dnsbl=${zone}` });
  }
  for (const scorer of opts.scorers ?? []) signals.push(...(await scorer(input)));
  const score = signals.reduce((s, x) => s + x.score, 0);
  const action: SpamAction = score >= opts.rejectScore ? 'reject' : score >= opts.junkScore ? 'junk' : 'accept';
  return { score, action, reasons: signals.map((s) => `${s.reason}(${s.score})`) };
}

export function spamHeader(v: SpamVerdict): string {
  return `X-Haven-Spam: ${v.action === 'accept' ? 'no' : 'yes'}; score=${v.score.toFixed(1)}${v.reasons.length ? '; ' + v.reasons.join(' ') : ''}\r\n`;
}
