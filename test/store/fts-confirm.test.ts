/**
 * The trigram index without positions (mailbox schema migration 4,
 * detail=none) only proposes candidates; SEARCH still matches exact
 * substrings of the decoded text (RFC 9051 §6.4.4: "messages that contain
 * the specified string"), in the part the key names (BODY: the body; the
 * header keys: the header).
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Store } from '../../node/store/index.js';
import { trigramQuery } from '../../node/store/mailbox/search.js';
import { addAccount, makeTestStore, type TestStore } from '../helpers/store.js';

let t: TestStore;
let store: Store;
beforeEach(() => {
  t = makeTestStore();
  store = t.store;
});
afterEach(() => t.cleanup());

const msg = (subject: string, body: string) => Buffer.from(`From: a@example.test\r\nSubject: ${subject}\r\n\r\n${body}\r\n`);

it('confirms each candidate: all of a string\'s trigrams scattered in a message are no match', async () => {
  await addAccount(store, 'a@example.test', 'pw correct horse');
  const lease = await store.authenticate('a@example.test', 'pw correct horse');
  const m = lease.mailbox;
  const inbox = m.folders.require('INBOX').id;
  const [scattered, whole, inHeader] = m.messages.appendMany(inbox, [
    // "abca" and "xcab" hold abc, bca and cab, the trigrams of "abcab", but not "abcab".
    { raw: msg('one', 'abca xcab') },
    { raw: msg('two', 'here: ABCAB.') },
    { raw: msg('abcab in the subject', 'nothing') },
  ]);
  expect(trigramQuery('abcab')).toBe('"abc" AND "bca" AND "cab"');
  expect([...m.search.matchText(inbox, 'abcab', 'text')].sort()).toEqual([whole.uid, inHeader.uid].sort());
  expect([...m.search.matchText(inbox, 'abcab', 'body')]).toEqual([whole.uid]);
  expect([...m.search.matchText(inbox, 'abcab', 'headers')]).toEqual([inHeader.uid]);
  expect(m.search.matchText(inbox, 'abca', 'body')).toEqual(new Set([scattered.uid, whole.uid]));
  lease.release();
});

it('quotes every trigram, so a string with FTS5 syntax in it is looked for as text', () => {
  expect(trigramQuery('a"b*')).toBe('"a""b" AND """b*"');
});
