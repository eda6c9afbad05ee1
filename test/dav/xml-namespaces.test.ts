/**
 * XML namespaces in DAV bodies, both ways (issue 22 item 6, and xml:lang of
 * item 7): a prefix bound to the empty name is refused (Namespaces in XML
 * 1.0 §3, the case litmus calls propfind_invalid2), a property in no
 * namespace round-trips through PROPPATCH and PROPFIND (litmus propnullns),
 * and every reply parses under a strict namespace-aware reader — Haven
 * never writes xmlns:x0="". Dead properties keep xml:lang and their
 * attributes (RFC 4918 §4.3). Checked against the real server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseXml } from '../../node/dav/xml.js';
import { dav, startHarness, type DavHarness } from './helpers.js';

let h: DavHarness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

const CAL = '/dav/calendars/alice@example.test/default/';
const depth0 = { Depth: '0' };

/** A strict reader: our own parser refuses undeclared prefixes and prefixes bound to "". */
const strict = (xml: string) => parseXml(xml);

describe('Namespaces in XML 1.0 §3 on requests', () => {
  it('refuses xmlns:p="" with 400 (no prefix undeclaring), in PROPFIND and PROPPATCH alike', async () => {
    const pf = await dav(h, 'PROPFIND', CAL, { headers: depth0, body: '<?xml version="1.0"?><propfind xmlns="DAV:"><prop><bar:foo xmlns:bar=""/></prop></propfind>' });
    expect(pf.status).toBe(400);
    expect(pf.text).toMatch(/xmlns:bar="" is not allowed/);
    const pp = await dav(h, 'PROPPATCH', CAL, {
      body: '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><z:x xmlns:z="">1</z:x></D:prop></D:set></D:propertyupdate>',
    });
    expect(pp.status).toBe(400);
  });

  it('refuses rebinding the xml prefix and declaring xmlns', async () => {
    for (const decl of ['xmlns:xml="urn:other"', 'xmlns:xmlns="urn:other"', 'xmlns:p="http://www.w3.org/XML/1998/namespace"']) {
      const r = await dav(h, 'PROPFIND', CAL, { headers: depth0, body: `<propfind xmlns="DAV:" ${decl}><prop><getetag/></prop></propfind>` });
      expect(r.status, decl).toBe(400);
    }
  });

  it('accepts xmlns="" (undeclaring the default namespace is allowed)', async () => {
    const r = await dav(h, 'PROPFIND', CAL, { headers: depth0, body: '<D:propfind xmlns:D="DAV:"><D:prop><foo xmlns=""/><D:getetag/></D:prop></D:propfind>' });
    expect(r.status).toBe(207);
    strict(r.text);
    // The missing no-namespace property is named without any prefix bound to "".
    expect(r.text).not.toMatch(/xmlns:[a-z0-9]+=""/);
    expect(r.text).toContain('<foo xmlns=""/>');
  });
});

describe('a property in no namespace round-trips', () => {
  it('PROPPATCH sets <foo xmlns="">, PROPFIND returns it, and the reply is namespace-well-formed', async () => {
    const set = await dav(h, 'PROPPATCH', CAL, {
      body: '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><nonamespace xmlns="">randomvalue</nonamespace></D:prop></D:set></D:propertyupdate>',
    });
    expect(set.status).toBe(207);
    strict(set.text);
    expect(set.text).not.toMatch(/xmlns:[a-z0-9]+=""/);
    expect(set.text).toContain('HTTP/1.1 200 OK');
    const get = await dav(h, 'PROPFIND', CAL, { headers: depth0, body: '<D:propfind xmlns:D="DAV:"><D:prop><nonamespace xmlns=""/></D:prop></D:propfind>' });
    expect(get.status).toBe(207);
    const prop = strict(get.text).children[0].children.find((c) => c.local === 'propstat')!.children[0].children[0];
    expect(prop).toMatchObject({ ns: '', local: 'nonamespace', text: 'randomvalue' });
    const all = await dav(h, 'PROPFIND', CAL, { headers: depth0, body: '<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>' });
    strict(all.text);
    const names = await dav(h, 'PROPFIND', CAL, { headers: depth0, body: '<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>' });
    strict(names.text);
    expect(names.text).toContain('<nonamespace xmlns=""/>');
  });
});

describe('RFC 4918 §4.3: dead properties keep xml:lang and attributes', () => {
  it('returns the xml:lang set on the property, or inherited from <prop>, attributes of nested elements, and mixed content in order', async () => {
    const set = await dav(h, 'PROPPATCH', CAL, {
      body:
        '<D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://example.com/ns/"><D:set><D:prop xml:lang="fr">' +
        '<Z:title>Réunion</Z:title>' +
        '<Z:note xml:lang="en-GB">Meeting</Z:note>' +
        '<Z:authors><Z:a role="lead" Z:rank="1">Roy</Z:a><Z:a xml:lang="de">Jürgen</Z:a></Z:authors>' +
        '<Z:mixed>one <Z:b>two</Z:b> three &amp; four</Z:mixed>' +
        '</D:prop></D:set></D:propertyupdate>',
    });
    expect(set.status).toBe(207);
    const get = await dav(h, 'PROPFIND', CAL, {
      headers: depth0,
      body: '<D:propfind xmlns:D="DAV:" xmlns:Z="http://example.com/ns/"><D:prop><Z:title/><Z:note/><Z:authors/><Z:mixed/></D:prop></D:propfind>',
    });
    const props = strict(get.text).children[0].children.find((c) => c.local === 'propstat')!.children[0].children;
    const by = Object.fromEntries(props.map((p) => [p.local, p]));
    expect(by.title).toMatchObject({ ns: 'http://example.com/ns/', lang: 'fr', text: 'Réunion' });
    expect(by.note).toMatchObject({ lang: 'en-GB', text: 'Meeting' });
    const [lead, second] = by.authors.children;
    expect(lead).toMatchObject({ lang: 'fr', attrs: { role: 'lead' }, nsAttrs: [{ ns: 'http://example.com/ns/', local: 'rank', value: '1' }], text: 'Roy' });
    expect(second).toMatchObject({ lang: 'de', text: 'Jürgen' });
    // Mixed content keeps its order (text, element, text).
    expect(get.text).toContain('>one <b>two</b> three &amp; four</mixed>');
  });
});

describe('RFC 4791 §5.2.1: calendar-description returns the xml:lang it was set with', () => {
  it('keeps fr-CA from the RFC example through PROPPATCH, and drops it when set again without one', async () => {
    const set = (inner: string) =>
      dav(h, 'PROPPATCH', CAL, { body: `<D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>${inner}</D:prop></D:set></D:propertyupdate>` });
    const read = async () => {
      const r = await dav(h, 'PROPFIND', CAL, { headers: depth0, body: '<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-description/></D:prop></D:propfind>' });
      return strict(r.text).children[0].children.find((c) => c.local === 'propstat')!.children[0].children[0];
    };
    expect((await set('<C:calendar-description xml:lang="fr-CA">Calendrier de Mathilde Desruisseaux</C:calendar-description>')).status).toBe(207);
    expect(await read()).toMatchObject({ local: 'calendar-description', lang: 'fr-CA', text: 'Calendrier de Mathilde Desruisseaux' });
    await set('<C:calendar-description>Plain</C:calendar-description>');
    const plain = await read();
    expect(plain.text).toBe('Plain');
    expect(plain.lang).toBeUndefined();
  });
});
