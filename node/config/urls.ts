/**
 * @module node/config/urls
 * The URL-shaped options (replica, smarthost): their checks at load time and
 * the parsed forms the replication and outbound modules use, so a URL that
 * passed start-up can always be parsed later.
 */
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseUrl } from './options.js';

export type ReplicaTarget =
  | { kind: 's3'; bucket: string; prefix: string; endpoint?: string; region?: string; forcePathStyle: boolean }
  | { kind: 'file'; path: string };

const REPLICA_EXPECT = 's3://bucket/prefix?endpoint=https://…&region=… or file:///absolute/path, or empty to turn replication off';

/** Parses a non-empty replica URL; throws an Error whose message is the expectation. */
export function parseReplicaUrl(v: string): ReplicaTarget {
  const u = parseUrl(v);
  if (u?.protocol === 's3:' && u.hostname) {
    for (const key of u.searchParams.keys()) {
      if (!['endpoint', 'region', 'forcePathStyle'].includes(key)) throw new Error(`${REPLICA_EXPECT} (unknown parameter "${key}"; allowed: endpoint, region, forcePathStyle)`);
    }
    const endpoint = u.searchParams.get('endpoint') ?? undefined;
    if (endpoint !== undefined) {
      const e = parseUrl(endpoint);
      if (!e || (e.protocol !== 'https:' && e.protocol !== 'http:')) throw new Error(`${REPLICA_EXPECT} (endpoint must be an http(s) URL)`);
    }
    const region = u.searchParams.get('region') ?? undefined;
    const fps = u.searchParams.get('forcePathStyle');
    return {
      kind: 's3',
      bucket: u.hostname,
      prefix: decodeURIComponent(u.pathname.replace(/^\/+/, '')),
      endpoint,
      region,
      // MinIO and most self-hosted stores need path-style; R2, AWS and Hetzner accept either.
      forcePathStyle: fps === null ? endpoint !== undefined : fps === 'true' || fps === '1',
    };
  }
  if (u?.protocol === 'file:' && (u.hostname === '' || u.hostname === 'localhost')) {
    const path = fileURLToPath(u);
    if (isAbsolute(path) && path !== '/') return { kind: 'file', path };
  }
  throw new Error(REPLICA_EXPECT);
}

export function checkReplicaUrl(v: string): string | undefined {
  try {
    parseReplicaUrl(v);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

export interface SmarthostTarget {
  host: string;
  port: number;
  /** smtps: TLS from the first byte; smtp: STARTTLS, which delivery requires. */
  secure: boolean;
  user?: string;
  pass?: string;
}

const SMARTHOST_EXPECT = 'smtp://user:password@relay.example.com:587 (STARTTLS) or smtps://user:password@relay.example.com:465, or empty to deliver directly';

export function parseSmarthostUrl(v: string): SmarthostTarget {
  const u = parseUrl(v);
  if (!u || (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') || !u.hostname || (u.pathname !== '' && u.pathname !== '/')) throw new Error(SMARTHOST_EXPECT);
  const secure = u.protocol === 'smtps:';
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : secure ? 465 : 587,
    secure,
    user: u.username ? decodeURIComponent(u.username) : undefined,
    pass: u.password ? decodeURIComponent(u.password) : undefined,
  };
}

export function checkSmarthostUrl(v: string): string | undefined {
  try {
    parseSmarthostUrl(v);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** An http(s) URL with a host (rspamd's workers). */
export function checkHttpUrl(v: string): string | undefined {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return 'not a URL';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'the URL must start with http:// or https://';
  if (!u.hostname) return 'the URL needs a host';
  return undefined;
}

/** rspamd's normal worker: an http(s) URL with a host, or `unix:` and the absolute path of its socket. */
export function checkRspamdUrl(v: string): string | undefined {
  if (!v.startsWith('unix:')) return checkHttpUrl(v);
  return v.startsWith('unix:/') && v.length > 'unix:/'.length ? undefined : 'a unix: address needs the absolute path of the socket, e.g. unix:/run/rspamd/normal.sock';
}
