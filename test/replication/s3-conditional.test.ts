/**
 * The fence's exclusive create on an S3 replica (node/replication/target
 * S3Target.create): PutObject with `If-None-Match: *` (RFC 9110 13.1.2;
 * AWS S3 conditional writes, also R2), and a 412 Precondition Failed read
 * as "somebody else holds this epoch".
 *
 * s3rver, the S3 server the suite runs, stores objects but ignores
 * conditional headers on PUT (its putObject never reads them; only GET
 * honours If-None-Match), and no S3-compatible server that implements
 * conditional writes installs here (MinIO, SeaweedFS and Garage are not in
 * npm or Debian; Debian's radosgw needs a running Ceph cluster). So the
 * requests go through a small pass-through in front of s3rver that records
 * them and applies AWS's documented rule for If-None-Match: * (a HEAD on
 * s3rver; 412 with the PreconditionFailed error when the key exists). The
 * file replica's exclusive create is tested for real, racing processes
 * included, in epoch.test.ts.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fence } from '../../node/replication/epoch.js';
import { openTarget } from '../../node/replication/target.js';
import { silentLogger } from '../../node/util/log.js';
import { startS3, tempDir, type TestS3 } from './helpers.js';

let s3: TestS3;
let proxy: Server;
let proxyPort: number;
const puts: { url: string; ifNoneMatch: string | undefined; status: number }[] = [];

function forward(req: IncomingMessage, body: Buffer, method = req.method!): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port: s3.port, method, path: req.url, headers: { ...req.headers, host: `127.0.0.1:${s3.port}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    r.on('error', reject);
    r.end(method === 'HEAD' ? undefined : body);
  });
}

beforeAll(async () => {
  s3 = await startS3('fence');
  proxy = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const inm = req.headers['if-none-match'] as string | undefined;
    if (req.method === 'PUT' && inm === '*') {
      // The request is signed for its own method, so the key is looked up in s3rver's storage itself.
      const key = decodeURIComponent(new URL(req.url!, 'http://x').pathname).replace(/^\/haven-replica\//, '');
      if ([...s3.objects().keys()].some((k) => k === `${key}._S3rver_object`)) {
        puts.push({ url: new URL(req.url!, 'http://x').pathname, ifNoneMatch: inm, status: 412 });
        res.writeHead(412, { 'content-type': 'application/xml' });
        return res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-None-Match</Condition></Error>');
      }
    }
    const out = await forward(req, body);
    if (req.method === 'PUT') puts.push({ url: new URL(req.url!, 'http://x').pathname, ifNoneMatch: inm, status: out.status });
    res.writeHead(out.status, out.headers as Record<string, string>);
    res.end(out.body);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  proxyPort = (proxy.address() as { port: number }).port;
});

afterAll(async () => {
  proxy?.close();
  await s3?.cleanup();
});

const url = () => `s3://haven-replica/fence?endpoint=http://127.0.0.1:${proxyPort}&region=us-east-1`;

describe('exclusive create on S3', () => {
  it('sends If-None-Match: * and reads 412 as taken', async () => {
    const t = openTarget(url());
    try {
      expect(await t.create('epoch/a', Buffer.from('first'))).toBe(true);
      expect(await t.create('epoch/a', Buffer.from('second'))).toBe(false);
      expect((await t.get('epoch/a')).toString()).toBe('first');
      expect(puts.filter((p) => p.url.endsWith('/epoch/a')).map((p) => [p.ifNoneMatch, p.status])).toEqual([
        ['*', 200],
        ['*', 412],
      ]);
      // An ordinary put (replica objects) carries no condition.
      await t.put('directory/x', Buffer.from('x'));
      expect(puts.find((p) => p.url.endsWith('/directory/x'))?.ifNoneMatch).toBeUndefined();
    } finally {
      t.close();
    }
  });

  it('a primary and a promoting standby on one S3 replica: the standby takes epoch 2 and the primary is fenced', async () => {
    const primary = new Fence(openTarget(url()), tempDir('s3-a'), silentLogger, { role: 'primary' });
    const standby = new Fence(openTarget(url()), tempDir('s3-b'), silentLogger, { role: 'standby' });
    expect(await primary.boot(false)).toEqual({ kind: 'primary', epoch: 1 });
    await standby.boot(false);
    expect(await standby.promote()).toBe(true);
    await primary.check();
    expect(primary.state).toEqual({ kind: 'fenced', epoch: 1, newer: 2 });
  });
});
