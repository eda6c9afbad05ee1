/**
 * The node's control socket (node/admin/control) and the operations behind
 * it (node/admin/operations): owner-only, one JSON line each way, every
 * operation validated once (the same rule whether the CLI or the admin API
 * asks), domain errors returned for the user to act on, nonsense refused
 * with a reason, and nothing changed by a refused request.
 */
import { statSync } from 'node:fs';
import { connect } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { askNode, NodeRefusedError, nodeOperations, serveControl, type ControlServer } from '../../node/admin/control.js';
import { localOperations } from '../../node/admin/operations.js';
import { MIN_PASSWORD_LENGTH } from '../../node/admin/password-policy.js';
import { controlSocketPath } from '../../node/store/layout.js';
import { silentLogger } from '../../node/util/log.js';
import { makeTestStore, type TestStore } from '../helpers/store.js';

let t: TestStore;
let server: ControlServer;
beforeEach(async () => {
  t = makeTestStore();
  server = await serveControl({ dataDir: t.dataDir, ops: { store: t.store, log: silentLogger }, replication: null, log: silentLogger });
});
afterEach(async () => {
  await server.close();
  t.cleanup();
});

function rawRequest(path: string, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(path);
    let got = '';
    s.setEncoding('utf8');
    s.on('data', (d) => (got += d));
    s.on('close', () => resolve(got));
    s.on('error', () => resolve(got));
    s.write(bytes);
  });
}

describe('control socket', () => {
  it('is a socket only its owner can open (0600)', () => {
    const st = statSync(controlSocketPath(t.dataDir));
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
  });

  it('carries operations to the node; domain errors come back with their message', async () => {
    const ops = nodeOperations(t.dataDir);
    expect(ops.where).toBe('node');
    await ops.call('domain.add', { name: 'example.org' });
    const r = await ops.call('account.add', { address: 'Alice@Example.org', password: 'alice has a long password' });
    expect(r).toMatchObject({ address: 'alice@example.org', replicated: null });
    expect(t.store.directory.getAccount('alice@example.org')).not.toBeNull();
    const dup = await ops.call('account.add', { address: 'alice@example.org', password: 'alice has a long password' }).catch((e: unknown) => e);
    expect(dup).toBeInstanceOf(NodeRefusedError);
    expect((dup as Error).message).toBe('account alice@example.org already exists; see `haven account list`');
  });

  it('refuses an unknown operation, a line that is not JSON, and a request too long to be ours', async () => {
    expect(await askNode(t.dataDir, { cmd: 'op', op: 'account.frobnicate', input: {} })).toMatchObject({ ok: false, error: expect.stringMatching(/unknown operation "account\.frobnicate"; this haven command and the running node may be different versions/) });
    expect(JSON.parse(await rawRequest(controlSocketPath(t.dataDir), '{nope\n'))).toEqual({ ok: false, error: 'the request is not JSON' });
    expect(await askNode(t.dataDir, { cmd: 'status' })).toEqual({ ok: false, error: 'replication is off on this node (replicaUrl is empty)' });
    // 64 KiB with no end of line: the node hangs up without answering.
    expect(await rawRequest(controlSocketPath(t.dataDir), 'x'.repeat(70 * 1024))).toBe('');
  });
});

describe('operations: one validation for every caller', () => {
  it(`one password rule (at least ${MIN_PASSWORD_LENGTH} characters) for new accounts, changes and resets, and nothing is made when it fails`, async () => {
    const ops = localOperations({ store: t.store, log: silentLogger });
    await ops.call('domain.add', { name: 'example.org' });
    const short = 'x'.repeat(MIN_PASSWORD_LENGTH - 1);
    const long = 'y'.repeat(MIN_PASSWORD_LENGTH);
    for (const call of [
      () => ops.call('account.add', { address: 'bob@example.org', password: short }),
      () => ops.call('account.reset', { address: 'bob@example.org', password: short }),
      () => ops.call('account.passwd', { address: 'bob@example.org', currentPassword: long, password: short }),
    ]) {
      await expect(call()).rejects.toThrow(new RegExp(`^password: a password needs at least ${MIN_PASSWORD_LENGTH} characters`));
    }
    expect(t.store.directory.getAccount('bob@example.org')).toBeNull();
    await expect(ops.call('account.add', { address: 'bob@example.org', password: long })).resolves.toMatchObject({ address: 'bob@example.org' });
  });

  it('refuses markup in names without echoing it, and says which field is wrong', async () => {
    const ops = localOperations({ store: t.store, log: silentLogger });
    const err = (await ops.call('domain.add', { name: '<b>x</b>.org' }).catch((e: unknown) => e)) as Error & { field?: string };
    expect(err.message).not.toContain('<b>');
    expect(err.field).toBe('name');
    await expect(ops.call('alias.add', { address: 'a"b@example.org', targets: ['c@example.org'] })).rejects.toThrow(/^address: an address may not contain/);
    await expect(ops.call('account.set', { address: 'nobody@example.org', quotaBytes: -1 })).rejects.toThrow(/^quotaBytes:/);
    await expect(ops.call('account.add', { address: 'bob@example.org' } as never)).rejects.toThrow(/^password: is required$/);
  });
});
