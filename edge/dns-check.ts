/**
 * @module edge/dns-check
 * Whether each DNS record the node asks for is live, seen from outside:
 * DNS-over-HTTPS (the JSON API Cloudflare's 1.1.1.1 serves at
 * cloudflare-dns.com/dns-query; RFC 8484 is the wire form, the JSON form is
 * the one Google and Cloudflare share). The endpoint and fetch are injected,
 * so tests point it at a real local server.
 *
 * Matching is by meaning, not text: names case-insensitive without the
 * trailing dot, TXT strings joined, IPv6 expanded, CAA also in RFC 3597
 * generic form (which 1.1.1.1 returns).
 */

/** A record as the node's admin API lists it. */
export interface WantedRecord {
  type: string;
  name: string;
  value: string;
  priority?: number;
}

/** true: published as wanted; false: not (or different); null: could not check. */
export type Liveness = boolean | null;

export interface DnsChecker {
  check(records: readonly WantedRecord[]): Promise<Liveness[]>;
}

export const CLOUDFLARE_DOH = 'https://cloudflare-dns.com/dns-query';

const TYPE_CODES: Record<string, number> = { A: 1, CNAME: 5, MX: 15, TXT: 16, AAAA: 28, SRV: 33, CAA: 257 };

interface DohAnswer {
  name: string;
  type: number;
  data: string;
}

const host = (s: string) => s.trim().toLowerCase().replace(/\.$/, '');

/** The strings of a TXT presentation value joined, or the text itself when it is not quoted. */
export function txtText(s: string): string {
  const t = s.trim();
  if (!t.startsWith('"')) return t;
  let out = '';
  const re = /"((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(t); m; m = re.exec(t)) out += m[1].replace(/\\(\d{3}|.)/g, (_, e: string) => (e.length === 3 ? String.fromCharCode(Number(e)) : e));
  return out;
}

export function expandIpv6(ip: string): string {
  const [head, tail] = ip.toLowerCase().split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail ? tail.split(':') : [];
  const fill = tail !== undefined ? Array(8 - h.length - t.length).fill('0') : [];
  return [...h, ...fill, ...t].map((g) => g.padStart(4, '0')).join(':');
}

/** CAA as [flags, tag, value] from presentation (`0 issue "ca"`) or generic (`\# 15 00 05 69...`) form. */
export function caaParts(data: string): [number, string, string] | null {
  const generic = /^\\#\s+\d+\s+([0-9a-fA-F\s]+)$/.exec(data.trim());
  if (generic) {
    const bytes = generic[1].replace(/\s+/g, '').match(/../g)?.map((x) => parseInt(x, 16)) ?? [];
    const tagLen = bytes[1] ?? 0;
    const tag = String.fromCharCode(...bytes.slice(2, 2 + tagLen));
    return [bytes[0] ?? 0, tag.toLowerCase(), String.fromCharCode(...bytes.slice(2 + tagLen))];
  }
  const m = /^(\d+)\s+(\S+)\s+(.*)$/.exec(data.trim());
  return m ? [Number(m[1]), m[2].toLowerCase(), txtText(m[3])] : null;
}

/** Whether a DoH answer's data says what the wanted record says. */
export function matches(want: WantedRecord, data: string): boolean {
  const type = want.type.toUpperCase();
  const toks = (s: string) => s.trim().split(/\s+/);
  switch (type) {
    case 'A':
      return data.trim() === want.value.trim();
    case 'AAAA':
      return expandIpv6(data.trim()) === expandIpv6(want.value.trim());
    case 'CNAME':
      return host(data) === host(want.value);
    case 'TXT':
      return txtText(data) === txtText(want.value);
    case 'MX': {
      const got = toks(data);
      const w = toks(want.value);
      const prio = want.priority ?? (w.length > 1 ? Number(w[0]) : undefined);
      return host(got[got.length - 1]) === host(w[w.length - 1]) && (prio === undefined || Number(got[0]) === prio);
    }
    case 'SRV': {
      // The value may carry the priority or not; weight, port and target are always its last three fields.
      const got = toks(data);
      const w = toks(want.value);
      if (got.length !== 4 || w.length < 3) return false;
      const [wWeight, wPort, wTarget] = w.slice(-3);
      const prio = want.priority ?? (w.length === 4 ? Number(w[0]) : undefined);
      return (prio === undefined || Number(got[0]) === prio) && got[1] === wWeight && got[2] === wPort && host(got[3]) === host(wTarget);
    }
    case 'CAA': {
      const got = caaParts(data);
      if (!got) return false;
      const w = caaParts(want.value);
      return w ? got[1] === w[1] && got[2] === w[2] : got[1] === 'issue' && got[2] === txtText(want.value);
    }
    default:
      return data.trim() === want.value.trim();
  }
}

export interface DohCheckerOptions {
  endpoint?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export function createDohChecker(opts: DohCheckerOptions = {}): DnsChecker {
  const endpoint = opts.endpoint ?? CLOUDFLARE_DOH;
  const fetcher = opts.fetch ?? ((...a) => fetch(...a));
  const timeoutMs = opts.timeoutMs ?? 5000;

  async function lookup(name: string, type: string): Promise<DohAnswer[] | null> {
    const url = `${endpoint}?name=${encodeURIComponent(host(name))}&type=${encodeURIComponent(type)}`;
    try {
      const res = await fetcher(url, { headers: { accept: 'application/dns-json' }, signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) return null;
      const body = (await res.json()) as { Status?: number; Answer?: DohAnswer[] };
      // NXDOMAIN (3) is an answer: the record is not there. SERVFAIL and others are not.
      if (body.Status !== 0 && body.Status !== 3) return null;
      return body.Answer ?? [];
    } catch {
      return null;
    }
  }

  return {
    async check(records) {
      const queries = new Map<string, Promise<DohAnswer[] | null>>();
      const q = (r: WantedRecord) => {
        const key = `${host(r.name)} ${r.type.toUpperCase()}`;
        let p = queries.get(key);
        if (!p) queries.set(key, (p = lookup(r.name, r.type.toUpperCase())));
        return p;
      };
      return Promise.all(
        records.map(async (r) => {
          const answers = await q(r);
          if (answers === null) return null;
          const code = TYPE_CODES[r.type.toUpperCase()];
          return answers.some((a) => (code === undefined || a.type === code) && host(a.name) === host(r.name) && matches(r, a.data));
        }),
      );
    },
  };
}
