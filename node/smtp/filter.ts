/**
 * @module node/smtp/filter
 * Sieve at delivery: for each local account a message reaches, the domain's
 * "before" script and then the account's active script run on the message
 * the MX holds in memory (so they work while a zero-access mailbox is
 * locked), and their actions are carried out: copies filed with flags (into
 * the mailbox, or sealed with their folder and flags when it is locked),
 * redirects and vacation replies through the outbound queue, rejects as SMTP
 * refusals when the message has this one recipient. A script that fails
 * never costs the message: it is kept in INBOX, the error is logged and kept
 * for the owner to see.
 */
import { createHash } from 'node:crypto';
import type { SMTPServerSession } from 'smtp-server';
import {
  compile,
  responseKey,
  VACATION_SCRIPT,
  runScript,
  sieveMessage,
  SieveError,
  vacationRefusal,
  vacationReply,
  type Action,
  type Program,
  type SieveMessage,
  type SieveResult,
} from '../sieve/index.js';
import { BEFORE_SCRIPT, type Account } from '../store/index.js';
import type { Context } from './context.js';
import { signMessage } from './dkim.js';
import { SmtpError } from './errors.js';
import { sendNotice } from './outbound/notice.js';
import { resolveRecipient } from './route.js';
import type { Placement } from './batch.js';
import type { SpamVerdict } from './spam.js';

export interface LocalDelivery {
  session: SMTPServerSession;
  raw: Buffer;
  /** accountId -> folder hint (+tag). */
  locals: Map<string, string | null>;
  /** accountId -> the envelope recipient that reached it. */
  rcptOf: (accountId: string) => string;
  spam: SpamVerdict;
}

/** Compiled scripts by source: a delivery must not re-parse the same script for every message. */
const compiled = new Map<string, Program>();
function program(src: string): Program {
  let p = compiled.get(src);
  if (!p) {
    if (compiled.size >= 1000) compiled.clear();
    p = compile(src);
    compiled.set(src, p);
  }
  return p;
}

/** What the scripts decided for one account. */
interface Plan {
  account: Account;
  copies: Placement[];
  actions: Action[];
  duplicates: SieveResult['duplicates'];
}

/**
 * Runs every recipient's scripts, then delivers. Throws the SMTP refusal when
 * the only recipient's script rejects; nothing is delivered before that.
 */
export async function deliverFiltered(ctx: Context, d: LocalDelivery): Promise<void> {
  const mailFrom = d.session.envelope.mailFrom ? d.session.envelope.mailFrom.address : '';
  let view: SieveMessage | undefined;
  const message = () => (view ??= sieveMessage(d.raw));
  const plans: Plan[] = [];
  for (const [accountId, tag] of d.locals) {
    const account = ctx.store.directory.getAccountById(accountId);
    if (!account) continue;
    const fallback = d.spam.action === 'junk' ? 'Junk' : (tag ?? undefined);
    plans.push(await filterOne(ctx, account, message, mailFrom, d.rcptOf(accountId), fallback, d.spam));
  }
  const rejects = plans.filter((p) => p.actions.some((a) => a.type === 'reject'));
  // RFC 5429 §2.1: refuse in the SMTP dialogue when that answers only this recipient.
  if (rejects.length > 0 && d.session.envelope.rcptTo.length === 1 && plans.length === 1) {
    const r = rejects[0].actions.find((a) => a.type === 'reject') as Extract<Action, { type: 'reject' }>;
    throw new SmtpError(550, '5.7.1', oneLine(r.reason) || 'message refused by the recipient\'s filter');
  }
  await Promise.all(plans.flatMap((p) => p.copies.map((c) => ctx.batcher.deliver(p.account.id, d.raw, c))));
  for (const p of plans) await afterDelivery(ctx, d, p, message, mailFrom);
}

