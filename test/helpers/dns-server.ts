/**
 * @module test/helpers/dns-server
 * A real authoritative DNS server on loopback (dns2, UDP and TCP) serving
 * whatever records a test puts in its zone: A, AAAA, MX, TXT. Names that are
 * absent answer NXDOMAIN; present names without the asked type answer
 * NOERROR with no records (ENODATA to node:dns), as real servers do.
 * `resolver` is a node:dns resolver pointed at it, in the shape
 * node/smtp and mailauth take.
 */
import dns2 from 'dns2';
import type { AddressInfo } from 'node:net';
import { resolverFor, type Resolver } from '../../node/smtp/dns.js';

const { Packet } = dns2;

export interface ZoneRecords {
  A?: string[];
  AAAA?: string[];
  MX?: { exchange: string; priority: number }[];
  TXT?: string[];
}

export interface TestDns {
  port: number;
  resolver: Resolver;
  /** Adds records to a name (merging with what is there). */
  add(name: string, records: ZoneRecords): void;
  /** Replaces a name's records. */
  set(name: string, records: ZoneRecords): void;
  remove(name: string): void;
  /** Every query name seen (lower-case), for asserting lookups happened. */
  queries: string[];
  close(): Promise<void>;
}

/** TXT strings longer than 255 octets must be split into character-strings (RFC 1035 §3.3.14). */
function chunks(s: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += 255) out.push(s.slice(i, i + 255));
  return out.length ? out : [''];
}

/**
 * UDP on a port the OS picks, then TCP on the same number (node:dns retries a
 * truncated UDP answer over TCP there). Another process may hold that TCP
 * port already: then both are given up and another pair is tried.
 */
async function listenPair(handle: (request: any, send: (r: any) => void) => void): Promise<{ udp: any; tcp: any; port: number }> {
  for (;;) {
    const udp = dns2.createServer({ udp: true, handle });
    await new Promise<void>((resolve) => {
      udp.once('listening', () => resolve());
      udp.listen({ udp: { port: 0, address: '127.0.0.1', type: 'udp4' } } as any);
    });
    const port = (udp.addresses() as { udp: AddressInfo }).udp.port;
    const tcp = dns2.createServer({ tcp: true, handle });
    const bound = await new Promise<boolean>((resolve, reject) => {
      tcp.once('listening', () => resolve(true));
      tcp.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(false) : reject(err)));
      tcp.listen({ tcp: { port, address: '127.0.0.1' } } as any);
    });
    if (bound) return { udp, tcp, port };
    await udp.close();
  }
}

export async function startTestDns(): Promise<TestDns> {
  const zone = new Map<string, ZoneRecords>();
  const queries: string[] = [];
  const handle = (request: any, send: (r: any) => void) => {
      const response = Packet.createResponseFromRequest(request);
      response.header.aa = 1;
      const [q] = request.questions;
      const name = String(q.name).toLowerCase().replace(/\.$/, '');
      queries.push(name);
      const rec = zone.get(name);
      if (!rec) {
        response.header.rcode = 3; // NXDOMAIN
        return send(response);
      }
      const base = { name: q.name, class: Packet.CLASS.IN, ttl: 60 };
      const answers = response.answers as unknown[];
      if (q.type === Packet.TYPE.A) for (const address of rec.A ?? []) answers.push({ ...base, type: Packet.TYPE.A, address });
      if (q.type === Packet.TYPE.AAAA) for (const address of rec.AAAA ?? []) answers.push({ ...base, type: Packet.TYPE.AAAA, address });
      if (q.type === Packet.TYPE.MX) for (const mx of rec.MX ?? []) answers.push({ ...base, type: Packet.TYPE.MX, exchange: mx.exchange, priority: mx.priority });
      if (q.type === Packet.TYPE.TXT) for (const t of rec.TXT ?? []) answers.push({ ...base, type: Packet.TYPE.TXT, data: chunks(t) });
      send(response);
  };
  const { udp, tcp, port } = await listenPair(handle);
  return {
    port,
    resolver: resolverFor([`127.0.0.1:${port}`]),
    add(name, records) {
      const key = name.toLowerCase();
      const cur = zone.get(key) ?? {};
      zone.set(key, {
        A: [...(cur.A ?? []), ...(records.A ?? [])],
        AAAA: [...(cur.AAAA ?? []), ...(records.AAAA ?? [])],
        MX: [...(cur.MX ?? []), ...(records.MX ?? [])],
        TXT: [...(cur.TXT ?? []), ...(records.TXT ?? [])],
      });
    },
    set(name, records) {
      zone.set(name.toLowerCase(), records);
    },
    remove(name) {
      zone.delete(name.toLowerCase());
    },
    queries,
    close: async () => {
      await Promise.all([udp.close(), tcp.close()]);
    },
  };
}
