/**
 * @module infra/floating-ip
 * The mail host's Floating IPs inside the servers. Hetzner routes a Floating
 * IP to whichever server it is assigned to, but the server only answers for
 * it once the address is configured on its interface; and the standby must
 * answer the moment the promoted node assigns the addresses to itself
 * (node/failover/hetzner), with no step in between. So both servers carry
 * both addresses all the time, persistently, and only Hetzner's assignment
 * decides which one receives the traffic.
 *
 * Where the persistent setting goes depends on what renders the server's
 * network: Hetzner's images configure it through cloud-init (the Hetzner
 * datasource), which writes netplan (Ubuntu, and Debian images that ship
 * netplan.io), ifupdown's /etc/network/interfaces.d (Debian images without
 * netplan), or systemd-networkd files directly. The script looks at what the
 * server has, writes Hetzner's documented drop-in for it (netplan
 * 60-floating-ip.yaml, interfaces.d 60-floating-ip.cfg, or a networkd
 * .network.d drop-in), and adds the addresses at once with `ip addr
 * replace`, so no network restart interrupts the node. Pure.
 */

export interface FloatingAddresses {
  /** The Floating IPv4 address. */
  ipv4: string;
  /** The address the mail host uses in the Floating IPv6 /64 (`<prefix>::1`). */
  ipv6: string;
}

/** Named so removal finds exactly what was written. */
export const NETPLAN_FILE = '/etc/netplan/60-haven-floating-ip.yaml';
export const IFUPDOWN_FILE = '/etc/network/interfaces.d/60-haven-floating-ip.cfg';
export const NETWORKD_DROPIN = '60-haven-floating-ip.conf';

function checkAddresses(a: FloatingAddresses): void {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(a.ipv4)) throw new Error(`floating IPv4 "${a.ipv4}" is not an IPv4 address`);
  if (!/^[0-9a-fA-F:]+$/.test(a.ipv6) || !a.ipv6.includes(':')) throw new Error(`floating IPv6 "${a.ipv6}" is not an IPv6 address`);
}

/** Where the files go: '' on a server; a test runs the scripts against a directory standing in for /. */
export interface ScriptOptions {
  root?: string;
}

/** Shared head: the interface carrying the default route, and how this server renders its network. */
const detect = (root: string) => `if=$(ip -o -4 route show default | awk '{ print $5; exit }')
[ -n "$if" ] || fail "no IPv4 default route: cannot tell which interface faces the Internet"
if command -v netplan >/dev/null 2>&1 && ls ${root}/etc/netplan/*.yaml >/dev/null 2>&1; then
  how=netplan
elif [ -d ${root}/etc/network/interfaces.d ] && grep -qs 'interfaces.d' ${root}/etc/network/interfaces; then
  how=ifupdown
else
  how=networkd
fi
`;

/** Both scripts' opening: the shell, the addresses, the messages' prefix and the interface's detection. */
function prelude(a: FloatingAddresses, root: string, what: string): string {
  return `#!/bin/sh
# Haven: ${what}
set -eu
V4=${a.ipv4}
V6=${a.ipv6}
say() { echo "haven-floating-ip: $*"; }
fail() { echo "haven-floating-ip: $*" >&2; exit 1; }
${detect(root)}`;
}

/**
 * The script `pulumi up` runs over SSH on each server when standby is on:
 * writes the persistent configuration for the Floating IPs and adds them now.
 * Idempotent; prints what it did.
 */
export function floatingIpScript(a: FloatingAddresses, o: ScriptOptions = {}): string {
  checkAddresses(a);
  const root = o.root ?? '';
  return `${prelude(a, root, "the mail host's Floating IPs on this server's interface (infra/floating-ip.ts), from \`pulumi up\`.")}
case "$how" in
  netplan)
    umask 077
    cat >${root}${NETPLAN_FILE}.new <<EOF
# Haven (pulumi up): the mail host's Floating IPs, on every Haven server; Hetzner's assignment decides which one receives them.
network:
  version: 2
  ethernets:
    $if:
      addresses:
        - $V4/32
        - $V6/64
EOF
    mv -f ${root}${NETPLAN_FILE}.new ${root}${NETPLAN_FILE}
    say "wrote ${root}${NETPLAN_FILE} (netplan, interface $if)"
    ;;
  ifupdown)
    cat >${root}${IFUPDOWN_FILE}.new <<EOF
# Haven (pulumi up): the mail host's Floating IPs, on every Haven server; Hetzner's assignment decides which one receives them.
auto $if:1
iface $if:1 inet static
    address $V4
    netmask 32
iface $if:1 inet6 static
    address $V6
    netmask 64
EOF
    mv -f ${root}${IFUPDOWN_FILE}.new ${root}${IFUPDOWN_FILE}
    say "wrote ${root}${IFUPDOWN_FILE} (ifupdown, interface $if)"
    ;;
  networkd)
    net=$(networkctl status "$if" 2>/dev/null | awk -F': ' '/Network File/ { print $2; exit }')
    if [ -z "$net" ] || [ ! -f "$net" ]; then fail "systemd-networkd does not manage $if (no .network file): add $V4/32 and $V6/64 to it by hand"; fi
    mkdir -p "$net.d"
    printf '# Haven (pulumi up): the mail host'"'"'s Floating IPs.\\n[Network]\\nAddress=%s/32\\nAddress=%s/64\\n' "$V4" "$V6" >"$net.d/${NETWORKD_DROPIN}"
    say "wrote $net.d/${NETWORKD_DROPIN} (systemd-networkd, interface $if)"
    ;;
esac
# Now, without restarting the network: the node keeps its connections.
ip addr replace "$V4/32" dev "$if"
ip -6 addr replace "$V6/64" dev "$if"
say "$V4 and $V6 configured on $if"
`;
}

/** The script run when standby is turned off: removes the configuration and the addresses. */
export function floatingIpRemoveScript(a: FloatingAddresses, o: ScriptOptions = {}): string {
  checkAddresses(a);
  const root = o.root ?? '';
  return `${prelude(a, root, 'the Floating IPs are gone from the stack; remove them from this server.')}
rm -f ${root}${NETPLAN_FILE} ${root}${IFUPDOWN_FILE}
net=$(networkctl status "$if" 2>/dev/null | awk -F': ' '/Network File/ { print $2; exit }' || true)
if [ -n "$net" ]; then rm -f "$net.d/${NETWORKD_DROPIN}"; fi
ip addr del "$V4/32" dev "$if" 2>/dev/null || true
ip -6 addr del "$V6/64" dev "$if" 2>/dev/null || true
say "removed $V4 and $V6 ($how)"
`;
}
