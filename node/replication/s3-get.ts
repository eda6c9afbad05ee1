/**
 * @module node/replication/s3-get
 * A lean S3 GetObject for restore: one keep-alive HTTP(S) request signed
 * with AWS Signature Version 4 (header auth, unsigned payload), the body
 * read into one buffer sized by Content-Length.
 *
 * Why not the SDK for this one call: a restore replays a long WAL history as
 * thousands of small objects, and the SDK's middleware stack (endpoint rules,
 * schema serde, signer, checksum wrappers, body re-concatenation) cost about
 * 1.2 ms of CPU per GET — more than checking and applying the object. The
 * SDK still resolves credentials (its full provider chain) and does every
 * other call. Signing follows the SigV4 documentation: canonical request,
 * string to sign, key derived from date/region/service.
 */
import { createHash, createHmac } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface S3GetCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface S3GetOptions {
  /** Endpoint URL (http or https), as in the replica URL. */
  endpoint: string;
  region: string;
  bucket: string;
  pathStyle: boolean;
  credentials: () => Promise<S3GetCredentials>;
  timeoutMs: number;
}

/** An S3 error answer; `name` is S3's error code (NoSuchKey, SlowDown, …) as the SDK names its errors. */
export class S3GetError extends Error {
  constructor(
    readonly status: number,
    code: string,
    key: string,
  ) {
    super(`GET ${key}: HTTP ${status}${code ? ` ${code}` : ''}`);
    this.name = code || `Http${status}`;
  }
}

export class S3Getter {
  private readonly base: URL;
  private readonly agent: HttpAgent;
  private readonly https: boolean;
  private signingKey: { day: string; key: Buffer; secret: string } | null = null;

  constructor(private readonly opts: S3GetOptions) {
    this.base = new URL(opts.endpoint);
    this.https = this.base.protocol === 'https:';
    // Restore fetches dozens of objects ahead per database: keep those connections open.
    this.agent = this.https ? new HttpsAgent({ keepAlive: true, maxSockets: 128 }) : new HttpAgent({ keepAlive: true, maxSockets: 128 });
  }

  async get(fullKey: string): Promise<Buffer> {
    const creds = await this.opts.credentials();
    const host = this.opts.pathStyle ? this.base.host : `${this.opts.bucket}.${this.base.host}`;
    const basePath = this.base.pathname.replace(/\/$/, '');
    const path = `${basePath}${this.opts.pathStyle ? `/${encodePath(this.opts.bucket)}` : ''}/${encodePath(fullKey)}`;
    const now = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const headers: Record<string, string> = { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'x-amz-date': now };
    if (creds.sessionToken) headers['x-amz-security-token'] = creds.sessionToken;
    headers.authorization = signGet(path, headers, this.opts.region, creds, (day) => this.keyFor(day, creds.secretAccessKey));
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = (this.https ? httpsRequest : httpRequest)(
        { protocol: this.base.protocol, hostname: this.base.hostname, port: this.base.port || undefined, method: 'GET', path, headers, agent: this.agent, timeout: this.opts.timeoutMs },
        resolve,
      );
      req.on('timeout', () => req.destroy(new Error(`GET ${fullKey}: no answer in ${this.opts.timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
    const body = await readBody(res);
    if (res.statusCode !== 200) throw new S3GetError(res.statusCode ?? 0, /<Code>([^<]+)<\/Code>/.exec(body.toString('utf8'))?.[1] ?? (res.statusCode === 404 ? 'NoSuchKey' : ''), fullKey);
    return body;
  }

  close(): void {
    this.agent.destroy();
  }

  private keyFor(day: string, secret: string): Buffer {
    if (this.signingKey?.day === day && this.signingKey.secret === secret) return this.signingKey.key;
    const key = signingKey(secret, day, this.opts.region);
    this.signingKey = { day, key, secret };
    return key;
  }
}

/**
 * The Authorization header for a GET with no query string: `headers` (lower-case names)
 * are all signed and must hold host, x-amz-date and x-amz-content-sha256 (the payload hash).
 */
export function signGet(path: string, headers: Record<string, string>, region: string, creds: S3GetCredentials, keyFor = (day: string) => signingKey(creds.secretAccessKey, day, region)): string {
  const amzDate = headers['x-amz-date'];
  const names = Object.keys(headers).sort();
  const signed = names.join(';');
  const canonical = ['GET', path, '', ...names.map((n) => `${n}:${headers[n].trim()}`), '', signed, headers['x-amz-content-sha256']].join('\n');
  const scope = `${amzDate.slice(0, 8)}/${region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  const signature = createHmac('sha256', keyFor(amzDate.slice(0, 8))).update(toSign).digest('hex');
  return `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope},SignedHeaders=${signed},Signature=${signature}`;
}

function signingKey(secret: string, day: string, region: string): Buffer {
  let k = createHmac('sha256', `AWS4${secret}`).update(day).digest();
  for (const part of [region, 's3', 'aws4_request']) k = createHmac('sha256', k).update(part).digest();
  return k;
}

/** SigV4's URI encoding for S3: every byte but the unreserved characters, '/' kept between segments. */
function encodePath(p: string): string {
  return p
    .split('/')
    .map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
}

function readBody(res: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const len = Number(res.headers['content-length']);
    // Sized up front when the length is known: one allocation, no concatenation.
    const sized = Number.isSafeInteger(len) && len >= 0 ? Buffer.allocUnsafe(len) : null;
    const chunks: Buffer[] = [];
    let got = 0;
    res.on('data', (c: Buffer) => {
      if (sized && got + c.length <= sized.length) c.copy(sized, got);
      else chunks.push(c);
      got += c.length;
    });
    res.on('end', () => {
      if (sized && got === sized.length && chunks.length === 0) resolve(sized);
      else if (sized) reject(new Error(`body ended after ${got} of ${sized.length} bytes`));
      else resolve(Buffer.concat(chunks));
    });
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('connection closed during the body')));
  });
}
