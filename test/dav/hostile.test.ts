/**
 * Hostile and broken input: real-world files that must be accepted as they
 * are, broken ones refused with the right precondition, size limits, XML
 * that could expand or nest without end, and paths that try to climb out.
 */
import https from 'node:https';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testTls } from '../helpers/store.js';
import { ALICE, basic, dav, startHarness, type DavHarness } from './helpers.js';

const FIX = join(import.meta.dirname, '..', 'fixtures', 'dav');
const CAL = '/dav/calendars/alice@example.test/default/';
const BOOK = '/dav/addressbooks/alice@example.test/default/';
let h: DavHarness;

beforeAll(async () => {
  h = await startHarness({ limits: { maxResourceSize: 64 * 1024, maxXmlBody: 32 * 1024 } });
});
afterAll(async () => h.close());

/** A request whose path goes out exactly as written (no URL normalization). */
function rawPath(method: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: h.port, servername: 'localhost', ca: testTls().cert, method, path, headers: { Authorization: basic(ALICE), Depth: '0' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

const precondition = (text: string): string | undefined => /<(?:cal|card|d):([a-z-]+)\/>/.exec(text)?.[1];

describe('real-world files', () => {
  it.each(['standup-berlin.ics', 'birthday-allday.ics', 'last-friday.ics'])('accepts %s and returns it byte for byte', async (file) => {
    const body = readFileSync(join(FIX, 'ics', file), 'utf8');
    const put = await dav(h, 'PUT', CAL + file, { body, headers: { 'Content-Type': 'text/calendar; charset=utf-8' } });
    expect(put.status).toBe(201);
    const get = await dav(h, 'GET', CAL + file);
    expect(get.text).toBe(body);
    expect(get.headers.get('etag')).toBe(put.headers.get('etag'));
  });
  it.each(['apple-v3.vcf', 'nextcloud-v4.vcf'])('accepts the contact %s', async (file) => {
    const body = readFileSync(join(FIX, 'vcf', file), 'utf8');
    const put = await dav(h, 'PUT', BOOK + file, { body, headers: { 'Content-Type': 'text/vcard' } });
    expect(put.status).toBe(201);
    expect((await dav(h, 'GET', BOOK + file)).text).toBe(body);
  });
  it('finds a grouped Apple EMAIL and a non-ASCII name with addressbook-query', async () => {
    const q = (prop: string, text: string) =>
      dav(h, 'REPORT', BOOK, {
        headers: { Depth: '1' },
        body: `<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/></D:prop><C:filter><C:prop-filter name="${prop}"><C:text-match match-type="contains">${text}</C:text-match></C:prop-filter></C:filter></C:addressbook-query>`,
      });
    expect((await q('EMAIL', 'johnny@')).text).toContain('apple-v3.vcf');
    const m = await q('FN', 'MÜLLER');
    expect(m.text).toContain('nextcloud-v4.vcf');
    expect(m.text).not.toContain('apple-v3.vcf');
  });
  it('refuses an Outlook export that carries METHOD (RFC 4791 §4.1)', async () => {
    const r = await dav(h, 'PUT', CAL + 'outlook.ics', { body: readFileSync(join(FIX, 'ics', 'outlook-floating.ics'), 'utf8'), headers: { 'Content-Type': 'text/calendar' } });
    expect(r.status).toBe(403);
    expect(precondition(r.text)).toBe('valid-calendar-object-resource');
  });
});

describe('broken files', () => {
  const expected: Record<string, [number, string]> = {
    'two-uids.ics': [403, 'valid-calendar-object-resource'],
    'bad-date.ics': [403, 'valid-calendar-data'],
    'no-uid.ics': [403, 'valid-calendar-object-resource'],
    'not-ical.ics': [403, 'valid-calendar-data'],
    'truncated.ics': [403, 'valid-calendar-data'],
    'todo-in-event-calendar.ics': [403, 'supported-calendar-component'],
    'no-uid.vcf': [403, 'valid-address-data'],
    'truncated.vcf': [403, 'valid-address-data'],
    'bad-version.vcf': [403, 'valid-address-data'],
    'calendar-as-vcard.vcf': [403, 'valid-address-data'],
  };
  it('covers every file in fixtures/dav/broken', () => {
    expect(readdirSync(join(FIX, 'broken')).sort()).toEqual(Object.keys(expected).sort());
  });
  it.each(Object.entries(expected))('refuses %s with %j and stores nothing', async (file, [status, pre]) => {
    const body = readFileSync(join(FIX, 'broken', file), 'utf8');
    const path = (file.endsWith('.vcf') ? BOOK : CAL) + file;
    const r = await dav(h, 'PUT', path, { body, headers: { 'Content-Type': file.endsWith('.vcf') ? 'text/vcard' : 'text/calendar' } });
    expect(r.status).toBe(status);
    expect(precondition(r.text)).toBe(pre);
    expect((await dav(h, 'GET', path)).status).toBe(404);
  });
  it('refuses an object larger than max-resource-size', async () => {
    const big = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'BEGIN:VEVENT', 'UID:big', 'DTSTART:20260101T000000Z', 'DESCRIPTION:' + 'x'.repeat(70 * 1024), 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
    const r = await dav(h, 'PUT', CAL + 'big.ics', { body: big, headers: { 'Content-Type': 'text/calendar' } });
    expect(r.status).toBe(403);
    expect(precondition(r.text)).toBe('max-resource-size');
  });
  it('If-None-Match: * on an existing object is 412 and leaves it alone', async () => {
    const body = readFileSync(join(FIX, 'ics', 'standup-berlin.ics'), 'utf8');
    const r = await dav(h, 'PUT', CAL + 'standup-berlin.ics', { body: body.replace('Standup', 'Hijack'), headers: { 'Content-Type': 'text/calendar', 'If-None-Match': '*' } });
    expect(r.status).toBe(412);
    expect((await dav(h, 'GET', CAL + 'standup-berlin.ics')).text).toBe(body);
  });
});

describe('hostile XML', () => {
  const propfind = (body: string) => dav(h, 'PROPFIND', '/dav/', { headers: { Depth: '0' }, body });
  it('refuses a billion-laughs DOCTYPE before expanding anything', async () => {
    const lol = `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">${Array.from({ length: 9 }, (_, i) => `<!ENTITY ${'b'.repeat(i + 1)} "${('&' + (i ? 'b'.repeat(i) : 'a') + ';').repeat(10)}">`).join('')}]><propfind xmlns="DAV:"><prop><x>&bbbbbbbbb;</x></prop></propfind>`;
    const r = await propfind(lol);
    expect(r.status).toBe(400);
    expect(r.text).toContain('DOCTYPE');
  });
  it('refuses an external entity reference', async () => {
    const r = await propfind('<propfind xmlns="DAV:"><prop><displayname>&xxe;</displayname></prop></propfind>');
    expect(r.status).toBe(400);
    expect(r.text).toContain('undeclared entity');
  });
  it('refuses nesting 1000 levels deep', async () => {
    const r = await propfind('<propfind xmlns="DAV:"><prop>' + '<a>'.repeat(1000) + '</a>'.repeat(1000) + '</prop></propfind>');
    expect(r.status).toBe(400);
    expect(r.text).toContain('nested deeper');
  });
  it('refuses an XML body over the limit with 413', async () => {
    const r = await propfind('<propfind xmlns="DAV:"><prop>' + '<displayname/>'.repeat(4000) + '</prop></propfind>');
    expect(r.status).toBe(413);
  });
  it('refuses undeclared prefixes and non-XML', async () => {
    expect((await propfind('<D:propfind><D:prop/></D:propfind>')).status).toBe(400);
    expect((await propfind('hello')).status).toBe(400);
  });
  it('reads any prefix the client picks, and a default namespace', async () => {
    const r = await propfind('<zz:propfind xmlns:zz="DAV:"><zz:prop><zz:current-user-principal/></zz:prop></zz:propfind>');
    expect(r.status).toBe(207);
    expect(r.text).toContain('<d:current-user-principal><d:href>/dav/principals/alice@example.test/</d:href>');
  });
});

describe('paths', () => {
  it.each([
    '/dav/calendars/alice@example.test/%2e%2e/',
    '/dav/calendars/alice@example.test/default/..%2f..%2fbob@example.test%2fdefault/',
    '/dav/calendars/alice@example.test/default/%2e%2e%2fx.ics',
    '/dav/calendars/alice@example.test/default/a%00b.ics',
    '/dav/calendars/alice@example.test//default/',
  ])('refuses %s', async (p) => {
    expect([400, 403, 404]).toContain(await rawPath('PROPFIND', p));
  });
  it('never serves a file from outside /dav/', async () => {
    expect(await rawPath('GET', '/dav/../../../../etc/passwd')).toBe(404);
    expect(await rawPath('GET', '/etc/passwd')).toBe(404);
  });
  it('accepts names with spaces and other escaped characters', async () => {
    const body = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:x', 'BEGIN:VEVENT', 'UID:space', 'DTSTAMP:20260101T000000Z', 'DTSTART:20260101T000000Z', 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
    expect((await dav(h, 'PUT', CAL + 'my%20event%2Bone.ics', { body, headers: { 'Content-Type': 'text/calendar' } })).status).toBe(201);
    const list = await dav(h, 'PROPFIND', CAL, { headers: { Depth: '1' }, body: '<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>' });
    expect(list.text).toContain(`<d:href>${CAL}my%20event%2Bone.ics</d:href>`);
  });
});
