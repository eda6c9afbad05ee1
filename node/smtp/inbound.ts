/**
 * @module node/smtp/inbound
 * The MX transaction (RFC 5321 §3.3): recipients checked at RCPT against
 * what we host (never a relay), DATA read with bare CR/LF refused, then
 * SPF/DKIM/DMARC/ARC, the DMARC reject decision and the spam verdict, and
 * finally every recipient's copy made durable — in the mailbox or its sealed
 * spool, or in the outbound queue for forwards — before the 250.
 */
import type { SMTPServerAddress, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { LineEndingCheck, MAIL_PARAMS, parseEnvelopeAddress, RCPT_PARAMS, unknownParam } from './address.js';
import { ClientGoneError, replies, SmtpError, toSmtpError } from './errors.js';
import { clean, headerEnd, rfc5322Date, startsWithWhitespace, withoutFields } from './headers.js';
import { addToPlan, emptyPlan, resolveRecipient, type RcptRoute } from './route.js';
import { askContent, scoreMessage, spamHeader } from './spam.js';
import { sendNotice, wantsNotice } from './outbound/notice.js';
import { verifyMessage } from './verify.js';
import { deliverFiltered } from './filter.js';
import type { Context } from './context.js';
import { memoryBudget, normalizeIp } from '../net/index.js';
import { metrics } from '../util/metrics.js';

interface MxState {
  routes: Map<string, RcptRoute>;
}

const states = new WeakMap<SMTPServerSession, MxState>();

function state(session: SMTPServerSession): MxState {
  let s = states.get(session);
  if (!s) {
    s = { routes: new Map() };
    states.set(session, s);
  }
  return s;
}

/**
 * Reads DATA into memory, enforcing line endings, the size limit and the
 * process's memory budget (node/net): each chunk is reserved before it is
 * kept, and once the budget refuses one, the rest is read and dropped and
 * the client gets a temporary 452 4.3.1 at the end. `reserved` is what the
 * caller must release once it is done with `raw`.
 */
export function readData(stream: SMTPServerDataStream, protocol = 'smtp'): Promise<{ raw: Buffer | null; bareNewline: boolean; overBudget: boolean; nul: boolean; reserved: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const check = new LineEndingCheck();
    const budget = memoryBudget();
    let reserved = 0;
    let overBudget = false;
    let nul = false;
    const drop = () => {
      chunks.length = 0;
      budget.release(reserved);
      reserved = 0;
    };
    stream.on('data', (chunk: Buffer) => {
      if (stream.sizeExceeded || check.bad || overBudget) return;
      if (!budget.reserve(chunk.length, protocol)) {
        overBudget = true;
        return drop();
      }
      reserved += chunk.length;
      // RFC 5321 §2.3.8 and RFC 5322 §2.2/§3.5: NUL is not allowed in a header or a body; remember it, keep reading.
      if (!nul && chunk.includes(0)) nul = true;
      check.push(chunk);
      chunks.push(chunk);
    });
    stream.on('error', (err) => {
      drop();
      reject(new ClientGoneError(err.message));
    });
    stream.on('end', () => {
      if (stream.sizeExceeded || overBudget) {
        drop();
        return resolve({ raw: null, bareNewline: false, overBudget, nul: false, reserved: 0 });
      }
      const ok = check.end();
      if (!ok) drop();
      resolve({ raw: ok ? Buffer.concat(chunks) : null, bareNewline: !ok, overBudget, nul, reserved });
    });
  });
}

/**
 * DATA on either listener: read the message (bare CR or LF and oversize
 * refused), hand it to `accept`, and answer 250 with the id it returns or the
 * reply its error maps to: the one catch of the command, logged once.
 */
export function answerData(
  ctx: Context,
  stream: SMTPServerDataStream,
  session: SMTPServerSession,
  cb: (err?: Error | null, message?: string) => void,
  log: { accepted: string; refused: string },
  accept: (raw: Buffer) => Promise<string>,
): void {
  const started = Date.now();
  const clog = ctx.log.child({ cid: session.id });
  let held = 0;
  readData(stream, ctx.protocol)
    .then(({ raw, bareNewline, overBudget, nul, reserved }) => {
      held = reserved;
      if (overBudget) throw replies.memoryBusy();
      if (bareNewline) throw replies.bareNewline();
      if (!raw) throw replies.tooBig(ctx.limits.maxMessageBytes);
      if (nul) throw replies.nulByte();
      if (startsWithWhitespace(raw)) throw replies.leadingWhitespace();
      return accept(raw);
    })
    .finally(() => memoryBudget().release(held))
    .then(
      (id) => {
        clog.info({ ms: Date.now() - started, rcpts: session.envelope.rcptTo.length }, log.accepted);
        cb(null, `Ok: queued as ${id}`);
      },
      (err) => {
        const e = toSmtpError(err, clog);
        clog.info({ ms: Date.now() - started, code: e.code, reply: e.enhanced }, log.refused);
        cb(e);
      },
    );
}

