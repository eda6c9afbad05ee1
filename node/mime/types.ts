/**
 * @module node/mime/types
 * What delivery learns from a message, once. The result is stored next to the
 * raw bytes (as JSON, inside the encrypted mailbox) so IMAP FETCH, SEARCH,
 * SORT and THREAD never parse a message again; the keys SORT and THREAD
 * compare are derived from the envelope when asked (node/imap/sort-keys), so
 * a better rule reaches mail stored before it. Offsets are byte offsets into
 * the raw message exactly as stored.
 */

/** An address as IMAP's ENVELOPE needs it (RFC 9051 §7.5.2). */
export interface Address {
  /** Display name, decoded from encoded words; null when absent. */
  name: string | null;
  /** Local part; for a group start marker, the group name; null for a group end. */
  mailbox: string | null;
  /** Domain; null marks a group start or end (RFC 5322 groups). */
  host: string | null;
  /** Obsolete source route (`@a,@b`), ENVELOPE's adl; absent when the address has none. */
  route?: string;
}

/** Envelope fields. Strings are the raw header values (unfolded, not decoded), as IMAP wants. */
export interface Envelope {
  date: string | null;
  subject: string | null;
  from: Address[];
  sender: Address[];
  replyTo: Address[];
  to: Address[];
  cc: Address[];
  bcc: Address[];
  inReplyTo: string | null;
  messageId: string | null;
}

/** One MIME entity: the message itself, a part of a multipart, or an attached message. */
export interface MimePart {
  /** Offset of the first header byte of this entity. */
  start: number;
  /** Offset of the first body byte (just past the blank line ending the header). */
  bodyStart: number;
  /** Offset one past the last body byte (before the CRLF that precedes the next boundary). */
  end: number;
  /** Lower-case media type and subtype; defaults applied (text/plain, or message/rfc822 in multipart/digest). */
  type: string;
  subtype: string;
  /** Content-Type parameters, names lower-cased, values decoded (RFC 2231 joined). */
  params: Record<string, string>;
  id: string | null;
  description: string | null;
  /** Content-Transfer-Encoding, upper-case, default '7BIT'. */
  encoding: string;
  md5: string | null;
  disposition: { type: string; params: Record<string, string> } | null;
  language: string[] | null;
  location: string | null;
  /** Body size in octets (end - bodyStart). */
  size: number;
  /** Body line count, for text/* and message/rfc822 parts. */
  lines: number;
  /** Children of a multipart, in order. */
  parts?: MimePart[];
  /** For message/rfc822 (and message/global): the enclosed message. */
  message?: { envelope: Envelope; structure: MimePart };
}

export interface ParsedMessage {
  /** Total size in octets. */
  size: number;
  envelope: Envelope;
  structure: MimePart;
  /** The Date header as epoch milliseconds, or null when missing or unparseable. */
  sentAt: number | null;
  /** Threading: normalized message ids without angle brackets. */
  messageId: string | null;
  inReplyTo: string[];
  references: string[];
  /** Decoded header text for full-text search: all header fields, the MIME parts' too, unfolded and decoded. */
  headerText: string;
  /** Decoded text of text/* parts (HTML stripped to text), capped, for FTS5. */
  bodyText: string;
  /** True when the message was not valid MIME and was treated leniently (still stored). */
  damaged: boolean;
}
