/**
 * @module test/replication/s3-get
 * The lean GET that restore uses against S3-compatible endpoints: its
 * Signature V4 matches AWS's documented example (s3rver does not check V4
 * signatures, so this is the test that they are right), and against a real
 * s3rver it returns objects byte for byte and names a missing key NoSuchKey
 * (which restore reports instead of retrying).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Getter, signGet } from '../../node/replication/s3-get.js';
import { openTarget } from '../../node/replication/target.js';
import { S3_BUCKET, startS3, type TestS3 } from './helpers.js';

describe('signGet', () => {
  it("gives AWS's documented signature for the GET Object example", () => {
    // "Signature Calculations for the Authorization Header: Transferring Payload in a Single Chunk", Example: GET Object.
    const auth = signGet(
      '/test.txt',
      {
        host: 'examplebucket.s3.amazonaws.com',
        range: 'bytes=0-9',
        'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        'x-amz-date': '20130524T000000Z',
      },
      'us-east-1',
      { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
    );
    expect(auth).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
  });
});

describe('S3Getter against s3rver', () => {
  let s3: TestS3;
  beforeAll(async () => {
    s3 = await startS3('get');
  });
  afterAll(async () => {
    await s3.cleanup();
  });

  it('returns objects byte for byte through the target and names a missing key NoSuchKey', async () => {
    const target = openTarget(s3.url);
    try {
      const big = Buffer.alloc(3 << 20, 7);
      big.write('end', big.length - 3);
      await target.put('a/b c+d.bin', big);
      await target.put('small', Buffer.from('hello'));
      expect((await target.get('a/b c+d.bin')).equals(big)).toBe(true);
      expect((await target.get('small')).toString()).toBe('hello');
      await expect(target.get('absent')).rejects.toMatchObject({ name: 'NoSuchKey' });
    } finally {
      target.close();
    }
  });

  it('fails (for restore to retry) when the server is down', async () => {
    const getter = new S3Getter({
      endpoint: `http://127.0.0.1:${s3.port}`,
      region: 'us-east-1',
      bucket: S3_BUCKET,
      pathStyle: true,
      timeoutMs: 1_000,
      credentials: async () => ({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }),
    });
    await s3.stop();
    try {
      await expect(getter.get('get/small')).rejects.toThrow();
    } finally {
      getter.close();
      await s3.start();
    }
  });
});
