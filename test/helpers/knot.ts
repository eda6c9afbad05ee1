/**
 * @module test/helpers/knot
 * A real authoritative DNS server for tests: Knot DNS (Debian `knot`) with
 * a generated config and zone files in a temp dir, on a free loopback port
 * (UDP and TCP). Resolves once knotd logs every zone as loaded; a zone that
 * fails to load fails the start with knotd's own message.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpUdpPort } from './ports.js';

export interface Knot {
  host: string;
  port: number;
  /** "127.0.0.1:<port>", for a resolver's setServers. */
  server: string;
  stop(): Promise<void>;
}

/** One record line per entry, relative to nothing: owner names must be absolute ("name. TTL IN TYPE data"). */
export type ZoneLines = readonly string[];

/** TXT data as zone-file strings: quoted, escaped, split at 255 bytes (RFC 1035 §3.3.14). */
export function txtData(text: string): string {
  const chunks: string[] = [];
  for (let i = 0; i < text.length || i === 0; i += 255) chunks.push(text.slice(i, i + 255));
  return chunks.map((c) => `"${c.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(' ');
}

export async function startKnot(zones: Readonly<Record<string, ZoneLines>>): Promise<Knot> {
  const dir = mkdtempSync(join(tmpdir(), 'haven-knot-'));
  const port = await freeTcpUdpPort();
  const names = Object.keys(zones);
  writeFileSync(
    join(dir, 'knot.conf'),
    [
      'server:',
      `    rundir: "${dir}"`,
      `    listen: 127.0.0.1@${port}`,
      'log:',
      '  - target: stderr',
      '    any: info',
      'database:',
      `    storage: "${dir}"`,
      'template:',
      '  - id: default',
      `    storage: "${dir}"`,
      '    file: "%s.zone"',
      '    zonefile-sync: -1',
      '    zonefile-load: whole',
      '    journal-content: none',
      'zone:',
      ...names.map((z) => `  - domain: ${z}`),
      '',
    ].join('\n'),
  );
  for (const zone of names) {
    writeFileSync(
      join(dir, `${zone}.zone`),
      [`$TTL 300`, `${zone}. 300 IN SOA ns.${zone}. hostmaster.${zone}. 1 3600 600 86400 60`, `${zone}. 300 IN NS ns.${zone}.`, ...zones[zone], ''].join('\n'),
    );
  }
  const child: ChildProcess = spawn('knotd', ['-c', join(dir, 'knot.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill();
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      let log = '';
      const pending = new Set(names.map((z) => `[${z}.] loaded`));
      child.stderr!.on('data', (b: Buffer) => {
        log += b.toString();
        for (const p of pending) if (log.includes(p)) pending.delete(p);
        const failed = /\[([^\]]+)\] (failed to load|zone file error)[^\n]*/.exec(log);
        if (failed) reject(new Error(`knotd could not load ${failed[1]}:\n${log}`));
        else if (pending.size === 0 && log.includes('server started')) resolve();
      });
      child.once('error', (err) => reject(new Error(`knotd did not start (${err.message}); install it: apt-get install -y knot`)));
      child.once('exit', (code) => reject(new Error(`knotd exited with ${code}:\n${log}`)));
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { host: '127.0.0.1', port, server: `127.0.0.1:${port}`, stop };
}
