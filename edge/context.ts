/**
 * @module edge/context
 * What the edge app is built from (`EdgeDeps`), whether it comes from Worker
 * bindings or from the local Node run, and the per-request variables the
 * middleware sets. Everything with I/O is injectable so tests use real local
 * servers instead of Cloudflare.
 */
import type { Context } from 'hono';
import { srvServices, type MtaStsMode } from '../node/dns/index.js';
import type { AccessConfig } from './auth/access.js';
import type { DnsChecker } from './dns-check.js';
import type { EdgeKv } from './kv.js';
import type { Session } from './auth/session.js';

/** Where mail clients connect: the ports node/dns publishes in SRV records unless a local run says otherwise. */
export interface ClientPorts {
  imaps: number;
  submissions: number;
  submission: number;
  pop3s: number;
  /** CalDAV/CardDAV over HTTPS. */
  https: number;
}

export interface EdgeDeps {
  /** The node's base URL, e.g. https://mail.example.com. */
  nodeUrl?: string;
  /** The HMAC secret shared with the node's admin API. */
  edgeSecret?: string;
  /** Signs session cookies; when unset a key is derived from edgeSecret. */
  sessionSecret?: string;
  /** pbkdf2-sha256$… (edge/auth/password.ts); unset disables password login. */
  adminPasswordHash?: string;
  kv: EdgeKv;
  alertWebhook?: string;
  access?: AccessConfig;
  /** The mail host clients and MX point at; default: the node URL's host name. */
  mailHost?: string;
  /** The mail domains (MTA-STS and autoconfig answer for these); empty: ask the node. */
  mailDomains?: string[];
  pop3?: boolean;
  ports?: Partial<ClientPorts>;
  mtaSts?: { mode?: MtaStsMode; maxAgeSeconds?: number };
  /** fetch for the node's API (the local run passes one that trusts the node's self-signed certificate). */
  nodeFetch?: typeof fetch;
  /** fetch for everything else: webhook, Access keys. */
  fetch?: typeof fetch;
  /** Checks DNS records from outside; null turns the check off. Default: DNS-over-HTTPS to 1.1.1.1. */
  dnsChecker?: DnsChecker | null;
  /** The client's IP for the login rate limit. Default: CF-Connecting-IP, which Cloudflare sets. */
  clientIp?: (c: Context) => string | undefined;
  now?: () => number;
  /** Shown in the page footer and /health. */
  version?: string;
  /** A standby node's HTTPS URL: the edge promotes it when the primary has been down for failoverAfterMs (edge/failover). */
  standbyUrl?: string;
  /** How long every probe must have failed before the standby is promoted (default 5 minutes). */
  failoverAfterMs?: number;
  /** Where the edge learns which Cloudflare data centre ran the probe (edge/failover coloOf); unset in the local run. */
  coloTraceUrl?: string;
}

export function clientPorts(deps: Pick<EdgeDeps, 'ports'>): ClientPorts {
  const srv = Object.fromEntries(srvServices(true).map((s) => [s.service, s.port]));
  return {
    imaps: deps.ports?.imaps ?? srv['_imaps._tcp'],
    submissions: deps.ports?.submissions ?? srv['_submissions._tcp'],
    submission: deps.ports?.submission ?? srv['_submission._tcp'],
    pop3s: deps.ports?.pop3s ?? srv['_pop3s._tcp'],
    https: deps.ports?.https ?? srv['_caldavs._tcp'],
  };
}

export function mailHostOf(deps: EdgeDeps): string | undefined {
  if (deps.mailHost) return deps.mailHost.toLowerCase();
  try {
    return deps.nodeUrl ? new URL(deps.nodeUrl).hostname.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

export type EdgeVars = {
  session: Session | null;
  csrf: string;
  flash: { kind: 'ok' | 'error'; text: string } | null;
  /** The parsed form of a POST, once read. */
  form: Record<string, unknown>;
};

export type EdgeEnv = { Variables: EdgeVars };
