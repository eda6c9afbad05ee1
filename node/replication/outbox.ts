/**
 * @module node/replication/outbox
 * Objects that must outlive this process before the replica has them:
 * written durably under `<dataDir>/.replication/outbox/<db>/` (ciphertext
 * only, 0600 in 0700 directories) when a database closes or its WAL passes
 * the ceiling while the replica is away, and loaded first at the next start
 * so they are uploaded before anything newer of the same chain.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../util/log.js';
import { RESET_POS } from './chain-state.js';
import { decodeObject, objectKey, type ObjectHeader } from './object.js';
import { writeDurable } from '../util/fsync.js';
import type { Pending } from './tracker.js';

/** The outbox file for one object: generation and index in the name keep a directory listing in chain order. */
export function outboxFile(outboxDir: string, db: string, h: ObjectHeader): string {
  return join(outboxDir, db, `${h.generation}-${h.index.toString(16).padStart(16, '0')}.${h.kind}`);
}

/** Writes one waiting object durably into the outbox; from then on it is read back from there. */
export function keep(outboxDir: string, db: string, p: Pending, bytes: Buffer): void {
  const file = outboxFile(outboxDir, db, p.header);
  mkdirSync(join(outboxDir, db), { recursive: true, mode: 0o700 });
  writeDurable(file, bytes);
  p.outbox = file;
  p.bytes = null;
  p.source = null;
}

export interface OutboxContents {
  db: string;
  /** In chain order, ready to upload. */
  pending: Pending[];
  /** Some file could not be read (and was dropped): the chain cannot continue. */
  damaged: boolean;
}

/** What an earlier run left in the outbox, per database. */
export function loadOutbox(outboxDir: string, log: Logger): OutboxContents[] {
  const out: OutboxContents[] = [];
  for (const db of readdirSync(outboxDir)) {
    const files = readdirSync(join(outboxDir, db)).filter((f) => !f.includes('.tmp')).sort();
    if (files.length === 0) continue;
    const contents: OutboxContents = { db, pending: [], damaged: false };
    for (const f of files) {
      const file = join(outboxDir, db, f);
      try {
        const obj = decodeObject(f, readFileSync(file));
        const h = obj.header;
        contents.pending.push({
          header: h,
          checksum: obj.checksum,
          size: obj.bytes.length,
          bytes: null,
          source: null,
          key: objectKey('', db, h.generation, h.index, h.kind),
          after: { generation: h.generation, index: h.index, checksum: obj.checksum, pos: RESET_POS },
          outbox: file,
          oldestAt: h.commits?.[0]?.at ?? h.createdAt,
        });
      } catch (err) {
        // A damaged outbox file cannot be shipped; the next open starts a new generation.
        log.error({ err, file }, 'replication: unreadable outbox object dropped; a new generation will start');
        rmSync(file, { force: true });
        contents.damaged = true;
      }
    }
    out.push(contents);
  }
  return out;
}
