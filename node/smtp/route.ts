/**
 * @module node/smtp/route
 * Where one accepted recipient's copy goes: local accounts (with the folder
 * a +tag names), outside addresses reached through forwarding aliases, or,
 * for a bounce to one of our SRS addresses, back to the original sender.
 * Aliases are expanded recursively with loop and depth protection, and each
 * account gets one copy however many routes reach it.
 */
import type { Store } from '../store/index.js';
import { Srs } from './srs.js';

export type RcptRoute =
  | { kind: 'account'; accountId: string; address: string; tag: string | null; quotaCheck: true }
  | { kind: 'alias'; address: string; domain: string; targets: string[] }
  | { kind: 'srs'; address: string; original: string };

export interface DeliveryPlan {
  /** accountId -> folder hint (a +tag), first route wins. */
  locals: Map<string, string | null>;
  /** Outside addresses to forward to, with the local domain that forwards (for SRS and the ARC seal). */
  forwards: Map<string, string>;
  /** Original senders of bounces that came back to an SRS address. */
  bounces: Set<string>;
}

const MAX_DEPTH = 8;

export function emptyPlan(): DeliveryPlan {
  return { locals: new Map(), forwards: new Map(), bounces: new Set() };
}

/**
 * Resolves one envelope recipient. undefined: not a domain we host (relay);
 * null: our domain, nobody by that name.
 */
export function resolveRecipient(store: Store, srs: Srs, address: string): RcptRoute | null | undefined {
  const at = address.lastIndexOf('@');
  const local = address.slice(0, at);
  const route = store.directory.resolve(address);
  if (route === undefined) return undefined;
  if (Srs.isSrs(local)) {
    const original = srs.reverse(address);
    return original ? { kind: 'srs', address, original } : null;
  }
  if (route === null) return null;
  if (route.kind === 'account') return { kind: 'account', accountId: route.account.id, address, tag: route.tag, quotaCheck: true };
  return { kind: 'alias', address, domain: address.slice(at + 1).toLowerCase(), targets: route.alias.targets };
}

/** Adds one route's destinations to the plan, expanding aliases. */
export function addToPlan(store: Store, srs: Srs, plan: DeliveryPlan, route: RcptRoute, seen = new Set<string>(), depth = 0): void {
  if (route.kind === 'account') {
    if (!plan.locals.has(route.accountId)) plan.locals.set(route.accountId, route.tag);
    return;
  }
  if (route.kind === 'srs') {
    plan.bounces.add(route.original);
    return;
  }
  if (depth >= MAX_DEPTH) return;
  for (const target of route.targets) {
    const key = target.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    const next = resolveRecipient(store, srs, target);
    if (next === undefined) {
      if (!plan.forwards.has(key)) plan.forwards.set(key, route.domain);
    } else if (next !== null) {
      addToPlan(store, srs, plan, next, seen, depth + 1);
    }
    // A target in our own domain that no longer exists is dropped: the alias
    // still has other targets or the operator removed the account on purpose.
  }
}
