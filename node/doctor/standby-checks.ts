/**
 * @module node/doctor/standby-checks
 * `haven doctor` on a node of a standby deployment (issue 19). There the
 * mail host's addresses are Hetzner Floating IPs, configured on both
 * servers and routed to the primary; they receive mail, and their PTR names
 * the mail host. Each node sends from its own address, whose PTR names the
 * node's own name (`<location>.<mail host>`, failover.nodeHost), and greets
 * as the mail host. So the doctor must check:
 *
 * - the node's own name resolves to addresses this machine has (its own);
 * - those addresses' PTR names the node's own name and is forward-confirmed
 *   (receivers' FCrDNS test is against the sending address);
 * - the mail host's A/AAAA and PTR against the Floating IPs (the machine's
 *   other public addresses), not against whichever address the interface
 *   lists first;
 * - SPF of every domain and of the mail host (the HELO identity, RFC 7208
 *   §2.3) passes for the sending addresses, through `a:<node name>`.
 *
 * The node's own name is looked up only to tell which of this machine's
 * addresses is its own; every check then compares against the machine.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { fail, ok, type DoctorCheck } from './types.js';
import { type Lookup, normName, sameIp } from './lookup.js';

export interface StandbyDoctorInput {
  /** This node's own name (failover.nodeHost). */
  nodeHost: string;
  /** Every public address on this machine's interfaces: its own and any Floating IPs configured on it. */
  addresses: readonly string[];
}

export interface StandbyLayout {
  nodeHost: string;
  /** This node's own addresses (mail leaves from them), where found. */
  own: { ipv4?: string; ipv6?: string };
  /** The mail host's addresses (the Floating IPs) as configured on this machine. */
  floating: { ipv4: string; ipv6: string };
  /** Findings about the layout itself: the node's own name, a Floating IP missing here. */
  checks: DoctorCheck[];
}

type Family = 'ipv4' | 'ipv6';
const FAMILIES: readonly Family[] = ['ipv4', 'ipv6'];
const isFamily = (f: Family) => (f === 'ipv4' ? isIPv4 : isIPv6);

/**
 * Splits this machine's addresses into its own and the Floating IPs.
 * `hint`: the mail host addresses the caller would use otherwise (taken
 * when it is not the node's own).
 */
export async function standbyLayout(l: Lookup, s: StandbyDoctorInput, hint: { ipv4: string; ipv6: string }): Promise<StandbyLayout> {
  const nodeHost = normName(s.nodeHost);
  const own: StandbyLayout['own'] = {};
  const floating = { ...hint };
  const checks: DoctorCheck[] = [];
  const problems: string[] = [];
  const found: string[] = [];
  for (const f of FAMILIES) {
    const mine = s.addresses.filter(isFamily(f));
    const r = f === 'ipv4' ? await l.a(nodeHost) : await l.aaaa(nodeHost);
    const type = f === 'ipv4' ? 'A' : 'AAAA';
    const hit = mine.find((a) => (r.answers ?? []).some((n) => sameIp(n, a)));
    if (r.error !== undefined) problems.push(`${type} lookup failed: ${r.error}`);
    else if (!hit) problems.push(`${type} ${r.answers.length ? r.answers.join(', ') : 'none'}, not this machine's ${mine.join(', ') || `(no public ${f})`}`);
    else {
      own[f] = hit;
      found.push(hit);
    }
    const others = mine.filter((a) => a !== hit);
    if (hit && others.length === 0) {
      checks.push(fail(`floating:${f}`, `Floating ${f === 'ipv4' ? 'IPv4' : 'IPv6'} on this machine`, `this machine has no ${f} address but its own (${hit}): mail for the mail host cannot reach it once it is primary`, `configure the mail host's Floating ${f === 'ipv4' ? 'IPv4 (ip addr add <address>/32 dev eth0)' : 'IPv6 (ip addr add <prefix>::1/64 dev eth0)'}; \`pulumi up\` does it on both servers`));
    } else if (hit && !others.some((a) => sameIp(a, hint[f]))) {
      floating[f] = others[0];
    }
  }
  const id = `node-host:${nodeHost}`;
  const title = `This node's own name ${nodeHost}`;
  if (problems.length > 0) {
    checks.push(fail(id, title, `${nodeHost}: ${problems.join('; ')}`, `publish ${nodeHost}. IN A and AAAA with this server's own addresses (not the Floating IPs); \`pulumi up\` does it (infra/standby nodeHostRecords)`));
  } else {
    checks.push(ok(id, title, `${nodeHost} → ${found.join(', ')} (this machine's own addresses; mail leaves from them)`));
  }
  return { nodeHost, own, floating, checks };
}
