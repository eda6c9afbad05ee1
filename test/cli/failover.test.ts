/**
 * `haven standby status`, `haven replicate status` and `haven promote`
 * against a real standby node (role: standby) following a primary's file
 * replica, through the standby's control socket; and `haven` changes
 * refused on the standby's data directory. The primary is still running
 * and the standby's witness (failover.witness, issue 19 item 3) sees it up:
 * that gates only the edge's automatic promotion; `haven promote` prints
 * what the witness sees and promotes regardless (the old primary is then
 * fenced, as test/replication/failover shows).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryIo, runCli } from '../../node/cli/index.js';
import { testConfig } from '../../node/config/index.js';
import { startNode } from '../../node/main.js';
import { startStandby } from '../../node/standby.js';

const root = mkdtempSync(join(tmpdir(), 'haven-cli-failover-'));
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
  rmSync(root, { recursive: true, force: true });
});

async function haven(argv: string[], env: Record<string, string>) {
  const io = memoryIo({ env, cwd: root });
  const code = await runCli(argv, io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

describe('haven promote and haven standby status', () => {
  it('show a following standby, promote it once, and refuse changes while it stands by', async () => {
    const masterKey = randomBytes(32).toString('hex');
    const replicaUrl = pathToFileURL(join(root, 'replica')).href;
    const primary = await startNode(testConfig(join(root, 'a'), { dnsbl: [], masterKey, replicaUrl }), { adminUi: false });
    closers.push(() => primary.close());
    await primary.operations.call('domain.add', { name: 'example.org' });
    await primary.replication!.flush(20_000);
    const witness = { host: '127.0.0.1', healthUrl: `https://127.0.0.1:${primary.ports.https}/health`, smtpPort: primary.ports.smtp!, imapsPort: primary.ports.imaps!, intervalMs: 200 };
    const standby = await startStandby(testConfig(join(root, 'b'), { dnsbl: [], masterKey, replicaUrl, role: 'standby', failover: { fenceCheckMs: 100, followMs: 100, witness } }));
    closers.push(() => standby.close());
    await new Promise<void>((resolve) => {
      const look = () => (standby.witness.view().state.last?.up ? resolve() : setTimeout(look, 50));
      look();
    });
    const env = { HAVEN_DATA_DIR: join(root, 'b'), HAVEN_MASTER_KEY: masterKey, HAVEN_REPLICA_URL: replicaUrl, HAVEN_ROLE: 'standby' };

    const st = await haven(['standby', 'status'], env);
    expect(st.code).toBe(0);
    expect(st.out).toMatch(/^role: standby \(newest epoch in the replica: 1\)$/m);
    expect(st.out).toMatch(/^follow: \d+ database\(s\) applied; lag \d+ ms, 0 object\(s\) behind/m);
    expect(st.out).toMatch(/^epoch 1\t\S+\tfirst\t/m);
    expect(st.out).toMatch(/^witness: the primary at 127\.0\.0\.1 answers from here \(health up \(200 ok\), smtp up \(220 greeting\), imaps up \(TLS and \* OK greeting\)\), \d+ s ago; the edge's automatic promotion would be refused$/m);
    const json = JSON.parse((await haven(['standby', 'status', '--json'], env)).out);
    expect(json.role).toBe('standby');

    const rs = await haven(['replicate', 'status'], env);
    expect(rs.out).toMatch(/^role: standby/m);

    // A change on the standby's directory: refused, and nothing written.
    const add = await haven(['domain', 'add', 'other.org'], env);
    expect(add.code).toBe(1);
    expect(add.err).toMatch(/^haven: this node is a standby: it takes no changes/);

    const p = await haven(['promote'], env);
    expect(p.code).toBe(0);
    expect(p.out).toMatch(/^before promoting, witness: the primary at 127\.0\.0\.1 answers from here .*\npromoted: this node is the primary and serving$/);
    expect(standby.node()!.store.directory.getDomain('example.org')).toBeTruthy();
    // Now a primary: standby commands are refused, changes go through.
    const again = await haven(['standby', 'status'], { ...env, HAVEN_ROLE: 'primary' });
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/is the primary/);
    expect((await haven(['domain', 'add', 'other.org'], { ...env, HAVEN_ROLE: 'primary' })).code).toBe(0);
  }, 120_000);
});
