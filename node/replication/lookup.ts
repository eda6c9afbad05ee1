/**
 * @module node/replication/lookup
 * Finding an account's id by its address in the replica's own directory (at
 * the same point in time as the restore), so `haven restore --account` works
 * for an account that no longer exists in the live directory, and on a
 * machine that has no live directory at all. A managed-mode account's key
 * comes back too (wrapped there with the master key), so its restored
 * mailbox is opened and integrity-checked.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { directoryPath } from '../store/layout.js';
import { unwrapKey } from '../crypto/index.js';
import { Directory, normalizeAddress, openEncrypted } from '../store/index.js';
import { NothingToRestoreError } from './errors.js';
import { restore } from './restore.js';
import type { ReplicaTarget } from './target.js';

export async function accountInReplica(target: ReplicaTarget, address: string, masterKey: Buffer, at?: Date): Promise<{ id: string; key: Buffer | null }> {
  const scratch = mkdtempSync(join(tmpdir(), 'haven-lookup-'));
  try {
    await restore({ target, into: scratch, only: 'directory', at, masterKey, force: true });
    const path = directoryPath(scratch);
    const db = openEncrypted(path, masterKey, { readonly: true, create: false });
    try {
      const dir = new Directory(path, db);
      const a = dir.getAccount(normalizeAddress(address));
      if (!a) throw new NothingToRestoreError(`the replica's directory${at ? ` at ${at.toISOString()}` : ''} has no account ${address}; check the address, or pick another --at`);
      const wrap = dir.wraps(a.id).find((w) => w.kind === 'master');
      return { id: a.id, key: wrap ? await unwrapKey(wrap.wrapped, masterKey) : null };
    } finally {
      db.close();
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
