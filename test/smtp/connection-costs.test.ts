/**
 * Shortcuts taken per connection and per message on the MX (issue 20), each
 * checked for the answer it must still give, through a real client:
 * - session ids from a pool of random bytes: RFC 5321 §4.4, the Received
 *   field's "id" clause names the transaction; ours also ends the 250 reply
 *   to DATA. Every connection gets its own, in smtp-server's shape.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../node/store/index.js';
import { sessionId } from '../../node/smtp/server.js';
import { startTestDns, type TestDns } from '../helpers/dns-server.js';
import { addAccount, makeTestStore, sampleMessage, type TestStore } from '../helpers/store.js';
import { baseDeps, client, publishDomain, startMx } from './harness.js';

let t: TestStore;
let store: Store;
let dns: TestDns;
let mx: { port: number; close(): Promise<void> };
const PW = 'correct horse battery';

beforeAll(async () => {
  t = makeTestStore({ keyMode: 'managed' });
  store = t.store;
  dns = await startTestDns();
  await addAccount(store, 'alice@example.test', PW);
  publishDomain(dns, store, 'example.test');
  dns.add('sender.test', { TXT: ['v=spf1 ip4:127.0.0.1 -all'] });
  dns.add('_dmarc.sender.test', { TXT: ['v=DMARC1; p=none'] });
  mx = await startMx(baseDeps(store, dns));
});

afterAll(async () => {
  await mx?.close();
  await dns?.close();
  t?.cleanup();
});

/** Every message in alice's INBOX, as stored. */
async function inbox(): Promise<string[]> {
  const lease = await store.openMailbox(store.directory.getAccount('alice@example.test')!.id);
  try {
    const f = lease.mailbox.folders.require('INBOX');
    return lease.mailbox.messages.list(f.id).map((m) => lease.mailbox.messages.raw(m.blobId).toString('latin1'));
  } finally {
    lease.release();
  }
}

async function send(raw: Buffer): Promise<string> {
  const info = await client(mx.port).sendMail({ envelope: { from: 'someone@sender.test', to: ['alice@example.test'] }, raw });
  return info.response;
}

describe('RFC 5321 §4.4 session ids', () => {
  it('are 16 base-32 characters and never repeat, across refills of the pool', () => {
    const ids = Array.from({ length: 2000 }, () => sessionId());
    for (const id of ids) expect(id).toMatch(/^[0-9a-v]{16}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('each connection names its message with its own id, in the 250 reply and the Received field', async () => {
    const replies: string[] = [];
    for (const marker of ['id-one', 'id-two', 'id-three']) replies.push(await send(sampleMessage({ from: 'someone@sender.test', subject: marker, body: marker })));
    const ids = replies.map((r) => /queued as ([0-9a-v]{16})\b/.exec(r)?.[1]);
    for (const id of ids) expect(id).toBeDefined();
    expect(new Set(ids).size).toBe(3);
    const stored = await inbox();
    for (const [i, marker] of ['id-one', 'id-two', 'id-three'].entries()) {
      const m = stored.find((x) => x.includes(marker))!;
      expect(m).toMatch(new RegExp(`^Received: from [^\\r]*\\r\\n\\tby mx\\.haven\\.test \\(Haven\\) with E?SMTPS?( \\([^)]*\\))? id ${ids[i]}\\b`));
    }
  });
});