export function receivedHeader(ctx: Context, session: SMTPServerSession, rcpt?: string): string {
  const ip = session.remoteAddress.replace(/^::ffff:/, '');
  const helo = clean(session.hostNameAppearsAs || 'unknown');
  const rdns = clean(session.clientHostname || `[${ip}]`);
  const tlsInfo = session.tlsOptions ? ` (${session.tlsOptions.version} ${session.tlsOptions.name})` : '';
  const forPart = rcpt ? `\r\n\tfor <${clean(rcpt)}>` : '';
  return `Received: from ${helo} (${rdns} [${ip}])\r\n\tby ${ctx.hostname} (Haven) with ${session.transmissionType}${tlsInfo} id ${session.id}${forPart};\r\n\t${rfc5322Date()}\r\n`;
}

function probeKeys(session: SMTPServerSession, accountId?: string): string[] {
  return [`ip:${normalizeIp(session.remoteAddress)}`, ...(accountId ? [`account:${accountId}`] : [])];
}

/** Before a RCPT is looked at: an IP or account past the probe limit is disconnected (421) until its window passes. */
export function probeBlocked(ctx: Context, session: SMTPServerSession, accountId?: string): SmtpError | null {
  return ctx.probes.blocked(probeKeys(session, accountId)) ? replies.probing() : null;
}

/**
 * "No such user" through the probe limiter (node/net): the first few at
 * once, then each later one held a growing delay, then 421 and the close.
 */
export function answerUnknown(ctx: Context, session: SMTPServerSession, address: string, cb: (err?: Error | null) => void, accountId?: string): void {
  const v = ctx.probes.unknown(probeKeys(session, accountId));
  if (v.disconnect) {
    ctx.log.info({ cid: session.id, remote: normalizeIp(session.remoteAddress) }, 'too many unknown recipients; disconnected');
    return cb(replies.probing());
  }
  if (v.delayMs > 0) setTimeout(() => cb(replies.unknownUser(address)), v.delayMs);
  else cb(replies.unknownUser(address));
}

export function mxHandlers(ctx: Context) {
  return {
    onMailFrom(address: SMTPServerAddress, session: SMTPServerSession, cb: (err?: Error | null) => void): void {
      state(session).routes.clear();
      const bad = unknownParam(address.args, MAIL_PARAMS);
      if (bad) return cb(bad);
      if (address.address === '') return cb();
      const parsed = parseEnvelopeAddress(address.address, { utf8: !!session.envelope.smtpUtf8 });
      // A sender address with routing tricks is refused too: we would bounce to it.
      cb(parsed instanceof SmtpError ? parsed : null);
    },

    onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, cb: (err?: Error | null) => void): void {
      try {
        const blocked = probeBlocked(ctx, session);
        if (blocked) return cb(blocked);
        const bad = unknownParam(address.args, RCPT_PARAMS);
        if (bad) return cb(bad);
        const parsed = parseEnvelopeAddress(address.address, { utf8: !!session.envelope.smtpUtf8 });
        if (parsed instanceof SmtpError) return cb(parsed);
        const route = resolveRecipient(ctx.store, ctx.srs, parsed.address);
        if (route === undefined) return cb(replies.relayDenied(parsed.address));
        if (route === null) return answerUnknown(ctx, session, parsed.address, cb);
        if (route.kind === 'srs' && session.envelope.mailFrom && session.envelope.mailFrom.address !== '') {
          return cb(replies.nullSenderOnly(parsed.address));
        }
        if (route.kind === 'account') {
          const account = ctx.store.directory.getAccountById(route.accountId);
          if (!account || account.disabled) return answerUnknown(ctx, session, parsed.address, cb);
          const declared = Number((session.envelope.mailFrom && session.envelope.mailFrom.args && session.envelope.mailFrom.args.SIZE) || 0);
          ctx.store.checkQuota(account, Number.isFinite(declared) ? declared : 0);
        }
        state(session).routes.set(address.address.toLowerCase(), route);
        cb();
      } catch (err) {
        cb(toSmtpError(err, ctx.log));
      }
    },

    onData(stream: SMTPServerDataStream, session: SMTPServerSession, cb: (err?: Error | null, message?: string) => void): void {
      answerData(ctx, stream, session, cb, { accepted: 'message accepted', refused: 'message refused' }, (raw) => acceptMessage(ctx, session, raw));
    },
  };
}

