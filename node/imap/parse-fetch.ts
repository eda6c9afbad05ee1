/**
 * @module node/imap/parse-fetch
 * FETCH's grammar (RFC 9051 §6.4.5, with CONDSTORE/QRESYNC's modifiers, RFC
 * 7162 §3.1.4 and §3.2.6): fetch attributes, section specs and partials, the
 * ALL/FAST/FULL macros. NOTIFY's MessageNew reuses the attribute grammar.
 */
import type { Section } from '../mime/index.js';
import { bad, type Cursor } from './cursor.js';
import type { Command } from './parse.js';

export type FetchAtt =
  | { kind: 'FLAGS' | 'UID' | 'INTERNALDATE' | 'RFC822.SIZE' | 'ENVELOPE' | 'BODYSTRUCTURE' | 'BODY' | 'MODSEQ' | 'RFC822' | 'RFC822.HEADER' | 'RFC822.TEXT' }
  | { kind: 'BODY[]' | 'BINARY[]'; peek: boolean; section: Section; partial?: { start: number; length: number } }
  | { kind: 'BINARY.SIZE'; section: Section };

function section(c: Cursor): Section {
  const part: number[] = [];
  const s: Section = { path: part };
  while (/\d/.test(c.peek())) {
    part.push(c.nzNumber('part number'));
    if (!c.take('.')) return s;
  }
  if (c.peek() === ']') {
    if (part.length) bad('a section may not end with "."');
    return s;
  }
  const t = c.atom('section text').toUpperCase();
  if (t === 'HEADER' || t === 'TEXT') s.text = t;
  else if (t === 'MIME' && part.length) s.text = 'MIME';
  else if (t === 'HEADER.FIELDS' || t === 'HEADER.FIELDS.NOT') {
    s.text = t;
    c.sp();
    s.fields = c.list(() => c.astring().toLowerCase(), false);
  } else bad(`unknown section ${t}`);
  return s;
}

const FETCH_MACROS: Record<string, FetchAtt['kind'][]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};
const SIMPLE_ATTS = new Set(['FLAGS', 'UID', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODYSTRUCTURE', 'BODY', 'MODSEQ', 'RFC822', 'RFC822.HEADER', 'RFC822.TEXT']);

export function fetchAtt(c: Cursor): FetchAtt {
  let name = c.word('fetch item').toUpperCase();
  const peek = name === 'BODY.PEEK' || name === 'BINARY.PEEK';
  if (c.take('[')) {
    if (!['BODY', 'BODY.PEEK', 'BINARY', 'BINARY.PEEK', 'BINARY.SIZE'].includes(name)) bad(`${name} takes no section`);
    const binary = name.startsWith('BINARY');
    let sec: Section;
    if (binary) {
      const part: number[] = [];
      while (/\d/.test(c.peek())) {
        part.push(c.nzNumber('part number'));
        if (!c.take('.')) break;
      }
      sec = { path: part };
    } else sec = section(c);
    c.expect(']');
    if (name === 'BINARY.SIZE') return { kind: 'BINARY.SIZE', section: sec };
    const att: FetchAtt = { kind: binary ? 'BINARY[]' : 'BODY[]', peek, section: sec };
    if (c.take('<')) {
      const start = c.number('offset');
      c.expect('.');
      att.partial = { start, length: c.nzNumber('length') };
      c.expect('>');
    }
    return att;
  }
  if (name === 'BODY.PEEK' || name === 'BINARY' || name === 'BINARY.PEEK' || name === 'BINARY.SIZE') bad(`${name} needs a section in []`);
  if (!SIMPLE_ATTS.has(name)) bad(`unknown FETCH item ${name}`);
  name = name as string;
  return { kind: name as 'FLAGS' };
}

export function parseFetch(c: Cursor, tag: string): Extract<Command, { name: 'FETCH' }> {
  c.sp();
  const set = c.seqSet();
  c.sp();
  let atts: FetchAtt[];
  if (c.peek() === '(') atts = c.list(() => fetchAtt(c), false);
  else {
    const save = c.peek();
    void save;
    const macro = Object.keys(FETCH_MACROS).find((m) => c.takeCi(m) && (c.peek() === '' || c.peek() === ' '));
    atts = macro ? FETCH_MACROS[macro].map((k) => ({ kind: k }) as FetchAtt) : [fetchAtt(c)];
  }
  let changedSince: number | null = null;
  let vanished = false;
  if (c.take(' ')) {
    c.list(() => {
      const m = c.atom('modifier').toUpperCase();
      if (m === 'CHANGEDSINCE') {
        c.sp();
        changedSince = c.modseq();
      } else if (m === 'VANISHED') vanished = true;
      else bad(`unknown FETCH modifier ${m}`);
    }, false);
  }
  return { tag, name: 'FETCH', set, atts, changedSince, vanished };
}
