/**
 * @module node/doctor/dns-checks
 * The DNS half of `haven doctor`: each record node/dns says a mail domain
 * needs, resolved and compared. A fix always names the record to publish,
 * in zone-file form from node/dns's `formatRecord`.
 */
import { DMARC_POLICIES, formatRecord, type DnsRecord } from '../dns/index.js';
import { fail, ok, warn, type DoctorCheck } from './types.js';
import { type Lookup, normName, sameIp } from './lookup.js';
import { checkSpf, spfRecord } from './spf.js';
import { fetchMtaStsPolicy, mxPatternMatches, parseMtaStsPolicy, parseStsTxt, type PolicyFetchOptions } from './mta-sts.js';

type Rec<T extends DnsRecord['type']> = DnsRecord & { type: T };

const UNANSWERED = (name: string) => `make sure the zone's nameservers answer for ${name} (dig +trace ${name})`;

export async function checkAddressRecord(l: Lookup, rec: Rec<'A' | 'AAAA'>): Promise<DoctorCheck> {
  const id = `${rec.type.toLowerCase()}:${rec.name}`;
  const title = `${rec.type} record for ${rec.name}`;
  const r = rec.type === 'A' ? await l.a(rec.name) : await l.aaaa(rec.name);
  if (r.error !== undefined) return fail(id, title, `lookup failed: ${r.error}`, UNANSWERED(rec.name));
  if (!r.answers.some((a) => sameIp(a, rec.content))) {
    const found = r.answers.length ? `points at ${r.answers.join(', ')}` : `has no ${rec.type} record`;
    return fail(id, title, `${rec.name} ${found}, not ${rec.content}`, `publish ${formatRecord(rec)}${r.answers.length ? ' and remove the others' : ''}`);
  }
  if (r.answers.length > 1) {
    const others = r.answers.filter((a) => !sameIp(a, rec.content));
    return warn(id, title, `${rec.name} also points at ${others.join(', ')}`, `remove the ${rec.type} records for ${others.join(', ')} unless that server also runs this node`);
  }
  return ok(id, title, `${rec.name} → ${rec.content}`);
}

export async function checkMx(l: Lookup, rec: Rec<'MX'>): Promise<DoctorCheck> {
  const id = `mx:${rec.name}`;
  const title = `MX for ${rec.name}`;
  const r = await l.mx(rec.name);
  if (r.error !== undefined) return fail(id, title, `lookup failed: ${r.error}`, UNANSWERED(rec.name));
  const ours = r.answers.find((m) => normName(m.exchange) === rec.content);
  if (!ours) {
    const found = r.answers.length ? `points at ${r.answers.map((m) => `${m.priority} ${m.exchange}`).join(', ')}` : 'has no MX record';
    return fail(id, title, `${rec.name} ${found}; mail for it does not reach ${rec.content}`, `publish ${formatRecord(rec)}${r.answers.length ? ' and remove the others' : ''}`);
  }
  const before = r.answers.filter((m) => m !== ours && m.priority <= ours.priority);
  if (before.length) {
    return warn(id, title, `${before.map((m) => m.exchange).join(', ')} ranks as high as ${rec.content}`, `remove them or give them a higher number than ${ours.priority}, unless they relay to this node`);
  }
  return ok(id, title, `${rec.name} → ${ours.priority} ${rec.content}`);
}

/** PTR of the address names the mail host, and the mail host resolves back to the address (FCrDNS). */
export async function checkPtr(l: Lookup, family: 'ipv4' | 'ipv6', ip: string, mailHost: string, label: { id?: string; title?: string } = {}): Promise<DoctorCheck> {
  const id = label.id ?? `ptr:${family}`;
  const title = label.title ?? `Reverse DNS (PTR) of ${ip}`;
  const fix = `set the reverse DNS of ${ip} to ${mailHost} where the address is hosted (Hetzner: Cloud Console → server → Networking → Edit reverse DNS; the Pulumi program does it with hcloud.Rdns)`;
  const r = await l.ptr(ip);
  if (r.error !== undefined) return fail(id, title, `lookup failed: ${r.error}`, fix);
  const names = r.answers.map(normName);
  if (names.length === 0) return fail(id, title, `${ip} has no PTR record; receivers reject or junk mail from it`, fix);
  if (!names.includes(mailHost)) return fail(id, title, `${ip} is named ${names.join(', ')}, not ${mailHost}`, fix);
  const fwd = family === 'ipv4' ? await l.a(mailHost) : await l.aaaa(mailHost);
  if (fwd.error !== undefined || !fwd.answers.some((a) => sameIp(a, ip))) {
    return fail(id, title, `${ip} is named ${mailHost}, but ${mailHost} does not resolve back to ${ip} (not forward-confirmed)`, `publish ${mailHost}. IN ${family === 'ipv4' ? 'A' : 'AAAA'} ${ip}`);
  }
  return ok(id, title, `${ip} → ${mailHost} → ${ip} (forward-confirmed)`);
}

