/**
 * @module node/smtp/outbound/runner
 * The queue runner: takes due recipients from the durable queue, groups them
 * per message and destination domain, and delivers each group — to the
 * domain's MX hosts in order (A/AAAA fallback, MTA-STS enforced) or to the
 * smarthost — with a cap on connections per domain and in all. Each
 * recipient's outcome is recorded durably: sent, failed (5xx, or still
 * failing after the retry window — 5 days by default) or deferred with a
 * growing delay. Failures, and delays past a threshold, produce RFC 3464
 * notices for the sender: into the submitting account's INBOX, or back out
 * through the queue for forwarded mail.
 */
import { EventEmitter } from 'node:events';
import type { Store } from '../../store/index.js';
import type { AttemptResult, Queue, QueuedMessage, QueuedRecipient } from '../../store/queue.js';
import type { Logger } from '../../util/log.js';
import { metrics } from '../../util/metrics.js';
import { reportUnexpected } from '../../util/unexpected.js';
import { queueFor, srsFor } from '../context.js';
import { systemResolver, type Resolver } from '../dns.js';
import type { Srs } from '../srs.js';
import type { DsnAction, DsnRecipient } from './dsn.js';
import { sendNotice, wantsNotice } from './notice.js';
import { httpsPolicyFetcher, MtaSts, type PolicyFetcher } from './mta-sts.js';
import { hostAddresses, mxHosts, NoMailDomainError } from './mx.js';
import { sendOnce, type RcptOutcome, type SendResult, type SendTarget } from './send.js';
import { SourceAddresses } from './source.js';

export interface OutboundOptions {
  /** Port remote MX hosts listen on (25; tests use a loopback port). */
  port: number;
  /** Delay before attempt n+1 is retryDelaysMs[min(n-1, last)]. */
  retryDelaysMs: readonly number[];
  /** Give up (failure DSN) once a message is this old. */
  maxAgeMs: number;
  /** Send one "delayed" notice once a recipient is still queued after this long. */
  delayNoticeAfterMs: number;
  perDomainConcurrency: number;
  concurrency: number;
  /** Per-connection timeout. */
  timeoutMs: number;
  /** Poll at least this often, in case another process enqueued. */
  pollMs: number;
  /** Address families to connect over, in order of preference. */
  families: readonly (4 | 6)[];
  /** Relay everything through this host instead of the MX. */
  smarthost?: { host: string; port: number; secure: boolean; auth?: { user: string; pass: string }; ca?: string | Buffer };
  /** Extra CAs to trust when validating MX certificates (tests). */
  ca?: string | Buffer | (string | Buffer)[];
  /** MTA-STS policy fetcher (HTTPS by default). */
  mtaStsFetch?: PolicyFetcher;
  /** Port the policy hosts listen on (443; tests use a loopback port). */
  mtaStsPort?: number;
  /** Local addresses to connect from, one per family (outbound.sourceAddresses; node/smtp/outbound/source). */
  sourceAddresses?: readonly string[];
  /** False: the source addresses do not route here yet (a promoted standby before its Floating IPs move); see QueueRunner.setSourceHeld. */
  sourceHeld?: boolean;
}

export const DEFAULT_OUTBOUND: OutboundOptions = {
  port: 25,
  retryDelaysMs: [5, 10, 20, 40, 60, 120, 240, 480].map((m) => m * 60_000),
  maxAgeMs: 5 * 86_400_000,
  delayNoticeAfterMs: 4 * 3600_000,
  perDomainConcurrency: 4,
  concurrency: 20,
  timeoutMs: 5 * 60_000,
  pollMs: 60_000,
  families: [6, 4],
};

export interface QueueRunnerDeps {
  store: Store;
  log: Logger;
  hostname: string;
  resolver?: Resolver;
  queue?: Queue;
  srs?: Srs;
  outbound?: Partial<OutboundOptions>;
}

export type RunnerEvent =
  | { type: 'result'; messageId: string; rcpt: string; outcome: 'sent' | 'failed' | 'deferred'; response: string; attempts: number }
  | { type: 'dsn'; messageId: string; action: DsnAction; to: string };

