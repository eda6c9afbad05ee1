/**
 * The mailbox store contract: what IMAP, POP3 and DAV rely on. Written
 * against the public API so any other implementation must pass it too.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidNameError, MailboxExistsError, NoSuchMailboxError, QuotaExceededError, Store, type Lease, type MailboxChange } from '../../node/store/index.js';
import { addAccount, makeTestStore, sampleMessage, type TestStore } from '../helpers/store.js';

let t: TestStore;
let lease: Lease;
let inbox: number;
beforeEach(async () => {
  t = makeTestStore();
  const a = await addAccount(t.store);
  lease = await t.store.authenticate(a.address, a.password);
  inbox = lease.mailbox.folders.require('inbox').id;
});
afterEach(() => {
  lease.release();
  t.cleanup();
});

describe('folders', () => {
  it('creates parents, refuses duplicates and bad names, renames with children', () => {
    const f = lease.mailbox.folders;
    f.create('Work/Projects/Haven');
    expect(f.get('Work')).not.toBeNull();
    expect(() => f.create('Work')).toThrow(MailboxExistsError);
    expect(() => f.create('bad/')).toThrow(InvalidNameError);
    expect(() => f.create('a*b')).toThrow(InvalidNameError);
    f.rename('Work', 'Job');
    expect(f.get('Job/Projects/Haven')).not.toBeNull();
    expect(f.get('Work/Projects')).toBeNull();
    expect(() => f.delete('INBOX')).toThrow(InvalidNameError);
    expect(() => f.require('Nope')).toThrow(NoSuchMailboxError);
  });

  it('never reuses a UIDVALIDITY, even for a recreated folder', () => {
    const a = lease.mailbox.folders.create('X');
    lease.mailbox.folders.delete('X');
    const b = lease.mailbox.folders.create('X');
    const all = lease.mailbox.folders.list().map((f) => f.uidValidity);
    expect(b.uidValidity).not.toBe(a.uidValidity);
    expect(new Set(all).size).toBe(all.length);
  });

  it('renaming INBOX moves its messages and leaves INBOX empty', () => {
    lease.mailbox.messages.append(inbox, sampleMessage());
    const moved = lease.mailbox.folders.rename('INBOX', 'Old');
    expect(lease.mailbox.messages.uids(moved.id)).toEqual([1]);
    expect(lease.mailbox.messages.uids(inbox)).toEqual([]);
  });
});

describe('messages', () => {
  it('assigns increasing UIDs and modseqs and reports status', () => {
    const m = lease.mailbox.messages;
    const a = m.append(inbox, sampleMessage(), { flags: ['\\Seen', 'custom'] });
    const b = m.append(inbox, sampleMessage());
    expect([a.uid, b.uid]).toEqual([1, 2]);
    expect(b.modseq).toBeGreaterThan(a.modseq);
    expect(m.get(inbox, 1)!.flags).toEqual(['\\Seen', 'custom']);
    const st = lease.mailbox.folders.status(inbox);
    expect(st).toMatchObject({ messages: 2, unseen: 1, uidNext: 3, highestModseq: b.modseq });
  });

  it('appends several messages atomically', () => {
    const r = lease.mailbox.messages.appendMany(inbox, [{ raw: sampleMessage() }, { raw: sampleMessage() }]);
    expect(r.map((x) => x.uid)).toEqual([1, 2]);
  });

  it('stores flags with modseq, honouring UNCHANGEDSINCE', () => {
    const m = lease.mailbox.messages;
    m.append(inbox, sampleMessage());
    m.append(inbox, sampleMessage());
    const base = lease.mailbox.folders.status(inbox).highestModseq;
    const r1 = m.storeFlags(inbox, [1], 'add', ['\\Flagged', '$Label1']);
    expect(r1.updated[0].flags).toEqual(['\\Flagged', '$Label1']);
    const r2 = m.storeFlags(inbox, [1, 2], 'add', ['\\Seen'], { unchangedSince: base });
    expect(r2.failed).toEqual([1]);
    expect(r2.updated.map((u) => u.uid)).toEqual([2]);
    expect(m.changedSince(inbox, base).map((x) => x.uid)).toEqual([1, 2]);
    m.storeFlags(inbox, [1], 'remove', ['$label1']);
    expect(m.get(inbox, 1)!.flags).toEqual(['\\Flagged']);
    const noop = m.storeFlags(inbox, [1], 'add', ['\\Flagged']);
    expect(noop.updated).toEqual([]);
  });

  it('lists UIDs and looks up flags and modseqs as get() reports them', () => {
    const m = lease.mailbox.messages;
    const flagSets = [[], ['\\Seen'], ['\\Seen', '\\Flagged', '$Work', 'Later'], ['$Junk'], ['\\Answered', '\\Deleted', '\\Draft']];
    m.appendMany(inbox, Array.from({ length: 12 }, (_, i) => ({ raw: sampleMessage(), flags: flagSets[i % flagSets.length] })));
    const text = (uid: number) => m.get(inbox, uid)!.flags.join(' ');
    expect([...m.uidArray(inbox)]).toEqual(m.uids(inbox));
    const index = m.flagLookup(inbox);
    for (const uid of m.uids(inbox)) {
      expect(index.flags(uid)).toBe(text(uid));
      expect(index.modseqOf(uid)).toBe(m.get(inbox, uid)!.modseq);
    }
    expect(index.flags(99)).toBeNull();
    expect(index.modseqOf(99)).toBe(0);
    m.storeFlags(inbox, [4], 'add', ['$New']);
    m.storeFlags(inbox, [9], 'set', []);
    const after = m.flagLookup(inbox);
    expect(after.flags(4)).toBe('$Junk $New');
    expect(after.flags(9)).toBe('');
    expect(after.modseqOf(9)).toBe(lease.mailbox.folders.status(inbox).highestModseq);
  });

  it('keeps the in-memory flag index equal to the mailbox through every kind of write, and rebuilds it after one it missed', async () => {
    const m = lease.mailbox.messages;
    const archive = lease.mailbox.folders.create('Kept').id;
    const words = ['\\Seen', '\\Flagged', '\\Deleted', '\\Answered', '$Work', 'Later'];
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    const pick = () => words.filter(() => rand(3) === 0);
    const check = (folder: number) => {
      const truth = m.uids(folder);
      expect([...m.uidArray(folder)]).toEqual(truth);
      const index = m.flagLookup(folder);
      for (const uid of truth) {
        const meta = m.get(folder, uid)!;
        expect(index.flags(uid)).toBe(meta.flags.join(' '));
        expect(index.modseqOf(uid)).toBe(meta.modseq);
      }
    };
    m.appendMany(inbox, Array.from({ length: 40 }, () => ({ raw: sampleMessage(), flags: pick() })));
    check(inbox);
    check(archive);
    for (let step = 0; step < 200; step++) {
      const uids = m.uids(inbox);
      const some = uids.filter(() => rand(4) === 0);
      switch (rand(7)) {
        case 0: m.appendMany(inbox, Array.from({ length: 1 + rand(3) }, () => ({ raw: sampleMessage(), flags: pick() }))); break;
        case 1: m.storeFlags(inbox, some, (['add', 'remove', 'set'] as const)[rand(3)], pick()); break;
        case 2: await m.storeFlagsDeferred(inbox, some, 'add', pick()).durable; break;
        case 3: m.expunge(inbox, rand(2) ? undefined : some); break;
        case 4: m.copy(inbox, some, archive); break;
        case 5: m.move(inbox, some.slice(0, 2), archive); break;
        case 6: m.remove(archive, m.uids(archive).filter(() => rand(3) === 0)); break;
      }
      check(inbox);
      check(archive);
    }
    // A write through another connection (as the CLI would make) emits nothing here; the index notices the folder moved on.
    const second = Store.open({ dataDir: t.dataDir, masterKey: t.masterKey });
    try {
      const l2 = await second.authenticate(lease.account.address, 'correct horse battery');
      l2.mailbox.messages.appendMany(inbox, [{ raw: sampleMessage(), flags: ['$Elsewhere'] }]);
      l2.mailbox.messages.storeFlags(inbox, m.uids(inbox).slice(0, 1), 'set', ['\\Draft']);
      l2.release();
    } finally {
      second.close();
    }
    check(inbox);
  });

  it('expunges only \\Deleted messages, leaves tombstones, and frees the blob', () => {
    const m = lease.mailbox.messages;
    for (let i = 0; i < 3; i++) m.append(inbox, sampleMessage());
    const used = lease.mailbox.usedBytes();
    const before = lease.mailbox.folders.status(inbox).highestModseq;
    m.storeFlags(inbox, [1, 3], 'add', ['\\Deleted']);
    expect(m.expunge(inbox, [3, 2])).toEqual([3]);
    expect(m.expunge(inbox)).toEqual([1]);
    expect(m.uids(inbox)).toEqual([2]);
    expect(m.expungedSince(inbox, before)).toEqual([1, 3]);
    expect(lease.mailbox.usedBytes()).toBeLessThan(used);
  });

  it('copies sharing the blob and moves atomically with COPYUID pairs', () => {
    const m = lease.mailbox.messages;
    const arch = lease.mailbox.folders.require('Archive').id;
    m.append(inbox, sampleMessage());
    m.append(inbox, sampleMessage());
    const used = lease.mailbox.usedBytes();
    const c = m.copy(inbox, [1, 2, 99], arch);
    expect(c.pairs).toEqual([[1, 1], [2, 2]]);
    expect(lease.mailbox.usedBytes()).toBe(used);
    const mv = m.move(inbox, [2], arch);
    expect(mv.pairs).toEqual([[2, 3]]);
    expect(m.uids(inbox)).toEqual([1]);
    expect(m.raw(m.get(arch, 3)!.blobId)).toEqual(m.raw(m.get(inbox, 1)!.blobId).length ? m.raw(m.get(arch, 3)!.blobId) : null);
  });

  it('threads replies with their parents', () => {
    const m = lease.mailbox.messages;
    m.append(inbox, sampleMessage({ messageId: 'root@x' }));
    const reply = Buffer.from('Subject: Re: Hello\r\nMessage-ID: <r1@x>\r\nIn-Reply-To: <root@x>\r\nReferences: <root@x>\r\n\r\nyes\r\n');
    m.append(inbox, reply);
    m.append(inbox, sampleMessage());
    const [a, b, c] = m.list(inbox);
    expect(b.threadId).toBe(a.threadId);
    expect(c.threadId).not.toBe(a.threadId);
  });

  it('enforces the quota on append', () => {
    lease.mailbox.setQuota(500);
    expect(() => lease.mailbox.messages.append(inbox, sampleMessage({ body: 'q'.repeat(600) }))).toThrow(QuotaExceededError);
    expect(lease.mailbox.messages.uids(inbox)).toEqual([]);
  });

  it('tells listeners about changes only after they are committed', () => {
    const seen: MailboxChange[] = [];
    const off = lease.mailbox.onChange((c) => seen.push(c));
    lease.mailbox.messages.append(inbox, sampleMessage(), { origin: 's1' });
    lease.mailbox.messages.storeFlags(inbox, [1], 'add', ['\\Seen']);
    lease.mailbox.setQuota(1);
    expect(() => lease.mailbox.messages.append(inbox, sampleMessage())).toThrow();
    off();
    expect(seen.map((c) => c.type)).toEqual(['exists', 'flags']);
    expect(seen[0]).toMatchObject({ folderId: inbox, uids: [1], origin: 's1' });
  });

  it('tells of a synchronous write when it returns, even if a listener of an earlier deferred write wrote meanwhile', async () => {
    // An IDLE session hearing of new mail claims it as \Recent (a deferred write) from inside the listener;
    // that must not hold back the events of the write whose commit released the earlier ones.
    const m = lease.mailbox.messages;
    const seen: MailboxChange[] = [];
    const off = lease.mailbox.onChange((c) => {
      seen.push(c);
      if (c.type === 'exists') m.claimRecent(inbox, c.uids[c.uids.length - 1] + 1);
    });
    const { durable } = m.appendManyDeferred(inbox, [{ raw: sampleMessage() }], 's1');
    m.copy(inbox, [1], inbox, 's2');
    // COPY is answered now: its EXISTS must be out now, in commit order after the append's.
    expect(seen.map((c) => [c.type, 'uids' in c ? c.uids : null])).toEqual([['exists', [1]], ['exists', [2]]]);
    await durable;
    off();
    expect(seen).toHaveLength(2);
  });

  it('tells every listener of changes in commit order, even when one listener writes in reaction', async () => {
    const m = lease.mailbox.messages;
    // The first listener flags new mail at once (as a filter might); the second must still hear of the mail before its flags.
    const offA = lease.mailbox.onChange((c) => {
      if (c.type === 'exists') m.storeFlags(inbox, c.uids, 'add', ['\\Flagged']);
    });
    const seen: string[] = [];
    const offB = lease.mailbox.onChange((c) => seen.push(c.type));
    await m.appendManyDeferred(inbox, [{ raw: sampleMessage() }]).durable;
    m.append(inbox, sampleMessage());
    offA();
    offB();
    expect(seen).toEqual(['exists', 'flags', 'exists', 'flags']);
  });

  it('POP3: lists INBOX and commits deletions or hides them in keep mode', () => {
    const m = lease.mailbox.messages;
    for (let i = 0; i < 3; i++) m.append(inbox, sampleMessage());
    expect(m.pop3List(inbox).map((x) => x.uid)).toEqual([1, 2, 3]);
    m.pop3Commit(inbox, [1], true);
    expect(m.pop3List(inbox).map((x) => x.uid)).toEqual([2, 3]);
    expect(m.uids(inbox)).toEqual([1, 2, 3]);
    m.pop3Commit(inbox, [2], false);
    expect(m.uids(inbox)).toEqual([1, 3]);
  });
});

describe('dav objects', () => {
  it('puts with preconditions, refuses UID conflicts, and syncs changes and deletions', () => {
    const d = lease.mailbox.dav;
    const cal = d.collection('calendar', 'default')!;
    const start = d.changesSince(cal.id, 0).modseq;
    const a = d.put(cal.id, { name: 'a.ics', uid: 'u1', data: 'A1' });
    expect(a.created).toBe(true);
    expect(() => d.put(cal.id, { name: 'a.ics', uid: 'u1', data: 'A2', ifNoneMatch: '*' })).toThrow(/already exists/);
    expect(() => d.put(cal.id, { name: 'a.ics', uid: 'u1', data: 'A2', ifMatch: '"stale"' })).toThrow(/changed/);
    const a2 = d.put(cal.id, { name: 'a.ics', uid: 'u1', data: 'A2', ifMatch: a.etag });
    expect(a2.etag).not.toBe(a.etag);
    expect(() => d.put(cal.id, { name: 'b.ics', uid: 'u1', data: 'B' })).toThrow(/UID/);
    // RFC 4791 §5.3.2.1: an object keeps its UID; a new one under the same name is a conflict naming it.
    expect(() => d.put(cal.id, { name: 'a.ics', uid: 'u9', data: 'A3' })).toThrow(expect.objectContaining({ existingName: 'a.ics', replacing: true, collectionId: cal.id }));
    expect(d.object(cal.id, 'a.ics')!.data).toBe('A2');
    d.put(cal.id, { name: 'b.ics', uid: 'u2', data: 'B' });
    d.delete(cal.id, 'b.ics');
    const ch = d.changesSince(cal.id, start);
    expect(ch.changed.map((o) => o.name)).toEqual(['a.ics']);
    expect(ch.deleted).toEqual(['b.ics']);
    expect(d.changesSince(cal.id, ch.modseq)).toMatchObject({ changed: [], deleted: [] });
  });
});