/**
 * The domain's SPF record authorises the server's addresses and lists every
 * extra term the node expects (config.spfExtra: the relay's include), so
 * mail the relay sends passes SPF too. The relay's addresses are unknown
 * here, so its terms are compared as text.
 */
export async function checkSpfRecord(l: Lookup, rec: Rec<'TXT'>, addresses: readonly string[], extra: readonly string[] = []): Promise<DoctorCheck> {
  const id = `spf:${rec.name}`;
  const title = `SPF for ${rec.name}`;
  const publish = `publish ${formatRecord(rec)}`;
  const found = await spfRecord(l, rec.name);
  if (!found.record) return fail(id, title, found.reason, found.result === 'temperror' ? UNANSWERED(rec.name) : `${publish}${found.result === 'permerror' ? ' as the only v=spf1 record' : ''}`);
  const misses: string[] = [];
  for (const ip of addresses) {
    const out = await checkSpf(l, rec.name, ip);
    if (out.result !== 'pass') misses.push(`${ip}: ${out.result} (${out.reason})`);
  }
  if (misses.length) return fail(id, title, `"${found.record}" does not authorise the server: ${misses.join('; ')}`, `${publish} (or add ${addresses.map((a) => (a.includes(':') ? `ip6:${a}` : `ip4:${a}`)).join(' ')} before the all)`);
  const term = (t: string) => t.toLowerCase().replace(/^\+/, '');
  const published = new Set(found.record.split(/\s+/).map(term));
  const lacking = extra.filter((t) => !published.has(term(t)));
  if (lacking.length) return fail(id, title, `"${found.record}" lacks ${lacking.join(' ')} (spfExtra): mail sent through the relay fails SPF`, `${publish} (or add ${lacking.join(' ')} before the all)`);
  if (!/\s-all\s*$/i.test(found.record)) return warn(id, title, `"${found.record}" does not end in -all, so forged mail only soft-fails`, publish);
  return ok(id, title, `"${found.record}" authorises ${addresses.join(' and ')}${extra.length ? ` and lists ${extra.join(' ')}` : ''}`);
}

/**
 * SPF for the mail host's own name. Bounces and DSNs carry an empty MAIL
 * FROM, so receivers check the HELO identity, the mail host (RFC 7208 §2.3
 * and §2.4); without a record there a bounce gets "none" and DMARC has
 * nothing to align. The node always greets as the mail host (a relay greets
 * with its own name), so no spfExtra terms are expected here.
 */
export async function checkHeloSpf(l: Lookup, rec: Rec<'TXT'>, addresses: readonly string[]): Promise<DoctorCheck> {
  const c = await checkSpfRecord(l, rec, addresses);
  const why = 'bounces (empty MAIL FROM) are checked against the HELO name (RFC 7208 §2.3)';
  return { ...c, title: `SPF for the mail host ${rec.name} (HELO)`, ...(c.status === 'ok' ? {} : { detail: `${c.detail}; ${why}` }) };
}

/** Tag-value list (RFC 6376 §3.2). */
function tags(txt: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of txt.split(';')) {
    const m = /^\s*([A-Za-z][A-Za-z0-9_]*)\s*=(.*)$/s.exec(part);
    if (m) out[m[1].toLowerCase()] = m[2].replace(/\s+/g, '');
  }
  return out;
}

export async function checkDkim(l: Lookup, rec: Rec<'TXT'>, key: { selector: string; algorithm: string; publicKeyDns: string }): Promise<DoctorCheck> {
  const id = `dkim:${rec.name}`;
  const title = `DKIM key ${key.selector} for ${rec.zone}`;
  const publish = `publish ${formatRecord(rec)}`;
  const r = await l.txt(rec.name);
  if (r.error !== undefined) return fail(id, title, `lookup failed: ${r.error}`, UNANSWERED(rec.name));
  const keys = r.answers.map(tags).filter((t) => t.p !== undefined);
  if (keys.length === 0) return fail(id, title, `no DKIM key at ${rec.name}; receivers cannot verify the node's signatures`, publish);
  const match = keys.find((t) => t.p === key.publicKeyDns && (t.k ?? 'rsa') === key.algorithm);
  if (!match) {
    const why = keys.some((t) => t.p === '') ? 'the published key is revoked (empty p=)' : 'the published key is not the key the node signs with';
    return fail(id, title, `${rec.name}: ${why}`, `replace it: ${formatRecord(rec)}`);
  }
  return ok(id, title, `${rec.name} publishes the ${key.algorithm} key in use`);
}

