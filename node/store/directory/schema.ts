/**
 * @module node/store/directory/schema
 * The directory database: who exists and where mail goes. Encrypted with the
 * master key. Append-only list of migrations; never edit a shipped one.
 */
import type { Migration } from '../migrate.js';
import { sieveMigration } from './sieve.js';

export const directoryMigrations: readonly Migration[] = [
  (db) =>
    db.exec(`
    CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE domains(
      id INTEGER PRIMARY KEY,
      name TEXT NOT NULL UNIQUE COLLATE NOCASE,
      created_at INTEGER NOT NULL
    );
    CREATE TABLE accounts(
      id TEXT PRIMARY KEY,
      address TEXT NOT NULL UNIQUE COLLATE NOCASE,
      domain_id INTEGER NOT NULL REFERENCES domains(id),
      display_name TEXT,
      key_mode TEXT NOT NULL CHECK(key_mode IN ('zero-access','managed')),
      box_public BLOB NOT NULL,
      box_private BLOB NOT NULL,          -- X25519 private key sealed under the mailbox key
      quota_bytes INTEGER NOT NULL DEFAULT 0,   -- 0 = unlimited
      used_bytes INTEGER NOT NULL DEFAULT 0,
      pop3_keep INTEGER NOT NULL DEFAULT 0,
      disabled INTEGER NOT NULL DEFAULT 0,
      created_at INTEGER NOT NULL,
      password_changed_at INTEGER NOT NULL
    );
    CREATE TABLE key_wraps(
      id TEXT PRIMARY KEY,
      account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
      kind TEXT NOT NULL CHECK(kind IN ('password','app','recovery','master')),
      label TEXT,
      wrapped TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      last_used_at INTEGER
    );
    CREATE INDEX key_wraps_account ON key_wraps(account_id, kind);
    CREATE TABLE aliases(
      id INTEGER PRIMARY KEY,
      address TEXT NOT NULL UNIQUE COLLATE NOCASE,   -- local@domain, or *@domain for catch-all
      domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
      targets TEXT NOT NULL,                         -- JSON array of addresses, local or outside
      created_at INTEGER NOT NULL
    );
    CREATE TABLE dkim_keys(
      id INTEGER PRIMARY KEY,
      domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
      selector TEXT NOT NULL,
      algorithm TEXT NOT NULL CHECK(algorithm IN ('rsa','ed25519')),
      private_key TEXT NOT NULL,
      public_key TEXT NOT NULL,
      active INTEGER NOT NULL DEFAULT 1,
      created_at INTEGER NOT NULL,
      UNIQUE(domain_id, selector)
    );
    CREATE TABLE queue_messages(
      id TEXT PRIMARY KEY,
      account_id TEXT,
      mail_from TEXT NOT NULL,
      raw BLOB NOT NULL,
      size INTEGER NOT NULL,
      envid TEXT,
      ret TEXT,
      created_at INTEGER NOT NULL
    );
    CREATE TABLE queue_recipients(
      id INTEGER PRIMARY KEY,
      message_id TEXT NOT NULL REFERENCES queue_messages(id) ON DELETE CASCADE,
      rcpt TEXT NOT NULL,
      domain TEXT NOT NULL,
      orcpt TEXT,
      notify TEXT,
      state TEXT NOT NULL CHECK(state IN ('queued','sent','failed')),
      attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_at INTEGER NOT NULL,
      last_error TEXT,
      delay_notified INTEGER NOT NULL DEFAULT 0,
      updated_at INTEGER NOT NULL
    );
    CREATE INDEX queue_due ON queue_recipients(state, next_attempt_at);
  `),
  // Sieve scripts, the domain scripts, vacation/duplicate memory and the last script error (node/store/directory/sieve).
  sieveMigration,
];
