/**
 * Raw request/response transcripts: each file in test/fixtures/dav/golden
 * holds one request and the exact reply expected (status, the headers that
 * matter, body). They run in order against one fresh store, so ETags and
 * sync tokens are deterministic. UPDATE_GOLDEN=1 writes missing replies,
 * which are then read and checked by hand before committing. They run twice:
 * with the mailbox's rendered-response cache off, and with it on, where every
 * read (PROPFIND, REPORT, GET) is sent a second time to be answered from the
 * cache, byte for byte the same.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dav, startHarness, type DavHarness } from './helpers.js';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'dav', 'golden');
const SEP = '\n=== response ===\n';
const SHOWN = ['dav', 'allow', 'etag', 'location', 'content-type'];


function parseRequest(text: string) {
  const [head, ...rest] = text.split('\n\n');
  const lines = head.split('\n');
  const [method, path] = lines[0].split(' ');
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1).filter((x) => x.trim())) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim()] = l.slice(i + 1).trim();
  }
  let body: string | undefined = rest.join('\n\n');
  if (!body) body = undefined;
  else if (/text\/(calendar|vcard)/.test(headers['Content-Type'] ?? '')) body = body.replace(/\r?\n/g, '\r\n');
  return { method, path, headers, body };
}

function normalize(text: string): string {
  return text.replace(/DTSTAMP:\d{8}T\d{6}Z/g, 'DTSTAMP:<now>').replace(/\r\n/g, '\n');
}

const READS = new Set(['PROPFIND', 'REPORT', 'GET']);

for (const cached of [false, true]) {
  describe(`golden transcripts, rendered-response cache ${cached ? 'on, reads sent twice' : 'off'}`, () => {
    let h: DavHarness;
    beforeAll(async () => {
      h = await startHarness({ davResponseCacheBytes: cached ? 4 * 1024 * 1024 : 0 });
    });
    afterAll(async () => h.close());

    for (const file of readdirSync(DIR).filter((f) => f.endsWith('.http')).sort()) {
      it(file, async () => {
        const path = join(DIR, file);
        const [reqText, expected] = readFileSync(path, 'utf8').split(SEP);
        const req = parseRequest(reqText.replace(/\n+$/, '\n'));
        const body = req.body === undefined ? undefined : req.body.trimEnd() + (req.body.includes('\r\n') ? '\r\n' : '\n');
        const send = async () => {
          const r = await dav(h, req.method, req.path, { headers: req.headers, body });
          const shown = SHOWN.filter((k) => r.headers.get(k) !== null).map((k) => `${k}: ${r.headers.get(k)}`);
          return normalize([`status ${r.status}`, ...shown, '', r.text].join('\n'));
        };
        const actual = await send();
        if (expected === undefined && process.env.UPDATE_GOLDEN && !cached) {
          writeFileSync(path, reqText.replace(/\n+$/, '\n') + SEP + actual);
          return;
        }
        expect(expected, `${file} has no expected reply; run with UPDATE_GOLDEN=1 and review it`).toBeDefined();
        expect(actual).toBe(expected);
        if (cached && READS.has(req.method)) expect(await send()).toBe(expected);
      });
    }
  });
}
