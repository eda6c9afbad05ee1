/**
 * RFC 4791 §5.3.2.1 and RFC 6352 §6.3.2.1 no-uid-conflict (issue 22 item
 * 1), against the real server with the RFCs' examples as fixtures: a PUT
 * or MOVE that would put a second UID under one name, or one UID under two
 * names, is 403 with the precondition naming the resource in the way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALICE_BOOK as BOOK, ALICE_CAL as CAL, dav, ICS as ics, putAs, rfcFixture, startHarness, VCF as vcf, type DavHarness } from './helpers.js';

const BASTILLE = rfcFixture('rfc4791-5.3.2-bastille.ics');
const SIMON = rfcFixture('rfc6350-8-simon.vcf');

const OTHER = '/dav/calendars/alice@example.test/work/';

let h: DavHarness;
beforeAll(async () => {
  h = await startHarness();
  expect((await dav(h, 'MKCALENDAR', OTHER)).status).toBe(201);
});
afterAll(async () => h.close());

const put = (path: string, body: string, headers?: Record<string, string>) => putAs(h, path, body, headers);
const withUid = (text: string, uid: string) => text.replace(/^UID:.*$/m, `UID:${uid}`);

describe('RFC 4791 §5.3.2.1 and RFC 6352 §6.3.2.1: no-uid-conflict', () => {
  it('PUT over an object with another UID is 403 naming that object; nothing changes', async () => {
    expect((await put(CAL + 'qwue23489.ics', BASTILLE)).status).toBe(201);
    const r = await put(CAL + 'qwue23489.ics', withUid(BASTILLE, 'another-uid@example.com'));
    expect(r.status).toBe(403);
    expect(r.text).toContain(`<cal:no-uid-conflict><d:href>${CAL}qwue23489.ics</d:href></cal:no-uid-conflict>`);
    expect((await dav(h, 'GET', CAL + 'qwue23489.ics')).text).toBe(BASTILLE);
    // The same UID under the same name is an ordinary update.
    expect((await put(CAL + 'qwue23489.ics', BASTILLE.replace('Bastille Day Party', 'Bastille Day Ball'))).status).toBe(204);
  });

  it('PUT of a UID another name already holds is 403 naming the holder', async () => {
    const r = await put(CAL + 'copy.ics', BASTILLE);
    expect(r.status).toBe(403);
    expect(r.text).toContain(`<d:href>${CAL}qwue23489.ics</d:href>`);
  });

  it('MOVE over an object with another UID is 403 naming it, and both objects stay', async () => {
    expect((await put(OTHER + 'theirs.ics', withUid(BASTILLE, 'theirs@example.com'))).status).toBe(201);
    const r = await dav(h, 'MOVE', CAL + 'qwue23489.ics', { headers: { Destination: `${h.base}${OTHER}theirs.ics` } });
    expect(r.status).toBe(403);
    expect(r.text).toContain(`<cal:no-uid-conflict><d:href>${OTHER}theirs.ics</d:href></cal:no-uid-conflict>`);
    expect((await dav(h, 'GET', CAL + 'qwue23489.ics')).status).toBe(200);
    expect((await dav(h, 'GET', OTHER + 'theirs.ics')).text).toContain('UID:theirs@example.com');
  });

  it('MOVE into a calendar where another name holds the UID is 403 naming that name', async () => {
    expect((await put(OTHER + 'twin.ics', BASTILLE)).status).toBe(201);
    const r = await dav(h, 'MOVE', CAL + 'qwue23489.ics', { headers: { Destination: `${h.base}${OTHER}elsewhere.ics` } });
    expect(r.status).toBe(403);
    expect(r.text).toContain(`<d:href>${OTHER}twin.ics</d:href>`);
  });

  it('address books: a vCard (RFC 6350 §8) put over another UID is 403 with CARDDAV:no-uid-conflict', async () => {
    expect((await put(BOOK + 'simon.vcf', SIMON, vcf)).status).toBe(201);
    const r = await put(BOOK + 'simon.vcf', withUid(SIMON, 'urn:uuid:00000000-0000-0000-0000-000000000001'), vcf);
    expect(r.status).toBe(403);
    expect(r.text).toContain(`<card:no-uid-conflict><d:href>${BOOK}simon.vcf</d:href></card:no-uid-conflict>`);
  });
});