async function filterOne(
  ctx: Context,
  account: Account,
  message: () => SieveMessage,
  mailFrom: string,
  rcpt: string,
  fallback: string | undefined,
  spam: SpamVerdict,
): Promise<Plan> {
  const sieve = ctx.store.directory.sieve;
  const before = sieve.domainScript(account.domain, BEFORE_SCRIPT);
  const own = sieve.active(account.id);
  // The owner's web page keeps vacation in a script of its own, run after theirs unless theirs is it.
  const page = own?.name === VACATION_SCRIPT ? null : sieve.get(account.id, VACATION_SCRIPT);
  const plain: Plan = { account, copies: [{ folder: fallback }], actions: [], duplicates: [] };
  if (!before && !own && !page) return plain;
  const percent = Math.max(0, Math.min(100, Math.round((100 * spam.score) / Math.max(1, ctx.spam.rejectScore))));
  // Folder names cost a lease on the mailbox: only for scripts that can ask (mailboxexists, RFC 5490),
  // themselves or through a script they include. Requiring "mailbox" for fileinto :create is not asking.
  const asks = (src: string | null | undefined) => !!src && (program(src).uses.has('mailboxexists') || program(src).uses.has('include'));
  const folders = [before, own?.source, page].some(asks) ? await folderNames(ctx, account.id) : null;
  const env = {
    message: message(),
    envelope: { from: mailFrom, to: rcpt },
    now: new Date(),
    zoneOffset: -new Date().getTimezoneOffset(),
    // RFC 3685 §2.3: 1 (surely not spam) to 10; the percent of the reject threshold reached.
    spam: { value: Math.max(1, Math.min(10, Math.ceil(percent / 10))), percent },
    mailboxExists: (name: string) => (folders ? folders.has(name.toLowerCase()) : name.toUpperCase() === 'INBOX'),
    isDuplicate: (handle: string, id: string) => sieve.seen(account.id, 'duplicate', `${handle}\0${id}`),
    include: (name: string, location: 'personal' | 'global') => (location === 'global' ? sieve.domainScript(account.domain, name) : sieve.get(account.id, name)),
  };
  const actions: Action[] = [];
  const duplicates: SieveResult['duplicates'] = [];
  try {
    let pendingKeep: Action | null = null;
    for (const src of [before, own?.source]) {
      if (!src) continue;
      const r = runScript(program(src), env);
      duplicates.push(...r.duplicates);
      if (!r.implicitKeep) {
        // A script that disposes of the message (fileinto, keep, discard, reject, redirect) decides: the domain's first.
        actions.push(...r.actions);
        pendingKeep = null;
        break;
      }
      actions.push(...r.actions.slice(0, -1));
      pendingKeep = r.actions[r.actions.length - 1];
    }
    if (pendingKeep) actions.push(pendingKeep);
    if (!before && !own) actions.push({ type: 'keep', flags: [] });
    // Only its vacation counts, and only for a message still being delivered here.
    if (page && actions.some((a) => a.type === 'keep' || a.type === 'fileinto') && !actions.some((a) => a.type === 'vacation')) {
      actions.push(...runScript(program(page), env).actions.filter((a) => a.type === 'vacation'));
    }
    if (own) sieve.setError(account.id, null);
  } catch (err) {
    if (!(err instanceof SieveError)) throw err;
    const which = own ? `script "${own.name}"` : 'the domain script';
    ctx.log.warn({ account: account.id, err: err.message }, 'sieve script failed; message kept in INBOX');
    sieve.setError(account.id, `${which}: ${err.message}`);
    return { ...plain, copies: [{ folder: fallback === 'Junk' ? 'Junk' : undefined }] };
  }
  // A redirect that would loop is not carried out; without :copy it becomes a keep, so the message stays here.
  // The mark is a hash: worked out only for a message that carries some mark.
  const marks = env.message.header('x-haven-redirected');
  const looped = marks.length > 0 && marks.some((v) => v.trim() === redirectMark(account.id));
  const final = looped ? actions.flatMap((a): Action[] => (a.type !== 'redirect' ? [a] : a.copy ? [] : [{ type: 'keep', flags: [] }])) : actions;
  if (looped && actions.some((a) => a.type === 'redirect')) ctx.log.warn({ account: account.id }, 'sieve redirect loop: kept here instead');
  return { account, copies: placements(final, fallback), actions: final, duplicates };
}

/** fileinto and keep become copies, one per folder (RFC 5228 §2.10.3: the same folder twice is one copy). */
function placements(actions: Action[], fallback: string | undefined): Placement[] {
  const out = new Map<string, Placement>();
  for (const a of actions) {
    if (a.type === 'keep') {
      const folder = fallback ?? 'INBOX';
      if (!out.has(folder.toLowerCase())) out.set(folder.toLowerCase(), { folder, flags: a.flags });
    } else if (a.type === 'fileinto') {
      if (!out.has(a.mailbox.toLowerCase())) out.set(a.mailbox.toLowerCase(), { folder: a.mailbox, flags: a.flags, create: a.create });
    }
  }
  return [...out.values()].map((p) => ({ ...p, folder: p.folder === 'INBOX' ? undefined : p.folder, flags: p.flags?.length ? p.flags : undefined }));
}

/** Folder names, when the mailbox is open; null when locked (only INBOX is known then). */
async function folderNames(ctx: Context, accountId: string): Promise<Set<string> | null> {
  if (!ctx.store.isUnlocked(accountId)) return null;
  const lease = await ctx.store.openMailbox(accountId).catch(() => null);
  if (!lease) return null;
  try {
    return new Set(lease.mailbox.folders.list().map((f) => f.name.toLowerCase()));
  } finally {
    lease.release();
  }
}

