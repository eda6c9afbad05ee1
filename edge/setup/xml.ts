/**
 * @module edge/setup/xml
 * XML text escaping for the client set-up documents (autoconfig,
 * autodiscover, Apple profiles), which are built as strings.
 */
export function xml(text: string | number | boolean): string {
  return String(text).replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/** The e-mail address in a request, or null: one @, a domain with a dot, no spaces or markup. */
export function parseEmail(text: string | null | undefined): { local: string; domain: string; address: string } | null {
  const t = (text ?? '').trim();
  const m = /^([^\s@<>"'&]{1,64})@([a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?)$/i.exec(t);
  if (!m || !m[2].includes('.')) return null;
  return { local: m[1], domain: m[2].toLowerCase(), address: `${m[1]}@${m[2].toLowerCase()}` };
}
