/**
 * @module node/replication/target
 * Where replica objects live, named by one URL:
 *
 *   s3://bucket/prefix?endpoint=https://…&region=auto[&forcePathStyle=false]
 *   file:///var/backups/haven
 *
 * The URL is parsed by node/config (the same check that ran at start-up), so
 * a URL the config accepted always opens here. Path-style addressing is the
 * default when an endpoint is given (MinIO, s3rver and most self-hosted
 * stores need it; R2, AWS and Hetzner take either).
 *
 * S3 credentials come from options, then HAVEN_REPLICA_ACCESS_KEY_ID /
 * HAVEN_REPLICA_SECRET_ACCESS_KEY, then the AWS SDK's usual chain; they are
 * never part of the URL we log. Both targets offer the same four calls; a
 * put is durable when it resolves (the filesystem target fsyncs).
 */
import { DeleteObjectCommand, GetObjectCommand, ListObjectsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { link, readFile, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { parseReplicaUrl } from '../config/urls.js';
import { ReplicaConfigError } from './errors.js';
import { S3Getter } from './s3-get.js';
import { fsyncDir } from '../util/fsync.js';

export interface ListedObject {
  /** Key relative to the target's prefix. */
  key: string;
  size: number;
  /** Last modified (ms since epoch). */
  modified?: number;
}

export interface ReplicaTarget {
  /** The URL without credentials, for logs and status. */
  readonly description: string;
  put(key: string, body: Buffer): Promise<void>;
  /**
   * Writes `key` only if no object has that name: true when this call made
   * it, false when it existed already (another writer won). The fencing
   * epoch (node/replication/epoch) rests on this and nothing else: an
   * exclusive link for a directory, PutObject with `If-None-Match: *` for S3.
   */
  create(key: string, body: Buffer): Promise<boolean>;
  get(key: string): Promise<Buffer>;
  /** Every object under the prefix (keys relative to it). */
  list(): Promise<ListedObject[]>;
  delete(keys: string[]): Promise<void>;
  close(): void;
}

export interface TargetCredentials {
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
}

export function openTarget(url: string, creds: TargetCredentials = {}): ReplicaTarget {
  let parsed;
  try {
    parsed = parseReplicaUrl(url);
  } catch (err) {
    throw new ReplicaConfigError(`replica URL ${JSON.stringify(redactUrl(url))}: expected ${(err as Error).message}`);
  }
  if (parsed.kind === 'file') return new FileTarget(parsed.path);
  let prefix = parsed.prefix;
  if (prefix && !prefix.endsWith('/')) prefix += '/';
  return new S3Target(parsed.bucket, prefix, {
    endpoint: parsed.endpoint,
    region: parsed.region ?? process.env.AWS_REGION ?? 'us-east-1',
    pathStyle: parsed.forcePathStyle,
    creds,
  });
}

/** A URL with any user:password part removed, for messages. */
function redactUrl(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//');
}

export class FileTarget implements ReplicaTarget {
  readonly description: string;
  constructor(readonly root: string) {
    this.description = `file://${root}`;
  }

  async put(key: string, body: Buffer): Promise<void> {
    const path = join(this.root, key);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const tmp = `${path}.tmp-${process.pid}`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, body);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    await rename(tmp, path);
    fsyncDir(path);
  }

  async create(key: string, body: Buffer): Promise<boolean> {
    const path = join(this.root, key);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // Written whole and fsynced under a private name, then linked: link(2) fails with EEXIST when
    // the name is taken, atomically, so two nodes racing for one name get exactly one success and
    // nobody ever reads a half-written object.
    const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(16).slice(2)}`;
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, body);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      await link(tmp, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    } finally {
      await unlink(tmp).catch(() => {});
    }
    fsyncDir(path);
    return true;
  }

  async get(key: string): Promise<Buffer> {
    return readFile(join(this.root, key));
  }

  async list(): Promise<ListedObject[]> {
    const out: ListedObject[] = [];
    let entries: string[];
    try {
      entries = (await readdir(this.root, { recursive: true })) as string[];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    for (const e of entries) {
      if (e.includes('.tmp-')) continue;
      const full = join(this.root, e);
      const s = await stat(full).catch(() => null);
      if (!s || !s.isFile()) continue;
      out.push({ key: relative(this.root, full).split(sep).join('/'), size: s.size, modified: s.mtimeMs });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(keys: string[]): Promise<void> {
    for (const k of keys) await rm(join(this.root, k), { force: true });
  }

  close(): void {}
}

export class S3Target implements ReplicaTarget {
  readonly description: string;
  private readonly client: S3Client;
  /** GETs past the SDK when the URL names an endpoint (see s3-get.ts); AWS's own endpoints stay with the SDK. */
  private readonly getter: S3Getter | null;

  constructor(
    private readonly bucket: string,
    private readonly prefix: string,
    opts: { endpoint?: string; region: string; pathStyle: boolean; creds: TargetCredentials; timeoutMs?: number },
  ) {
    const accessKeyId = opts.creds.accessKeyId ?? process.env.HAVEN_REPLICA_ACCESS_KEY_ID;
    const secretAccessKey = opts.creds.secretAccessKey ?? process.env.HAVEN_REPLICA_SECRET_ACCESS_KEY;
    this.client = new S3Client({
      endpoint: opts.endpoint,
      region: opts.region,
      forcePathStyle: opts.pathStyle,
      credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, sessionToken: opts.creds.sessionToken } : undefined,
      // The replicator retries with its own backoff and never gives up; the SDK's retries would only hide an outage.
      maxAttempts: 1,
      // A replica that stops answering must fail the attempt, not hang the chain behind it.
      requestHandler: { connectionTimeout: opts.timeoutMs ?? 5_000, requestTimeout: (opts.timeoutMs ?? 5_000) * 6 },
      // R2, MinIO and older S3 servers reject the newer default checksum headers.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    this.getter = opts.endpoint
      ? new S3Getter({
          endpoint: opts.endpoint,
          region: opts.region,
          bucket,
          pathStyle: opts.pathStyle,
          timeoutMs: (opts.timeoutMs ?? 5_000) * 6,
          credentials: () => this.client.config.credentials(),
        })
      : null;
    const q = new URLSearchParams();
    if (opts.endpoint) q.set('endpoint', opts.endpoint);
    q.set('region', opts.region);
    if (opts.endpoint && !opts.pathStyle) q.set('forcePathStyle', 'false');
    this.description = `s3://${bucket}/${prefix}?${q.toString()}`;
  }

  async put(key: string, body: Buffer): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, Body: body, ContentLength: body.length }));
  }

  async create(key: string, body: Buffer): Promise<boolean> {
    try {
      // RFC 9110 13.1.2: If-None-Match: * makes the PUT fail when any current representation exists.
      // AWS S3 (since 2024) and R2 answer 412 then; 409 is S3's answer to a conditional write racing another.
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, Body: body, ContentLength: body.length, IfNoneMatch: '*' }));
      return true;
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 412 || status === 409) return false;
      throw err;
    }
  }

  async get(key: string): Promise<Buffer> {
    if (this.getter) return this.getter.get(this.prefix + key);
    const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
    const bytes = await r.Body!.transformToByteArray();
    // A view, not a copy: snapshots are megabytes and restore speed is the point.
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  async list(): Promise<ListedObject[]> {
    const out: ListedObject[] = [];
    // ListObjects (v1) paged by marker = the last key: AWS, R2, MinIO and Ceph (Hetzner) all serve
    // it, and it needs no continuation token — s3rver (our test server) cannot make one under
    // OpenSSL 3, so its v2 listings fail past 1,000 keys.
    let after: string | undefined;
    for (;;) {
      const r = await this.client.send(new ListObjectsCommand({ Bucket: this.bucket, Prefix: this.prefix, Marker: after }));
      const page = r.Contents ?? [];
      for (const o of page) if (o.Key) out.push({ key: o.Key.slice(this.prefix.length), size: o.Size ?? 0, modified: o.LastModified?.getTime() });
      const last = page[page.length - 1]?.Key;
      if (!r.IsTruncated || !last) break;
      after = last;
    }
    return out;
  }

  async delete(keys: string[]): Promise<void> {
    // One request per key: DeleteObjects needs a Content-MD5 that not every S3-compatible server accepts from this SDK.
    for (const k of keys) await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + k }));
  }

  close(): void {
    this.getter?.close();
    this.client.destroy();
  }
}
