/**
 * @module test/replication/crash
 * SIGKILL of a replicating node in the middle of deliveries: on restart the
 * replication resumes the same chain (no new generation, no gap), and a
 * restore holds every message the killed node acknowledged.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restore, replicate } from '../../node/replication/index.js';
import { Store } from '../../node/store/index.js';
import pino from 'pino';
import { startS3, tempDir, type TestS3 } from './helpers.js';

const NODE = join(import.meta.dirname, 'fixtures', 'replicating-node.ts');

/** Runs the node until it has printed `count` deliveries, then SIGKILLs it; returns what it printed. */
function runAndKill(args: string[], count: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    // node itself with tsx as a loader: the tsx CLI would put a wrapper process between us and the one to kill.
    const proc = spawn(process.execPath, ['--import', 'tsx', NODE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let stderr = '';
    proc.stderr.on('data', (d) => (stderr += d));
    createInterface({ input: proc.stdout }).on('line', (l) => {
      lines.push(l);
      if (l.startsWith('delivered') && lines.filter((x) => x.startsWith('delivered')).length === count) proc.kill('SIGKILL');
    });
    proc.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve(lines) : reject(new Error(`node exited ${code}: ${stderr}`))));
  });
}

describe('SIGKILL during replication', () => {
  let s3: TestS3;
  beforeAll(async () => {
    s3 = await startS3('crash');
  });
  afterAll(async () => {
    await s3.cleanup();
  });

  it('resumes the same chain after restart and restores every acknowledged message', async () => {
    const dataDir = tempDir('crash');
    const masterKey = randomBytes(32);
    const first = await runAndKill([dataDir, s3.url, masterKey.toString('hex'), 'new'], 25);
    const accountId = first.find((l) => l.startsWith('account '))!.split(' ')[1];
    const second = await runAndKill([dataDir, s3.url, masterKey.toString('hex'), accountId], 10);
    expect(second[0]).toBe(`account ${accountId}`);

    // Restart in this process: replication picks up where the killed node left off.
    // What the replicator says, so a broken chain names its database and why in the failure.
    const said: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void said.push(l) });
    const rep = replicate({ url: s3.url, dataDir, log, retentionCheckMs: 0 });
    const store = Store.open({ dataDir, masterKey });
    const lease = await store.openMailbox(accountId);
    const inbox = lease.mailbox.folders.require('INBOX');
    const live = lease.mailbox.messages.list(inbox.id).map((m) => ({ uid: m.uid, modseq: m.modseq, raw: lease.mailbox.messages.raw(m.blobId).toString('base64') }));
    lease.release();
    await rep.flush();
    // Every database continued its chain: a lost position would have forced a new generation.
    expect(rep.status().generationsStarted, said.filter((l) => l.includes('generation')).join('')).toBe(0);
    store.close();
    await rep.stop();
    // At least everything acknowledged before each kill (a delivery in flight at the kill may also have landed).
    expect(live.length).toBeGreaterThanOrEqual(35);

    const into = tempDir('crash-restore');
    try {
      const r = await restore({ target: s3.url, into, masterKey });
      expect(r.databases.every((d) => d.verified === 'integrity_check')).toBe(true);
      const gens = new Set(r.databases.map((d) => `${d.db}/${d.generation}`));
      expect(gens.size).toBe(r.databases.length);
      const s = Store.open({ dataDir: into, masterKey });
      const l2 = await s.openMailbox(accountId);
      const restored = l2.mailbox.messages.list(l2.mailbox.folders.require('INBOX').id).map((m) => ({ uid: m.uid, modseq: m.modseq, raw: l2.mailbox.messages.raw(m.blobId).toString('base64') }));
      l2.release();
      s.close();
      expect(restored).toEqual(live);
    } finally {
      rmSync(into, { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
