/**
 * @module node/mime/address
 * RFC 5322 address lists turned into IMAP ENVELOPE addresses (RFC 9051
 * §7.5.2): name / mailbox / host, with a group written as a start marker
 * (mailbox = group name, host = null) and an end marker (all null).
 * Lenient: unbalanced quotes, brackets and comments, obsolete routes and
 * names carried in comments all parse to something sensible.
 */
import { decodeWords } from './words.js';
import type { Address } from './types.js';

type TokenKind = 'atom' | 'quoted' | 'comment' | 'literal' | 'special';

interface Token {
  kind: TokenKind;
  /** Semantic text: quoted strings and comments without their delimiters and escapes. */
  text: string;
  /** Source text, for local parts that must keep their quotes. */
  raw: string;
}

const SPECIALS = '<>,;:@';

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  const n = s.length;
  let i = 0;
  while (i < n) {
    const c = s[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
    } else if (c === '"') {
      let text = '';
      let j = i + 1;
      while (j < n && s[j] !== '"') {
        if (s[j] === '\\' && j + 1 < n) j++;
        text += s[j];
        j++;
      }
      j = Math.min(j + 1, n);
      out.push({ kind: 'quoted', text, raw: s.slice(i, j) });
      i = j;
    } else if (c === '(') {
      let depth = 1;
      let text = '';
      let j = i + 1;
      while (j < n && depth > 0) {
        const d = s[j];
        if (d === '\\' && j + 1 < n) {
          text += s[j + 1];
          j += 2;
          continue;
        }
        if (d === '(') depth++;
        else if (d === ')' && --depth === 0) break;
        text += d;
        j++;
      }
      j = Math.min(j + 1, n);
      out.push({ kind: 'comment', text, raw: s.slice(i, j) });
      i = j;
    } else if (c === '[') {
      let j = s.indexOf(']', i + 1);
      j = j === -1 ? n : j + 1;
      out.push({ kind: 'literal', text: s.slice(i, j), raw: s.slice(i, j) });
      i = j;
    } else if (SPECIALS.includes(c)) {
      out.push({ kind: 'special', text: c, raw: c });
      i++;
    } else {
      let j = i + 1;
      while (j < n) {
        const d = s[j];
        if (d === ' ' || d === '\t' || d === '\r' || d === '\n' || d === '"' || d === '(' || d === '[' || SPECIALS.includes(d)) break;
        j++;
      }
      out.push({ kind: 'atom', text: s.slice(i, j), raw: s.slice(i, j) });
      i = j;
    }
  }
  return out;
}

/**
 * A display name from its words, one space between words. An unquoted '@'
 * is kept and glued to its neighbours: `user@example.com <user@example.com>`
 * is a common (invalid) way to write a name, and the name is the address.
 */
function phrase(tokens: Token[]): string | null {
  let s = '';
  let glue = false;
  for (const t of tokens) {
    if (t.kind === 'special' && t.text === '@') {
      s += '@';
      glue = true;
    } else if (t.kind === 'atom' || t.kind === 'quoted' || t.kind === 'literal') {
      s += (glue || s === '' ? '' : ' ') + t.text;
      glue = false;
    }
  }
  s = s.trim();
  return s === '' ? null : s;
}

function isSpecial(t: Token, c: string): boolean {
  return t.kind === 'special' && t.text === c;
}

/** One mailbox from its tokens (no group markers), or null when there is nothing there. */
function mailbox(tokens: Token[]): Address | null {
  let name: string | null = null;
  let spec: Token[];
  const lt = tokens.findIndex((t) => isSpecial(t, '<'));
  if (lt !== -1) {
    name = phrase(tokens.slice(0, lt));
    let gt = tokens.findIndex((t, k) => k > lt && isSpecial(t, '>'));
    if (gt === -1) gt = tokens.length;
    spec = tokens.slice(lt + 1, gt);
    if (name === null) {
      // `<a@b> "Name"` or `<a@b> Name` after the bracket: take what follows.
      name = phrase(tokens.slice(gt + 1));
    }
  } else {
    spec = tokens;
    // `user@host (Full Name)`: the comment is the only name there is.
    const comment = tokens.findLast((t) => t.kind === 'comment');
    if (comment && comment.text.trim() !== '') name = comment.text.trim();
  }
  spec = spec.filter((t) => t.kind !== 'comment' && !(t.kind === 'special' && t.text !== '@' && t.text !== ':' && t.text !== ','));
  // Obsolete source route `@a,@b:user@host` (RFC 5322 §4.4): up to the last ':' it is ENVELOPE's adl.
  let colon = -1;
  for (let k = spec.length - 1; k >= 0; k--) {
    if (isSpecial(spec[k], ':')) {
      colon = k;
      break;
    }
  }
  let route: string | undefined;
  if (colon !== -1) {
    const r = spec.slice(0, colon).map((t) => t.raw).join('');
    if (r.startsWith('@')) route = r;
    spec = spec.slice(colon + 1);
  }
  spec = spec.filter((t) => !isSpecial(t, ','));
  let at = -1;
  for (let k = spec.length - 1; k >= 0; k--) {
    if (isSpecial(spec[k], '@')) {
      at = k;
      break;
    }
  }
  // Without an '@' there is no local part to rebuild, only words (`To: John Smith`, `MAILER-DAEMON`).
  const local = at === -1 ? spec.map((t) => t.raw).join(' ') : spec.slice(0, at).map((t) => t.raw).join('');
  const host = at === -1 ? '' : spec.slice(at + 1).map((t) => t.raw).join('');
  if (name !== null) name = decodeWords(name);
  // No addr-spec at all (`foo <>`, a dangling `<`): nothing to address, so no address is made up for it
  // (RFC 9051 §7.5.2 has no form for a name alone).
  if (local === '' && host === '') return null;
  return route ? { name, route, mailbox: local, host } : { name, mailbox: local, host };
}

/** Bounds the work a hostile header can cause: addresses past this are dropped. */
const MAX_ADDRESSES = 1000;

/**
 * Parses an unfolded address-list header value into IMAP envelope addresses.
 * An unterminated group is closed at the end of the value.
 */
export function parseAddressList(value: string): Address[] {
  const tokens = tokenize(value);
  const out: Address[] = [];
  let current: Token[] = [];
  // Whether `current` already holds an '@' or '<', kept as we go so a run of
  // colons does not rescan it each time.
  let currentIsAddress = false;
  let inAngle = false;
  let inGroup = false;
  const flush = () => {
    if (current.length > 0 && out.length < MAX_ADDRESSES) {
      const a = mailbox(current);
      if (a) out.push(a);
    }
    current = [];
    currentIsAddress = false;
  };
  for (const t of tokens) {
    if (t.kind === 'special') {
      if (t.text === '<') inAngle = true;
      else if (t.text === '>') inAngle = false;
      else if (!inAngle && t.text === ',') {
        flush();
        continue;
      } else if (!inAngle && t.text === ':' && !inGroup && !currentIsAddress) {
        // `group-name: member, member;`
        out.push({ name: null, mailbox: phrase(current) ?? '', host: null });
        current = [];
        inGroup = true;
        continue;
      } else if (!inAngle && t.text === ';' && inGroup) {
        flush();
        out.push({ name: null, mailbox: null, host: null });
        inGroup = false;
        continue;
      }
    }
    if (t.kind === 'special' && (t.text === '@' || t.text === '<')) currentIsAddress = true;
    current.push(t);
  }
  flush();
  if (inGroup) out.push({ name: null, mailbox: null, host: null });
  return out;
}
