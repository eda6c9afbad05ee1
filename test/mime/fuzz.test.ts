/**
 * @module test/mime/fuzz
 * Bounded, seeded fuzzing of the parser: random bytes and mutations of the
 * fixture corpus. The unguarded parser is used so any exception surfaces
 * (parseMessage itself would swallow it). Checks that offsets stay inside
 * the message, nested ranges nest and siblings are ordered, the structural
 * promises in parse.ts hold, every part path resolves, and the result
 * survives JSON (it is stored as JSON).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseMessageUnguarded } from '../../node/mime/parse.js';
import { decodeBody, sectionBytes, type MimePart } from '../../node/mime/index.js';
import { rng } from '../helpers/rng.js';

const dir = new URL('../fixtures/mime/', import.meta.url);
const corpus = readdirSync(dir)
  .filter((f) => f.endsWith('.eml'))
  .sort()
  .map((f) => readFileSync(new URL(f, dir)));

const SNIPPETS = [
  '\r\n', '\n', '\r', '--', '--b1', '--b1--', '--outer\r\n', '--inner--', ':', ';', '"', '(', ')', '<', '>', '=?', '?=',
  '=?utf-8?B?', '=?iso-8859-1?q?=E9?=', '\r\n\r\n', ' ', '\t', '=', '=\r\n', '\0', '\xff',
  'Content-Type: multipart/mixed; boundary=b1\r\n', 'Content-Type: message/rfc822\r\n', 'Content-Type: multipart/digest; boundary=d\r\n',
  "name*0*=utf-8''%E2%82", 'Content-Transfer-Encoding: base64\r\n', 'To: g: a@b, c@d;\r\n', 'Subject: Re: [x] (fwd)\r\n',
].map((s) => Buffer.from(s, 'latin1'));

function mutate(src: Buffer, r: () => number): Buffer {
  let b = Buffer.from(src);
  const ops = 1 + Math.floor(r() * 6);
  for (let k = 0; k < ops; k++) {
    const pos = Math.floor(r() * (b.length + 1));
    const op = Math.floor(r() * 6);
    if (op === 0 && b.length > 0) {
      b[Math.min(pos, b.length - 1)] = Math.floor(r() * 256);
    } else if (op === 1) {
      b = Buffer.concat([b.subarray(0, pos), SNIPPETS[Math.floor(r() * SNIPPETS.length)], b.subarray(pos)]);
    } else if (op === 2) {
      b = Buffer.concat([b.subarray(0, pos), b.subarray(Math.min(b.length, pos + Math.floor(r() * 40)))]);
    } else if (op === 3) {
      b = b.subarray(0, pos);
    } else if (op === 4) {
      const other = corpus[Math.floor(r() * corpus.length)];
      const s = Math.floor(r() * other.length);
      b = Buffer.concat([b.subarray(0, pos), other.subarray(s, s + Math.floor(r() * 200)), b.subarray(pos)]);
    } else {
      const s = Math.floor(r() * (b.length + 1));
      b = Buffer.concat([b.subarray(0, pos), b.subarray(s, s + Math.floor(r() * 100)), b.subarray(pos)]);
    }
  }
  return b;
}

function randomBytes(r: () => number): Buffer {
  const n = Math.floor(r() * 600);
  const b = Buffer.alloc(n);
  // Bias towards bytes that matter to MIME so structure actually appears.
  const alphabet = Buffer.from('-\r\n:;=?"<>()@, abcB1', 'latin1');
  for (let i = 0; i < n; i++) b[i] = r() < 0.7 ? alphabet[Math.floor(r() * alphabet.length)] : Math.floor(r() * 256);
  return b;
}

/** Plain checks in the hot loop: vitest's expect costs too much per call for thousands of messages. */
function ok(cond: boolean, what: string, raw: Buffer): void {
  if (!cond) throw new Error(`${what} (input, base64: ${raw.toString('base64')})`);
}

const seen = { damaged: 0, multipart: 0, message: 0 };

/** Walks a structure, checking ranges, and collects every part path. */
function check(raw: Buffer, p: MimePart, lo: number, hi: number, path: number[], paths: number[][]): void {
  const at = `part ${path.join('.') || 'root'}`;
  ok(p.start >= lo && p.start <= p.bodyStart && p.bodyStart <= p.end && p.end <= hi, `${at}: range out of order`, raw);
  ok(p.size === p.end - p.bodyStart && p.lines >= 0, `${at}: size or lines`, raw);
  if (p.type === 'multipart') {
    seen.multipart++;
    ok((p.parts?.length ?? 0) > 0, `${at}: multipart without parts`, raw);
    let prev = p.bodyStart;
    p.parts!.forEach((c, i) => {
      ok(c.start >= prev, `${at}: siblings overlap`, raw);
      const sub = [...path, i + 1];
      paths.push(sub);
      check(raw, c, p.bodyStart, p.end, sub, paths);
      prev = c.end;
    });
  }
  if (p.type === 'message' && (p.subtype === 'rfc822' || p.subtype === 'global')) {
    seen.message++;
    ok(p.message !== undefined, `${at}: message part without message`, raw);
    const inner = p.message!.structure;
    ok(inner.start === p.bodyStart && inner.end === p.end, `${at}: enclosed message range`, raw);
    if (inner.parts) check(raw, inner, p.bodyStart, p.end, path, paths);
    else {
      paths.push([...path, 1]);
      check(raw, inner, p.bodyStart, p.end, [...path, 1], paths);
    }
  }
}