/**
 * The domain has one DMARC record, at least as strict as the policy the node
 * expects (`rec`, built from config.dmarcPolicy, which infra publishes from
 * haven:dmarcPolicy). A weaker one is not what the operator chose and lets
 * more spoofed mail through: FAIL. A stricter one works but disagrees with
 * the config (the next `pulumi up` puts the configured one back): WARN. So is
 * p=none even when configured, since spoofed mail is still delivered.
 */
export async function checkDmarc(l: Lookup, rec: Rec<'TXT'>): Promise<DoctorCheck> {
  const id = `dmarc:${rec.zone}`;
  const title = `DMARC for ${rec.zone}`;
  const publish = `publish ${formatRecord(rec)}`;
  const r = await l.txt(rec.name);
  if (r.error !== undefined) return fail(id, title, `lookup failed: ${r.error}`, UNANSWERED(rec.name));
  const recs = r.answers.filter((t) => /^v=DMARC1\s*(;|$)/i.test(t));
  if (recs.length === 0) return fail(id, title, `no v=DMARC1 record at ${rec.name}; anyone can send as ${rec.zone}`, publish);
  if (recs.length > 1) return fail(id, title, `${recs.length} DMARC records at ${rec.name}; receivers ignore them all`, `keep one: ${formatRecord(rec)}`);
  const rank = (p: string | undefined) => (DMARC_POLICIES as readonly (string | undefined)[]).indexOf(p);
  const want = tags(rec.content).p;
  const p = tags(recs[0]).p?.toLowerCase();
  if (rank(p) < rank(want)) return fail(id, title, `"${recs[0]}" has policy ${p ?? '(missing)'}, weaker than the ${want} the node expects (dmarcPolicy)`, publish);
  if (rank(p) > rank(want)) {
    return warn(id, title, `"${recs[0]}" has policy ${p}, stricter than the ${want} the node expects (dmarcPolicy); the next \`pulumi up\` publishes ${want} again`, `set dmarcPolicy to ${p} in the node config (haven:dmarcPolicy in the stack), or ${publish}`);
  }
  if (p === 'none') {
    const stricter = { ...rec, content: rec.content.replace(/\bp=none\b/, 'p=quarantine') };
    return warn(id, title, `"${recs[0]}" has policy none, so spoofed mail is still delivered`, `set dmarcPolicy to quarantine in the node config (haven:dmarcPolicy in the stack) and publish ${formatRecord(stricter)}`);
  }
  return ok(id, title, `"${recs[0]}"`);
}

export async function checkMtaStsTxt(l: Lookup, rec: Rec<'TXT'>): Promise<DoctorCheck> {
  const id = `mta-sts-txt:${rec.zone}`;
  const title = `MTA-STS record for ${rec.zone}`;
  const r = await l.txt(rec.name);
  if (r.error !== undefined) return fail(id, title, `lookup failed: ${r.error}`, UNANSWERED(rec.name));
  const recs = r.answers.filter((t) => /^v=STSv1\s*(;|$)/.test(t));
  if (recs.length !== 1) return fail(id, title, recs.length ? `${recs.length} v=STSv1 records at ${rec.name}; senders ignore them all` : `no v=STSv1 record at ${rec.name}; senders may deliver without TLS`, `publish ${formatRecord(rec)} as the only one`);
  const found = parseStsTxt(recs[0]);
  const want = parseStsTxt(rec.content);
  if (!found.id || !/^[A-Za-z0-9]{1,32}$/.test(found.id)) return fail(id, title, `"${recs[0]}" has no valid id`, `publish ${formatRecord(rec)}`);
  if (found.id !== want.id) return warn(id, title, `id ${found.id} is not the id of the node's policy (${want.id}); senders keep a stale cached policy`, `publish ${formatRecord(rec)}`);
  return ok(id, title, `"${recs[0]}"`);
}

