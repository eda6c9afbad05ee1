/**
 * @module node/doctor/mta-sts
 * The MTA-STS policy as senders see it: fetched over validated HTTPS from
 * https://mta-sts.<domain>/.well-known/mta-sts.txt without redirects
 * (RFC 8461 §3.3), and parsed (§3.2). The parser does no I/O.
 */
import https from 'node:https';

export interface FetchedPolicy {
  status: number;
  contentType: string;
  body: string;
}

export interface PolicyFetchOptions {
  /** HTTPS port (443). */
  port?: number;
  /** Extra trusted CA (tests). */
  ca?: string | Buffer;
  /** Connect here instead of resolving mta-sts.<domain> (tests); the certificate is still checked for the name. */
  address?: string;
  timeoutMs?: number;
}

/** At most 64 KiB, as RFC 8461 §3.3 lets senders limit. */
const MAX_POLICY_BYTES = 64 * 1024;

export function fetchMtaStsPolicy(domain: string, opts: PolicyFetchOptions = {}): Promise<FetchedPolicy> {
  const host = `mta-sts.${domain}`;
  return new Promise((resolve, reject) => {
    const req = https.get(
      {
        host: opts.address ?? host,
        servername: host,
        port: opts.port ?? 443,
        path: '/.well-known/mta-sts.txt',
        headers: { host },
        ca: opts.ca,
        timeout: opts.timeoutMs ?? 10_000,
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
          if (body.length > MAX_POLICY_BYTES) req.destroy(new Error('policy larger than 64 KiB'));
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

export interface MtaStsPolicy {
  version?: string;
  mode?: string;
  mx: string[];
  maxAge?: number;
}

/** Key/value lines (LF or CRLF); unknown keys are ignored (RFC 8461 §3.2). */
export function parseMtaStsPolicy(text: string): MtaStsPolicy {
  const p: MtaStsPolicy = { mx: [] };
  for (const line of text.split(/\r?\n/)) {
    const m = /^([A-Za-z0-9_]+):[ \t]*(.*?)[ \t]*$/.exec(line);
    if (!m) continue;
    const key = m[1].toLowerCase();
    if (key === 'version') p.version = m[2];
    else if (key === 'mode') p.mode = m[2];
    else if (key === 'mx') p.mx.push(m[2].toLowerCase());
    else if (key === 'max_age' && /^\d{1,10}$/.test(m[2])) p.maxAge = Number(m[2]);
  }
  return p;
}

/** Whether an MX pattern ("mail.example.com" or "*.example.com", one label) names a host (RFC 8461 §4.1). */
export function mxPatternMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, '');
  const h = host.toLowerCase().replace(/\.$/, '');
  if (p.startsWith('*.')) {
    const dot = h.indexOf('.');
    return dot > 0 && h.slice(dot + 1) === p.slice(2);
  }
  return p === h;
}

/** The TXT record's fields: "v=STSv1; id=…". */
export function parseStsTxt(txt: string): { v?: string; id?: string } {
  const out: Record<string, string> = {};
  for (const part of txt.split(';')) {
    const m = /^\s*([A-Za-z0-9_]+)\s*=\s*(.*?)\s*$/.exec(part);
    if (m) out[m[1].toLowerCase()] = m[2];
  }
  return { v: out.v, id: out.id };
}
