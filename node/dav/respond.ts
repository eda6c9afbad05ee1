/**
 * @module node/dav/respond
 * Encoders for DAV replies: multistatus (RFC 4918 §13), propstat groups,
 * DAV:error bodies with their precondition, and plain status replies.
 */
import type { Logger } from '../util/log.js';
import { DavError } from './errors.js';
import { APPLE, DAV, XmlWriter, escapeXml } from './xml.js';

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

/** Text gathered before a multistatus starts streaming: a reply shorter than this goes out whole, with its length. */
export const STREAM_AFTER = 64 * 1024;

/** Emits one <response>; resolves when the client has room for more (backpressure), rejects once it has gone. */
export type Emit = (response: string) => void | Promise<void>;

class ClientGone extends Error {}

/**
 * A multistatus written as `produce` emits its responses. Until STREAM_AFTER
 * characters have gathered nothing is sent, so an error before then is still
 * answered as an error and a small reply is byte for byte what multistatus()
 * writes. Past it the 207 goes out and the rest streams (chunked), holding
 * at most a chunk or two in memory; an error after that point can only cut
 * the body short, which the client sees as a failed response. `ns` names
 * every namespace the responses may use (the requested properties'), so the
 * root can declare them before the rest is written. `release` runs once the
 * last response is written (or the client has gone): the mailbox stays open
 * until then.
 */
export function streamMultistatus(w: XmlWriter, ns: readonly string[], log: Logger, release: () => void, produce: (emit: Emit) => Promise<void>): Promise<Response> {
  return new Promise<Response>((answer, fail) => {
    let parts: string[] = [];
    let size = 0;
    let stream: ReadableStreamDefaultController<Uint8Array> | null = null;
    let gone = false;
    let room: (() => void) | null = null;
    const wake = () => {
      room?.();
      room = null;
    };
    const take = () => {
      const text = parts.join('');
      parts = [];
      size = 0;
      return text;
    };
    const emit: Emit = (r) => {
      if (gone) throw new ClientGone();
      parts.push(r);
      size += r.length;
      if (size < STREAM_AFTER) return;
      if (!stream) {
        for (const n of ns) w.prefix(n);
        const head = w.start(DAV, 'multistatus', parts.join(''), ns.includes(APPLE));
        const body = new ReadableStream<Uint8Array>(
          {
            start: (c) => {
              stream = c;
            },
            pull: wake,
            cancel: () => {
              gone = true;
              wake();
            },
          },
          { highWaterMark: 1 },
        );
        stream!.enqueue(Buffer.from(head + take()));
        answer(new Response(body, { status: 207, headers: { 'Content-Type': XML_TYPE } }));
      } else stream.enqueue(Buffer.from(take()));
      if ((stream!.desiredSize ?? 1) > 0) return;
      return new Promise<void>((resolve) => (room = resolve)).then(() => {
        if (gone) throw new ClientGone();
      });
    };
    produce(emit)
      .then(
        () => {
          if (!stream) return answer(multistatus(w, parts));
          if (!gone) {
            stream.enqueue(Buffer.from(take() + w.end(DAV, 'multistatus')));
            stream.close();
          }
        },
        (err: unknown) => {
          if (!stream) return fail(err);
          if (err instanceof ClientGone) return;
          // The 207 is on its way: all that is left is to cut the body short, so the client does not take it as whole.
          log.error({ err }, 'multistatus failed while streaming; the reply was cut short');
          stream.error(err);
        },
      )
      .finally(release);
  });
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
