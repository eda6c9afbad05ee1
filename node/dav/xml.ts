/**
 * @module node/dav/xml
 * A small namespace-aware XML reader for request bodies and an escaping
 * writer for responses. Our own on purpose: DAV bodies are tiny, and owning
 * the reader means DOCTYPE, entity declarations and deep nesting are refused
 * before anything is expanded (no billion laughs, no XXE), and element names
 * are resolved to {namespace, local} so any prefix a client picks works.
 */

export interface XmlElement {
  ns: string;
  local: string;
  /** Attributes without a prefix (the only kind DAV's own elements use), by name. */
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
  /** Prefixed attributes other than xmlns and xml:lang, resolved to their namespace. */
  nsAttrs?: { ns: string; local: string; value: string }[];
  /** The xml:lang in scope here (RFC 4918 §4.3: dead properties keep it). */
  lang?: string;
  /** Text and elements in document order, only when both occur (mixed content, kept for dead properties). */
  mixed?: (string | XmlElement)[];
}

export class XmlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XmlError';
  }
}

export const DAV = 'DAV:';
export const CALDAV = 'urn:ietf:params:xml:ns:caldav';
export const CARDDAV = 'urn:ietf:params:xml:ns:carddav';
export const CS = 'http://calendarserver.org/ns/';
export const APPLE = 'http://apple.com/ns/ical/';
const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';

export interface XmlLimits {
  maxDepth: number;
  maxElements: number;
}
const DEFAULT_LIMITS: XmlLimits = { maxDepth: 32, maxElements: 20_000 };

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);|&/g, (m, ref: string | undefined) => {
    if (!ref) throw new XmlError('a bare "&" in XML text; escape it as &amp;');
    if (ref[0] === '#') {
      const cp = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      if (!(cp > 0 && cp <= 0x10ffff)) throw new XmlError(`invalid character reference ${m}`);
      return String.fromCodePoint(cp);
    }
    const v = PREDEFINED[ref];
    if (v === undefined) throw new XmlError(`undeclared entity ${m}: DAV requests may use only the five predefined XML entities`);
    return v;
  });
}