export interface QueueRunner {
  /** Look for due work now. */
  kick(): void;
  /** 'event' listeners get every RunnerEvent. */
  readonly events: EventEmitter;
  /** Resolves when no delivery is in flight. */
  idle(): Promise<void>;
  /** Whether outbound.sourceAddresses route to this node now: a promoted standby says so once its Floating IPs have moved. */
  setSourceHeld(held: boolean): void;
  close(): Promise<void>;
}

export function startQueueRunner(deps: QueueRunnerDeps): QueueRunner {
  const opts: OutboundOptions = { ...DEFAULT_OUTBOUND, ...deps.outbound };
  const queue = deps.queue ?? queueFor(deps.store);
  const srs = deps.srs ?? srsFor(deps.store);
  const resolver = deps.resolver ?? systemResolver;
  const sts = new MtaSts(resolver, opts.mtaStsFetch ?? httpsPolicyFetcher({ resolver, port: opts.mtaStsPort, ca: opts.ca }), {
    load: (domain) => deps.store.directory.getSetting(`mta-sts.policy.${domain}`),
    save: (domain, json) => deps.store.directory.setSetting(`mta-sts.policy.${domain}`, json),
  });
  const log = deps.log.child({ proto: 'queue' });
  const source = new SourceAddresses(opts.sourceAddresses ?? [], log, opts.sourceHeld ?? true);
  const events = new EventEmitter();
  const inflight = new Set<number>();
  const perDomain = new Map<string, number>();
  const running = new Set<Promise<void>>();
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  let pumping = false;
  let again = false;
  let fencedLogged = false;

  const emit = (e: RunnerEvent) => events.emit('event', e);

  function schedule(): void {
    if (closed) return;
    if (timer) clearTimeout(timer);
    const next = queue.nextDueAt();
    const wait = next === null ? opts.pollMs : Math.max(5, Math.min(opts.pollMs, next - Date.now()));
    timer = setTimeout(pump, wait);
    timer.unref();
  }

  function pump(): void {
    if (closed) return;
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    try {
      // A node that lost the primary role sends nothing: it could not record the attempt, so the
      // message would leave again from here and once more from the new primary.
      const refused = queue.refusal();
      if (refused !== null) {
        if (!fencedLogged) log.warn({ why: refused }, 'queue: not delivering; this node takes no writes');
        fencedLogged = true;
        return;
      }
      fencedLogged = false;
      do {
        again = false;
        const due = queue.due(Date.now(), 500).filter((r) => !inflight.has(r.id));
        const groups = new Map<string, QueuedRecipient[]>();
        for (const r of due) {
          const key = `${r.messageId}\0${opts.smarthost ? '*' : r.domain}`;
          groups.set(key, [...(groups.get(key) ?? []), r]);
        }
        for (const rcpts of groups.values()) {
          if (running.size >= opts.concurrency) break;
          const domain = opts.smarthost ? '*' : rcpts[0].domain;
          if ((perDomain.get(domain) ?? 0) >= opts.perDomainConcurrency) continue;
          perDomain.set(domain, (perDomain.get(domain) ?? 0) + 1);
          for (const r of rcpts) inflight.add(r.id);
          const job = deliverGroup(rcpts)
            .catch((err) => {
              log.error({ err }, 'queue delivery crashed');
              reportUnexpected(err);
            })
            .finally(() => {
              for (const r of rcpts) inflight.delete(r.id);
              perDomain.set(domain, (perDomain.get(domain) ?? 1) - 1);
              running.delete(job);
              if (!closed) setImmediate(pump);
            });
          running.add(job);
        }
      } while (again);
    } finally {
      pumping = false;
      schedule();
    }
  }

  async function deliverGroup(rcpts: QueuedRecipient[]): Promise<void> {
    const msg = queue.message(rcpts[0].messageId);
    const raw = queue.raw(rcpts[0].messageId);
    if (!msg || !raw) return;
    const domain = rcpts[0].domain;
    const job = { heloName: deps.hostname, mailFrom: msg.mailFrom, rcpts: rcpts.map((r) => r.rcpt), raw, timeoutMs: opts.timeoutMs };
    let outcomes: RcptOutcome[];
    let remoteMta: string | null = null;
    try {
      const r = await attempt(domain, job);
      outcomes = r.outcomes;
      remoteMta = r.host;
    } catch (err) {
      if (err instanceof NoMailDomainError) {
        outcomes = job.rcpts.map((rcpt) => ({ rcpt, code: 550, response: `550 5.1.2 ${err.message}` }));
      } else {
        // DNS failures and the like are temporary.
        outcomes = job.rcpts.map((rcpt) => ({ rcpt, code: null, response: `DNS lookup for ${domain} failed: ${(err as Error).message}` }));
      }
    }
    const now = Date.now();
    const results: AttemptResult[] = [];
    const failed: DsnRecipient[] = [];
    const delayed: { r: QueuedRecipient; d: DsnRecipient }[] = [];
    for (const r of rcpts) {
      const o = outcomes.find((x) => x.rcpt.toLowerCase() === r.rcpt.toLowerCase()) ?? { rcpt: r.rcpt, code: null, response: 'no reply for this recipient' };
      const dsnRcpt = { rcpt: r.rcpt, orcpt: r.orcpt, diagnostic: o.response, remoteMta };
      if (o.code !== null && o.code >= 200 && o.code < 300) {
        results.push({ id: r.id, outcome: 'sent', response: o.response });
      } else if (o.code !== null && o.code >= 500) {
        results.push({ id: r.id, outcome: 'failed', response: o.response });
        failed.push(dsnRcpt);
      } else {
        const delay = opts.retryDelaysMs[Math.min(r.attempts, opts.retryDelaysMs.length - 1)];
        if (now + delay > msg.createdAt + opts.maxAgeMs) {
          results.push({ id: r.id, outcome: 'failed', response: o.response });
          failed.push({ ...dsnRcpt, diagnostic: `${o.response} (gave up after ${Math.round(opts.maxAgeMs / 3600_000)} hours of retries)` });
        } else {
          results.push({ id: r.id, outcome: 'deferred', response: o.response, nextAttemptAt: now + delay });
          if (!r.delayNotified && now - msg.createdAt >= opts.delayNoticeAfterMs) delayed.push({ r, d: dsnRcpt });
        }
      }
    }
    queue.record(results, now);
    for (const res of results) {
      const r = rcpts.find((x) => x.id === res.id)!;
      log.info({ msg: msg.id, domain, outcome: res.outcome, attempts: r.attempts + 1, response: res.response.slice(0, 200) }, 'delivery attempt');
      emit({ type: 'result', messageId: msg.id, rcpt: r.rcpt, outcome: res.outcome, response: res.response, attempts: r.attempts + 1 });
      metrics.outbound.inc({ outcome: res.outcome });
    }
    const wants = (r: QueuedRecipient | undefined, what: 'SUCCESS' | 'FAILURE' | 'DELAY') => wantsNotice(r?.notify, what);
    const failNotice = failed.filter((d) => wants(rcpts.find((r) => r.rcpt === d.rcpt), 'FAILURE'));
    if (failNotice.length > 0) await notify(msg, raw, 'failed', failNotice);
    const delayNotice = delayed.filter((x) => wants(x.r, 'DELAY'));
    if (delayNotice.length > 0) {
      await notify(msg, raw, 'delayed', delayNotice.map((x) => x.d));
    }
    if (delayed.length > 0) queue.markDelayNotified(delayed.map((x) => x.r.id));
    // NOTIFY=SUCCESS: we do not pass DSN requests on, so the next hop will not
    // report delivery; RFC 3461 §6.2.7.2 asks for a "relayed" notice instead.
    const relayed = results
      .filter((res) => res.outcome === 'sent')
      .map((res) => rcpts.find((x) => x.id === res.id)!)
      .filter((r) => wants(r, 'SUCCESS'))
      .map((r) => ({ rcpt: r.rcpt, orcpt: r.orcpt, diagnostic: results.find((x) => x.id === r.id)!.response, remoteMta }));
    if (relayed.length > 0) await notify(msg, raw, 'relayed', relayed);
    queue.removeIfDone(msg.id);
  }

  /** Tries the smarthost, or each MX host's addresses in order, until one answers the transaction. */
  async function attempt(domain: string, job: Parameters<typeof sendOnce>[1]): Promise<{ outcomes: RcptOutcome[]; host: string | null }> {
    const targets: { host: string; target: (address: string) => SendTarget }[] = [];
    if (opts.smarthost) {
      const s = opts.smarthost;
      targets.push({
        host: s.host,
        target: (address) => ({ address, port: s.port, servername: s.host, secure: s.secure, requireTls: true, verifyCert: true, ca: s.ca, auth: s.auth }),
      });
    } else {
      const policy = await sts.policy(domain);
      const enforce = policy?.mode === 'enforce';
      const hosts = await mxHosts(resolver, domain);
      for (const mx of hosts) {
        if (enforce && !MtaSts.allows(policy, mx.host)) {
          log.warn({ domain, mx: mx.host }, 'MX not allowed by MTA-STS policy; skipped');
          continue;
        }
        targets.push({
          host: mx.host,
          target: (address) => ({ address, port: opts.port, servername: mx.host, requireTls: enforce, verifyCert: enforce, ca: opts.ca }),
        });
      }
      if (targets.length === 0) {
        return { outcomes: job.rcpts.map((rcpt) => ({ rcpt, code: null, response: `no MX host of ${domain} is allowed by its MTA-STS policy` })), host: null };
      }
    }
    let lastError = `no address found for the mail hosts of ${domain}`;
    for (const t of targets) {
      let addresses: string[];
      try {
        addresses = opts.smarthost ? [t.host] : await hostAddresses(resolver, t.host, opts.families);
      } catch (err) {
        lastError = `${t.host}: ${(err as Error).message}`;
        continue;
      }
      for (const address of addresses) {
        const r = await sendFrom(t.target(address), job);
        if (r.kind === 'done') return { outcomes: r.outcomes, host: t.host };
        lastError = `${t.host} [${address}]: ${r.error}`;
      }
    }
    return { outcomes: job.rcpts.map((rcpt) => ({ rcpt, code: null, response: lastError })), host: null };
  }

  /**
   * One attempt from the configured source of the target's family; when that address cannot be bound
   * here, the same attempt again from the default source: a wrong source setting costs reputation, never mail.
   */
  async function sendFrom(target: SendTarget, job: Parameters<typeof sendOnce>[1]): Promise<SendResult> {
    const localAddress = source.for(target.address, opts.families);
    if (!localAddress) return sendOnce(target, job);
    const r = await sendOnce({ ...target, localAddress }, job);
    if (r.kind !== 'source-unavailable') return r;
    source.unavailable(localAddress, r.error);
    return sendOnce(target, job);
  }

  /** Sends a DSN to the message's sender: its account's INBOX, or out again (never for a null sender). */
  async function notify(msg: QueuedMessage, raw: Buffer, action: DsnAction, recipients: DsnRecipient[]): Promise<void> {
    const to = await sendNotice({ store: deps.store, queue, srs }, msg.mailFrom, msg.accountId, {
      action,
      hostname: deps.hostname,
      envid: msg.envid,
      ret: msg.ret,
      arrivalDate: msg.createdAt,
      recipients,
      original: raw,
      retryUntil: msg.createdAt + opts.maxAgeMs,
    });
    if (to) emit({ type: 'dsn', messageId: msg.id, action, to });
  }

  const unsubscribe = queue.onEnqueue(() => setImmediate(pump));
  setImmediate(pump);

  return {
    kick: pump,
    events,
    setSourceHeld: (held) => source.setHeld(held),
    async idle() {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
    async close() {
      closed = true;
      unsubscribe();
      if (timer) clearTimeout(timer);
      while (running.size > 0) await Promise.allSettled([...running]);
    },
  };
}