/**
 * A line withoutFields could name Authentication-Results or X-Haven-Spam
 * (its trim() strips what \s matches; DATA has no bare CR or LF, so within a
 * line that is \s less CR and LF), and a few it would not. Whitespace is
 * matched within one line only: a pattern free to cross lines could take
 * quadratic time on a header of blank-looking lines.
 */
const VERDICT_FIELD = /^[^\S\r\n]*(?:authentication-results|x-haven-spam)[^\S\r\n]*:/im;

/**
 * RFC 8601 §5: a border MTA removes Authentication-Results fields that claim
 * its own authserv-id, or a sender could pre-write "dmarc=pass" for us. Our
 * X-Haven-Spam verdict is dropped from incoming mail for the same reason.
 * Verification already ran on the bytes as received.
 */
export function withoutForgedVerdicts(raw: Buffer, hostname: string): Buffer {
  // Most mail carries neither field: one scan of the header block settles it without splitting it into fields.
  if (!VERDICT_FIELD.test(raw.toString('latin1', 0, headerEnd(raw)))) return raw;
  const us = hostname.toLowerCase();
  return withoutFields(raw, (name, value) => name === 'x-haven-spam' || (name === 'authentication-results' && value.split(';')[0].trim().split(/\s+/)[0].toLowerCase() === us));
}