const NAME = /^[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?/;

/**
 * Namespaces in XML 1.0 §3: a prefix cannot be bound to the empty name
 * (only the default namespace can be undeclared, with xmlns=""), "xml"
 * belongs to its own namespace only, and "xmlns" is never declared.
 */
function checkDeclaration(attr: string, value: string): void {
  if (attr === 'xmlns') {
    if (value === XML_NS || value === XMLNS_NS) throw new XmlError(`the default namespace cannot be ${value}`);
    return;
  }
  const prefix = attr.slice(6);
  if (value === '') throw new XmlError(`${attr}="" is not allowed: a prefix cannot be bound to an empty namespace name (Namespaces in XML 1.0 §3)`);
  if (prefix === 'xmlns') throw new XmlError('the xmlns prefix cannot be declared');
  if ((prefix === 'xml') !== (value === XML_NS)) throw new XmlError('the xml prefix and the XML namespace belong only to each other');
  if (value === XMLNS_NS) throw new XmlError(`${value} cannot be bound to a prefix`);
}

/** Parses a complete document; throws XmlError on anything it will not accept. */
export function parseXml(src: string, limits: XmlLimits = DEFAULT_LIMITS): XmlElement {
  let i = 0;
  let elements = 0;
  const n = src.length;
  if (src.charCodeAt(0) === 0xfeff) i = 1;

  const skipMisc = (): void => {
    for (;;) {
      while (i < n && /\s/.test(src[i])) i++;
      if (src.startsWith('<?', i)) {
        const e = src.indexOf('?>', i);
        if (e < 0) throw new XmlError('unterminated processing instruction');
        i = e + 2;
      } else if (src.startsWith('<!--', i)) {
        const e = src.indexOf('-->', i);
        if (e < 0) throw new XmlError('unterminated comment');
        i = e + 3;
      } else if (src.startsWith('<!', i) && !src.startsWith('<![CDATA[', i)) {
        throw new XmlError('DOCTYPE and entity declarations are not accepted in DAV requests; send plain XML');
      } else return;
    }
  };

  type Raw = { qname: string; attrs: [string, string][]; children: Raw[]; text: string; nsMap: Map<string, string>; lang?: string; parts: (string | Raw)[] };

  const parseElement = (depth: number, parentNs: Map<string, string>, parentLang?: string): Raw => {
    if (depth > limits.maxDepth) throw new XmlError(`XML nested deeper than ${limits.maxDepth} levels; DAV requests are never that deep`);
    if (++elements > limits.maxElements) throw new XmlError(`more than ${limits.maxElements} XML elements in one request; split it`);
    if (src[i] !== '<') throw new XmlError(`expected an element at offset ${i}`);
    i++;
    const m = NAME.exec(src.slice(i, i + 256));
    if (!m) throw new XmlError(`bad element name at offset ${i}`);
    const qname = m[0];
    i += qname.length;
    const attrs: [string, string][] = [];
    for (;;) {
      while (i < n && /\s/.test(src[i])) i++;
      if (src[i] === '/' || src[i] === '>') break;
      const am = NAME.exec(src.slice(i, i + 256));
      if (!am) throw new XmlError(`bad attribute at offset ${i}`);
      i += am[0].length;
      while (/\s/.test(src[i] ?? '')) i++;
      if (src[i] !== '=') throw new XmlError(`attribute ${am[0]} has no value`);
      i++;
      while (/\s/.test(src[i] ?? '')) i++;
      const q = src[i];
      if (q !== '"' && q !== "'") throw new XmlError(`attribute ${am[0]} is not quoted`);
      const e = src.indexOf(q, i + 1);
      if (e < 0) throw new XmlError('unterminated attribute value');
      const raw = src.slice(i + 1, e);
      if (raw.includes('<')) throw new XmlError('"<" inside an attribute value');
      attrs.push([am[0], decodeEntities(raw)]);
      i = e + 1;
    }
    let nsMap = parentNs;
    let lang = parentLang;
    for (const [k, v] of attrs) {
      if (k === 'xml:lang') lang = v;
      if (k === 'xmlns' || k.startsWith('xmlns:')) {
        checkDeclaration(k, v);
        if (nsMap === parentNs) nsMap = new Map(parentNs);
        nsMap.set(k === 'xmlns' ? '' : k.slice(6), v);
      }
    }
    const el: Raw = { qname, attrs, children: [], text: '', nsMap, lang, parts: [] };
    const addText = (t: string): void => {
      text += t;
      const last = el.parts.length - 1;
      if (last >= 0 && typeof el.parts[last] === 'string') el.parts[last] += t;
      else el.parts.push(t);
    };
    if (src[i] === '/') {
      if (src[i + 1] !== '>') throw new XmlError(`expected "/>" at offset ${i}`);
      i += 2;
      return el;
    }
    i++;
    let text = '';
    for (;;) {
      if (i >= n) throw new XmlError(`element <${qname}> is not closed`);
      const lt = src.indexOf('<', i);
      if (lt < 0) throw new XmlError(`element <${qname}> is not closed`);
      if (lt > i) addText(decodeEntities(src.slice(i, lt)));
      i = lt;
      if (src.startsWith('</', i)) {
        const e = src.indexOf('>', i);
        if (e < 0) throw new XmlError('unterminated end tag');
        const closing = src.slice(i + 2, e).trim();
        if (closing !== qname) throw new XmlError(`</${closing}> closes <${qname}>`);
        i = e + 1;
        el.text = text;
        return el;
      }
      if (src.startsWith('<![CDATA[', i)) {
        const e = src.indexOf(']]>', i);
        if (e < 0) throw new XmlError('unterminated CDATA section');
        addText(src.slice(i + 9, e));
        i = e + 3;
      } else if (src.startsWith('<!--', i)) {
        const e = src.indexOf('-->', i);
        if (e < 0) throw new XmlError('unterminated comment');
        i = e + 3;
      } else if (src.startsWith('<?', i)) {
        const e = src.indexOf('?>', i);
        if (e < 0) throw new XmlError('unterminated processing instruction');
        i = e + 2;
      } else if (src.startsWith('<!', i)) {
        throw new XmlError('declarations are not accepted inside DAV requests');
      } else {
        const c = parseElement(depth + 1, nsMap, lang);
        el.children.push(c);
        el.parts.push(c);
      }
    }
  };

  const resolve = (r: Raw): XmlElement => {
    const colon = r.qname.indexOf(':');
    const prefix = colon < 0 ? '' : r.qname.slice(0, colon);
    const local = colon < 0 ? r.qname : r.qname.slice(colon + 1);
    const ns = r.nsMap.get(prefix);
    if (ns === undefined && prefix) throw new XmlError(`undeclared namespace prefix "${prefix}"`);
    const attrs: Record<string, string> = {};
    const nsAttrs: { ns: string; local: string; value: string }[] = [];
    for (const [k, v] of r.attrs) {
      if (k === 'xmlns' || k.startsWith('xmlns:') || k === 'xml:lang') continue;
      const c = k.indexOf(':');
      if (c < 0) {
        attrs[k] = v;
        continue;
      }
      const ans = r.nsMap.get(k.slice(0, c));
      if (ans === undefined) throw new XmlError(`undeclared namespace prefix "${k.slice(0, c)}" on attribute ${k}`);
      nsAttrs.push({ ns: ans, local: k.slice(c + 1), value: v });
    }
    const children = r.children.map(resolve);
    const el: XmlElement = { ns: ns ?? '', local, attrs, children, text: r.text };
    if (children.length && r.text.trim()) el.mixed = r.parts.map((p) => (typeof p === 'string' ? p : children[r.children.indexOf(p)]));
    if (nsAttrs.length) el.nsAttrs = nsAttrs;
    if (r.lang !== undefined) el.lang = r.lang;
    return el;
  };

  skipMisc();
  if (i >= n) throw new XmlError('empty XML body');
  const root = parseElement(1, new Map([['xml', XML_NS]]));
  skipMisc();
  if (i < n) throw new XmlError('content after the root element');
  return resolve(root);
}

export function child(el: XmlElement, ns: string, local: string): XmlElement | undefined {
  return el.children.find((c) => c.ns === ns && c.local === local);
}
export function childrenOf(el: XmlElement, ns: string, local: string): XmlElement[] {
  return el.children.filter((c) => c.ns === ns && c.local === local);
}
export function is(el: XmlElement, ns: string, local: string): boolean {
  return el.ns === ns && el.local === local;
}

// ------------------------------------------------------------------ writer

const NEEDS_ESCAPE = /[<>&"]/;

export function escapeXml(s: string): string {
  // Calendar and contact data rarely holds any of these: skip the replace (and its copy) then.
  if (!NEEDS_ESCAPE.test(s)) return s;
  return s.replace(/[<>&"]/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : '&quot;'));
}

/** Fixed prefixes for the namespaces we answer in; others get n0, n1... */
const PREFIXES: Record<string, string> = { [DAV]: 'd', [CALDAV]: 'cal', [CARDDAV]: 'card', [CS]: 'cs', [APPLE]: 'ical' };

export class XmlWriter {
  private readonly extra = new Map<string, string>();
  prefix(ns: string): string {
    const p = PREFIXES[ns];
    if (p) return p;
    let q = this.extra.get(ns);
    if (!q) {
      q = `x${this.extra.size}`;
      this.extra.set(ns, q);
    }
    return q;
  }
  /**
   * `<p:local/>` or with content (already serialized). An element in no
   * namespace is written unprefixed with xmlns="" (a prefix bound to "" is
   * not XML, and strict parsers drop the whole document over it). `attrs`
   * is serialized attributes, each with its leading space.
   */
  el(ns: string, local: string, content?: string, attrs = ''): string {
    const q = ns === '' ? local : `${this.prefix(ns)}:${local}`;
    const head = ns === '' ? `${q} xmlns=""${attrs}` : `${q}${attrs}`;
    return content === undefined || content === '' ? `<${head}/>` : `<${head}>${content}</${q}>`;
  }
  text(ns: string, local: string, value: string): string {
    return this.el(ns, local, escapeXml(value));
  }
  /** The whole document, declaring every namespace used on the root. */
  document(ns: string, local: string, content: string): string {
    return this.start(ns, local, content) + content + this.end(ns, local);
  }
  /**
   * The XML declaration and the root's start tag, declaring every namespace
   * `content` uses (the Apple namespace only when it does, or `ical` says it will).
   */
  start(ns: string, local: string, content: string, ical = false): string {
    const q = `${this.prefix(ns)}:${local}`;
    const decls = [`xmlns:d="DAV:"`, `xmlns:cal="${CALDAV}"`, `xmlns:card="${CARDDAV}"`, `xmlns:cs="${CS}"`];
    if (ical || content.includes('<ical:')) decls.push(`xmlns:ical="${APPLE}"`);
    for (const [u, p] of this.extra) decls.push(`xmlns:${p}="${escapeXml(u)}"`);
    return `<?xml version="1.0" encoding="utf-8"?>\n<${q} ${decls.join(' ')}>`;
  }
  end(ns: string, local: string): string {
    return `</${this.prefix(ns)}:${local}>\n`;
  }
}

/**
 * Serializes a parsed element as a self-contained fragment (default
 * namespace declared where it changes, prefixed attributes with their own
 * declarations), so dead properties stored by PROPPATCH come back valid
 * under any prefix map. RFC 4918 §4.3: the xml:lang in scope of the
 * property element, every attribute below it and mixed content are kept.
 */
export function serializeStandalone(el: XmlElement, parent?: { ns: string; lang?: string }): string {
  let head = el.local;
  if (!parent || el.ns !== parent.ns) head += ` xmlns="${escapeXml(el.ns)}"`;
  if (el.lang !== undefined && el.lang !== parent?.lang) head += ` xml:lang="${escapeXml(el.lang)}"`;
  for (const [k, v] of Object.entries(el.attrs)) head += ` ${k}="${escapeXml(v)}"`;
  (el.nsAttrs ?? []).forEach((a, n) => (head += ` xmlns:a${n}="${escapeXml(a.ns)}" a${n}:${a.local}="${escapeXml(a.value)}"`));
  const inner = el.mixed
    ? el.mixed.map((p) => (typeof p === 'string' ? escapeXml(p) : serializeStandalone(p, el))).join('')
    : el.children.map((c) => serializeStandalone(c, el)).join('') + (el.children.length ? '' : escapeXml(el.text));
  return inner ? `<${head}>${inner}</${el.local}>` : `<${head}/>`;
}
