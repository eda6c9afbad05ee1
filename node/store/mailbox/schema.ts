/**
 * @module node/store/mailbox/schema
 * One database per account, encrypted with that account's mailbox key.
 * Holds everything IMAP (CONDSTORE/QRESYNC), POP3, CalDAV and CardDAV need.
 * Append-only list of migrations; never edit a shipped one.
 */
import type { Migration } from '../migrate.js';

export const mailboxMigrations: readonly Migration[] = [
  (db) =>
    db.exec(`
    CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO meta(key, value) VALUES ('modseq', 1), ('last_spool_seq', 0), ('used_bytes', 0), ('next_uidvalidity', 0);

    CREATE TABLE folders(
      id INTEGER PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      special_use TEXT,
      uidvalidity INTEGER NOT NULL,
      uidnext INTEGER NOT NULL DEFAULT 1,
      highestmodseq INTEGER NOT NULL DEFAULT 1,
      subscribed INTEGER NOT NULL DEFAULT 1,
      created_at INTEGER NOT NULL
    );

    -- Raw bytes once per message; folder copies reference them.
    CREATE TABLE blobs(
      id INTEGER PRIMARY KEY,
      raw BLOB NOT NULL,
      size INTEGER NOT NULL,
      parsed TEXT NOT NULL,
      refs INTEGER NOT NULL DEFAULT 0,
      thread_id INTEGER NOT NULL,
      sent_at INTEGER,
      created_at INTEGER NOT NULL
    );

    CREATE TABLE messages(
      id INTEGER PRIMARY KEY,
      folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
      uid INTEGER NOT NULL,
      blob_id INTEGER NOT NULL REFERENCES blobs(id),
      modseq INTEGER NOT NULL,
      flags INTEGER NOT NULL DEFAULT 0,
      keywords TEXT NOT NULL DEFAULT '',
      internal_date INTEGER NOT NULL,
      size INTEGER NOT NULL,
      pop3_hidden INTEGER NOT NULL DEFAULT 0,
      UNIQUE(folder_id, uid)
    );
    CREATE INDEX messages_modseq ON messages(folder_id, modseq);
    CREATE INDEX messages_blob ON messages(blob_id);

    CREATE TABLE expunged(
      folder_id INTEGER NOT NULL,
      uid INTEGER NOT NULL,
      modseq INTEGER NOT NULL,
      PRIMARY KEY(folder_id, uid)
    ) WITHOUT ROWID;
    CREATE INDEX expunged_modseq ON expunged(folder_id, modseq);

    CREATE TABLE msgids(message_id TEXT PRIMARY KEY, thread_id INTEGER NOT NULL) WITHOUT ROWID;

    -- Full-text index over decoded headers and text parts; rowid = blobs.id. Trigrams since migration 3.
    CREATE VIRTUAL TABLE fts USING fts5(headers, body, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');

    CREATE TABLE collections(
      id INTEGER PRIMARY KEY,
      kind TEXT NOT NULL CHECK(kind IN ('calendar','addressbook')),
      name TEXT NOT NULL,
      display_name TEXT,
      description TEXT,
      color TEXT,
      components TEXT,            -- calendars: comma list of VEVENT,VTODO,...
      timezone TEXT,
      props TEXT NOT NULL DEFAULT '{}',
      modseq INTEGER NOT NULL,
      created_at INTEGER NOT NULL,
      UNIQUE(kind, name)
    );

    CREATE TABLE dav_objects(
      id INTEGER PRIMARY KEY,
      collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      uid TEXT NOT NULL,
      etag TEXT NOT NULL,
      component TEXT,
      data TEXT NOT NULL,
      first_start INTEGER,
      last_end INTEGER,
      modseq INTEGER NOT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      UNIQUE(collection_id, name),
      UNIQUE(collection_id, uid)
    );
    CREATE INDEX dav_objects_modseq ON dav_objects(collection_id, modseq);

    CREATE TABLE dav_tombstones(
      collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      modseq INTEGER NOT NULL,
      PRIMARY KEY(collection_id, name)
    ) WITHOUT ROWID;
  `),
  // 2: message listings need each blob's thread id; read from the blobs table that walks
  // the raw bytes' overflow pages per row (10x slower for an IMAP FETCH 1:* FLAGS).
  (db) => db.exec('CREATE INDEX blobs_thread ON blobs(id, thread_id);'),
  // 3: SEARCH BODY/TEXT/SUBJECT match substrings (RFC 9051 §6.4.4), which word tokens cannot
  // answer ("sdfghjk" in "asdfghjkl"). A trigram index answers any string of three or more
  // characters exactly (a phrase of overlapping trigrams is a substring); it stays contentless,
  // inside the encrypted file like the index it replaces. The old index's rows cannot be turned
  // into trigrams, so the text is indexed again from the stored messages: in batches after the
  // mailbox opens (search.ts, fts_backfill = the highest blob id still to index), not here,
  // where a large mailbox would hold its first login for minutes.
  (db) => {
    db.exec(`
      DROP TABLE fts;
      CREATE VIRTUAL TABLE fts USING fts5(headers, body, content='', contentless_delete=1, tokenize='trigram');
    `);
    db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES ('fts_backfill', (SELECT coalesce(max(id), 0) FROM blobs))").run();
  },
  // 4: haven import's memory (mailbox/imports.ts): hashes only, so a resumed import never duplicates.
  (db) =>
    db.exec(`
    CREATE TABLE import_keys(folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE, key BLOB NOT NULL, uid INTEGER NOT NULL, PRIMARY KEY(folder_id, key)) WITHOUT ROWID;
    CREATE INDEX import_keys_key ON import_keys(key);
    CREATE TABLE import_cursors(source BLOB PRIMARY KEY, uidvalidity INTEGER NOT NULL, last_uid INTEGER NOT NULL) WITHOUT ROWID;
  `),
  // 5: the same trigrams with detail=none: the index keeps which messages hold each trigram,
  // not where, so it is a candidate filter (every trigram of the string present) and search.ts
  // confirms each candidate on its decoded text. detail=full made the index ~7x the size of the
  // word index (52 vs 7 MB per 10,000 bench messages) and each insert ~2x slower than none;
  // detail=none is 6.6 MB. FTS5 refuses phrase queries below detail=full, and columnsize=0
  // cannot go with contentless_delete=1, so these are the options that keep search exact.
  // Re-indexed by the same backfill as migration 3 (migration 4 is the import memory, between the two).
  (db) => {
    db.exec(`
      DROP TABLE fts;
      CREATE VIRTUAL TABLE fts USING fts5(headers, body, content='', contentless_delete=1, tokenize='trigram', detail='none');
    `);
    db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES ('fts_backfill', (SELECT coalesce(max(id), 0) FROM blobs))").run();
  },
  // 6: FETCH ENVELOPE read the whole parse result from the blobs row, which sits among the raw
  // bytes' pages: a page decrypted and ~800 bytes of JSON parsed per message (17% of the CPU
  // under imap-accounts). The envelope alone in its own table packs ten to a page. Mail stored
  // before this is filled in after the mailbox opens (mailbox.ts, envelope_backfill = the
  // highest blob id still to copy), not here, where a large mailbox would hold its first login;
  // until then such mail is served from the parse result as before.
  (db) => {
    db.exec('CREATE TABLE envelopes(blob_id INTEGER PRIMARY KEY, envelope TEXT NOT NULL);');
    db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES ('envelope_backfill', (SELECT coalesce(max(id), 0) FROM blobs))").run();
  },
  // 7: new mail's full-text rows are written in batches after delivery (fts-queue.ts), not in the
  // delivery's transaction, where FTS5's per-commit segment flush cost ~0.4 ms a message (issue #20).
  // fts_indexed = the highest blob id whose row is written; blobs above it wait for the indexer and
  // search scans them. Every blob here now is indexed or below fts_backfill, so it starts at the top.
  (db) => {
    db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES ('fts_indexed', (SELECT coalesce(max(id), 0) FROM blobs))").run();
  },
];
