/**
 * @module node/sieve/message
 * The message as a script sees it, built from the raw bytes the MX holds:
 * header fields decoded (RFC 2047) and unfolded, addresses parsed, and the
 * body texts the body test asks for (RFC 5173 §5), decoded from their
 * transfer encoding and charset. Computed lazily: a script that only looks
 * at the subject never walks the MIME tree. Pure.
 */
import { decodeBody, decodeWords, fieldValue, parseAddressList, parseMessage, scanHeader, type MimePart, type ParsedMessage } from '../mime/index.js';
import type { SieveMessage } from './interpret.js';

/** Body text handed to the body test is cut here: a script must not make delivery walk 50 MB. */
const BODY_CAP = 1024 * 1024;

export function sieveMessage(raw: Buffer, parsed?: ParsedMessage): SieveMessage {
  const head = scanHeader(raw, 0, raw.length);
  const cache = new Map<string, string[]>();
  // Scripts test From and To again and again: each field's addresses are parsed once per message.
  const addressCache = new Map<string, { fieldIndex: number; address: string }[]>();
  let structure: MimePart | undefined = parsed?.structure;
  const tree = (): MimePart => (structure ??= parseMessage(raw).structure);

  const header = (name: string): string[] => {
    const n = name.toLowerCase();
    let v = cache.get(n);
    if (!v) {
      v = head.fields.filter((f) => f.name === n).map((f) => decodeWords(fieldValue(raw, f)));
      cache.set(n, v);
    }
    return v;
  };

  const leaves = (): MimePart[] => {
    const out: MimePart[] = [];
    const walk = (p: MimePart) => {
      if (p.parts) p.parts.forEach(walk);
      else if (p.message) walk(p.message.structure);
      else out.push(p);
    };
    walk(tree());
    return out;
  };

  const text = (p: MimePart): string => {
    const bytes = decodeBody(raw.subarray(p.bodyStart, Math.min(p.end, p.bodyStart + BODY_CAP)), p.encoding);
    let s: string;
    try {
      s = new TextDecoder(p.params.charset || 'utf-8').decode(bytes);
    } catch {
      s = bytes.toString('latin1');
    }
    return s;
  };

  return {
    header,
    addresses(name) {
      const key = name.toLowerCase();
      const hit = addressCache.get(key);
      if (hit) return hit;
      const out: { fieldIndex: number; address: string }[] = [];
      header(name).forEach((value, fieldIndex) => {
        for (const a of parseAddressList(value)) {
          if (a.host === null || a.mailbox === null) continue; // group markers
          out.push({ fieldIndex, address: a.host ? `${a.mailbox}@${a.host}` : a.mailbox });
        }
      });
      addressCache.set(key, out);
      return out;
    },
    size: raw.length,
    body(transform) {
      if (transform.kind === 'raw') return [raw.subarray(head.bodyStart, head.bodyStart + BODY_CAP).toString('latin1')];
      const types = transform.kind === 'text' ? ['text'] : transform.types.map((t) => t.toLowerCase());
      return leaves()
        .filter((p) => types.some((t) => t === '' || t === p.type || t === `${p.type}/${p.subtype}`))
        .map(text);
    },
  };
}
