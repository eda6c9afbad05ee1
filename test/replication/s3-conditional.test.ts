/**
 * The fence's exclusive create on an S3 replica (node/replication/target
 * S3Target.create) against a real S3 server that implements conditional
 * writes: moto 5.2.1 (test/helpers/moto). PutObject carries
 * `If-None-Match: *`. RFC 9110 13.1.2: with "*" the condition fails when the
 * origin server has any current representation of the target, and a failed
 * condition on a method other than GET/HEAD means the method is not
 * performed and the answer is 412 (Precondition Failed). AWS S3 user guide,
 * "conditional writes" (PutObject, since August 2024; R2 the same): the
 * upload happens only when no object has that key, otherwise 412; a
 * conflicting concurrent write may get 409 ConditionalRequestConflict.
 * The whole fence (epochs, promotion races between processes, a primary
 * fenced by a newer epoch) runs on moto too, in epoch.test.ts; the two-node
 * failover in failover.test.ts and failover-kill.test.ts.
 *
 * What moto does not give by itself: its check and its store are two steps
 * (moto/s3/responses.py), and `moto_server` serves each request on a thread
 * of its own, so racing conditional PUTs can both succeed (3 rounds of 900
 * tried had two winners). startMoto serves one request at a time, which
 * makes each conditional PUT one act, as AWS documents it.
 */
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTarget, type ReplicaTarget } from '../../node/replication/target.js';
import { freePort } from '../helpers/ports.js';
import { MOTO_BUCKET, startMoto, type TestMoto } from '../helpers/moto.js';

let moto: TestMoto;
beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});

let prefixes = 0;
async function withTarget<T>(fn: (t: ReplicaTarget, prefix: string) => Promise<T>): Promise<T> {
  const prefix = `conditional-${++prefixes}`;
  const t = openTarget(moto.url(prefix));
  try {
    return await fn(t, prefix);
  } finally {
    t.close();
  }
}

describe('exclusive create on S3 (PutObject If-None-Match: *)', () => {
  it('the server answers a second conditional PUT of a key with 412 PreconditionFailed and keeps the first body; create reads that as taken', async () => {
    await withTarget(async (t, prefix) => {
      expect(await t.create('epoch/0000000000000001', Buffer.from('first'))).toBe(true);
      // The answer create() interprets, seen through the SDK directly.
      const sdk = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'moto', secretAccessKey: 'moto' } });
      try {
        const err = (await sdk.send(new PutObjectCommand({ Bucket: MOTO_BUCKET, Key: `${prefix}/epoch/0000000000000001`, Body: 'raw', IfNoneMatch: '*' })).then(
          () => null,
          (e: unknown) => e,
        )) as { name?: string; $metadata?: { httpStatusCode?: number } } | null;
        expect(err?.$metadata?.httpStatusCode).toBe(412);
        expect(err?.name).toBe('PreconditionFailed');
      } finally {
        sdk.destroy();
      }
      expect(await t.create('epoch/0000000000000001', Buffer.from('second'))).toBe(false);
      expect((await t.get('epoch/0000000000000001')).toString()).toBe('first');
    });
  });

  it('an ordinary put carries no condition: it replaces an object, and a create of that name afterwards is refused', async () => {
    await withTarget(async (t) => {
      await t.put('directory/x', Buffer.from('one'));
      await t.put('directory/x', Buffer.from('two'));
      expect((await t.get('directory/x')).toString()).toBe('two');
      expect(await t.create('directory/x', Buffer.from('three'))).toBe(false);
      expect((await t.get('directory/x')).toString()).toBe('two');
    });
  });

  it('of many nodes (each its own client and connections) creating one key together, exactly one is told it made it', async () => {
    const prefix = `conditional-${++prefixes}`;
    const nodes = Array.from({ length: 8 }, () => openTarget(moto.url(prefix)));
    try {
      for (let round = 0; round < 10; round++) {
        const key = `epoch/${round.toString(16).padStart(16, '0')}`;
        const results = await Promise.all(nodes.map((t, i) => t.create(key, Buffer.from(`node ${i}`))));
        expect(results.filter(Boolean)).toHaveLength(1);
        // The body kept is the winner's.
        expect((await nodes[0].get(key)).toString()).toBe(`node ${results.indexOf(true)}`);
      }
    } finally {
      for (const t of nodes) t.close();
    }
  });

  it('an error that is not a failed condition is thrown, never read as losing the race', async () => {
    // A bucket that does not exist: 404 NoSuchBucket.
    const missing = openTarget(`s3://no-such-bucket/x?endpoint=${moto.endpoint}&region=us-east-1`);
    try {
      await expect(missing.create('epoch/0000000000000001', Buffer.from('x'))).rejects.toMatchObject({ name: 'NoSuchBucket' });
    } finally {
      missing.close();
    }
    // Nothing listening: the connection is refused.
    const down = openTarget(`s3://${MOTO_BUCKET}/x?endpoint=http://127.0.0.1:${await freePort()}&region=us-east-1`);
    try {
      await expect(down.create('epoch/0000000000000001', Buffer.from('x'))).rejects.toThrow();
    } finally {
      down.close();
    }
  });
});