/** Redirects, vacation replies, rejects of a shared message, and what to remember; none of it may fail the delivery. */
async function afterDelivery(ctx: Context, d: LocalDelivery, p: Plan, message: () => SieveMessage, mailFrom: string): Promise<void> {
  const sieve = ctx.store.directory.sieve;
  const now = Date.now();
  try {
    sieve.remember(
      p.account.id,
      'duplicate',
      p.duplicates.map((x) => ({ key: `${x.handle}\0${x.id}`, expiresAt: now + x.seconds * 1000 })),
    );
    for (const a of p.actions) {
      if (a.type === 'redirect') redirect(ctx, d, a.address, mailFrom, p.account);
      // Junk gets no vacation reply: answering spam confirms the address to the spammer.
      else if (a.type === 'vacation' && d.spam.action !== 'junk') await vacation(ctx, p.account, a, message(), mailFrom, d.rcptOf(p.account.id));
      else if (a.type === 'reject') await rejectByNotice(ctx, d, p.account, a.reason, mailFrom);
    }
  } catch (err) {
    ctx.log.error({ err, account: p.account.id }, 'sieve action after delivery failed');
    sieve.setError(p.account.id, `an action after delivery failed: ${(err as Error).message}`);
  }
}

/** The mark a redirect by this account leaves on the message (a hash: the account id stays private). */
function redirectMark(accountId: string): string {
  return createHash('sha256').update(`haven-redirect\0${accountId}`).digest('base64url').slice(0, 16);
}

/**
 * RFC 5228 §4.2: resent as is, from the original sender rewritten with SRS so
 * SPF holds at the next hop. Loop control (§4.2 asks for it): each redirect
 * adds a field with the account's mark, and filterOne does not redirect a
 * message that already carries it.
 */
function redirect(ctx: Context, d: LocalDelivery, address: string, mailFrom: string, account: Account): void {
  const local = resolveRecipient(ctx.store, ctx.srs, address);
  if (local && local.kind === 'account' && local.accountId === account.id) return; // to itself: the copy is already here
  const raw = Buffer.concat([Buffer.from(`X-Haven-Redirected: ${redirectMark(account.id)}\r\n`), d.raw]);
  ctx.queue.enqueue({ accountId: null, mailFrom: mailFrom ? ctx.srs.forward(mailFrom, account.domain) : '', raw }, [{ rcpt: address }]);
}

async function vacation(ctx: Context, account: Account, a: Extract<Action, { type: 'vacation' }>, message: SieveMessage, mailFrom: string, rcpt: string): Promise<void> {
  const sieve = ctx.store.directory.sieve;
  const userAddresses = [account.address, rcpt];
  const vctx = { message, sender: mailFrom, recipient: rcpt, userAddresses, hostname: ctx.hostname };
  const refusal = vacationRefusal(a, vctx);
  if (refusal) {
    ctx.log.debug({ account: account.id, refusal }, 'vacation: no reply');
    return;
  }
  const key = responseKey(a, mailFrom);
  // RFC 5230 §4.1: one reply per sender within the period.
  if (a.periodSeconds > 0 && sieve.seen(account.id, 'vacation', key)) return;
  // RFC 5230 §4.3 lets a site refuse a :from that is not the user's: here it must be an address the account may send as.
  const fromAddr = a.from ? (/<([^<>\s]+@[^<>\s]+)>/.exec(a.from)?.[1] ?? a.from.trim()) : null;
  const from = fromAddr && ctx.store.directory.ownsAddress(account.id, fromAddr) ? a.from : null;
  if (a.from && !from) ctx.log.info({ account: account.id }, 'vacation :from is not an address of this account; replying from the recipient address');
  const reply = vacationReply({ ...a, from }, vctx);
  const fromDomain = (fromAddr && from ? fromAddr : rcpt).replace(/^.*@/, '').toLowerCase();
  const domain = ctx.store.directory.getDomain(fromDomain) ? fromDomain : account.domain;
  const signatures = await signMessage(reply, domain, ctx.store.directory.dkimKeys(domain));
  const signed = signatures ? Buffer.concat([Buffer.from(signatures.endsWith('\r\n') ? signatures : signatures + '\r\n'), reply]) : reply;
  const route = resolveRecipient(ctx.store, ctx.srs, mailFrom);
  // RFC 3834 §3.3: sent with a null reverse-path so nothing answers the answer.
  if (route && route.kind === 'account') await ctx.store.deliver(route.accountId, signed);
  else ctx.queue.enqueue({ accountId: account.id, mailFrom: '', raw: signed }, [{ rcpt: mailFrom }]);
  if (a.periodSeconds > 0) sieve.remember(account.id, 'vacation', [{ key, expiresAt: Date.now() + a.periodSeconds * 1000 }]);
}

/** RFC 5429 §2.2: a message shared with other recipients is refused for this one by a notice to the sender. */
async function rejectByNotice(ctx: Context, d: LocalDelivery, account: Account, reason: string, mailFrom: string): Promise<void> {
  await sendNotice(ctx, mailFrom, null, {
    action: 'failed',
    hostname: ctx.hostname,
    envid: d.session.envelope.dsn?.envid ?? null,
    ret: 'HDRS',
    arrivalDate: Date.now(),
    recipients: [{ rcpt: d.rcptOf(account.id), orcpt: null, diagnostic: `550 5.7.1 ${oneLine(reason) || 'refused by the recipient\'s filter'}`, remoteMta: null }],
    original: d.raw,
  });
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').replace(/[^\x20-\x7e]/g, '?').trim().slice(0, 400);
}
