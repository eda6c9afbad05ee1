/**
 * @module node/smtp/spam
 * The spam-scoring hook: a few built-in signals (authentication results,
 * DNS blocklists) plus any scorers the operator adds, summed into a score
 * that decides reject / junk / accept against two thresholds. Scoring is
 * deliberately simple and explainable: every point comes with a reason that
 * lands in the X-Haven-Spam header. A content filter (rspamd, node/rspamd)
 * adds its score to Haven's authentication signals when it answers: a Haven
 * server's rspamd does not check SPF, DKIM, DMARC or ARC (Haven verifies them
 * anyway; infra/cloud-init.ts switches those modules off), but it does check
 * blocklists, so Haven's own DNSBL queries are not made; while it does not
 * answer, Haven's own score decides alone. The content filter needs nothing
 * Haven's verification produces, so the MX asks it (askContent) before
 * verifying and the two run side by side.
 */
import type { AuthenticateResult } from 'mailauth';
import { dnsblListings, type Resolver } from './dns.js';

/** What a content filter is told: the message as received and its SMTP envelope. */
export interface ContentInput {
  ip: string;
  helo: string;
  mailFrom: string;
  raw: Buffer;
  /** Envelope recipients and the transaction id, for a content filter's headers. */
  rcpts?: string[];
  queueId?: string;
  clientHostname?: string;
  /** The one local recipient (per-user statistics), when there is one. */
  deliverTo?: string;
}

export interface SpamInput extends ContentInput {
  auth: AuthenticateResult;
  resolver: Resolver;
}

/** A content filter's verdict on one message; null when it could not be asked (down, slow). */
export interface ContentVerdict {
  score: number;
  /** The filter's own decision, which Haven's thresholds may only make stricter. */
  action: SpamAction;
  reasons: string[];
}

export interface ContentFilter {
  check(input: ContentInput): Promise<ContentVerdict | null>;
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
  /** rspamd (or another engine): its score is added to the authentication signals and replaces the DNSBL checks when it answers. */
  content?: ContentFilter;
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

const SEVERITY: Record<SpamAction, number> = { accept: 0, junk: 1, reject: 2 };

/**
 * Starts the content filter's check (null without one). Its answer is
 * awaited by scoreMessage; a caller that refuses the message before that
 * may drop it: a failure is then not reported as unhandled.
 */
export function askContent(input: ContentInput, opts: SpamOptions): Promise<ContentVerdict | null> | null {
  if (!opts.content) return null;
  const pending = opts.content.check(input);
  pending.catch(() => undefined);
  return pending;
}

/** `pending` is askContent's answer when the caller started it earlier; otherwise the filter is asked here. */
export async function scoreMessage(input: SpamInput, opts: SpamOptions, pending?: Promise<ContentVerdict | null> | null): Promise<SpamVerdict> {
  const content = (await (pending === undefined ? askContent(input, opts) : pending)) ?? null;
  const signals: SpamSignal[] = authSignals(input.auth);
  if (!content) {
    for (const zone of await dnsblListings(input.resolver, input.ip, opts.dnsbl)) {
      signals.push({ score: opts.dnsblScore ?? 5, reason: `dnsbl=${zone}` });
    }
  }
  for (const scorer of opts.scorers ?? []) signals.push(...(await scorer(input)));
  const score = signals.reduce((s, x) => s + x.score, content?.score ?? 0);
  let action: SpamAction = score >= opts.rejectScore ? 'reject' : score >= opts.junkScore ? 'junk' : 'accept';
  if (content && SEVERITY[content.action] > SEVERITY[action]) action = content.action;
  return { score, action, reasons: [...(content?.reasons ?? []), ...signals.map((s) => `${s.reason}(${s.score})`)] };
}

export function spamHeader(v: SpamVerdict): string {
  return `X-Haven-Spam: ${v.action === 'accept' ? 'no' : 'yes'}; score=${v.score.toFixed(1)}${v.reasons.length ? '; ' + v.reasons.join(' ') : ''}\r\n`;
}