function verify(raw: Buffer): void {
  const m = parseMessageUnguarded(raw);
  if (m.damaged) seen.damaged++;
  ok(m.size === raw.length && m.structure.start === 0 && m.structure.end === raw.length, 'root range', raw);
  const paths: number[][] = [];
  if (!m.structure.parts) paths.push([1]);
  check(raw, m.structure, 0, raw.length, [], paths);
  for (const path of paths) {
    ok(sectionBytes(raw, m.structure, { path }) !== null, `BODY[${path.join('.')}] missing`, raw);
    ok(sectionBytes(raw, m.structure, { path, text: 'MIME' }) !== null, `BODY[${path.join('.')}.MIME] missing`, raw);
  }
  ok(sectionBytes(raw, m.structure, { path: [], text: 'HEADER.FIELDS', fields: ['subject', 'from'] }) !== null, 'fields', raw);
  ok(m.bodyText.length <= 256 * 1024, 'bodyText cap', raw);
  const json = JSON.stringify(m);
  ok(JSON.stringify(JSON.parse(json)) === json, 'JSON round trip', raw);
}

describe('parser fuzzing (fixed seed)', () => {
  it('survives mutations of every corpus message', () => {
    const r = rng(0x5eed);
    for (let i = 0; i < 4000; i++) verify(mutate(corpus[i % corpus.length], r));
    // The mutations must reach the interesting shapes, or the test proves little.
    expect(seen.damaged).toBeGreaterThan(500);
    expect(seen.multipart).toBeGreaterThan(800);
    expect(seen.message).toBeGreaterThan(300);
  });

  it('survives random bytes', () => {
    const r = rng(42);
    for (let i = 0; i < 2500; i++) verify(randomBytes(r));
  });
});

/**
 * A quoted-printable encoder written from RFC 2045 §6.7 for the round trip:
 * rules (1)-(5), lines at most 76 characters with soft breaks, whitespace
 * before a line break encoded, CRLF in the data kept as a hard break.
 */
function encodeQuotedPrintable(data: Buffer): string {
  let out = '';
  let line = '';
  const push = (tok: string) => {
    if (line.length + tok.length > 75) {
      out += line + '=\r\n';
      line = '';
    }
    line += tok;
  };
  for (let i = 0; i < data.length; i++) {
    const c = data[i];
    if (c === 0x0d && data[i + 1] === 0x0a) {
      const last = line.charCodeAt(line.length - 1);
      if (last === 0x20 || last === 0x09) line = line.slice(0, -1) + '=' + last.toString(16).toUpperCase().padStart(2, '0');
      out += line + '\r\n';
      line = '';
      i++;
    } else if ((c >= 33 && c <= 126 && c !== 61) || c === 0x20 || c === 0x09) {
      push(String.fromCharCode(c));
    } else {
      push('=' + c.toString(16).toUpperCase().padStart(2, '0'));
    }
  }
  const last = line.charCodeAt(line.length - 1);
  if (last === 0x20 || last === 0x09) line += '=';
  return out + line;
}

describe('transfer decoding round trips (fixed seed)', () => {
  it('decodes what an RFC 2045 encoder produced, byte for byte', () => {
    const r = rng(7);
    const alphabet = Buffer.from(' \t\r\n=abcXYZ09.\0\xff\xe9', 'latin1');
    for (let i = 0; i < 2000; i++) {
      const n = Math.floor(r() * 300);
      const data = Buffer.alloc(n);
      for (let k = 0; k < n; k++) data[k] = r() < 0.8 ? alphabet[Math.floor(r() * alphabet.length)] : Math.floor(r() * 256);
      const qp = Buffer.from(encodeQuotedPrintable(data), 'latin1');
      const back = decodeBody(qp, 'QUOTED-PRINTABLE');
      if (!back.equals(data)) expect(back.toString('hex'), `qp of ${data.toString('hex')}`).toBe(data.toString('hex'));
      const b64 = Buffer.from(data.toString('base64').replace(/.{76}/g, '$&\r\n'));
      const back64 = decodeBody(b64, 'base64');
      if (!back64.equals(data)) expect(back64.toString('hex')).toBe(data.toString('hex'));
    }
  });
});
