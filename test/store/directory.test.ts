import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AccountExistsError, AliasExistsError, DomainExistsError, InvalidNameError, NotFoundError } from '../../node/store/index.js';
import { addAccount, makeTestStore, type TestStore } from '../helpers/store.js';

let t: TestStore;
beforeEach(() => {
  t = makeTestStore();
});
afterEach(() => t.cleanup());

describe('directory', () => {
  it('adds, lists and refuses duplicate or invalid domains', () => {
    const d = t.store.directory;
    d.addDomain('Example.TEST');
    expect(d.listDomains().map((x) => x.name)).toEqual(['example.test']);
    expect(() => d.addDomain('example.test')).toThrow(DomainExistsError);
    expect(() => d.addDomain('not a domain')).toThrow(InvalidNameError);
    expect(() => d.addDomain('-bad.example')).toThrow(InvalidNameError);
  });

  it('gives every new domain an active RSA DKIM key whose DNS value is the SPKI', () => {
    const d = t.store.directory;
    d.addDomain('example.test');
    const [k] = d.dkimKeys('example.test');
    expect(k.algorithm).toBe('rsa');
    expect(k.privateKeyPem).toMatch(/BEGIN PRIVATE KEY/);
    expect(Buffer.from(k.publicKeyDns, 'base64').length).toBeGreaterThan(250);
    const ed = d.addDkimKey('example.test', 'ed25519');
    expect(Buffer.from(ed.publicKeyDns, 'base64').length).toBe(32);
    expect(d.dkimKeys('example.test')).toHaveLength(2);
    d.retireDkimKey('example.test', k.selector);
    expect(d.dkimKeys('example.test').map((x) => x.selector)).toEqual([ed.selector]);
  });

  it('refuses duplicate accounts, accounts in unknown domains, and aliases that shadow accounts', async () => {
    await addAccount(t.store, 'alice@example.test');
    await expect(t.store.createAccount('ALICE@example.test', 'another password')).rejects.toBeInstanceOf(AccountExistsError);
    await expect(t.store.createAccount('bob@nowhere.test', 'a long password!')).rejects.toBeInstanceOf(NotFoundError);
    expect(() => t.store.directory.addAlias('alice@example.test', ['x@y.test'])).toThrow(AliasExistsError);
  });

  it('resolves accounts, aliases, plus-addresses and the catch-all, and never claims foreign domains', async () => {
    const { account } = await addAccount(t.store, 'alice@example.test');
    const d = t.store.directory;
    d.addAlias('sales@example.test', ['alice@example.test', 'partner@elsewhere.test']);
    expect(d.resolve('Alice@Example.Test')).toMatchObject({ kind: 'account', account: { id: account.id }, tag: null });
    expect(d.resolve('alice+news@example.test')).toMatchObject({ kind: 'account', tag: 'news' });
    expect(d.resolve('sales@example.test')).toMatchObject({ kind: 'alias', alias: { targets: ['alice@example.test', 'partner@elsewhere.test'] } });
    expect(d.resolve('nobody@example.test')).toBeNull();
    expect(d.resolve('alice@elsewhere.test')).toBeUndefined();
    expect(d.resolve('garbage')).toBeUndefined();
    d.addAlias('*@example.test', ['alice@example.test']);
    expect(d.resolve('nobody@example.test')).toMatchObject({ kind: 'alias', alias: { address: '*@example.test' } });
  });

  it('knows which addresses an account may send as', async () => {
    const { account } = await addAccount(t.store, 'alice@example.test');
    await addAccount(t.store, 'bob@example.test');
    const d = t.store.directory;
    d.addAlias('sales@example.test', ['alice@example.test']);
    d.addAlias('*@example.test', ['alice@example.test']);
    expect(d.ownsAddress(account.id, 'alice@example.test')).toBe(true);
    expect(d.ownsAddress(account.id, 'alice+x@example.test')).toBe(true);
    expect(d.ownsAddress(account.id, 'sales@example.test')).toBe(true);
    expect(d.ownsAddress(account.id, 'bob@example.test')).toBe(false);
    // A catch-all receives for everyone; it must not let its target send as anyone.
    expect(d.ownsAddress(account.id, 'random@example.test')).toBe(false);
    expect(d.ownsAddress(account.id, 'alice@elsewhere.test')).toBe(false);
  });

  it('will not remove a domain that still has accounts', async () => {
    await addAccount(t.store, 'alice@example.test');
    expect(() => t.store.directory.removeDomain('example.test')).toThrow(/still has 1 account/);
    t.store.removeAccount('alice@example.test');
    t.store.directory.removeDomain('example.test');
    expect(t.store.directory.listDomains()).toEqual([]);
  });
});
