/**
 * @module node/rspamd/filter
 * rspamd as Haven's content filter at SMTP time: its score becomes the
 * message's score and its action the least Haven does ("reject" refuses,
 * "add header" and "rewrite subject" file into Junk; "greylist" and
 * "soft reject" are left to Haven's thresholds, since Haven does not
 * greylist). When rspamd does not answer the message is scored without it.
 */
import type { ContentFilter, SpamAction } from '../smtp/index.js';
import type { Logger } from '../util/log.js';
import { Rspamd, RspamdUnavailableError } from './client.js';

const ACTIONS: Record<string, SpamAction> = { reject: 'reject', 'add header': 'junk', 'rewrite subject': 'junk' };
/** The X-Haven-Spam header names this many of rspamd's weightiest symbols. */
const REASONS = 8;

export function rspamdFilter(rspamd: Rspamd, opts: { log: Logger; hostname: string }): ContentFilter {
  return {
    async check(input) {
      try {
        const v = await rspamd.check({
          raw: input.raw,
          ip: input.ip,
          helo: input.helo,
          mailFrom: input.mailFrom,
          rcpts: input.rcpts ?? [],
          clientHostname: input.clientHostname,
          queueId: input.queueId,
          deliverTo: input.deliverTo,
          mtaName: opts.hostname,
        });
        const top = v.symbols
          .filter((s) => s.score !== 0)
          .sort((a, b) => Math.abs(b.score) - Math.abs(a.score))
          .slice(0, REASONS)
          .map((s) => `${s.name}(${Number(s.score.toFixed(2))})`);
        // GTUBE and other pre-filters decide with a score of 0 on the symbol: the action says it.
        const bySymbol = v.symbols.some((s) => s.name === 'GTUBE') ? ['GTUBE'] : [];
        return { score: v.score, action: ACTIONS[v.action] ?? 'accept', reasons: [`rspamd=${v.action.replace(/\s+/g, '-')}(${Number(v.score.toFixed(2))})`, ...bySymbol, ...top] };
      } catch (err) {
        if (!(err instanceof RspamdUnavailableError)) throw err;
        opts.log.warn({ err: err.message }, 'rspamd unavailable; scoring without it');
        return null;
      }
    },
  };
}
