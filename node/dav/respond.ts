/**
 * @module node/dav/respond
 * Encoders for DAV replies: multistatus (RFC 4918 §13), propstat groups,
 * DAV:error bodies with their precondition, and plain status replies.
 */
import { DavError } from './errors.js';
import { DAV, XmlWriter, escapeXml } from './xml.js';

export const XML_TYPE = 'application/xml; charset=utf-8';

/** What GET answers on a collection; its length is the collection's getcontentlength (RFC 4918 §15.4). */
export const COLLECTION_PAGE = 'This is a Haven DAV collection; use a calendar or contacts app.\n';

const REASONS: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  412: 'Precondition Failed',
  424: 'Failed Dependency',
  507: 'Insufficient Storage',
};
export const statusLine = (code: number): string => `HTTP/1.1 ${code} ${REASONS[code] ?? ''}`.trimEnd();

/** RFC 4918 §14.22: prop, status, then the failed precondition and a description when there is one. */
export function propstat(w: XmlWriter, props: string[], status: number, error?: string, description?: string): string {
  return w.el(
    DAV,
    'propstat',
    w.el(DAV, 'prop', props.join('')) +
      w.text(DAV, 'status', statusLine(status)) +
      (error ? w.el(DAV, 'error', error) : '') +
      (description ? w.text(DAV, 'responsedescription', clipMessage(description)) : ''),
  );
}

/** One <response> with propstats for found (200) and missing (404) properties. */
export function propResponse(w: XmlWriter, href: string, ok: string[], missing: string[], missingStatus = 404): string {
  let inner = w.text(DAV, 'href', href);
  if (ok.length || !missing.length) inner += propstat(w, ok, 200);
  if (missing.length) inner += propstat(w, missing, missingStatus);
  return w.el(DAV, 'response', inner);
}

export function statusResponse(w: XmlWriter, href: string, status: number): string {
  return w.el(DAV, 'response', w.text(DAV, 'href', href) + w.text(DAV, 'status', statusLine(status)));
}

export function multistatus(w: XmlWriter, responses: string[], extra = ''): Response {
  return new Response(w.document(DAV, 'multistatus', responses.join('') + extra), { status: 207, headers: { 'Content-Type': XML_TYPE } });
}

/** Longest error text sent: parser messages quote the offending line, which may be a whole photo. */
const MAX_MESSAGE = 400;

/** Cuts a message to MAX_MESSAGE characters, saying so; an error never echoes the request back. */
export function clipMessage(m: string): string {
  return m.length <= MAX_MESSAGE ? m : `${m.slice(0, MAX_MESSAGE)}… (${m.length - MAX_MESSAGE} more characters not shown)`;
}

/** The reply for a DavError: a DAV:error body when a precondition applies, plain text otherwise. */
export function errorResponse(err: DavError): Response {
  const headers: Record<string, string> = { ...err.headers };
  const message = clipMessage(err.message);
  if (err.precondition) {
    const w = new XmlWriter();
    const p = err.precondition;
    const body = w.document(DAV, 'error', w.el(p.ns, p.name, p.inner ?? '') + `<message xmlns="urn:haven:dav">${escapeXml(message)}</message>`);
    headers['Content-Type'] = XML_TYPE;
    return new Response(body, { status: err.status, headers });
  }
  headers['Content-Type'] = 'text/plain; charset=utf-8';
  return new Response(message + '\n', { status: err.status, headers });
}
