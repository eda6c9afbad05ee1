/**
 * @module node/smtp/submission
 * Message submission (RFC 6409) on 587 with STARTTLS and 465 with implicit
 * TLS (RFC 8314): AUTH PLAIN/LOGIN (RFC 4954) against the account password or
 * an app password, slowed then locked out by the shared AuthLimiter; the
 * envelope sender and every From address must belong to the account;
 * messages per hour are capped; each message is DKIM-signed with its From
 * domain's keys, delivered directly to local recipients and queued for the
 * rest — all durable before the 250.
 */
import addressparser from 'nodemailer/lib/addressparser';
import type { SMTPServerAddress, SMTPServerAuthentication, SMTPServerAuthenticationResponse, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { AuthFailedError, type Lease } from '../store/index.js';
import { MAIL_PARAMS, parseEnvelopeAddress, RCPT_PARAMS, unknownParam } from './address.js';
import type { Context } from './context.js';
import { signMessage } from './dkim.js';
import { replies, SmtpError, toSmtpError } from './errors.js';
import { hasHeader, headerValues, newMessageId, rfc5322Date } from './headers.js';
import { clip } from '../util/log.js';
import { answerData, answerUnknown, deliveredNotices, probeBlocked } from './inbound.js';
import { addToPlan, emptyPlan, resolveRecipient } from './route.js';

interface SubmitState {
  lease: Lease;
}

const states = new WeakMap<SMTPServerSession, SubmitState>();

/** Sliding one-hour window of submission times per account, in memory (a restart forgives). */
export class HourlyLimit {
  private readonly sent = new Map<string, number[]>();
  constructor(private readonly max: number) {}

  take(accountId: string, now = Date.now()): boolean {
    const list = (this.sent.get(accountId) ?? []).filter((t) => t > now - 3600_000);
    if (list.length >= this.max) {
      this.sent.set(accountId, list);
      return false;
    }
    list.push(now);
    this.sent.set(accountId, list);
    return true;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Every address in the named header fields (groups walked). */
function fromAddresses(raw: Buffer, fields: readonly string[] = ['from']): string[] {
  const out: string[] = [];
  for (const v of fields.flatMap((f) => headerValues(raw, f))) {
    const walk = (list: ReturnType<typeof addressparser>) => {
      for (const a of list) {
        if ('group' in a && a.group) walk(a.group);
        else if ('address' in a && a.address) out.push(a.address);
      }
    };
    walk(addressparser(v));
  }
  return out;
}

export function submissionHandlers(ctx: Context) {
  const hourly = new HourlyLimit(ctx.limits.messagesPerHourPerAccount);
  return {
    onAuth(
      auth: SMTPServerAuthentication,
      session: SMTPServerSession,
      cb: (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void,
    ): void {
      const ip = session.remoteAddress;
      const user = (auth.username ?? '').trim();
      const log = ctx.log.child({ cid: session.id });
      (async () => {
        if (auth.method !== 'PLAIN' && auth.method !== 'LOGIN') throw new SmtpError(504, '5.5.4', 'use AUTH PLAIN or AUTH LOGIN');
        // RFC 4616 §2: an authorization identity other than the user asks to act as someone else; like IMAP and POP3, refuse it.
        const authzid = (auth.authzid ?? '').trim();
        if (authzid && auth.authcid && authzid.toLowerCase() !== auth.authcid.trim().toLowerCase()) throw replies.authzidRefused();
        const gate = ctx.authLimiter.check(ip, user);
        if (gate.locked) throw replies.authLocked(gate.retryAfterMs / 1000);
        if (gate.delayMs > 0) await sleep(gate.delayMs);
        try {
          const lease = await ctx.store.authenticate(user, auth.password ?? '');
          ctx.authLimiter.succeed(ip, user);
          states.get(session)?.lease.release();
          states.set(session, { lease });
          log.info({ user: lease.account.address, via: lease.via }, 'authenticated');
          return { user: { accountId: lease.account.id, address: lease.account.address } };
        } catch (err) {
          if (err instanceof AuthFailedError) {
            ctx.authLimiter.fail(ip, user);
            log.info({ user: clip(user) }, 'authentication failed');
          }
          throw err;
        }
      })().then(
        (res) => cb(null, res),
        (err) => cb(toSmtpError(err, log)),
      );
    },

    onMailFrom(address: SMTPServerAddress, session: SMTPServerSession, cb: (err?: Error | null) => void): void {
      const st = states.get(session);
      if (!st) return cb(replies.authRequired());
      const bad = unknownParam(address.args, MAIL_PARAMS);
      if (bad) return cb(bad);
      if (address.address === '') return cb(replies.notOwner('<>'));
      const parsed = parseEnvelopeAddress(address.address, { utf8: !!session.envelope.smtpUtf8 });
      if (parsed instanceof SmtpError) return cb(parsed);
      if (!ctx.store.directory.ownsAddress(st.lease.account.id, parsed.address)) return cb(replies.notOwner(parsed.address));
      cb();
    },

    onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, cb: (err?: Error | null) => void): void {
      const accountId = states.get(session)?.lease.account.id;
      const blocked = probeBlocked(ctx, session, accountId);
      if (blocked) return cb(blocked);
      const bad = unknownParam(address.args, RCPT_PARAMS);
      if (bad) return cb(bad);
      const parsed = parseEnvelopeAddress(address.address, { utf8: !!session.envelope.smtpUtf8 });
      if (parsed instanceof SmtpError) return cb(parsed);
      // Our own domains are checked now, so a typo fails at RCPT rather than after DATA; a logged-in
      // account probing our directory is limited like an IP is.
      if (resolveRecipient(ctx.store, ctx.srs, parsed.address) === null) return answerUnknown(ctx, session, parsed.address, cb, accountId);
      cb();
    },

    onData(stream: SMTPServerDataStream, session: SMTPServerSession, cb: (err?: Error | null, message?: string) => void): void {
      answerData(ctx, stream, session, cb, { accepted: 'message submitted', refused: 'submission refused' }, async (raw) => {
        const st = states.get(session);
        if (!st) throw replies.authRequired();
        return submit(ctx, session, st.lease, raw, hourly);
      });
    },

    onClose(session: SMTPServerSession): void {
      states.get(session)?.lease.release();
      states.delete(session);
    },
  };
}

async function submit(ctx: Context, session: SMTPServerSession, lease: Lease, raw: Buffer, hourly: HourlyLimit): Promise<string> {
  const account = lease.account;
  const from = fromAddresses(raw);
  if (from.length === 0) throw new SmtpError(550, '5.6.0', 'message has no From header; add one with your address');
  for (const a of from) if (!ctx.store.directory.ownsAddress(account.id, a)) throw replies.notOwner(a);
  // RFC 5322 §3.6.2 and §3.6.6: Sender and the Resent- originator fields name who sent the message just as From does.
  for (const a of fromAddresses(raw, ['sender', 'resent-from', 'resent-sender'])) if (!ctx.store.directory.ownsAddress(account.id, a)) throw replies.notOwner(a);
  if (!hourly.take(account.id)) throw replies.rateLimited(ctx.limits.messagesPerHourPerAccount);

  // RFC 6409 §8: the submission server may add a missing Date and Message-ID.
  let extra = `Received: by ${ctx.hostname} (Haven) with ${session.transmissionType} id ${session.id};\r\n\t${rfc5322Date()}\r\n`;
  if (!hasHeader(raw, 'date')) extra += `Date: ${rfc5322Date()}\r\n`;
  if (!hasHeader(raw, 'message-id')) extra += `Message-ID: ${newMessageId(ctx.hostname)}\r\n`;
  const body = Buffer.concat([Buffer.from(extra), raw]);
  const fromDomain = from[0].slice(from[0].lastIndexOf('@') + 1).toLowerCase();
  const signatures = await signMessage(body, fromDomain, ctx.store.directory.dkimKeys(fromDomain));
  const signed = signatures ? Buffer.concat([Buffer.from(signatures.endsWith('\r\n') ? signatures : signatures + '\r\n'), body]) : body;

  const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : account.address;
  const plan = emptyPlan();
  const outside: { rcpt: string; orcpt?: string; notify?: string }[] = [];
  for (const r of session.envelope.rcptTo) {
    const route = resolveRecipient(ctx.store, ctx.srs, r.address);
    if (route === undefined) outside.push({ rcpt: r.address, orcpt: r.dsn?.orcpt, notify: r.dsn?.notify?.join(',') });
    else if (route === null) throw replies.unknownUser(r.address);
    else addToPlan(ctx.store, ctx.srs, plan, route);
  }
  for (const [target] of plan.forwards) if (!outside.some((o) => o.rcpt.toLowerCase() === target)) outside.push({ rcpt: target });

  for (const [accountId, tag] of plan.locals) await ctx.store.deliver(accountId, signed, { folder: tag ?? undefined });
  const dsn = session.envelope.dsn;
  const id = outside.length > 0 ? ctx.queue.enqueue({ accountId: account.id, mailFrom, raw: signed, envid: dsn?.envid ?? null, ret: dsn?.ret ?? null }, outside) : session.id;
  await deliveredNotices(ctx, session, signed, (rcpt) => resolveRecipient(ctx.store, ctx.srs, rcpt)?.kind === 'account', account.id);
  return id;
}
