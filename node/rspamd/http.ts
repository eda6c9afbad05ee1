/**
 * @module node/rspamd/http
 * The one HTTP exchange rspamd needs: a POST on a fresh connection and its
 * reply. Written on a bare socket because node:http cost the node about
 * twice the CPU per check (a ClientRequest, an agent, header validation and
 * llhttp for a request whose shape never changes), on the main thread of an
 * MX that checks every message. rspamd (3.4) closes every connection after
 * its reply, so there is nothing to pool.
 *
 * `request` builds the bytes and `replyOf` reads them back; both are pure.
 * `exchange` is the socket around them: TCP, TLS for https:, or a Unix socket
 * for a `unix:` address.
 */
import net from 'node:net';
import tls from 'node:tls';

export interface HttpReply {
  status: number;
  body: Buffer;
}

export class HttpExchangeError extends Error {
  override name = 'HttpExchangeError';
}

export interface Endpoint {
  /** A Unix socket's path, or null for TCP. */
  socketPath: string | null;
  host: string;
  /** The Host header (RFC 9112 §3.2): host and port, an IPv6 address in brackets. */
  authority: string;
  port: number;
  tls: boolean;
}

/** Where an address points: `http://host:port`, `https://…`, or a Unix socket as `unix:/run/rspamd/normal.sock`. */
export function endpoint(address: string): Endpoint {
  const url = new URL(address);
  if (url.protocol === 'unix:') {
    if (!url.pathname.startsWith('/')) throw new TypeError(`a unix: address needs an absolute path: ${address}`);
    return { socketPath: decodeURIComponent(url.pathname), host: 'localhost', authority: 'localhost', port: 0, tls: false };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`not an http:, https: or unix: address: ${address}`);
  const secure = url.protocol === 'https:';
  return { socketPath: null, host: url.hostname.replace(/^\[|\]$/g, ''), authority: url.host, port: Number(url.port) || (secure ? 443 : 80), tls: secure };
}

/**
 * Header values come from the SMTP dialogue (HELO, MAIL FROM): a CR or LF in
 * one would end the header early and let a sender write headers of their
 * own (RFC 9112 §5.5 field values are visible characters, spaces and tabs),
 * so control characters become spaces. UTF-8 (SMTPUTF8 addresses) is sent
 * as it is, as rspamd reads it.
 */
function value(v: string): string {
  return v.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, ' ');
}

/** The request's bytes before the body (RFC 9112 §3, §6.2: a Content-Length, since the body is known whole). */
export function request(host: string, path: string, headers: Record<string, string | string[]>, bodyLength: number): Buffer {
  let head = `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\nContent-Length: ${bodyLength}\r\n`;
  for (const [name, v] of Object.entries(headers)) {
    for (const one of Array.isArray(v) ? v : [v]) head += `${name}: ${value(one)}\r\n`;
  }
  return Buffer.from(head + '\r\n', 'utf8');
}

/**
 * The reply in `buf`, once it is whole; null while more is to come. Its end
 * is found as RFC 9112 §6.3 says: chunked coding, else Content-Length, else
 * the connection's close (`ended`). Bytes after a Content-Length reply are
 * ignored: rspamd's controller (3.4) now and then writes some after a reply
 * it marked "Connection: close".
 */
export function replyOf(buf: Buffer, ended: boolean): HttpReply | null {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) {
    if (ended) throw new HttpExchangeError(buf.length ? 'the reply ended inside its header' : 'the connection closed without a reply');
    return null;
  }
  const lines = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  if (!m) throw new HttpExchangeError(`not an HTTP reply: ${JSON.stringify(lines[0].slice(0, 60))}`);
  const status = Number(m[1]);
  let length: number | null = null;
  let chunked = false;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const v = line.slice(colon + 1).trim();
    if (name === 'content-length') {
      if (!/^\d+$/.test(v)) throw new HttpExchangeError(`a Content-Length that is not a number: ${JSON.stringify(v.slice(0, 20))}`);
      length = Number(v);
    } else if (name === 'transfer-encoding') chunked = /(^|,)\s*chunked\s*$/i.test(v);
  }
  const rest = buf.subarray(headEnd + 4);
  // RFC 9112 §6.3: 1xx, 204 and 304 have no body.
  if (status === 204 || status === 304 || status < 200) return { status, body: Buffer.alloc(0) };
  if (chunked) return dechunk(rest, ended, status);
  if (length !== null) {
    if (rest.length >= length) return { status, body: rest.subarray(0, length) };
    if (ended) throw new HttpExchangeError(`the reply ended after ${rest.length} of its ${length} bytes`);
    return null;
  }
  return ended ? { status, body: rest } : null;
}

/** RFC 9112 §7.1: chunks of hex size, a zero-size chunk last (trailers ignored). */
function dechunk(buf: Buffer, ended: boolean, status: number): HttpReply | null {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(buf.subarray(at, eol).toString('latin1').split(';')[0].trim(), 16);
    if (!Number.isFinite(size)) throw new HttpExchangeError('a chunk size that is not hexadecimal');
    if (size === 0) return { status, body: Buffer.concat(parts) };
    if (buf.length < eol + 2 + size + 2) break;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  if (ended) throw new HttpExchangeError('the chunked reply ended before its last chunk');
  return null;
}

/**
 * POSTs `body` and resolves with the reply as soon as it is whole (the
 * connection is then dropped, whatever follows). Rejects with an
 * HttpExchangeError when the connection fails, the reply is cut short or
 * malformed, or nothing whole arrives within `timeoutMs`.
 */
export function exchange(to: Endpoint, path: string, headers: Record<string, string | string[]>, body: Buffer, timeoutMs: number): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const sock = to.socketPath ? net.connect(to.socketPath) : to.tls ? tls.connect({ host: to.host, port: to.port, servername: net.isIP(to.host) ? undefined : to.host }) : net.connect(to.port, to.host);
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    // `ended`: the peer closed, so a reply without a length ends here. After an error or a
    // timeout only a reply whole by its own framing is taken, and the error is what is told.
    const finish = (ended: boolean, err?: Error) => {
      if (settled) return;
      let reply: HttpReply | null;
      try {
        reply = size || ended ? replyOf(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size), ended && !err) : null;
      } catch (e) {
        reply = null;
        err ??= e as Error;
      }
      if (!reply && !err) {
        if (ended) err = new HttpExchangeError('the connection closed without a reply');
        else return;
      }
      settled = true;
      sock.destroy();
      if (reply) resolve(reply);
      else reject(err instanceof HttpExchangeError ? err : new HttpExchangeError(err!.message));
    };
    sock.setTimeout(timeoutMs, () => finish(false, new HttpExchangeError(`no answer within ${timeoutMs} ms`)));
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      size += d.length;
      finish(false);
    });
    sock.on('end', () => finish(true));
    // A reply already whole is taken even when the connection then fails (see replyOf).
    sock.on('error', (err) => finish(false, err));
    sock.on('close', () => finish(true));
    sock.cork();
    sock.write(request(to.authority, path, headers, body.length));
    sock.write(body);
    sock.uncork();
  });
}
