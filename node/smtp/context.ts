/**
 * @module node/smtp/context
 * Everything a session handler needs, resolved once per listener from the
 * deps: defaults filled in, the shared queue and SRS key found or created.
 */
import { randomBytes } from 'node:crypto';
import { ProbeLimiter } from '../net/index.js';
import type { Store } from '../store/index.js';
import { Queue } from '../store/queue.js';
import type { AuthLimiter } from '../util/auth-limiter.js';
import type { Logger } from '../util/log.js';
import { cachingResolver, systemResolver, type Resolver } from './dns.js';
import { DeliveryBatcher } from './batch.js';
import { DEFAULT_SPAM, type SpamOptions } from './spam.js';
import { Srs } from './srs.js';
import { DEFAULT_LIMITS, type SmtpDeps, type SmtpLimits } from './types.js';

export interface Context {
  store: Store;
  log: Logger;
  authLimiter: AuthLimiter;
  hostname: string;
  resolver: Resolver;
  queue: Queue;
  srs: Srs;
  limits: SmtpLimits;
  spam: SpamOptions;
  batcher: DeliveryBatcher;
  trustedArcSealers: readonly string[];
  /** Unknown-recipient counts per IP and account, shared by every SMTP listener of the store. */
  probes: ProbeLimiter;
  /** The listener's metrics label (smtp for the MX, submission), set by startSmtp. */
  protocol?: string;
}

const queues = new WeakMap<Store, Queue>();
const probeLimiters = new WeakMap<Store, ProbeLimiter>();

function probesFor(store: Store, limits: SmtpLimits): ProbeLimiter {
  let p = probeLimiters.get(store);
  const want = { tarpitAfter: limits.unknownRecipientsBeforeTarpit, disconnectAfter: limits.unknownRecipientsBeforeDisconnect, windowMs: limits.unknownRecipientWindowMs };
  if (!p || p.limits.tarpitAfter !== want.tarpitAfter || p.limits.disconnectAfter !== want.disconnectAfter || p.limits.windowMs !== want.windowMs) {
    probeLimiters.set(store, (p = new ProbeLimiter(want)));
  }
  return p;
}

/** One Queue per store, so listeners and the runner share its enqueue notifications. */
export function queueFor(store: Store): Queue {
  let q = queues.get(store);
  if (!q) {
    q = new Queue(store.directory.path, store.directory.db);
    queues.set(store, q);
  }
  return q;
}

/** The SRS key lives in the (encrypted) directory so every node and restart agrees on it. */
export function srsFor(store: Store): Srs {
  let secret = store.directory.getSetting('srs.secret');
  if (!secret) {
    secret = randomBytes(32).toString('base64');
    store.directory.setSetting('srs.secret', secret);
  }
  return new Srs(Buffer.from(secret, 'base64'));
}

export function makeContext(deps: SmtpDeps & { queue?: Queue }): Context {
  const limits = { ...DEFAULT_LIMITS, ...deps.limits };
  return {
    store: deps.store,
    log: deps.log,
    authLimiter: deps.authLimiter,
    hostname: deps.hostname,
    resolver: cachingResolver(deps.resolver ?? systemResolver),
    queue: deps.queue ?? queueFor(deps.store),
    srs: deps.srs ?? srsFor(deps.store),
    limits,
    probes: probesFor(deps.store, limits),
    spam: { ...DEFAULT_SPAM, ...deps.spam },
    batcher: new DeliveryBatcher(deps.store),
    trustedArcSealers: deps.trustedArcSealers ?? [],
  };
}
