/**
 * Basic authentication on every request (RFC 7617) with the store's warm
 * logins: a client sends the same credentials with each request, and the
 * server remembers a proven pair while the mailbox is open. These tests check
 * that remembering never outlives what the credentials prove: a changed
 * password, a revoked app password and a disabled account are refused on the
 * very next request, and failures still count against the sign-in limiter.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALICE, BOB, dav, startHarness, type DavHarness } from './helpers.js';

const A_CAL = '/dav/calendars/alice@example.test/default/';
let h: DavHarness;

beforeEach(async () => {
  h = await startHarness({ maxFailures: 3 });
});
afterEach(async () => h.close());

/** RFC 7617 §2: a server refusing credentials answers 401 with a Basic challenge naming its realm. */
function expectChallenge(r: { status: number; headers: Headers }): void {
  expect(r.status).toBe(401);
  expect(r.headers.get('www-authenticate')).toMatch(/^Basic realm="Haven"/);
}

describe('RFC 7617 Basic on every request, with warm logins', () => {
  it('§2: credentials proven on one request work on the next; after a password change the old ones get 401 at once', async () => {
    for (let i = 0; i < 3; i++) expect((await dav(h, 'PROPFIND', A_CAL, { headers: { Depth: '0' } })).status).toBe(207);
    await h.t.store.changePassword(ALICE.address, { password: ALICE.password }, 'the new password of alice');
    expectChallenge(await dav(h, 'PROPFIND', A_CAL, { headers: { Depth: '0' } }));
    const fresh = { address: ALICE.address, password: 'the new password of alice' };
    for (let i = 0; i < 2; i++) expect((await dav(h, 'PROPFIND', A_CAL, { user: fresh, headers: { Depth: '0' } })).status).toBe(207);
  });

  it('§2: a revoked app password gets 401 on the next request, while the account password goes on working', async () => {
    const app = await h.t.store.addAppPassword(ALICE.address, 'phone', ALICE.password);
    const phone = { address: ALICE.address, password: app.password };
    for (let i = 0; i < 3; i++) expect((await dav(h, 'PROPFIND', A_CAL, { user: phone, headers: { Depth: '0' } })).status).toBe(207);
    expect((await dav(h, 'PROPFIND', A_CAL, { headers: { Depth: '0' } })).status).toBe(207);
    h.t.store.revokeAppPassword(ALICE.address, app.id);
    expectChallenge(await dav(h, 'PROPFIND', A_CAL, { user: phone, headers: { Depth: '0' } }));
    expect((await dav(h, 'PROPFIND', A_CAL, { headers: { Depth: '0' } })).status).toBe(207);
  });

  it('a disabled account gets 401 on the next request', async () => {
    expect((await dav(h, 'PROPFIND', A_CAL, { headers: { Depth: '0' } })).status).toBe(207);
    expect((await dav(h, 'PROPFIND', A_CAL, { headers: { Depth: '0' } })).status).toBe(207);
    const id = h.t.store.directory.getAccount(ALICE.address)!.id;
    h.t.store.directory.updateAccount(id, { disabled: true });
    expectChallenge(await dav(h, 'PROPFIND', A_CAL, { headers: { Depth: '0' } }));
  });

  it('§2: first requests that arrive together share one login, yet each is judged on its own credentials, and each failure counts', async () => {
    const wrong = { ...ALICE, password: 'not the password' };
    const B_CAL = '/dav/calendars/bob@example.test/default/';
    const propfind = (user: typeof ALICE, path = A_CAL) => dav(h, 'PROPFIND', path, { user, headers: { Depth: '0' } });
    // All sent at once, before any login was proven: the right ones wait on the first right one, the wrong ones on the first wrong one.
    const replies = await Promise.all([...Array.from({ length: 8 }, () => propfind(ALICE)), propfind(wrong), propfind(wrong), ...Array.from({ length: 4 }, () => propfind(BOB, B_CAL))]);
    expect(replies.slice(0, 8).map((r) => r.status)).toEqual(Array(8).fill(207));
    for (const r of replies.slice(8, 10)) expectChallenge(r);
    expect(replies.slice(10).map((r) => r.status)).toEqual(Array(4).fill(207));
    // Both wrong ones were counted: with maxFailures 3, one more locks the address out, the right password too.
    expectChallenge(await propfind(wrong));
    expect((await propfind(ALICE)).status).toBe(429);
  });

  it('wrong passwords still count against the limiter while the right one is remembered, and the lockout covers the right one too', async () => {
    expect((await dav(h, 'PROPFIND', A_CAL, { headers: { Depth: '0' } })).status).toBe(207);
    for (let i = 0; i < 3; i++) expectChallenge(await dav(h, 'PROPFIND', A_CAL, { user: { ...ALICE, password: `wrong password ${i}` }, headers: { Depth: '0' } }));
    const r = await dav(h, 'PROPFIND', A_CAL, { headers: { Depth: '0' } });
    expect(r.status).toBe(429);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