/** Verifies, scores and delivers one message; resolves when every copy is durable. */
async function acceptMessage(ctx: Context, session: SMTPServerSession, raw: Buffer): Promise<string> {
  const routes = state(session).routes;
  const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
  const plan = emptyPlan();
  for (const rcpt of session.envelope.rcptTo) {
    const route = routes.get(rcpt.address.toLowerCase());
    if (route) addToPlan(ctx.store, ctx.srs, plan, route);
  }
  // Seal with the key of the domain that forwards, so the next hop can trust our verdict (RFC 8617).
  let seal: { signingDomain: string; selector: string; privateKey: string } | undefined;
  const fwdDomain = plan.forwards.size > 0 ? [...plan.forwards.values()][0] : undefined;
  if (fwdDomain) {
    const key = ctx.store.directory.dkimKeys(fwdDomain).find((k) => k.algorithm === 'rsa');
    if (key) seal = { signingDomain: fwdDomain, selector: key.selector, privateKey: key.privateKeyPem };
  }
  const envelope = {
    ip: session.remoteAddress,
    helo: session.hostNameAppearsAs || '',
    mailFrom,
    raw,
    rcpts: session.envelope.rcptTo.map((r) => r.address),
    queueId: session.id,
    clientHostname: session.clientHostname || undefined,
    deliverTo: plan.locals.size === 1 && plan.forwards.size === 0 ? rcptOf(ctx, routes, session, [...plan.locals.keys()][0]) : undefined,
  };
  // The content filter (rspamd) runs its own checks on the message as received and needs none of ours:
  // asked now, it works while we verify instead of after (a message refused below only wastes its answer).
  const content = askContent(envelope, ctx.spam);
  const verdict = await verifyMessage({
    raw,
    ip: session.remoteAddress,
    helo: session.hostNameAppearsAs || '',
    mailFrom,
    hostname: ctx.hostname,
    resolver: ctx.resolver,
    seal,
    trustedArcSealers: ctx.trustedArcSealers,
    log: ctx.log,
  });
  if (verdict.arcOverride) ctx.log.info({ cid: session.id, sealer: verdict.arcOverride, from: verdict.fromDomain }, 'DMARC reject overridden by a trusted ARC sealer');
  if (verdict.dmarcReject) throw replies.dmarcReject(verdict.fromDomain ?? 'the sender');
  if (verdict.dmarcTempError) throw replies.dnsTempFail(verdict.fromDomain ?? 'the sender');
  const spam = await scoreMessage({ ...envelope, auth: verdict.result, resolver: ctx.resolver }, ctx.spam, content);
  if (spam.action === 'reject') throw replies.spam();
  // Junk is filed away here, but forwarding it would spend our IP's reputation
  // on it (and the destination would likely refuse it anyway): refuse instead,
  // so the sender hears of it.
  if (spam.action === 'junk' && plan.forwards.size > 0) throw replies.spamNotForwarded();
  const single = session.envelope.rcptTo.length === 1 ? session.envelope.rcptTo[0].address : undefined;
  const full = Buffer.concat([Buffer.from(receivedHeader(ctx, session, single) + verdict.headers + spamHeader(spam)), withoutForgedVerdicts(raw, ctx.hostname)]);

  // Sieve runs here, per local recipient (node/smtp/filter); the folder is Junk or the +tag unless a script decides.
  await deliverFiltered(ctx, { session, raw: full, locals: plan.locals, spam, rcptOf: (id) => rcptOf(ctx, routes, session, id) });
  // Counted after the fact: a locked managed mailbox is opened by the delivery itself, so it lands locally.
  for (const [accountId] of plan.locals) metrics.deliveries.inc({ kind: ctx.store.isUnlocked(accountId) ? 'local' : 'spool' });
  const byDomain = new Map<string, string[]>();
  for (const [target, domain] of plan.forwards) byDomain.set(domain, [...(byDomain.get(domain) ?? []), target]);
  for (const [domain, targets] of byDomain) {
    ctx.queue.enqueue({ accountId: null, mailFrom: ctx.srs.forward(mailFrom, domain), raw: full }, targets.map((rcpt) => ({ rcpt })));
    metrics.deliveries.inc({ kind: 'forward' }, targets.length);
  }
  // A bounce that came back to one of our SRS addresses goes on to the original sender, still with a null sender.
  if (plan.bounces.size > 0) {
    ctx.queue.enqueue({ accountId: null, mailFrom: '', raw: full }, [...plan.bounces].map((rcpt) => ({ rcpt })));
    metrics.deliveries.inc({ kind: 'forward' }, plan.bounces.size);
  }
  // Only to a sender SPF vouches for: a notice to a forged MAIL FROM is backscatter.
  if (verdict.result.spf && verdict.result.spf.status.result === 'pass') {
    await deliveredNotices(ctx, session, full, (rcpt) => routes.get(rcpt.toLowerCase())?.kind === 'account');
  }
  return session.id;
}

/** The envelope recipient that named an account (Sieve's envelope "to"); its own address when an alias led there. */
function rcptOf(ctx: Context, routes: Map<string, RcptRoute>, session: SMTPServerSession, accountId: string): string {
  for (const r of session.envelope.rcptTo) {
    const route = routes.get(r.address.toLowerCase());
    if (route && route.kind === 'account' && route.accountId === accountId) return r.address;
  }
  return ctx.store.directory.getAccountById(accountId)?.address ?? '';
}

/**
 * RFC 3461 §6.2.7.1: final delivery of a recipient that asked NOTIFY=SUCCESS
 * earns the sender a "delivered" notice. Sent once the mail itself is durable;
 * failing to send it must not fail the delivery, so errors are only logged.
 */
export async function deliveredNotices(ctx: Context, session: SMTPServerSession, raw: Buffer, isLocal: (rcpt: string) => boolean, accountId: string | null = null): Promise<void> {
  const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
  const wanted = session.envelope.rcptTo.filter((r) => isLocal(r.address) && wantsNotice(r.dsn?.notify?.join(','), 'SUCCESS'));
  if (wanted.length === 0 || !mailFrom) return;
  try {
    await sendNotice(ctx, mailFrom, accountId, {
      action: 'delivered',
      hostname: ctx.hostname,
      envid: session.envelope.dsn?.envid ?? null,
      ret: session.envelope.dsn?.ret ?? null,
      arrivalDate: Date.now(),
      recipients: wanted.map((r) => ({ rcpt: r.address, orcpt: r.dsn?.orcpt ?? null, diagnostic: '250 2.0.0 delivered to the mailbox', remoteMta: null })),
      original: raw,
    });
  } catch (err) {
    ctx.log.error({ err }, 'could not send a delivery notice');
  }
}
