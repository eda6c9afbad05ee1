/**
 * Authentication and isolation: Basic over TLS with account and app
 * passwords, the shared AuthLimiter, and every way one account might reach
 * another's collections, each refused without revealing data.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALICE, BOB, dav, event, startHarness, client, type DavHarness } from './helpers.js';

const A_CAL = '/dav/calendars/alice@example.test/default/';
const A_BOOK = '/dav/addressbooks/alice@example.test/default/';
const B_CAL = '/dav/calendars/bob@example.test/default/';
const SECRET = 'SECRET-SUMMARY-7731';
let h: DavHarness;

beforeAll(async () => {
  h = await startHarness({ maxFailures: 3 });
  const r = await dav(h, 'PUT', A_CAL + 'private.ics', { body: event('private-1', '20260301T100000Z', '20260301T110000Z', [`SUMMARY:${SECRET}`]), headers: { 'Content-Type': 'text/calendar' } });
  expect(r.status).toBe(201);
  const b = await dav(h, 'PUT', B_CAL + 'bobs.ics', { user: BOB, body: event('bob-1', '20260301T100000Z', '20260301T110000Z'), headers: { 'Content-Type': 'text/calendar' } });
  expect(b.status).toBe(201);
});
afterAll(async () => h.close());

describe('authentication', () => {
  it('asks for Basic credentials when none are sent', async () => {
    const r = await dav(h, 'PROPFIND', '/dav/', { user: null, headers: { Depth: '0' } });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toMatch(/^Basic realm="Haven"/);
  });
  it('refuses a wrong password with 401', async () => {
    expect((await dav(h, 'PROPFIND', '/dav/', { user: { ...ALICE, password: 'wrong password!' }, headers: { Depth: '0' } })).status).toBe(401);
  });
  it('accepts an app password', async () => {
    const app = await h.t.store.addAppPassword(ALICE.address, 'phone');
    const r = await dav(h, 'GET', A_CAL + 'private.ics', { user: { address: ALICE.address, password: app.password } });
    expect(r.status).toBe(200);
    expect(r.text).toContain(SECRET);
  });
  it('answers OPTIONS without credentials, so clients can probe capabilities', async () => {
    const r = await dav(h, 'OPTIONS', A_CAL, { user: null });
    expect(r.status).toBe(200);
    expect(r.headers.get('dav')).toContain('calendar-access');
  });
  it('redirects both well-known URLs to /dav/ without credentials', async () => {
    for (const p of ['/.well-known/caldav', '/.well-known/carddav']) {
      const r = await dav(h, 'PROPFIND', p, { user: null });
      // RFC 6764 §5 with RFC 9110 §15.4.9: 308 keeps the method and body for the client that follows it.
      expect(r.status).toBe(308);
      expect(r.headers.get('location')).toBe('/dav/');
    }
  });
});

describe('one account never reaches another', () => {
  const attempts: [string, string, Record<string, string>?, string?][] = [
    ['PROPFIND', '/dav/principals/alice@example.test/', { Depth: '0' }],
    ['PROPFIND', '/dav/calendars/alice@example.test/', { Depth: '1' }],
    ['PROPFIND', A_CAL, { Depth: '1' }],
    ['PROPFIND', A_BOOK, { Depth: '1' }],
    ['GET', A_CAL + 'private.ics'],
    ['HEAD', A_CAL + 'private.ics'],
    ['DELETE', A_CAL + 'private.ics'],
    ['DELETE', A_CAL],
    ['PROPPATCH', A_CAL, {}, '<propertyupdate xmlns="DAV:"><set><prop><displayname>pwned</displayname></prop></set></propertyupdate>'],
    ['MKCALENDAR', '/dav/calendars/alice@example.test/evil/'],
    ['REPORT', A_CAL, { Depth: '1' }, `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>`],
    ['REPORT', A_CAL, {}, '<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>'],
    ['MOVE', A_CAL + 'private.ics', { Destination: B_CAL + 'stolen.ics' }],
  ];
  it.each(attempts)('%s %s as bob is 404 and shows nothing', async (method, path, headers = {}, body) => {
    const r = await dav(h, method, path, { user: BOB, headers, body });
    expect(r.status).toBe(404);
    expect(r.text).not.toContain(SECRET);
    expect(r.text).not.toContain('private.ics');
  });
  it('PUT into alice\'s calendar as bob is 404', async () => {
    const r = await dav(h, 'PUT', A_CAL + 'planted.ics', { user: BOB, body: event('planted', '20260301T100000Z', '20260301T110000Z'), headers: { 'Content-Type': 'text/calendar' } });
    expect(r.status).toBe(404);
  });
  it('MOVE of bob\'s own object into alice\'s calendar is refused', async () => {
    const r = await dav(h, 'MOVE', B_CAL + 'bobs.ics', { user: BOB, headers: { Destination: `${h.base}${A_CAL}bobs.ics` } });
    expect(r.status).toBe(404);
    expect((await dav(h, 'GET', B_CAL + 'bobs.ics', { user: BOB })).status).toBe(200);
  });
  it('a multiget in bob\'s calendar naming alice\'s object answers 404 for it', async () => {
    const r = await dav(h, 'REPORT', B_CAL, {
      user: BOB,
      headers: { Depth: '1' },
      body: `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop><D:href>${A_CAL}private.ics</D:href><D:href>/dav/calendars/bob@example.test/default/../../alice@example.test/default/private.ics</D:href></C:calendar-multiget>`,
    });
    expect(r.status).toBe(207);
    expect(r.text).not.toContain(SECRET);
    expect(r.text.match(/404 Not Found/g)).toHaveLength(2);
  });
  it('tsdav discovery as bob finds only bob\'s calendars', async () => {
    const c = await client(h, BOB);
    const cals = await c.fetchCalendars();
    expect(cals.length).toBeGreaterThan(0);
    for (const cal of cals) expect(cal.url).toContain('/bob@example.test/');
  });
  it('after all that, alice\'s data is unchanged', async () => {
    const r = await dav(h, 'GET', A_CAL + 'private.ics');
    expect(r.text).toContain(SECRET);
    const list = await dav(h, 'PROPFIND', '/dav/calendars/alice@example.test/', { headers: { Depth: '1' }, body: '<propfind xmlns="DAV:"><prop><displayname/></prop></propfind>' });
    expect(list.text).not.toContain('evil');
    expect(list.text).not.toContain('pwned');
    expect((await dav(h, 'GET', A_CAL + 'planted.ics')).status).toBe(404);
  });
});

describe('the shared AuthLimiter', () => {
  it('locks an account out after repeated failures, even for the right password, with Retry-After', async () => {
    const victim = { address: 'carol@example.test', password: 'carol password 123' };
    const { addAccount } = await import('../helpers/store.js');
    await addAccount(h.t.store, victim.address, victim.password);
    for (let i = 0; i < h.limiter.opts.maxFailures; i++) {
      expect((await dav(h, 'PROPFIND', '/dav/', { user: { ...victim, password: `bad-${i}-password` }, headers: { Depth: '0' } })).status).toBe(401);
    }
    const r = await dav(h, 'PROPFIND', '/dav/', { user: victim, headers: { Depth: '0' } });
    expect(r.status).toBe(429);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
