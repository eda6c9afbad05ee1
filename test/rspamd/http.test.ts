/**
 * The bare HTTP/1.1 exchange the rspamd client uses (node/rspamd/http):
 * request bytes (RFC 9112 §3, §5.5, §6.2), the reply's end found as
 * RFC 9112 §6.3 says (Content-Length, chunked per §7.1, or the close) fed
 * whole and split at every byte, and the exchange against real listeners
 * (TCP and a Unix socket) that answer the way rspamd 3.4 does.
 */
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { endpoint, exchange, HttpExchangeError, replyOf, request } from '../../node/rspamd/http.js';

const JSON_BODY = '{"action":"no action","score":0.5}';
const REPLY = Buffer.from(`HTTP/1.1 200 OK\r\nConnection: close\r\nServer: rspamd/3.4\r\nContent-Length: ${JSON_BODY.length}\r\nContent-Type: application/json\r\n\r\n${JSON_BODY}`);

/** Feeds `buf` cut at `at`: the first part must not yet be a reply unless it holds the whole. */
function fedInTwo(buf: Buffer, at: number) {
  const first = replyOf(buf.subarray(0, at), false);
  return { first, whole: replyOf(buf, false) };
}

describe('request (RFC 9112 §3, §6.2)', () => {
  it('is a POST with Host, Content-Length and one line per value of a repeated header', () => {
    const head = request('127.0.0.1:11333', '/checkv2', { IP: '192.0.2.1', Rcpt: ['a@example.test', 'b@example.test'] }, 42).toString();
    expect(head).toBe('POST /checkv2 HTTP/1.1\r\nHost: 127.0.0.1:11333\r\nConnection: close\r\nContent-Length: 42\r\nIP: 192.0.2.1\r\nRcpt: a@example.test\r\nRcpt: b@example.test\r\n\r\n');
  });

  // §5.5: a field value is visible characters, spaces and tabs; a CR LF from the SMTP dialogue must not start a header of the sender's.
  it('turns control characters in a value into spaces, so a HELO cannot add headers', () => {
    const head = request('h', '/checkv2', { Helo: 'evil\r\nPass: all\r\nX: y' }, 0).toString();
    expect(head.split('\r\n')).toContain('Helo: evil  Pass: all  X: y');
    expect(head.split('\r\n').filter((l) => l.startsWith('Pass:'))).toEqual([]);
  });

  it('sends a UTF-8 address (SMTPUTF8) as UTF-8', () => {
    expect(request('h', '/checkv2', { From: 'jürgen@example.test' }, 0).includes(Buffer.from('From: jürgen@example.test\r\n', 'utf8'))).toBe(true);
  });
});

describe('endpoint', () => {
  it('reads http, https and unix addresses, an IPv6 host in brackets', () => {
    expect(endpoint('http://127.0.0.1:11333')).toMatchObject({ socketPath: null, host: '127.0.0.1', port: 11333, tls: false, authority: '127.0.0.1:11333' });
    expect(endpoint('https://[::1]:11333')).toMatchObject({ host: '::1', port: 11333, tls: true, authority: '[::1]:11333' });
    expect(endpoint('http://localhost')).toMatchObject({ port: 80 });
    expect(endpoint('unix:/run/rspamd/normal.sock')).toMatchObject({ socketPath: '/run/rspamd/normal.sock' });
    expect(() => endpoint('ftp://x')).toThrow(/not an http:, https: or unix: address/);
  });
});

