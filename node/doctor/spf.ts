/**
 * @module node/doctor/spf
 * Does a domain's SPF record authorise an address? A small evaluator of
 * RFC 7208 §4–5 for the mechanisms a mail host's record uses (all, ip4,
 * ip6, a, mx, include, redirect), counting DNS-querying terms against the
 * limit of 10 (§4.6.4). `exists` and `ptr` are treated as not matching: the
 * doctor asks about the server's own addresses, which a record should name
 * plainly. Macros are not expanded.
 */
import { BlockList, isIPv4 } from 'node:net';
import { type Lookup, normName } from './lookup.js';

export type SpfResult = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'permerror' | 'temperror';

export interface SpfOutcome {
  result: SpfResult;
  /** The term that decided, or why there was no decision. */
  reason: string;
}

const QUALIFIER: Record<string, SpfResult> = { '+': 'pass', '-': 'fail', '~': 'softfail', '?': 'neutral' };

/** The single v=spf1 record of a domain, or why there is none usable. */
export async function spfRecord(lookup: Lookup, domain: string): Promise<{ record?: string; result?: SpfResult; reason: string }> {
  const txt = await lookup.txt(domain);
  if (txt.error !== undefined) return { result: 'temperror', reason: txt.error };
  const spf = txt.answers.filter((t) => /^v=spf1(\s|$)/i.test(t));
  if (spf.length === 0) return { result: 'none', reason: `no v=spf1 TXT record at ${domain}` };
  if (spf.length > 1) return { result: 'permerror', reason: `${spf.length} v=spf1 records at ${domain} (there must be exactly one)` };
  return { record: spf[0], reason: '' };
}

function inCidr(ip: string, net: string, prefix: number | undefined): boolean {
  const v4 = isIPv4(ip);
  if (isIPv4(net) !== v4) return false;
  const list = new BlockList();
  try {
    list.addSubnet(net, prefix ?? (v4 ? 32 : 128), v4 ? 'ipv4' : 'ipv6');
    return list.check(ip, v4 ? 'ipv4' : 'ipv6');
  } catch {
    return false;
  }
}

export async function checkSpf(lookup: Lookup, domain: string, ip: string): Promise<SpfOutcome> {
  const budget = { lookups: 0 };
  return evaluate(lookup, normName(domain), ip, budget, 0);
}

async function evaluate(lookup: Lookup, domain: string, ip: string, budget: { lookups: number }, depth: number): Promise<SpfOutcome> {
  if (depth > 10) return { result: 'permerror', reason: 'include/redirect loop' };
  const rec = await spfRecord(lookup, domain);
  if (!rec.record) return { result: rec.result!, reason: rec.reason };
  const v4 = isIPv4(ip);
  let redirect: string | undefined;
  const spend = (): SpfOutcome | undefined => (++budget.lookups > 10 ? { result: 'permerror', reason: 'more than 10 DNS lookups (RFC 7208 §4.6.4)' } : undefined);

  for (const term of rec.record.split(/\s+/).slice(1)) {
    if (!term) continue;
    const mod = /^([a-z][a-z0-9_.-]*)=(.*)$/i.exec(term);
    if (mod) {
      if (mod[1].toLowerCase() === 'redirect') redirect = normName(mod[2]);
      continue;
    }
    const m = /^([+\-~?]?)([a-z0-9]+)(?::([^/]*))?(?:\/(\d+))?(?:\/\/(\d+))?$/i.exec(term);
    if (!m) return { result: 'permerror', reason: `cannot parse "${term}" in ${domain}'s SPF record` };
    const q = QUALIFIER[m[1] || '+'];
    const mech = m[2].toLowerCase();
    const arg = m[3] ? normName(m[3]) : undefined;
    // a/mx take "/<ipv4 prefix>//<ipv6 prefix>" (RFC 7208 §5.6).
    const cidr = v4 ? m[4] : m[5];
    const prefix = cidr === undefined ? undefined : Number(cidr);
    const hit = (why: string): SpfOutcome => ({ result: q, reason: `${term} in ${domain}${why}` });
    switch (mech) {
      case 'all':
        return hit('');
      case 'ip4':
      case 'ip6': {
        if (m[3] && inCidr(ip, m[3], m[4] === undefined ? undefined : Number(m[4]))) return hit('');
        break;
      }
      case 'a':
      case 'mx': {
        const over = spend();
        if (over) return over;
        const target = arg ?? domain;
        const hosts = mech === 'mx' ? ((await lookup.mx(target)).answers ?? []).map((x) => x.exchange) : [target];
        for (const h of hosts) {
          const addrs = (v4 ? await lookup.a(h) : await lookup.aaaa(h)).answers ?? [];
          if (addrs.some((a) => inCidr(ip, a, prefix))) return hit(` (via ${h})`);
        }
        break;
      }
      case 'include': {
        const over = spend();
        if (over) return over;
        if (!arg) return { result: 'permerror', reason: `include without a domain in ${domain}` };
        const inner = await evaluate(lookup, arg, ip, budget, depth + 1);
        if (inner.result === 'pass') return hit(` (${inner.reason})`);
        if (inner.result === 'none' || inner.result === 'permerror') return { result: 'permerror', reason: `include:${arg}: ${inner.reason}` };
        if (inner.result === 'temperror') return inner;
        break;
      }
      case 'exists':
      case 'ptr': {
        const over = spend();
        if (over) return over;
        break;
      }
      default:
        return { result: 'permerror', reason: `unknown mechanism "${mech}" in ${domain}'s SPF record` };
    }
  }
  if (redirect) {
    const over = spend();
    if (over) return over;
    const inner = await evaluate(lookup, redirect, ip, budget, depth + 1);
    return inner.result === 'none' ? { result: 'permerror', reason: `redirect=${redirect}: ${inner.reason}` } : inner;
  }
  return { result: 'neutral', reason: `nothing in ${domain}'s SPF record matches` };
}
