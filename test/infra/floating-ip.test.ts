/**
 * @module test/infra/floating-ip
 * The script that configures the mail host's Floating IPs on a server
 * (infra/floating-ip.ts). Hetzner's Floating IP documentation: the address
 * must be configured in the operating system (IPv4 as a /32, an address of
 * the IPv6 /64), persistently through whatever renders the network. Each
 * flavor (netplan, ifupdown's interfaces.d, systemd-networkd) runs the real
 * script under sh against a directory standing in for /, with `ip`,
 * `netplan` and `networkctl` replaced by recorders; shellcheck checks both
 * scripts.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { floatingIpRemoveScript, floatingIpScript, IFUPDOWN_FILE, NETPLAN_FILE, NETWORKD_DROPIN } from '../../infra/floating-ip.js';

const run = promisify(execFile);
const base = mkdtempSync(join(tmpdir(), 'haven-floating-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const A = { ipv4: '198.51.100.80', ipv6: '2001:db8:f100:f100::1' };

type Flavor = 'netplan' | 'ifupdown' | 'networkd';

/** A stand-in root for one flavor, and recorders for the tools the script calls. */
function world(flavor: Flavor) {
  const root = mkdtempSync(join(base, `${flavor}-`));
  const bin = join(root, 'bin');
  const log = join(root, 'calls.log');
  mkdirSync(bin);
  const tool = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $*" >>${log}\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  tool('ip', `case "$*" in "-o -4 route show default") echo "default via 172.31.1.1 dev eth0 proto dhcp src 203.0.113.10 metric 100" ;; esac`);
  const networkFile = join(root, 'run/systemd/network/10-netplan-eth0.network');
  if (flavor === 'netplan') {
    tool('netplan', 'true');
    mkdirSync(join(root, 'etc/netplan'), { recursive: true });
    writeFileSync(join(root, 'etc/netplan/50-cloud-init.yaml'), 'network:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n');
  }
  if (flavor === 'ifupdown') {
    mkdirSync(join(root, 'etc/network/interfaces.d'), { recursive: true });
    writeFileSync(join(root, 'etc/network/interfaces'), 'source /etc/network/interfaces.d/*\n');
  }
  if (flavor === 'networkd') {
    mkdirSync(join(root, 'run/systemd/network'), { recursive: true });
    writeFileSync(networkFile, '[Match]\nName=eth0\n[Network]\nDHCP=yes\n');
    tool('networkctl', `echo "● 2: eth0"; echo "     Network File: ${networkFile}"; echo "            State: routable (configured)"`);
  } else {
    tool('networkctl', 'exit 1');
  }
  const sh = async (script: string) => {
    const { stdout } = await run('sh', ['-c', script], { env: { PATH: `${bin}:/usr/bin:/bin` } });
    return stdout;
  };
  return { root, sh, networkFile, calls: () => (existsSync(log) ? readFileSync(log, 'utf8') : '') };
}

describe('floating IP configuration', () => {
  it('netplan: a 60- drop-in that adds both addresses to the interface (netplan merges the address lists), root-only', async () => {
    const w = world('netplan');
    const out = await w.sh(floatingIpScript(A, { root: w.root }));
    expect(out).toContain('(netplan, interface eth0)');
    const path = join(w.root, NETPLAN_FILE);
    expect(parseYaml(readFileSync(path, 'utf8'))).toEqual({ network: { version: 2, ethernets: { eth0: { addresses: ['198.51.100.80/32', '2001:db8:f100:f100::1/64'] } } } });
    // netplan warns about configuration others can read.
    expect(statSync(path).mode & 0o077).toBe(0);
    expect(w.calls()).toContain('ip addr replace 198.51.100.80/32 dev eth0');
    expect(w.calls()).toContain('ip -6 addr replace 2001:db8:f100:f100::1/64 dev eth0');
    // Added now, not by restarting the network under a serving node.
    expect(w.calls()).not.toMatch(/netplan apply|systemctl/);
    await w.sh(floatingIpRemoveScript(A, { root: w.root }));
    expect(existsSync(path)).toBe(false);
    expect(w.calls()).toContain('ip addr del 198.51.100.80/32 dev eth0');
  });

  it('ifupdown: an interfaces.d stanza for an alias of the interface, IPv4 /32 and IPv6 /64', async () => {
    const w = world('ifupdown');
    const out = await w.sh(floatingIpScript(A, { root: w.root }));
    expect(out).toContain('(ifupdown, interface eth0)');
    const text = readFileSync(join(w.root, IFUPDOWN_FILE), 'utf8');
    expect(text).toContain('auto eth0:1\niface eth0:1 inet static\n    address 198.51.100.80\n    netmask 32\n');
    expect(text).toContain('iface eth0:1 inet6 static\n    address 2001:db8:f100:f100::1\n    netmask 64\n');
    expect(w.calls()).toContain('ip addr replace 198.51.100.80/32 dev eth0');
    // Run twice: the same file, no error (pulumi up runs it again after a server change).
    await w.sh(floatingIpScript(A, { root: w.root }));
    expect(readFileSync(join(w.root, IFUPDOWN_FILE), 'utf8')).toBe(text);
    await w.sh(floatingIpRemoveScript(A, { root: w.root }));
    expect(existsSync(join(w.root, IFUPDOWN_FILE))).toBe(false);
  });

  it('systemd-networkd alone: a drop-in beside the .network file that manages the interface', async () => {
    const w = world('networkd');
    const out = await w.sh(floatingIpScript(A, { root: w.root }));
    expect(out).toContain('(systemd-networkd, interface eth0)');
    const dropin = `${w.networkFile}.d/${NETWORKD_DROPIN}`;
    expect(readFileSync(dropin, 'utf8')).toMatch(/\[Network\]\nAddress=198\.51\.100\.80\/32\nAddress=2001:db8:f100:f100::1\/64\n$/);
    await w.sh(floatingIpRemoveScript(A, { root: w.root }));
    expect(existsSync(dropin)).toBe(false);
  });

  it('refuses what is not an address, before anything runs', () => {
    expect(() => floatingIpScript({ ipv4: '198.51.100.80; rm -rf /', ipv6: A.ipv6 })).toThrow(/not an IPv4 address/);
    expect(() => floatingIpScript({ ipv4: A.ipv4, ipv6: 'fe80::1$(id)' })).toThrow(/not an IPv6 address/);
  });

  it('both scripts pass shellcheck', async () => {
    for (const [name, text] of [['add', floatingIpScript(A)], ['remove', floatingIpRemoveScript(A)]]) {
      const path = join(base, `${name}.sh`);
      writeFileSync(path, text);
      let out = '';
      let code = 0;
      try {
        await run('shellcheck', ['--severity=style', path]);
      } catch (err) {
        const e = err as { code?: number | string; stdout?: string };
        if (typeof e.code !== 'number') throw err;
        code = e.code;
        out = e.stdout ?? '';
      }
      expect(out, name).toBe('');
      expect(code, name).toBe(0);
    }
  });
});
