/**
 * An import running inside the node must not stall the node's other
 * sessions. Issue 18, "What to build" 3: import and export "work while the
 * node runs (through the node, which is the only writer), without stopping
 * mail delivery". A whole node runs in a child process (the hostile tests'
 * harness, so what the import costs is the node's own), `haven import`
 * hands it a job that pulls 30 MB from a real Dovecot over IMAP, and
 * meanwhile another user's IMAP connection sends NOOP after NOOP (RFC 9051
 * §6.1.2: a command that changes nothing and always succeeds, so its round
 * trip is the node's responsiveness), first with no import running (the
 * unloaded probe), then during the import. The job held the node's event
 * loop for a whole 2 MB batch at a time (one transaction: parse, hash,
 * index, commit); in slices of about 20 ms of work a session waits a slice.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dovecotAvailable, startDovecot, type Dovecot } from '../../bench/lib/dovecot.js';
import { memoryIo, runCli } from '../../node/cli/index.js';
import { ALICE, BOB, startHostileNode, type HostileNode } from '../hostile/harness.js';

const COUNT = 1500;
const KB = 20;

function message(i: number): Buffer {
  const head = [`From: Sender ${i} <s${i}@example.net>`, 'To: alice@example.org', `Subject: lag probe ${i}`, 'Date: Mon, 1 Jan 2024 10:00:00 +0000', `Message-ID: <lag-${i}@example.net>`, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=us-ascii', ''];
  // Words, not one repeated token, so the full-text index does its real work.
  const line = (n: number) => Array.from({ length: 11 }, (_, w) => `w${(i * 7919 + n * 31 + w) % 50_000}`).join(' ');
  return Buffer.from([...head, ...Array.from({ length: Math.round((KB * 1024) / 78) }, (_, n) => line(n)), ''].join('\r\n'));
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

let h: HostileNode;
let dovecot: Dovecot;

beforeAll(async () => {
  if (!dovecotAvailable('imap')) throw new Error('dovecot-imapd is not installed (apt-get install dovecot-imapd): .ci/run installs it');
  dovecot = await startDovecot('imap', (function* () {
    for (let i = 0; i < COUNT; i++) yield message(i);
  })());
  h = await startHostileNode();
}, 120_000);

afterAll(async () => {
  await h?.close();
  dovecot?.stop();
});

describe('an IMAP import inside the node (issue 18: without stopping mail delivery)', () => {
  it("another user's NOOPs are answered about as fast during the import as before it", async () => {
    // A plain socket, so the round trip is the node's and the kernel's, with no client library's queue in it.
    const probe = net.connect({ host: '127.0.0.1', port: h.node.ports.imap! });
    probe.setNoDelay(true);
    let got = '';
    let waiting: (() => void) | null = null;
    let lost: Error | null = null;
    probe.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      waiting?.();
    });
    // A node that closes the probe's connection fails the test at once, not at its timeout.
    probe.on('close', () => {
      lost = new Error('the node closed the probe connection');
      waiting?.();
    });
    let tag = 0;
    const command = (line: string) =>
      new Promise<string>((resolve, reject) => {
        const t = `P${++tag}`;
        const done = () => {
          if (lost) return reject(lost);
          const m = new RegExp(`^${t} (OK|NO|BAD)[^\r]*\r\n`, 'm').exec(got);
          if (!m) return;
          waiting = null;
          got = '';
          if (m[1] === 'OK') resolve(m[0]);
          else reject(new Error(`${line.split(' ')[0]}: ${m[0]}`));
        };
        waiting = done;
        probe.write(`${t} ${line}\r\n`);
      });
    await new Promise((r) => probe.once('data', r));
    await command(`LOGIN ${BOB.address} ${BOB.password}`);
    // One NOOP every 5 ms at most: the node answers NO [LIMIT] past 500 commands a second, and a probe is not an attack.
    let lastSent = 0;
    const noop = async () => {
      const pause = lastSent + 5 - performance.now();
      if (pause > 0) await new Promise((r) => setTimeout(r, pause));
      const t0 = (lastSent = performance.now());
      await command('NOOP');
      return performance.now() - t0;
    };
    try {
      // A first, small import (into Bob's account, from an mbox file) loads and compiles the import's modules: a one-time cost that is not the import's writing.
      const warm = memoryIo({ stdin: `${BOB.password}\n`, env: { HAVEN_DATA_DIR: h.dataDir }, cwd: h.dataDir });
      const mbox = join(h.dataDir, '..', 'warm.mbox');
      writeFileSync(mbox, `From a@example.net Mon Jan  1 10:00:00 2024\n${message(0).toString().replace(/\r\n/g, '\n')}\n`, { mode: 0o600 });
      expect(await runCli(['import', BOB.address, mbox, '--password-stdin', '--json'], warm)).toBe(0);
      // The unloaded probe: the same NOOPs on the same node, warmed.
      const before: number[] = [];
      for (let i = 0; i < 60; i++) before.push(await noop());
      const io = memoryIo({ stdin: `${ALICE.password}\n${dovecot.pass}\n`, env: { HAVEN_DATA_DIR: h.dataDir }, cwd: h.dataDir });
      let running = true;
      const job = runCli(['import', ALICE.address, `imap://${dovecot.user}@127.0.0.1:${dovecot.port}`, '--insecure', '--password-stdin', '--source-password-stdin', '--json'], io).finally(() => (running = false));
      // Timed from the job's first progress line on (connecting to Dovecot and listing its folders is not the import's writing).
      while (running && io.stdout.length === 0) await noop();
      const during: number[] = [];
      const from = performance.now();
      while (running) during.push(await noop());
      const wall = performance.now() - from;
      expect(await job).toBe(0);
      expect(io.stdout[0]).toMatch(/"phase"/);
      const last = JSON.parse(io.stdout[io.stdout.length - 1]) as { phase: string; messages: number };
      expect(last).toMatchObject({ phase: 'done', messages: COUNT });
      const base = { p50: percentile(before, 0.5), p90: percentile(before, 0.9) };
      // A round trip is "stalled" past 100 ms, or four times the unloaded probe's p90 on a machine already that slow.
      const slow = Math.max(100, 4 * base.p90);
      const stalled = during.filter((x) => x > slow).reduce((a, b) => a + b, 0);
      const share = stalled / wall;
      const worst = [...during].sort((a, b) => b - a).slice(0, 5).map((x) => x.toFixed(0));
      console.log(
        `NOOP round trips (ms): before the import p50 ${base.p50.toFixed(1)} p90 ${base.p90.toFixed(1)}; during its ${wall.toFixed(0)} ms (${during.length} NOOPs) p50 ${percentile(during, 0.5).toFixed(1)} p90 ${percentile(during, 0.9).toFixed(1)}, worst ${worst.join(' ')}; share of the import's time the probe sat in round trips over ${slow.toFixed(0)} ms: ${share.toFixed(2)}`,
      );
      // Enough probes during the import for the figures to mean something.
      expect(during.length).toBeGreaterThanOrEqual(20);
      // One transaction per 2 MB batch (about 100 of these messages): the probe sat in stalls of 150 to 440 ms for 0.80
      // to 0.89 of the import's time (four runs at load 4 to 6 on 2 cores). In slices of about 20 ms: 0.05 to 0.2, what
      // is left being SQLite's commits and checkpoints and a machine that did not schedule the node. The line is between.
      expect(share, `the probe was stalled over ${slow.toFixed(0)} ms for ${(share * 100).toFixed(0)}% of the import`).toBeLessThan(0.4);
    } finally {
      probe.destroy();
    }
  }, 180_000);
});
