/**
 * @module node/store/layout
 * The data directory's layout, in one place: where each database lives, the
 * name each database has in the replica (`directory`, `spool`,
 * `mailbox-<account id>`), the node's lock, its control socket and the
 * replication state. Everything else (store, replication, restore, upgrade,
 * the CLI) asks here instead of spelling paths out.
 *
 *   <dataDir>/                  0700
 *     directory.sqlite          master key: domains, accounts, aliases, queue
 *     spool.sqlite              master key: sealed mail for locked mailboxes
 *     mailboxes/<id>.sqlite     the account's own key
 *     node.pid                  the running node's lock
 *     control.sock              the running node's control channel (0600)
 *     .replication/             chain state and outbox
 *
 * In the replica, each object of a database's chain is stored at
 *
 *   <prefix><db name>/<generation>/<index as 16 hex digits>.<kind>
 *
 * so one flat listing of the prefix is enough to plan a restore of the
 * whole node. Account ids are random, so neither a path, a database name
 * nor a replica key reveals an address.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

export const DIRECTORY_FILE = 'directory.sqlite';
export const SPOOL_FILE = 'spool.sqlite';
export const MAILBOX_DIR = 'mailboxes';
export const LOCK_FILE = 'node.pid';
export const CONTROL_SOCKET = 'control.sock';
export const REPLICATION_DIR = '.replication';

/** A database's name in the replica and in status output. */
export type DbName = 'directory' | 'spool' | `mailbox-${string}`;

const ACCOUNT_ID = /^[A-Za-z0-9_-]+$/;
const MAILBOX_FILE = /^([A-Za-z0-9_-]+)\.sqlite$/;

export const directoryPath = (dataDir: string): string => join(dataDir, DIRECTORY_FILE);
export const spoolPath = (dataDir: string): string => join(dataDir, SPOOL_FILE);
export const mailboxDir = (dataDir: string): string => join(dataDir, MAILBOX_DIR);
export const controlSocketPath = (dataDir: string): string => join(dataDir, CONTROL_SOCKET);
export const replicationDir = (dataDir: string): string => join(dataDir, REPLICATION_DIR);

export function mailboxPath(dataDir: string, accountId: string): string {
  if (!ACCOUNT_ID.test(accountId)) throw new Error(`not an account id: ${JSON.stringify(accountId)}`);
  return join(dataDir, MAILBOX_DIR, `${accountId}.sqlite`);
}

/** The replica name of a database given its path relative to the data directory; null for anything else. */
export function dbNameForPath(rel: string): DbName | null {
  const r = rel.split('\\').join('/');
  if (r === DIRECTORY_FILE) return 'directory';
  if (r === SPOOL_FILE) return 'spool';
  const m = new RegExp(`^${MAILBOX_DIR}/([A-Za-z0-9_-]+)\\.sqlite$`).exec(r);
  return m ? `mailbox-${m[1]}` : null;
}

/** The replica name of a database at an absolute path under `dataDir`; null when it is not one of ours. */
export function dbNameForFile(dataDir: string, path: string): DbName | null {
  const rel = relative(dataDir, path).split(sep).join('/');
  return rel.startsWith('..') ? null : dbNameForPath(rel);
}

/** The path, relative to the data directory, of a replica database name. */
export function pathForDbName(name: string): string {
  if (name === 'directory') return DIRECTORY_FILE;
  if (name === 'spool') return SPOOL_FILE;
  const id = accountIdOf(name);
  if (id !== null) return `${MAILBOX_DIR}/${id}.sqlite`;
  throw new Error(`unknown database name ${name}`);
}

/** The account id of a `mailbox-<id>` name, or null. */
export function accountIdOf(name: string): string | null {
  if (!name.startsWith('mailbox-')) return null;
  const id = name.slice('mailbox-'.length);
  return ACCOUNT_ID.test(id) ? id : null;
}

export const mailboxDbName = (accountId: string): DbName => `mailbox-${accountId}`;

/**
 * Every database file in the data directory, by replica name, sorted: the
 * directory, the spool and each mailbox (set-aside mailboxes from a
 * zero-access password reset are not live databases and are left out).
 */
export function databaseFiles(dataDir: string): { name: DbName; path: string }[] {
  const out: { name: DbName; path: string }[] = [];
  if (existsSync(directoryPath(dataDir))) out.push({ name: 'directory', path: directoryPath(dataDir) });
  if (existsSync(spoolPath(dataDir))) out.push({ name: 'spool', path: spoolPath(dataDir) });
  const mb = mailboxDir(dataDir);
  if (existsSync(mb)) {
    for (const f of readdirSync(mb).sort()) {
      const m = MAILBOX_FILE.exec(f);
      if (m) out.push({ name: mailboxDbName(m[1]), path: join(mb, f) });
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// ------------------------------------------------------------------ replica keys

/** A snapshot too big for one object continues in `part` objects right after it. */
export type ObjectKind = 'snapshot' | 'part' | 'wal';

export interface ParsedKey {
  db: string;
  generation: string;
  index: number;
  kind: ObjectKind;
}

export function objectKey(prefix: string, db: string, generation: string, index: number, kind: ObjectKind): string {
  return `${prefix}${db}/${generation}/${index.toString(16).padStart(16, '0')}.${kind}`;
}

const KEY_RE = /^([a-z]+(?:-[A-Za-z0-9_-]+)?)\/([0-9a-f]{20})\/([0-9a-f]{16})\.(snapshot|part|wal)$/;

/** Parses a key relative to the prefix; null for anything that is not ours. */
export function parseKey(rel: string): ParsedKey | null {
  const m = KEY_RE.exec(rel);
  if (!m) return null;
  return { db: m[1], generation: m[2], index: parseInt(m[3], 16), kind: m[4] as ObjectKind };
}
