/**
 * The directory's read cache (node/store/directory/read-cache.ts) seen from
 * a real SMTP client: the MX reads each recipient's domain, account, aliases
 * and Sieve scripts from memory, and every change (made by the node itself,
 * or committed by another connection to the file, as a CLI or a test might)
 * takes effect on the very next RCPT or delivery.
 *
 * RFC 5321 §3.3 and §4.2.2: RCPT is answered 250 for a recipient the server
 * accepts and 550 for one it will not accept (here 5.1.1 no such user,
 * RFC 3463; 5.7.1 for a domain it does not host); RFC 5429 §2.1: a Sieve
 * reject of a one-recipient message is a 550 to DATA.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEncrypted, type Store } from '../../node/store/index.js';
import { ReadCache } from '../../node/store/directory/read-cache.js';
import { addAccount, sampleMessage, type TestStore } from '../helpers/store.js';
import { client, MX_PASSWORD, startMxFixture, type MxFixture } from './harness.js';

let f: MxFixture;
let t: TestStore;
let store: Store;
let mx: MxFixture['mx'];

beforeAll(async () => {
  f = await startMxFixture({}, (dns) => dns.add('_dmarc.sender.test', { TXT: ['v=DMARC1; p=none'] }));
  ({ t, store, mx } = f);
  await addAccount(store, 'bob@example.test', MX_PASSWORD);
});

afterAll(() => f?.close());

/** One message to one recipient on its own connection: the reply code and text of the step that ended it. */
async function send(to: string, body = 'cache test'): Promise<{ code: number; text: string }> {
  try {
    const info = await client(mx.port).sendMail({
      envelope: { from: 'someone@sender.test', to: [to] },
      raw: sampleMessage({ from: 'someone@sender.test', to, subject: 'cache', body }),
    });
    return { code: Number(info.response.slice(0, 3)), text: info.response };
  } catch (err) {
    const e = err as { responseCode?: number; response?: string; message: string };
    // nodemailer names the recipient's own reply in `response` when RCPT failed.
    return { code: e.responseCode ?? 0, text: e.response ?? e.message };
  }
}

const id = (address: string) => store.directory.getAccount(address)!.id;

describe('RFC 5321 §3.3 RCPT after a directory change', () => {
  it('a disabled account is refused (550 5.1.1) on the next RCPT, and accepted again once re-enabled', async () => {
    expect((await send('alice@example.test')).code).toBe(250);
    expect((await send('alice@example.test')).code).toBe(250);
    store.directory.updateAccount(id('alice@example.test'), { disabled: true });
    const refused = await send('alice@example.test');
    expect(refused.code).toBe(550);
    expect(refused.text).toMatch(/5\.1\.1/);
    store.directory.updateAccount(id('alice@example.test'), { disabled: false });
    expect((await send('alice@example.test')).code).toBe(250);
  });

  it('a removed alias is refused on the next RCPT; a new one is accepted at once', async () => {
    store.directory.addAlias('team@example.test', ['alice@example.test']);
    expect((await send('team@example.test')).code).toBe(250);
    store.directory.removeAlias('team@example.test');
    const refused = await send('team@example.test');
    expect(refused.code).toBe(550);
    expect(refused.text).toMatch(/5\.1\.1/);
    // A name we refused a moment ago (a cached "nobody") becomes deliverable when it is added.
    store.directory.addAlias('team@example.test', ['bob@example.test']);
    expect((await send('team@example.test')).code).toBe(250);
  });

  it('a removed domain is no longer ours: the next RCPT is relay-denied (550 5.7.1)', async () => {
    store.directory.addDomain('brief.test');
    store.directory.addAlias('*@brief.test', ['alice@example.test']);
    expect((await send('anyone@brief.test')).code).toBe(250);
    store.directory.removeAlias('*@brief.test');
    store.directory.removeDomain('brief.test');
    const refused = await send('anyone@brief.test');
    expect(refused.code).toBe(550);
    expect(refused.text).toMatch(/5\.7\.1/);
  });

  it('a change committed by another connection to directory.db (a CLI opening the file) counts on the next RCPT', async () => {
    expect((await send('bob@example.test')).code).toBe(250);
    const other = openEncrypted(store.directory.path, t.masterKey);
    try {
      other.prepare('UPDATE accounts SET disabled = 1 WHERE address = ?').run('bob@example.test');
    } finally {
      other.close();
    }
    const refused = await send('bob@example.test');
    expect(refused.code).toBe(550);
    expect(refused.text).toMatch(/5\.1\.1/);
    store.directory.updateAccount(id('bob@example.test'), { disabled: false });
    expect((await send('bob@example.test')).code).toBe(250);
  });
});

describe('RFC 5429 §2.1 Sieve at the next delivery after a script change', () => {
  it('replacing the active script takes effect on the next message', async () => {
    const alice = id('alice@example.test');
    store.directory.sieve.put(alice, 'main', 'require "reject"; reject "not today";');
    store.directory.sieve.setActive(alice, 'main');
    const refused = await send('alice@example.test');
    expect(refused.code).toBe(550);
    expect(refused.text).toContain('not today');
    store.directory.sieve.put(alice, 'main', 'keep;');
    expect((await send('alice@example.test')).code).toBe(250);
    store.directory.sieve.put(alice, 'main', 'require "reject"; reject "again";');
    expect((await send('alice@example.test')).text).toContain('again');
    store.directory.sieve.setActive(alice, null);
    expect((await send('alice@example.test')).code).toBe(250);
  });

  it('adding and removing the domain\'s "before" script takes effect on the next message', async () => {
    expect((await send('bob@example.test')).code).toBe(250);
    store.directory.sieve.putDomainScript('example.test', 'before', 'require "reject"; reject "domain says no";');
    expect((await send('bob@example.test')).text).toContain('domain says no');
    store.directory.sieve.removeDomainScript('example.test', 'before');
    expect((await send('bob@example.test')).code).toBe(250);
  });
});

describe('the cache itself', () => {
  it('holds at most its bound, dropping the least recently used', () => {
    const cache = new ReadCache(store.directory.db, 3);
    let loads = 0;
    const get = (k: string) => cache.get('t', k, () => ++loads);
    get('a');
    get('b');
    get('c');
    get('a'); // a is now the most recent
    get('d'); // evicts b
    expect(cache.size).toBe(3);
    expect(loads).toBe(4);
    get('a');
    get('c');
    expect(loads).toBe(4);
    get('b');
    expect(loads).toBe(5);
  });

  it('reads through, keeping nothing, inside a transaction (its rows could yet be rolled back)', () => {
    const cache = new ReadCache(store.directory.db);
    let loads = 0;
    store.directory.db.transaction(() => {
      cache.get('t', 'x', () => ++loads);
      cache.get('t', 'x', () => ++loads);
    })();
    expect(loads).toBe(2);
    expect(cache.size).toBe(0);
  });
});
