/**
 * @module node/transfer/mbox-status
 * Flags in an mbox message, pure. mbox has no place for them but headers:
 * Status (R read, O old) and X-Status (A answered, F flagged, T draft,
 * D deleted), as mutt, Pine and Dovecot write them, and Dovecot's
 * X-Keywords. Like Dovecot, the import reads them into flags and removes
 * them (with X-UID, X-IMAPbase and Content-Length, an mbox store's own
 * bookkeeping), so an export then import gives back the stored bytes.
 */

const BOOKKEEPING = /^(Status|X-Status|X-Keywords|X-UID|X-IMAPbase|X-IMAP|Content-Length):/i;

function splitHead(raw: Buffer): { fields: string[]; rest: Buffer } {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, end < 0 ? raw.length : end + 2).toString('latin1');
  return { fields: head.split(/\r\n(?![ \t])/).filter((l) => l !== ''), rest: end < 0 ? Buffer.from('\r\n') : raw.subarray(end + 2) };
}

const join = (fields: string[], rest: Buffer) => Buffer.concat([Buffer.from(fields.map((f) => f + '\r\n').join(''), 'latin1'), rest]);

/** The message with its flags as headers (for writing an mbox). */
export function withMboxStatus(raw: Buffer, flags: readonly string[]): Buffer {
  const has = (f: string) => flags.includes(f);
  const x = (has('\\Answered') ? 'A' : '') + (has('\\Flagged') ? 'F' : '') + (has('\\Draft') ? 'T' : '') + (has('\\Deleted') ? 'D' : '');
  const kws = flags.filter((f) => !f.startsWith('\\'));
  const { fields, rest } = splitHead(raw);
  const add = [`Status: ${has('\\Seen') ? 'RO' : 'O'}`, ...(x ? [`X-Status: ${x}`] : []), ...(kws.length ? [`X-Keywords: ${kws.join(' ')}`] : [])];
  return join([...fields.filter((l) => !BOOKKEEPING.test(l)), ...add], rest);
}

/** The flags an mbox message's headers carry, and the message without those headers. */
export function readMboxStatus(raw: Buffer): { raw: Buffer; flags: string[] } {
  const { fields, rest } = splitHead(raw);
  if (!fields.some((l) => BOOKKEEPING.test(l))) return { raw, flags: [] };
  const value = (name: string) => fields.find((l) => l.toLowerCase().startsWith(name.toLowerCase() + ':'))?.slice(name.length + 1).trim() ?? '';
  const status = value('Status');
  const x = value('X-Status');
  const flags: string[] = [];
  if (status.includes('R')) flags.push('\\Seen');
  if (x.includes('A')) flags.push('\\Answered');
  if (x.includes('F')) flags.push('\\Flagged');
  if (x.includes('T')) flags.push('\\Draft');
  if (x.includes('D')) flags.push('\\Deleted');
  for (const k of value('X-Keywords').split(/[\s,]+/)) if (k && !k.startsWith('\\')) flags.push(k);
  return { raw: join(fields.filter((l) => !BOOKKEEPING.test(l)), rest), flags };
}
