/**
 * Discovery and status codes (issue 22 items 3 and 7), against the real
 * server: the server root leads to the principal (RFC 6764 §6), the
 * well-known URLs redirect with 308 (RFC 6764 §5, RFC 9110 §15.4.9), the
 * principal collection lists the caller's principal (RFC 3744 §5.8), MKCOL
 * answers 409 and 415 where RFC 4918 §9.3.1 says, PROPFIND without Depth is
 * Depth: infinity (§9.1), MOVE that creates answers 201 with Location
 * (§9.9.4), and collections have a getcontentlength (§15.4).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseXml } from '../../node/dav/xml.js';
import { ALICE, dav, event, startHarness, type DavHarness } from './helpers.js';

let h: DavHarness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

const HOME = '/dav/calendars/alice@example.test/';
const CAL = `${HOME}default/`;
const PRINCIPAL = '/dav/principals/alice@example.test/';
const cup = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:current-user-principal/><D:principal-collection-set/></D:prop></D:propfind>';

describe('RFC 6764 §6: a client with no context path starts at "/"', () => {
  it('PROPFIND / answers with the current-user-principal', async () => {
    const r = await dav(h, 'PROPFIND', '/', { headers: { Depth: '0' }, body: cup });
    expect(r.status).toBe(207);
    expect(r.text).toContain('<d:href>/</d:href>');
    expect(r.text).toContain(`<d:current-user-principal><d:href>${PRINCIPAL}</d:href></d:current-user-principal>`);
  });
  it('asks for credentials there like anywhere else', async () => {
    expect((await dav(h, 'PROPFIND', '/', { user: null, headers: { Depth: '0' }, body: cup })).status).toBe(401);
  });
});

describe('RFC 6764 §5: well-known URLs', () => {
  it('redirect with 308, and the PROPFIND sent on unchanged to Location finds the principal', async () => {
    for (const p of ['/.well-known/caldav', '/.well-known/carddav']) {
      const r = await dav(h, 'PROPFIND', p, { headers: { Depth: '0' }, body: cup });
      expect(r.status).toBe(308);
      const next = await dav(h, 'PROPFIND', r.headers.get('location')!, { headers: { Depth: '0' }, body: cup });
      expect(next.status).toBe(207);
      expect(next.text).toContain(PRINCIPAL);
    }
  });
});

describe('RFC 3744 §5.8: the principal-collection-set is a collection that lists principals', () => {
  it('PROPFIND Depth 1 on /dav/principals/ lists the caller’s principal, and only it', async () => {
    const r = await dav(h, 'PROPFIND', '/dav/principals/', {
      headers: { Depth: '1' },
      body: '<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:displayname/></D:prop></D:propfind>',
    });
    expect(r.status).toBe(207);
    const hrefs = [...r.text.matchAll(/<d:href>([^<]+)<\/d:href>/g)].map((m) => m[1]);
    expect(hrefs).toEqual(['/dav/principals/', PRINCIPAL]);
    expect(r.text).toContain('<d:resourcetype><d:collection/><d:principal/></d:resourcetype>');
    expect(r.text).not.toContain('bob@');
  });
  it('the advertised principal-collection-set is that URL', async () => {
    const r = await dav(h, 'PROPFIND', PRINCIPAL, { headers: { Depth: '0' }, body: cup });
    expect(r.text).toContain('<d:principal-collection-set><d:href>/dav/principals/</d:href></d:principal-collection-set>');
  });
});

describe('RFC 4918 §9.3.1: MKCOL status codes', () => {
  it('409 under a missing parent collection (an intermediate is missing)', async () => {
    expect((await dav(h, 'MKCOL', `${HOME}missing/`)).status).toBe(201);
    expect((await dav(h, 'MKCOL', `${HOME}nowhere/child/`)).status).toBe(409);
    expect((await dav(h, 'MKCOL', `${HOME}missing/a/b/`)).status).toBe(409);
    expect((await dav(h, 'PUT', `${HOME}nowhere/x/y.ics`, { body: event('p-1', '20270101T100000Z', '20270101T110000Z'), headers: { 'Content-Type': 'text/calendar' } })).status).toBe(409);
  });
  it('403 inside a calendar (the parent exists but takes no collections), 405 on a mapped URL', async () => {
    expect((await dav(h, 'MKCOL', `${CAL}sub/`)).status).toBe(403);
    expect((await dav(h, 'MKCOL', CAL)).status).toBe(405);
  });
  it('415 for a body type the server does not read, 400 for XML it cannot parse', async () => {
    const weird = await dav(h, 'MKCOL', `${HOME}weird/`, { body: 'afafafaf', headers: { 'Content-Type': 'xzy-foo/bar-512' } });
    expect(weird.status).toBe(415);
    expect((await dav(h, 'PROPFIND', `${HOME}weird/`, { headers: { Depth: '0' } })).status).toBe(404);
    expect((await dav(h, 'MKCOL', `${HOME}broken/`, { body: '<D:mkcol xmlns:D="DAV:">', headers: { 'Content-Type': 'application/xml' } })).status).toBe(400);
  });
});

describe('RFC 4918 §9.1: PROPFIND without Depth is Depth: infinity', () => {
  it('is refused on a collection with propfind-finite-depth', async () => {
    const r = await h.fetch(h.base + CAL, { method: 'PROPFIND', headers: { Authorization: 'Basic ' + Buffer.from(`${ALICE.address}:${ALICE.password}`).toString('base64') } });
    expect(r.status).toBe(403);
    expect(await r.text()).toContain('<d:propfind-finite-depth/>');
  });
  it('is the object itself on an object, which has no members', async () => {
    await dav(h, 'PUT', `${CAL}d.ics`, { body: event('depth-1', '20270101T100000Z', '20270101T110000Z'), headers: { 'Content-Type': 'text/calendar' } });
    const r = await dav(h, 'PROPFIND', `${CAL}d.ics`, { body: '<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>' });
    expect(r.status).toBe(207);
    expect(r.text).toContain('<d:getetag>');
  });
  it('refuses a Depth that is not 0, 1 or infinity with 400', async () => {
    expect((await dav(h, 'PROPFIND', CAL, { headers: { Depth: '2' } })).status).toBe(400);
  });
});

describe('RFC 4918 §9.9.4: MOVE that makes a new mapping', () => {
  it('answers 201 with Location naming the destination', async () => {
    await dav(h, 'PUT', `${CAL}from.ics`, { body: event('move-1', '20270102T100000Z', '20270102T110000Z'), headers: { 'Content-Type': 'text/calendar' } });
    const r = await dav(h, 'MOVE', `${CAL}from.ics`, { headers: { Destination: `${h.base}${CAL}to.ics` } });
    expect(r.status).toBe(201);
    expect(r.headers.get('location')).toBe(`${CAL}to.ics`);
    expect((await dav(h, 'GET', r.headers.get('location')!)).text).toContain('UID:move-1');
  });
});

describe('RFC 4918 §15.4: getcontentlength on collections', () => {
  it('is the length of what GET on the collection answers', async () => {
    const pf = await dav(h, 'PROPFIND', CAL, { headers: { Depth: '0' }, body: '<D:propfind xmlns:D="DAV:"><D:prop><D:getcontentlength/></D:prop></D:propfind>' });
    const len = parseXml(pf.text).children[0].children.find((c) => c.local === 'propstat')!.children[0].children[0];
    expect(len.local).toBe('getcontentlength');
    const get = await h.fetch(h.base + CAL, { headers: { Authorization: 'Basic ' + Buffer.from(`${ALICE.address}:${ALICE.password}`).toString('base64') } });
    expect(Number(len.text)).toBe((await get.arrayBuffer()).byteLength);
    expect(pf.text).toContain('HTTP/1.1 200 OK');
  });
});