describe('replyOf (RFC 9112 §6.3)', () => {
  it('takes a Content-Length reply once its bytes are in, split at every byte', () => {
    for (let at = 0; at < REPLY.length; at++) {
      const { first, whole } = fedInTwo(REPLY, at);
      expect(first).toBeNull();
      expect(whole?.status).toBe(200);
      expect(whole?.body.toString()).toBe(JSON_BODY);
    }
  });

  // rspamd's controller (3.4) sometimes writes after a reply it marked Connection: close.
  it('ignores bytes after the Content-Length body', () => {
    const r = replyOf(Buffer.concat([REPLY, Buffer.from('HTTP/1.1 400 stray\r\n')]), false);
    expect(r?.body.toString()).toBe(JSON_BODY);
  });

  // §7.1: chunk sizes in hex, a last chunk of size 0, extensions and trailers allowed.
  // The body is whole at the last chunk; the trailers after it are not waited for (the connection is dropped).
  it('decodes a chunked reply, split at every byte', () => {
    const chunked = Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\n{"a":\r\ne\r\n"chunked yes"}\r\n0\r\nTrailer: x\r\n\r\n');
    const lastChunk = chunked.indexOf('0\r\nTrailer') + 3;
    for (let at = 0; at < chunked.length; at++) {
      const got = replyOf(chunked.subarray(0, at), false);
      if (at < lastChunk) expect(got).toBeNull();
      else expect(got?.body.toString()).toBe('{"a":"chunked yes"}');
    }
    expect(replyOf(chunked, false)?.body.toString()).toBe('{"a":"chunked yes"}');
  });

  it('takes a reply without a length at the close, and none before', () => {
    const r = Buffer.from('HTTP/1.0 200 OK\r\n\r\n{"x":1}');
    expect(replyOf(r, false)).toBeNull();
    expect(replyOf(r, true)?.body.toString()).toBe('{"x":1}');
  });

  it('has no body for 204 (rspamd: learn conditions declined)', () => {
    expect(replyOf(Buffer.from('HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n'), false)).toEqual({ status: 204, body: Buffer.alloc(0) });
  });

  it('says what is wrong with a cut or malformed reply', () => {
    expect(() => replyOf(REPLY.subarray(0, REPLY.length - 3), true)).toThrow(/ended after \d+ of its \d+ bytes/);
    expect(() => replyOf(Buffer.from('HTTP/1.1 200 OK\r\nCont'), true)).toThrow(/ended inside its header/);
    expect(() => replyOf(Buffer.alloc(0), true)).toThrow(/closed without a reply/);
    expect(() => replyOf(Buffer.from('SSH-2.0-OpenSSH\r\n\r\n'), false)).toThrow(HttpExchangeError);
    expect(() => replyOf(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n'), false)).toThrow(/Content-Length that is not a number/);
  });
});

/** A listener that reads one request (head and Content-Length body) and then acts. */
async function listener(onRequest: (sock: net.Socket, head: string, body: Buffer) => void, path?: string): Promise<{ server: net.Server; address: string }> {
  const server = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on('error', () => undefined);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString();
      const length = Number(/Content-Length: (\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + length) return;
      onRequest(sock, head, buf.subarray(end + 4, end + 4 + length));
    });
  });
  await new Promise<void>((r) => (path ? server.listen(path, r) : server.listen(0, '127.0.0.1', r)));
  return { server, address: path ? `unix:${path}` : `http://127.0.0.1:${(server.address() as net.AddressInfo).port}` };
}

describe('exchange, against real listeners', () => {
  it('sends the body whole and returns the reply (TCP), and over a Unix socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'haven-http-'));
    for (const path of [undefined, join(dir, 'normal.sock')]) {
      const seen: { head: string; body: string }[] = [];
      const { server, address } = await listener((sock, head, body) => {
        seen.push({ head, body: body.toString() });
        sock.end(REPLY);
      }, path);
      try {
        const r = await exchange(endpoint(address), '/checkv2', { Rcpt: ['a@example.test'] }, Buffer.from('Subject: hi\r\n\r\nbody\r\n'), 5000);
        expect(r.status).toBe(200);
        expect(JSON.parse(r.body.toString())).toEqual({ action: 'no action', score: 0.5 });
        expect(seen).toHaveLength(1);
        expect(seen[0].head).toMatch(/^POST \/checkv2 HTTP\/1\.1\r\n/);
        expect(seen[0].body).toBe('Subject: hi\r\n\r\nbody\r\n');
      } finally {
        await new Promise((r) => server.close(r));
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes a whole reply although the connection is then reset', async () => {
    const { server, address } = await listener((sock) => {
      sock.write(REPLY, () => setImmediate(() => sock.resetAndDestroy()));
    });
    try {
      const r = await exchange(endpoint(address), '/learnspam', {}, Buffer.from('x'), 5000);
      expect(r.body.toString()).toBe(JSON_BODY);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('fails with the reason when nobody listens, when the reply is cut, and when nothing comes in time', async () => {
    const closed = await listener(() => undefined);
    const port = (closed.server.address() as net.AddressInfo).port;
    await new Promise((r) => closed.server.close(r));
    await expect(exchange(endpoint(`http://127.0.0.1:${port}`), '/checkv2', {}, Buffer.from('x'), 5000)).rejects.toThrow(/ECONNREFUSED/);

    const cut = await listener((sock) => sock.end(REPLY.subarray(0, REPLY.length - 5)));
    const silent = await listener(() => undefined);
    try {
      await expect(exchange(endpoint(cut.address), '/checkv2', {}, Buffer.from('x'), 5000)).rejects.toThrow(/ended after/);
      await expect(exchange(endpoint(silent.address), '/checkv2', {}, Buffer.from('x'), 200)).rejects.toThrow(/no answer within 200 ms/);
    } finally {
      await new Promise((r) => cut.server.close(r));
      await new Promise((r) => silent.server.close(r));
    }
  });
});
