/**
 * A delivered message's blob row is written whole in one INSERT (messages.ts
 * insertBlob): its one reference, and its thread, which for a message that
 * names no known parent is a new thread named after the blob itself, while a
 * reply joins its parent's (the References / In-Reply-To grouping of RFC 5256
 * §2.2, which THREAD=REFERENCES reads from these ids). A COPY adds a
 * reference, an expunge of every copy deletes the row, and the id the last
 * delete freed is the one the next message gets (SQLite's own choice for a
 * table without AUTOINCREMENT, max(rowid) + 1), with its envelope.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeDb, openEncrypted, type Db } from '../../node/store/db.js';
import { MailboxContext } from '../../node/store/mailbox/context.js';
import { FolderRepo } from '../../node/store/mailbox/folders.js';
import { MessageRepo } from '../../node/store/mailbox/messages.js';
import { mailboxMigrations } from '../../node/store/mailbox/schema.js';
import { migrate } from '../../node/store/migrate.js';
import { sampleMessage } from '../helpers/store.js';

let dir: string;
let path: string;
let db: Db;
let folders: FolderRepo;
let messages: MessageRepo;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'haven-blob-'));
  path = join(dir, 'mb.sqlite');
  db = openEncrypted(path, randomBytes(32));
  migrate(path, db, mailboxMigrations);
  const ctx = new MailboxContext(path, db, 'acct');
  folders = new FolderRepo(ctx);
  folders.ensureDefaults();
  messages = new MessageRepo(ctx);
});
afterEach(() => {
  closeDb(path, db);
  rmSync(dir, { recursive: true, force: true });
});

type BlobRow = { id: number; refs: number; thread_id: number };
const blobs = () => db.prepare('SELECT id, refs, thread_id FROM blobs ORDER BY id').all() as BlobRow[];
const threadIndex = () => db.prepare('SELECT id, thread_id FROM blobs INDEXED BY blobs_thread ORDER BY id').all();

describe('the blob row of a new message', () => {
  it('holds one reference and its thread from the start: a new thread named after it, a reply in its parent', async () => {
    const inbox = folders.require('INBOX').id;
    messages.append(inbox, sampleMessage({ messageId: 'root@example.net' }));
    messages.append(inbox, Buffer.from('From: b@example.net\r\nMessage-ID: <reply@example.net>\r\nIn-Reply-To: <root@example.net>\r\nSubject: Re: Hello\r\n\r\nyes\r\n'));
    messages.append(inbox, sampleMessage({ messageId: 'other@example.net' }));
    // Group-committed delivery (the MX's path) writes the row the same way.
    await messages.appendManyDeferred(inbox, [{ raw: Buffer.from('From: c@example.net\r\nMessage-ID: <late@example.net>\r\nReferences: <root@example.net> <reply@example.net>\r\n\r\nlate\r\n') }]).durable;
    expect(blobs()).toEqual([
      { id: 1, refs: 1, thread_id: 1 },
      { id: 2, refs: 1, thread_id: 1 },
      { id: 3, refs: 1, thread_id: 3 },
      { id: 4, refs: 1, thread_id: 1 },
    ]);
    // The covering index FETCH and THREAD read agrees with the rows.
    expect(threadIndex()).toEqual(blobs().map(({ id, thread_id }) => ({ id, thread_id })));
    expect(messages.list(inbox).map((m) => m.threadId)).toEqual([1, 1, 3, 1]);
  });

  it('counts copies, is deleted with the last one, and its freed id goes to the next message with that message\'s envelope', () => {
    const inbox = folders.require('INBOX').id;
    const archive = folders.create('Kept').id;
    messages.append(inbox, sampleMessage({ subject: 'first' }));
    const { uid } = messages.append(inbox, sampleMessage({ subject: 'second' }));
    messages.copy(inbox, [uid], archive);
    expect(blobs()[1]).toEqual({ id: 2, refs: 2, thread_id: 2 });
    messages.storeFlags(inbox, [uid], 'add', ['\\Deleted']);
    messages.expunge(inbox);
    expect(blobs()[1]).toEqual({ id: 2, refs: 1, thread_id: 2 });
    messages.storeFlags(archive, [1], 'add', ['\\Deleted']);
    messages.expunge(archive);
    expect(blobs()).toEqual([{ id: 1, refs: 1, thread_id: 1 }]);
    const again = messages.append(inbox, sampleMessage({ subject: 'third' }));
    expect(blobs()).toEqual([
      { id: 1, refs: 1, thread_id: 1 },
      { id: 2, refs: 1, thread_id: 2 },
    ]);
    expect(messages.list(inbox).find((m) => m.uid === again.uid)?.blobId).toBe(2);
    expect(db.prepare('SELECT envelope FROM envelopes WHERE blob_id = 2').pluck().get()).toContain('third');
  });
});
