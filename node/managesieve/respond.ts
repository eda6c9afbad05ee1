/**
 * @module node/managesieve/respond
 * Encoders for ManageSieve replies (RFC 5804 §4): strings go out quoted when
 * they can, as literals otherwise; responses carry an optional code.
 */
import type { ResponseCode } from './errors.js';

/** A string as RFC 5804 sends it: quoted when short and plain, a literal otherwise. */
export function str(s: string): string {
  if (s.length < 1024 && !/[\r\n\x00]/.test(s)) return `"${s.replace(/["\\]/g, (c) => '\\' + c)}"`;
  return `{${Buffer.byteLength(s)}}\r\n${s}`;
}

export function response(kind: 'OK' | 'NO' | 'BYE', code: ResponseCode | string | null, text?: string): string {
  return `${kind}${code ? ` (${code})` : ''}${text !== undefined ? ` ${str(text)}` : ''}\r\n`;
}
