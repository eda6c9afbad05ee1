/**
 * `npm start` as a fresh checkout runs it (bin/haven.js: node/cli.ts through tsx, nothing
 * configured but a temporary data directory and every port 0): the banner
 * names every port and a first account whose printed password logs in over
 * IMAP; SIGTERM (and SIGHUP) stop it with exit 0; a second run reports the account
 * without printing a password, and nothing readable was written to disk.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ImapFlow } from 'imapflow';
import { afterAll, describe, expect, it } from 'vitest';
import { OPTIONS } from '../../node/config/index.js';

const ROOT = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'haven-npm-start-'));
const running = new Set<ChildProcess>();

afterAll(() => {
  for (const p of running) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HAVEN_')) e[k] = v;
  for (const name of Object.keys(OPTIONS.ports)) e[`HAVEN_PORTS_${name.toUpperCase()}`] = '0';
  // No blocklist lookups leave the machine from a test.
  return { ...e, HAVEN_DATA_DIR: join(dir, 'data'), HAVEN_DNSBL: '', HAVEN_LOG_LEVEL: 'warn' };
}

interface Run {
  proc: ChildProcess;
  stdout: string[];
  stderr: () => string;
  /** Resolves with every stdout line once the banner's last line is printed. */
  ready: Promise<string[]>;
  exit: Promise<number | null>;
}

function start(): Run {
  // Exactly the `npm start` script (without npm in between, so the signals reach the node itself).
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
  expect(pkg.scripts.start).toBe('node bin/haven.js start');
  const proc = spawn(process.execPath, ['bin/haven.js', 'start'], { cwd: ROOT, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(proc);
  const stdout: string[] = [];
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  const exit = new Promise<number | null>((resolve) =>
    proc.on('exit', (code) => {
      running.delete(proc);
      resolve(code);
    }),
  );
  const ready = new Promise<string[]>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      stdout.push(l);
      if (l.startsWith('ready;')) resolve(stdout);
    });
    void exit.then((code) => reject(new Error(`haven start exited with ${code} before it was ready:\n${stdout.join('\n')}\n${stderr}`)));
  });
  return { proc, stdout, stderr: () => stderr, ready, exit };
}

function field(lines: string[], label: string): string {
  const line = lines.find((l) => l.trimStart().startsWith(`${label}:`));
  if (!line) throw new Error(`no "${label}:" line in:\n${lines.join('\n')}`);
  return line.slice(line.indexOf(':') + 1).trim();
}

function ports(lines: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of lines) {
    const m = /^ {2}([a-z0-9]+)\s+127\.0\.0\.1:(\d+)\s/.exec(l);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** Logs in to the admin UI with the printed password and returns the domains page, which the UI fills from the node's signed admin API. */
async function adminDomains(url: string, password: string): Promise<string> {
  const form = await fetch(new URL('/login', url));
  const cookie = form.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1];
  const login = await fetch(new URL('/login', url), {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: new URL(url).origin },
    body: new URLSearchParams({ _csrf: csrf, password, next: '/domains' }),
  });
  expect(login.status).toBe(303);
  const session = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const page = await fetch(new URL('/domains', url), { headers: { cookie: session } });
  expect(page.status).toBe(200);
  return page.text();
}

async function imapLogin(port: number, user: string, pass: string): Promise<number> {
  // imapflow upgrades with STARTTLS when offered: trust the node's own self-signed certificate.
  const ca = readFileSync(join(dir, 'data', 'tls', 'cert.pem'));
  const client = new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user, pass }, tls: { ca, servername: 'localhost' }, logger: false });
  await client.connect();
  const status = await client.status('INBOX', { messages: true });
  await client.logout();
  if (!status) throw new Error('STATUS INBOX failed');
  return status.messages!;
}

describe('npm start on a fresh checkout', () => {
  it('prints every port and a first account that logs in; SIGTERM stops it; a second run keeps the account', async () => {
    const first = start();
    const lines = await first.ready;
    const p = ports(lines);
    for (const name of ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'http', 'https']) expect(p[name], `${name} in\n${lines.join('\n')}`).toBeGreaterThan(0);
    const address = field(lines, 'address');
    const password = field(lines, 'password');
    const recovery = field(lines, 'recovery key');
    expect(address).toBe('me@haven.localhost');
    expect(password).toMatch(/^[a-z0-9]{5}(-[a-z0-9]{5}){3}$/);
    expect(recovery).toMatch(/^[a-z0-9]{4}(-[a-z0-9]{4}){7}$/);
    const adminUrl = field(lines, 'admin UI');
    expect(adminUrl).toBe(`http://127.0.0.1:${p.admin}/`);
    const adminPassword = /^password (\S+) \(shown once/.exec(field(lines, 'admin login'))![1];
    expect(await adminDomains(adminUrl, adminPassword)).toContain('haven.localhost');
    expect(field(lines, 'certificate')).toMatch(/^self-signed/);
    expect(field(lines, 'calendars and contacts')).toBe(`https://127.0.0.1:${p.https}/ (CalDAV/CardDAV clients find them from there)`);

    expect(await imapLogin(p.imap, address, password)).toBe(0);

    // A second node on the same data directory (its ports are free: all 0) stops at the lock.
    const twin = start();
    twin.ready.catch(() => undefined);
    expect(await twin.exit).toBe(1);
    expect(twin.stderr()).toMatch(/^haven: a Haven node \(pid \d+\) is already running on .*data; stop it first/m);

    first.proc.kill('SIGTERM');
    expect(await first.exit).toBe(0);
    expect(first.stderr()).toContain('haven: stopped (SIGTERM)');

    // Nothing readable on disk: not the password, not the address.
    for (const e of readdirSync(join(dir, 'data'), { recursive: true, withFileTypes: true })) {
      if (!e.isFile()) continue;
      const bytes = readFileSync(join(e.parentPath, e.name));
      for (const needle of [password, 'haven.localhost', recovery, adminPassword]) expect(bytes.includes(needle), `${needle} in ${e.name}`).toBe(false);
    }

    const second = start();
    const again = await second.ready;
    expect(again.join('\n')).not.toContain(password);
    expect(again.join('\n')).not.toContain(adminPassword);
    expect(field(again, 'admin login')).toMatch(/^the password printed on the first run/);
    expect(field(again, 'accounts')).toMatch(/^1 exist \(me@haven\.localhost\); their passwords are not shown again/);
    expect(await imapLogin(ports(again).imap, address, password)).toBe(0);
    // Closing the terminal (SIGHUP) stops it cleanly too.
    second.proc.kill('SIGHUP');
    expect(await second.exit).toBe(0);
    expect(second.stderr()).toContain('haven: stopped (SIGHUP)');
  }, 60_000);
});
