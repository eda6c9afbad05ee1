/**
 * @module infra/dns-conflicts
 * Records already in a zone (a previous mail provider's, a hand-made SPF)
 * that would clash with the ones Haven publishes. The program reads each
 * zone's records through Cloudflare's API at every preview and `up` and
 * warns with one line per clash; records Haven made itself (their comment
 * starts with "haven:") are never reported. Pure.
 *
 * What counts as a clash, at a name Haven publishes:
 * - any record where Haven puts a CNAME, or a CNAME where Haven puts
 *   anything: a CNAME stands alone at its name (RFC 1034 §3.6.2), and
 *   Cloudflare refuses to create the second record;
 * - a second SPF record (TXT "v=spf1"): two make SPF a permerror
 *   (RFC 7208 §3.2), which fails DMARC; likewise a second DMARC
 *   (RFC 7489 §6.6.3), DKIM, MTA-STS or TLS-RPT record of the same kind;
 * - another MX at a mail domain: part of the mail would go elsewhere;
 * - another A or AAAA at the mail host, another SRV at a service name:
 *   clients and senders would reach the other server some of the time.
 */
import type { DnsRecord } from '../node/dns/index.js';

/** An existing record as Cloudflare's list returns it (getDnsRecords results). */
export interface ExistingRecord {
  name: string;
  type: string;
  content?: string;
  comment?: string;
}

/** TXT tags of which one record per name may exist. */
const SINGLE_TXT = ['v=spf1', 'v=DMARC1', 'v=DKIM1', 'v=STSv1', 'v=TLSRPTv1'];

/** TXT content without the quotes Cloudflare may return it in (one or several quoted strings). */
function unquote(content: string | undefined): string {
  return (content ?? '').replace(/^"|"$/g, '').replace(/"\s+"/g, '').trim();
}

function txtTag(content: string | undefined): string | undefined {
  const text = unquote(content);
  return SINGLE_TXT.find((t) => text.toLowerCase() === t.toLowerCase() || text.toLowerCase().startsWith(t.toLowerCase() + ' ') || text.toLowerCase().startsWith(t.toLowerCase() + ';'));
}

function why(planned: DnsRecord, e: ExistingRecord): string | undefined {
  if (planned.type === 'CNAME' || e.type === 'CNAME') return `Haven publishes ${planned.type} ${planned.name} and a CNAME must stand alone at its name (Cloudflare refuses the second record)`;
  if (planned.type !== e.type) return undefined;
  switch (planned.type) {
    case 'TXT': {
      const tag = txtTag(e.content);
      if (tag && tag === txtTag(planned.content)) return `Haven publishes its own ${tag} record there, and two ${tag} records at one name break it for receivers (SPF permerror, DMARC ignored)`;
      return undefined;
    }
    case 'MX':
      return 'another MX for the domain would receive part of its mail';
    case 'A':
    case 'AAAA':
      return `Haven points ${planned.name} at the server; a second ${planned.type} sends some clients elsewhere`;
    case 'SRV':
      return 'a second SRV record sends some clients to another server';
    default:
      return undefined;
  }
}

/** One warning per existing record that clashes with a planned one, with what to do. */
export function conflicts(planned: readonly DnsRecord[], existing: readonly ExistingRecord[]): string[] {
  const out: string[] = [];
  for (const e of existing) {
    if ((e.comment ?? '').startsWith('haven:')) continue;
    const name = e.name.toLowerCase().replace(/\.$/, '');
    for (const p of planned) {
      if (p.name !== name) continue;
      const reason = why(p, e);
      if (!reason) continue;
      const text = unquote(e.content);
      const content = text ? ` "${text.length > 60 ? text.slice(0, 57) + '...' : text}"` : '';
      out.push(`DNS zone ${p.zone} already has ${e.type} ${name}${content}, not made by Haven: ${reason}. Delete it in Cloudflare (DNS > Records) and run pulumi up again, or keep it on purpose.`);
      break;
    }
  }
  return out;
}
