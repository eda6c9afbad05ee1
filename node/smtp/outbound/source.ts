/**
 * @module node/smtp/outbound/source
 * Which local address an outbound connection leaves from
 * (outbound.sourceAddresses). Receivers judge a sender by the connecting
 * address: its PTR, whether that name resolves back (FCrDNS), and SPF for
 * the HELO identity (RFC 7208 §2.3), which is the mail host we greet as
 * (RFC 5321 §4.1.1.1). With a standby those belong to the mail host's
 * Floating IPs, not to the node's own address the kernel would choose, so
 * the connection binds to the configured address of the target's family.
 *
 * Two things keep this from ever holding mail back:
 * - `held`: a promoted standby has the Floating IPs on its interface all
 *   along (infra/floating-ip), so binding succeeds, but Hetzner routes the
 *   replies to the old primary until the addresses move; until then it
 *   sends from its own address (which SPF's per-node `a:` term covers).
 * - an address this machine does not have (bind fails) is skipped for that
 *   attempt, logged once per address and counted each time.
 */
import { isIP } from 'node:net';
import type { Logger } from '../../util/log.js';
import { metrics } from '../../util/metrics.js';

/** Bind errors that mean "this source cannot be used here", as node:net reports them. */
const UNUSABLE = new Set(['EADDRNOTAVAIL', 'EINVAL', 'EAFNOSUPPORT', 'EADDRINUSE']);

export function isSourceBindError(err: { syscall?: string; code?: string; originalCode?: string }): boolean {
  return err.syscall === 'bind' || UNUSABLE.has(err.originalCode ?? '') || err.code === 'EADDRNOTAVAIL';
}

export class SourceAddresses {
  private readonly v4?: string;
  private readonly v6?: string;
  private held: boolean;
  private readonly warned = new Set<string>();

  constructor(
    addresses: readonly string[],
    private readonly log: Logger,
    /** False on a promoted standby until its Floating IPs have moved to it. */
    held = true,
  ) {
    this.v4 = addresses.find((a) => isIP(a) === 4);
    this.v6 = addresses.find((a) => isIP(a) === 6);
    this.held = held;
  }

  get configured(): boolean {
    return this.v4 !== undefined || this.v6 !== undefined;
  }

  /** Whether the addresses route to this node now (see the module header). */
  setHeld(held: boolean): void {
    if (held !== this.held && this.configured) this.log.info({ sourceAddresses: [this.v4, this.v6].filter(Boolean), held }, held ? 'outbound: mail now leaves from the configured source addresses' : 'outbound: the source addresses are not routed here; mail leaves from the default source');
    this.held = held;
  }

  /**
   * The address to bind for a connection to `target` (an IP, or a smarthost's
   * name, for which the first family in `families` with a source is used:
   * nodemailer then connects only to that family's addresses of the name).
   */
  for(target: string, families: readonly (4 | 6)[]): string | undefined {
    if (!this.held) return undefined;
    const family = isIP(target);
    if (family === 4) return this.v4;
    if (family === 6) return this.v6;
    for (const f of families) {
      const a = f === 4 ? this.v4 : this.v6;
      if (a) return a;
    }
    return undefined;
  }

  /** A bind to `address` failed: the attempt goes on from the default source. */
  unavailable(address: string, error: string): void {
    metrics.outboundSourceFallbacks.inc({ family: isIP(address) === 6 ? 'ipv6' : 'ipv4' });
    if (this.warned.has(address)) return;
    this.warned.add(address);
    // EINVAL/EAFNOSUPPORT: the host's addresses are of the other family than this source (a
    // smarthost name with only IPv6, say); EADDRNOTAVAIL: the address is not on an interface.
    const why = /EINVAL|EAFNOSUPPORT/.test(error) ? 'the host has no address of this source\'s family' : 'not on this machine\'s interfaces?';
    this.log.warn(
      { sourceAddress: address, error },
      `outbound: cannot send from the configured source address (${why}); sending from the default source instead. Receivers will see a PTR and SPF for this node, not the mail host: check outbound.sourceAddresses and \`haven doctor\``,
    );
  }
}