export async function checkMtaStsPolicy(domain: string, mailHost: string, expected: string, fetchOpts: PolicyFetchOptions = {}): Promise<DoctorCheck> {
  const id = `mta-sts-policy:${domain}`;
  const title = `MTA-STS policy for ${domain}`;
  const url = `https://mta-sts.${domain}/.well-known/mta-sts.txt`;
  const serve = `serve this at ${url} over HTTPS with a valid certificate for mta-sts.${domain}:\n${expected.trimEnd().replace(/\r\n/g, '\n')}`;
  let got;
  try {
    got = await fetchMtaStsPolicy(domain, fetchOpts);
  } catch (err) {
    return fail(id, title, `cannot fetch ${url}: ${(err as Error).message}`, serve);
  }
  if (got.status !== 200) return fail(id, title, `${url} answered ${got.status}`, serve);
  const p = parseMtaStsPolicy(got.body);
  if (p.version !== 'STSv1' || !['enforce', 'testing', 'none'].includes(p.mode ?? '') || p.maxAge === undefined) {
    return fail(id, title, `${url} is not a valid policy (version, mode and max_age are required)`, serve);
  }
  if (!p.mx.some((m) => mxPatternMatches(m, mailHost))) return fail(id, title, `the policy lists mx ${p.mx.join(', ') || '(none)'}, not ${mailHost}; senders enforcing it refuse to deliver`, serve);
  if (!/^text\/plain\b/i.test(got.contentType)) return warn(id, title, `served as "${got.contentType}", not text/plain; strict senders ignore it`, `serve ${url} with Content-Type: text/plain`);
  if (p.mode !== 'enforce') return warn(id, title, `mode ${p.mode}: senders do not require TLS yet`, serve);
  if (p.maxAge < 86400) return warn(id, title, `max_age ${p.maxAge} s is under a day; senders refetch constantly and lose protection between fetches`, serve);
  return ok(id, title, `mode ${p.mode}, mx ${p.mx.join(', ')}, max_age ${p.maxAge}`);
}

export async function checkTlsRpt(l: Lookup, rec: Rec<'TXT'>): Promise<DoctorCheck> {
  const id = `tls-rpt:${rec.zone}`;
  const title = `TLS-RPT for ${rec.zone}`;
  const r = await l.txt(rec.name);
  if (r.error !== undefined) return fail(id, title, `lookup failed: ${r.error}`, UNANSWERED(rec.name));
  const recs = r.answers.filter((t) => /^v=TLSRPTv1\s*(;|$)/.test(t));
  if (recs.length !== 1 || !tags(recs[0]).rua) return fail(id, title, recs.length ? `"${recs.join('", "')}" is not one record with rua=` : `no v=TLSRPTv1 record at ${rec.name}; nobody tells you when senders fail TLS to you`, `publish ${formatRecord(rec)}`);
  return ok(id, title, `"${recs[0]}"`);
}

export async function checkSrv(l: Lookup, zone: string, recs: readonly Rec<'SRV'>[]): Promise<DoctorCheck> {
  const id = `srv:${zone}`;
  const title = `SRV records for ${zone} (client autoconfiguration)`;
  const wrong: Rec<'SRV'>[] = [];
  const errors: string[] = [];
  for (const rec of recs) {
    const r = await l.srv(rec.name);
    if (r.error !== undefined) {
      errors.push(r.error);
      wrong.push(rec);
      continue;
    }
    const target = rec.target === '.' ? '' : rec.target;
    if (!r.answers.some((s) => normName(s.name) === target && s.port === rec.port)) wrong.push(rec);
  }
  if (wrong.length) {
    return fail(id, title, `missing or wrong: ${wrong.map((r) => r.name).join(', ')}${errors.length ? ` (${errors.join('; ')})` : ''}`, `publish:\n${wrong.map(formatRecord).join('\n')}`);
  }
  return ok(id, title, `${recs.length} records`);
}

/** The CAA set that governs `name`: its own, else its closest ancestor's (RFC 8659 §3). */
async function relevantCaa(l: Lookup, name: string): Promise<{ at: string; issuers: string[] } | { error: string } | null> {
  const labels = normName(name).split('.');
  for (let i = 0; i < labels.length - 1; i++) {
    const at = labels.slice(i).join('.');
    const r = await l.caa(at);
    if (r.error !== undefined) return { error: r.error };
    const issue = r.answers.filter((c) => c.issue !== undefined);
    if (r.answers.length) return { at, issuers: issue.map((c) => c.issue!.split(';')[0].trim().toLowerCase()) };
  }
  return null;
}

export async function checkCaa(l: Lookup, name: string, recs: readonly Rec<'CAA'>[]): Promise<DoctorCheck> {
  const id = `caa:${name}`;
  const title = `CAA for ${name}`;
  const wanted = recs.map((r) => r.value.toLowerCase());
  const publish = `publish:\n${recs.map(formatRecord).join('\n')}`;
  const set = await relevantCaa(l, name);
  if (set === null) return warn(id, title, `no CAA record at ${name} or above it: any CA may issue certificates for it`, publish);
  if ('error' in set) return fail(id, title, `lookup failed: ${set.error}`, UNANSWERED(name));
  if (!wanted.some((w) => set.issuers.includes(w))) {
    return fail(id, title, `CAA at ${set.at} allows ${set.issuers.filter(Boolean).join(', ') || 'no CA'}, not ${wanted.join(', ')}: the node cannot get its certificate`, publish);
  }
  return ok(id, title, `CAA at ${set.at} allows ${wanted.join(', ')}`);
}
