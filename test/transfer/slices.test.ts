/**
 * An import inside the node writes each batch in slices (import-job.ts
 * sliceMs), one transaction each, so it never holds the event loop for a
 * whole batch. Issue 18: the import is "resumable and idempotent:
 * interrupted and run again, it continues where it stopped and never
 * duplicates". So a job stopped between two slices of one batch must leave
 * exactly the slices it committed, with the source cursor at the last
 * message of the last one (RFC 3501 §2.3.1.1: UIDs ascend within a
 * UIDVALIDITY, so "done up to UID n" names them), and the next run adds the
 * rest once.
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runImport } from '../../node/transfer/import-job.js';
import { Progress } from '../../node/transfer/progress.js';
import type { ImportSource } from '../../node/transfer/source.js';
import { addAccount, makeTestStore, type TestStore } from '../helpers/store.js';

const pw = 'a long enough account password';
const N = 30;
const KEY = createHash('sha256').update('slices test source').digest();
const UIDVALIDITY = 777;

function message(i: number): Buffer {
  return Buffer.from([`From: s${i}@example.net`, 'To: alice@example.test', `Subject: slice ${i}`, `Message-ID: <slice-${i}@example.net>`, '', `body ${i} `.repeat(1 + i * 50), ''].join('\r\n'));
}

/** One folder of N messages, UIDs 1..N; past the cursor only when `resume` (as the IMAP source does), else all again. */
function source(resume: boolean): ImportSource {
  return async function* (ctx) {
    yield { type: 'total', messages: N, bytes: null };
    yield { type: 'folder', name: 'Old', specialUse: null, policy: 'append', cursor: { source: KEY, uidValidity: UIDVALIDITY } };
    const c = ctx.cursor(KEY);
    const after = resume && c && c.uidValidity === UIDVALIDITY ? c.lastUid : 0;
    for (let uid = after + 1; uid <= N; uid++) yield { type: 'message', msg: { raw: message(uid), flags: uid % 2 ? ['\\Seen'] : [], internalDate: Date.UTC(2020, 0, uid), uid } };
  };
}

/** A real Progress that cancels the job once `after` messages are recorded (as `haven import`'s Ctrl-C or cancel would). */
class CancelAfter extends Progress {
  constructor(
    private readonly after: number,
    private readonly abort: AbortController,
  ) {
    super();
  }

  override add(d: Parameters<Progress['add']>[0]): void {
    super.add(d);
    if (this.s.messages >= this.after) this.abort.abort();
  }
}

let t: TestStore;
beforeEach(async () => {
  t = makeTestStore();
  await addAccount(t.store, 'alice@example.test', pw);
});
afterEach(() => t.cleanup());

async function contents() {
  const lease = await t.store.authenticate('alice@example.test', pw);
  try {
    const f = lease.mailbox.folders.get('Old');
    const list = f ? lease.mailbox.messages.list(f.id).map((m) => lease.mailbox.messages.raw(m.blobId).toString()) : [];
    return { subjects: list.map((r) => /^Subject: (.*)$/m.exec(r)![1]), cursor: lease.mailbox.imports.cursor(KEY) };
  } finally {
    lease.release();
  }
}

describe('an import written in slices', () => {
  it('cancelled between two slices of one batch: those committed stay, the cursor names the last, and a resumed run adds the rest once', async () => {
    const abort = new AbortController();
    const lease = await t.store.authenticate('alice@example.test', pw);
    // One batch of all N; a budget of 0 ms makes every message its own slice.
    const run = runImport(lease.mailbox, source(true), { signal: abort.signal, progress: new CancelAfter(7, abort), batchMessages: 100, sliceMs: 0 });
    await expect(run).rejects.toThrow();
    lease.release();
    const cut = await contents();
    expect(cut.subjects).toEqual(Array.from({ length: 7 }, (_, i) => `slice ${i + 1}`));
    expect(cut.cursor).toEqual({ uidValidity: UIDVALIDITY, lastUid: 7 });

    const again = await t.store.authenticate('alice@example.test', pw);
    const progress = new Progress();
    try {
      await runImport(again.mailbox, source(true), { signal: new AbortController().signal, progress, sliceMs: 0 });
    } finally {
      again.release();
    }
    expect(progress.s.messages).toBe(N - 7);
    const done = await contents();
    // Every message once, in the source's UID order.
    expect(done.subjects).toEqual(Array.from({ length: N }, (_, i) => `slice ${i + 1}`));
    expect(done.cursor).toEqual({ uidValidity: UIDVALIDITY, lastUid: N });
  });

  it('a source read again from the start (a new UIDVALIDITY, no cursor) adds nothing: the import keys skip what the slices wrote', async () => {
    for (const resume of [true, false]) {
      const lease = await t.store.authenticate('alice@example.test', pw);
      const progress = new Progress();
      try {
        await runImport(lease.mailbox, source(resume), { signal: new AbortController().signal, progress, batchMessages: 8, sliceMs: 0 });
      } finally {
        lease.release();
      }
      expect(progress.s).toMatchObject(resume ? { messages: N, skipped: 0 } : { messages: 0, skipped: N });
    }
    expect((await contents()).subjects).toHaveLength(N);
  });

  it('with no budget (the CLI running alone) a batch is one transaction, and the result is the same', async () => {
    const lease = await t.store.authenticate('alice@example.test', pw);
    try {
      await runImport(lease.mailbox, source(true), { signal: new AbortController().signal, progress: new Progress(), sliceMs: Infinity });
    } finally {
      lease.release();
    }
    const done = await contents();
    expect(done.subjects).toEqual(Array.from({ length: N }, (_, i) => `slice ${i + 1}`));
    expect(done.cursor).toEqual({ uidValidity: UIDVALIDITY, lastUid: N });
  });
});
