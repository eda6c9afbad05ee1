/**
 * Admin request signing: a known answer computed with node:crypto (a second,
 * independent implementation of the same contract), then every way a request
 * can be refused.
 */
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NonceCache, signRequest, verifyRequest } from '../../node/http/signature.js';

const secret = 'test-admin-secret';
const now = 1_800_000_000;

async function signed(method: string, path: string, body = '', at = now, nonce?: string) {
  const headers = await signRequest(secret, { method, path, body, now: at, nonce });
  return { method, path, body, headers, now };
}

describe('signRequest', () => {
  it('matches the contract computed independently with node:crypto', async () => {
    const nonce = '0123456789abcdef0123456789abcdef';
    const body = '{"name":"example.org"}';
    const h = await signRequest(secret, { method: 'post', path: '/api/v1/domains?x=1', body, now, nonce });
    const text = `v1\nPOST\n/api/v1/domains?x=1\n${now}\n${nonce}\n${createHash('sha256').update(body).digest('hex')}`;
    expect(h).toEqual({
      'X-Haven-Timestamp': String(now),
      'X-Haven-Nonce': nonce,
      'X-Haven-Signature': `v1=${createHmac('sha256', secret).update(text).digest('hex')}`,
    });
  });

  it('hashes an absent body as the empty string, and Uint8Array bodies by their bytes', async () => {
    const nonce = 'ffffffffffffffffffffffffffffffff';
    const a = await signRequest(secret, { method: 'GET', path: '/api/v1/queue', now, nonce });
    const b = await signRequest(secret, { method: 'GET', path: '/api/v1/queue', body: '', now, nonce });
    expect(a).toEqual(b);
    const c = await signRequest(secret, { method: 'POST', path: '/p', body: new TextEncoder().encode('héllo'), now, nonce });
    const d = await signRequest(secret, { method: 'POST', path: '/p', body: 'héllo', now, nonce });
    expect(c).toEqual(d);
  });

  it('picks a fresh random 32-hex nonce and the current time by default', async () => {
    const a = await signRequest(secret, { method: 'GET', path: '/' });
    const b = await signRequest(secret, { method: 'GET', path: '/' });
    expect(a['X-Haven-Nonce']).toMatch(/^[0-9a-f]{32}$/);
    expect(a['X-Haven-Nonce']).not.toBe(b['X-Haven-Nonce']);
    expect(Math.abs(Number(a['X-Haven-Timestamp']) - Date.now() / 1000)).toBeLessThan(5);
  });
});

describe('verifyRequest', () => {
  it('accepts a good request once, refuses its replay', async () => {
    const cache = new NonceCache();
    const req = await signed('POST', '/api/v1/domains', '{"name":"a.example"}');
    expect(await verifyRequest(secret, req, cache)).toEqual({ ok: true });
    const again = await verifyRequest(secret, req, cache);
    expect(again.ok).toBe(false);
    expect(again.ok === false && again.reason).toMatch(/replay/);
  });

  it('reads headers from a Headers object, in any case', async () => {
    const req = await signed('GET', '/api/v1/domains');
    const lower = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), v]));
    expect(await verifyRequest(secret, { ...req, headers: new Headers(lower) }, new NonceCache())).toEqual({ ok: true });
  });

  it('refuses a forged signature (other secret) and does not burn the nonce', async () => {
    const cache = new NonceCache();
    const nonce = 'abababababababababababababababab';
    const forged = await signRequest('wrong-secret', { method: 'GET', path: '/api/v1/domains', now, nonce });
    const r = await verifyRequest(secret, { method: 'GET', path: '/api/v1/domains', body: '', headers: forged, now }, cache);
    expect(r.ok === false && r.reason).toMatch(/signature does not match/);
    expect(cache.has(nonce, now)).toBe(false);
    const good = await signed('GET', '/api/v1/domains', '', now, nonce);
    expect(await verifyRequest(secret, good, cache)).toEqual({ ok: true });
  });

  it('refuses a stale request and one from the future, accepts the edges of the window', async () => {
    const cache = new NonceCache();
    const stale = await signed('GET', '/x', '', now - 301);
    expect((await verifyRequest(secret, stale, cache) as { reason: string }).reason).toMatch(/stale/);
    const future = await signed('GET', '/x', '', now + 301);
    expect((await verifyRequest(secret, future, cache) as { reason: string }).reason).toMatch(/future/);
    expect(await verifyRequest(secret, await signed('GET', '/x', '', now - 300), cache)).toEqual({ ok: true });
    expect(await verifyRequest(secret, await signed('GET', '/x', '', now + 300), cache)).toEqual({ ok: true });
  });

  it('refuses a tampered body, path, query or method', async () => {
    const cache = new NonceCache();
    const req = await signed('POST', '/api/v1/accounts?domain=a.example', '{"quotaBytes":1}');
    for (const bad of [
      { ...req, body: '{"quotaBytes":2}' },
      { ...req, path: '/api/v1/accounts?domain=b.example' },
      { ...req, path: '/api/v1/aliases?domain=a.example' },
      { ...req, method: 'DELETE' },
    ]) {
      const r = await verifyRequest(secret, bad, cache);
      expect(r.ok === false && r.reason).toMatch(/signature does not match/);
    }
    expect(await verifyRequest(secret, req, cache)).toEqual({ ok: true });
  });

  it('refuses missing and malformed headers, naming what is wrong', async () => {
    const cache = new NonceCache();
    const req = await signed('GET', '/x');
    for (const name of ['X-Haven-Timestamp', 'X-Haven-Nonce', 'X-Haven-Signature']) {
      const headers = { ...req.headers };
      delete (headers as Record<string, string>)[name];
      const r = await verifyRequest(secret, { ...req, headers }, cache);
      expect(r.ok === false && r.reason).toContain(`missing ${name}`);
    }
    const cases: Array<[string, string, RegExp]> = [
      ['X-Haven-Timestamp', '1.5e9', /unix seconds/],
      ['X-Haven-Nonce', 'ABCDEF0123456789ABCDEF0123456789', /32 lowercase hex/],
      ['X-Haven-Nonce', 'abc', /32 lowercase hex/],
      ['X-Haven-Signature', 'v2=' + 'a'.repeat(64), /v1=/],
      ['X-Haven-Signature', 'v1=' + 'A'.repeat(64), /v1=/],
    ];
    for (const [name, value, re] of cases) {
      const r = await verifyRequest(secret, { ...req, headers: { ...req.headers, [name]: value } }, cache);
      expect(r.ok === false && r.reason).toMatch(re);
    }
    expect(await verifyRequest(secret, req, cache)).toEqual({ ok: true });
  });
});

describe('NonceCache', () => {
  it('forgets nonces after the TTL and refuses new ones when full', () => {
    const c = new NonceCache(600, 2);
    expect(c.remember('a', 1000)).toBe(true);
    expect(c.remember('a', 1599)).toBe(false);
    expect(c.remember('b', 1000)).toBe(true);
    expect(c.remember('c', 1000)).toBe(false);
    expect(c.remember('a', 1600)).toBe(true);
    expect(c.size).toBeLessThanOrEqual(2);
  });
});
