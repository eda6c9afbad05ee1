/**
 * @module node/doctor/standby-checks
 * `haven doctor` on a node of a standby deployment (issue 19). There the
 * mail host's addresses are Hetzner Floating IPs, configured on both
 * servers and routed to the primary; they receive mail, and their PTR names
 * the mail host. The primary sends from them too (outbound.sourceAddresses,
 * which the Pulumi program sets to them), greeting as the mail host; a node
 * that cannot use them (a promoted standby before they have moved to it, or
 * a machine that lacks them) sends from its own address, whose PTR names
 * the node's own name (`<location>.<mail host>`, failover.nodeHost). So the
 * doctor must check:
 *
 * - the node's own name resolves to addresses this machine has (its own);
 * - those addresses' PTR names the node's own name and is forward-confirmed
 *   (receivers' FCrDNS test is against the sending address);
 * - the mail host's A/AAAA and PTR against the Floating IPs (the source
 *   addresses when set, else the machine's other public addresses), not
 *   against whichever address the interface lists first;
 * - the source addresses are on this machine (else the node falls back to
 *   its own address: checkSourceAddresses);
 * - SPF of every domain and of the mail host (the HELO identity, RFC 7208
 *   §2.3) passes for every address mail may leave from: the Floating IPs,
 *   and the node's own through `a:<node name>`.
 *
 * The node's own name is looked up only to tell which of this machine's
 * addresses is its own; every check then compares against the machine.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { fail, ok, warn, type DoctorCheck } from './types.js';
import { type Lookup, normName, sameIp } from './lookup.js';

export interface StandbyDoctorInput {
  /** This node's own name (failover.nodeHost). */
  nodeHost: string;
  /** Every public address on this machine's interfaces: its own and any Floating IPs configured on it. */
  addresses: readonly string[];
  /** outbound.sourceAddresses is set: the node's own addresses send only when the Floating IPs cannot be used. */
  sendsFromSource?: boolean;
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
    checks.push(ok(id, title, `${nodeHost} → ${found.join(', ')} (this machine's own addresses; ${s.sendsFromSource ? 'mail leaves from them only while the Floating IPs cannot be used' : 'mail leaves from them'})`));
  }
  return { nodeHost, own, floating, checks };
}

/**
 * outbound.sourceAddresses against this machine: an address it does not
 * have cannot be bound, and the node then sends from its default source
 * (node/smtp/outbound/source: logged once, counted in
 * haven_outbound_source_fallbacks_total), whose PTR names the node, not the
 * mail host. All of 127.0.0.0/8 counts as present: Linux routes it to lo.
 * Whether Hetzner routes a Floating IP here is not visible from the machine:
 * the node uses them after a promotion only once it has moved them itself.
 */
export function checkSourceAddresses(configured: readonly string[], onMachine: readonly string[], mailHostAddresses: readonly string[]): DoctorCheck[] {
  return configured.map((a) => {
    const id = `outbound-source:${a}`;
    const title = `Outbound source address ${a} (outbound.sourceAddresses)`;
    const here = onMachine.some((m) => sameIp(m, a)) || (isIPv4(a) && a.startsWith('127.') && onMachine.some((m) => m.startsWith('127.')));
    if (!here) {
      return fail(id, title, `${a} is not on this machine's interfaces: outbound mail leaves from the default source instead, whose PTR does not name the mail host (haven_outbound_source_fallbacks_total counts each time)`, `configure ${a} on the interface (\`pulumi up\` does it for the Floating IPs on both servers), or correct outbound.sourceAddresses`);
    }
    if (!mailHostAddresses.some((m) => sameIp(m, a))) {
      return warn(id, title, `${a} is on this machine, but it is not the mail host's address: receivers compare its PTR with the EHLO name (the mail host)`, `publish the mail host's A/AAAA at ${a}, or send from the mail host's address`);
    }
    return ok(id, title, `on this machine, and the mail host's own address: mail leaves from it`);
  });
}
