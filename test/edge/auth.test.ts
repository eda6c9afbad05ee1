/**
 * Admin login, sessions and CSRF through app.request(): password ok/bad,
 * per-IP rate limit, login and action CSRF, cross-origin POSTs, forged,
 * expired and revoked sessions, cookie attributes, Cloudflare Access JWTs,
 * and the password hash format with its CLI helper.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEdgeApp, MemoryKv } from '../../edge/index.js';
import { hashPassword, parsePasswordHash, PasswordHashFormatError, verifyPassword } from '../../edge/auth/password.js';
import { b64urlEncode } from '../../edge/crypto.js';
import { Client, PASSWORD, passwordHash, SECRET, startNode, type RunningNode } from './harness.js';

let node: RunningNode;
let hash: string;

beforeAll(async () => {
  node = await startNode();
  hash = await passwordHash();
});
afterAll(() => node.close());

function makeEdge(extra: Partial<Parameters<typeof createEdgeApp>[0]> = {}) {
  let now = Date.parse('2026-12-01T10:00:00Z');
  const clock = { now: () => now, advance: (ms: number) => (now += ms) };
  const kv = new MemoryKv(clock.now);
  const e = createEdgeApp({ nodeUrl: node.url, edgeSecret: SECRET, adminPasswordHash: hash, kv, dnsChecker: null, now: clock.now, ...extra });
  return { ...e, kv, clock };
}

describe('password login', () => {
  it('logs in with the right password and sets a strict, HttpOnly, Secure session cookie', async () => {
    const { app } = makeEdge();
    const c = new Client(app);
    const res = await c.login();
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/');
    const cookie = res.headers.getSetCookie().find((s) => s.startsWith('haven_session='))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/Secure/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const dash = await c.fetch('/');
    expect(dash.status).toBe(200);
    expect(await dash.text()).toContain('Node health');
  });

  it('drops Secure only for plain http on localhost', async () => {
    const { app } = makeEdge();
    const local = new Client(app, 'http://localhost:8081');
    const res = await local.login();
    expect(res.status).toBe(303);
    const cookie = res.headers.getSetCookie().find((s) => s.startsWith('haven_session='))!;
    expect(cookie).not.toMatch(/Secure/);
    const remote = new Client(app, 'http://admin.example.org');
    const r2 = await remote.login();
    expect(r2.headers.getSetCookie().find((s) => s.startsWith('haven_session='))).toMatch(/Secure/);
  });

  it('refuses a wrong password with a message saying what to do', async () => {
    const { app } = makeEdge();
    const c = new Client(app);
    const res = await c.login('not the password');
    expect(res.status).toBe(401);
    expect(await res.text()).toContain('That password is not right');
    expect(c.cookies.has('haven_session')).toBe(false);
    expect((await c.fetch('/')).status).toBe(303);
  });

  it('pauses logins from an IP after 5 failures, even with the right password, and not other IPs', async () => {
    const { app, clock } = makeEdge();
    const c = new Client(app);
    for (let i = 0; i < 5; i++) expect((await c.login('wrong')).status).toBe(401);
    const blocked = await c.login();
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(800);
    expect(await blocked.text()).toContain('Wait 15 minutes');
    const other = new Client(app);
    other.ip = '203.0.113.9';
    expect((await other.login()).status).toBe(303);
    clock.advance(15 * 60 * 1000 + 1000);
    expect((await c.login()).status).toBe(303);
  });

  it('refuses a login POST without or with a wrong CSRF token, or from another origin', async () => {
    const { app } = makeEdge();
    const c = new Client(app);
    await c.fetch('/login');
    const missing = await c.fetch('/login', { form: { password: PASSWORD } });
    expect(missing.status).toBe(403);
    expect(await missing.text()).toContain('login form expired');
    const html = await (await c.fetch('/login')).text();
    const wrong = await c.fetch('/login', { form: { _csrf: 'x' + Client.csrf(html).slice(1), password: PASSWORD } });
    expect(wrong.status).toBe(403);
    const html2 = await (await c.fetch('/login')).text();
    const cross = await c.fetch('/login', { form: { _csrf: Client.csrf(html2), password: PASSWORD }, headers: { origin: 'https://evil.example' } });
    expect(cross.status).toBe(403);
    expect(c.cookies.has('haven_session')).toBe(false);
  });

  it('redirects to a local next path only', async () => {
    const { app } = makeEdge();
    const c = new Client(app);
    const first = await c.fetch('/domains?x=1');
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/login?next=%2Fdomains%3Fx%3D1');
    const html = await (await c.fetch(first.headers.get('location')!)).text();
    const ok = await c.fetch('/login', { form: { _csrf: Client.csrf(html), password: PASSWORD, next: '/domains?x=1' } });
    expect(ok.headers.get('location')).toBe('/domains?x=1');
    const c2 = new Client(app);
    const html2 = await (await c2.fetch('/login')).text();
    const evil = await c2.fetch('/login', { form: { _csrf: Client.csrf(html2), password: PASSWORD, next: '//evil.example/' } });
    expect(evil.headers.get('location')).toBe('/');
  });
});

describe('sessions and CSRF on admin actions', () => {
  it('refuses a POST without, with a wrong, or with another session\'s CSRF token, and changes nothing', async () => {
    const { app } = makeEdge();
    const a = new Client(app);
    await a.login();
    const b = new Client(app);
    await b.login();
    const tokenB = Client.csrf(await (await b.fetch('/domains')).text());
    for (const form of [{ name: 'csrf-missing.example' } as Record<string, string>, { name: 'csrf-wrong.example', _csrf: 'AAAA' }, { name: 'csrf-other.example', _csrf: tokenB }]) {
      const res = await a.fetch('/domains', { form });
      expect(res.status).toBe(403);
      expect(await res.text()).toContain('Reload the page and try again');
    }
    const cross = await a.fetch('/domains', { form: { name: 'cross.example', _csrf: Client.csrf(await (await a.fetch('/domains')).text()) }, headers: { origin: 'https://evil.example' } });
    expect(cross.status).toBe(403);
    expect(node.t.store.directory.listDomains().map((d) => d.name)).not.toEqual(expect.arrayContaining(['csrf-missing.example', 'csrf-wrong.example', 'csrf-other.example', 'cross.example']));
    const ok = await a.submit('/domains', '/domains', { name: 'csrf-ok.example' });
    expect(ok.status).toBe(303);
    expect(node.t.store.directory.getDomain('csrf-ok.example')).toBeTruthy();
  });

  it('ignores a forged session cookie', async () => {
    const { app } = makeEdge();
    const c = new Client(app);
    await c.login();
    const [body, mac] = c.cookies.get('haven_session')!.split('.');
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
    const forgedBody = b64urlEncode(new TextEncoder().encode(JSON.stringify({ ...claims, exp: claims.exp + 86400 * 365 })));
    for (const v of [`${forgedBody}.${mac}`, `${body}.${mac.slice(0, -2)}AA`, body, 'garbage']) {
      const f = new Client(app);
      f.cookies.set('haven_session', v);
      const res = await f.fetch('/');
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toMatch(/^\/login/);
    }
    // A cookie signed with another deployment's secret is forged too.
    const other = makeEdge({ edgeSecret: 'another secret of at least thirty-two chars' });
    const o = new Client(other.app);
    await o.login();
    const f = new Client(app);
    f.cookies.set('haven_session', o.cookies.get('haven_session')!);
    expect((await f.fetch('/')).status).toBe(303);
  });

  it('ends a session after 12 hours', async () => {
    const { app, clock } = makeEdge();
    const c = new Client(app);
    await c.login();
    clock.advance(11 * 3600 * 1000);
    expect((await c.fetch('/')).status).toBe(200);
    clock.advance(3600 * 1000 + 1000);
    const res = await c.fetch('/');
    expect(res.status).toBe(303);
    const post = await c.fetch('/domains', { form: { name: 'late.example', _csrf: 'x' } });
    expect(post.status).toBe(401);
    expect(await post.text()).toContain('Log in again');
  });

  it('logs out: the cookie is cleared and a copy of it no longer works', async () => {
    const { app } = makeEdge();
    const c = new Client(app);
    await c.login();
    const copy = c.cookies.get('haven_session')!;
    const noToken = await c.fetch('/logout', { form: {} });
    expect(noToken.status).toBe(403);
    expect((await c.fetch('/')).status).toBe(200);
    const out = await c.submit('/', '/logout', {});
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/login');
    expect(c.cookies.has('haven_session')).toBe(false);
    const thief = new Client(app);
    thief.cookies.set('haven_session', copy);
    expect((await thief.fetch('/')).status).toBe(303);
  });
});

describe('Cloudflare Access', () => {
  let jwks: Server;
  let certsUrl: string;
  type KeyPair = Awaited<ReturnType<typeof rsa>>;
  let keys: KeyPair;
  let stranger: KeyPair;

  function rsa() {
    return crypto.subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, true, ['sign', 'verify']);
  }
  async function jwt(key: KeyPair['privateKey'], claims: Record<string, unknown>, kid = 'k1') {
    const enc = (o: unknown) => b64urlEncode(new TextEncoder().encode(JSON.stringify(o)));
    const head = `${enc({ alg: 'RS256', kid, typ: 'JWT' })}.${enc(claims)}`;
    return `${head}.${b64urlEncode(await crypto.subtle.sign('RSASSA-PKCS1-v1_5', key, new TextEncoder().encode(head)))}`;
  }

  beforeAll(async () => {
    keys = await rsa();
    stranger = await rsa();
    const pub = { ...(await crypto.subtle.exportKey('jwk', keys.publicKey)), kid: 'k1' };
    jwks = createServer((_req, res) => res.end(JSON.stringify({ keys: [pub] })));
    jwks.listen(0, '127.0.0.1');
    await new Promise((r) => jwks.once('listening', r));
    certsUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/cdn-cgi/access/certs`;
  });
  afterAll(() => new Promise<void>((r) => jwks.close(() => r())));

  it('lets in a request carrying a valid Access JWT and refuses bad ones', async () => {
    const { app, clock } = makeEdge({ adminPasswordHash: undefined, access: { aud: 'aud-tag', team: 'haventeam', certsUrl } });
    const exp = Math.floor(clock.now() / 1000) + 600;
    const good = { aud: ['aud-tag'], iss: 'https://haventeam.cloudflareaccess.com', exp, email: 'admin@example.org' };
    const c = new Client(app);
    const res = await c.fetch('/', { headers: { 'cf-access-jwt-assertion': await jwt(keys.privateKey, good) } });
    expect(res.status).toBe(200);
    expect(c.cookies.has('haven_session')).toBe(true);
    // Logging out also ends the Access session, or Access would log the browser straight back in.
    const out = await c.submit('/', '/logout', {});
    expect(out.headers.get('location')).toBe('/cdn-cgi/access/logout');
    const bad = [
      await jwt(keys.privateKey, { ...good, aud: ['other-app'] }),
      await jwt(keys.privateKey, { ...good, iss: 'https://evil.cloudflareaccess.com' }),
      await jwt(keys.privateKey, { ...good, exp: exp - 1200 }),
      await jwt(stranger.privateKey, good),
      await jwt(keys.privateKey, good, 'unknown-kid'),
      'not.a.jwt',
    ];
    for (const token of bad) {
      const r = await new Client(app).fetch('/', { headers: { 'cf-access-jwt-assertion': token } });
      expect(r.status).toBe(303);
    }
    const login = await (await new Client(app).fetch('/login')).text();
    expect(login).toContain('Cloudflare Access');
    expect(login).not.toContain('name="password"');
  });
});

describe('the password hash', () => {
  it('round-trips and refuses malformed or too costly hashes with what to do', async () => {
    expect(await verifyPassword(PASSWORD, hash)).toBe(true);
    expect(await verifyPassword(PASSWORD + ' ', hash)).toBe(false);
    expect(parsePasswordHash(hash).iterations).toBe(100_000);
    expect(hash).toMatch(/^pbkdf2-sha256\$100000\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    await expect(verifyPassword('x', 'scrypt$1$2$3')).rejects.toThrow(/edge\/hash-password\.ts/);
    await expect(verifyPassword('x', hash.replace('$100000$', '$600000$'))).rejects.toThrow(PasswordHashFormatError);
    await expect(hashPassword('short')).rejects.toThrow(/at least 12/);
  });

  it('a malformed ADMIN_PASSWORD_HASH makes login say how to fix it', async () => {
    const { app } = makeEdge({ adminPasswordHash: 'md5:abc' });
    const res = await new Client(app).login();
    expect(res.status).toBe(503);
    expect(await res.text()).toContain('npx tsx edge/hash-password.ts');
  });

  it('the CLI prints a hash that verifies', async () => {
    const child = execFile('npx', ['tsx', 'edge/hash-password.ts'], { cwd: new URL('../..', import.meta.url).pathname });
    child.stdin!.end('correct horse battery staple\n');
    const out = await new Promise<string>((resolve, reject) => {
      let s = '';
      child.stdout!.on('data', (d) => (s += d));
      child.on('exit', (code) => (code === 0 ? resolve(s) : reject(new Error(`exit ${code}`))));
    });
    expect(await verifyPassword('correct horse battery staple', out.trim())).toBe(true);
  });
});

