/**
 * @module node/mime
 * Parse once at delivery, serve FETCH from the stored result: parseMessage
 * for the structure, envelope, threading ids and search text; the section
 * helpers for BODY[...] / BINARY[...] byte ranges on the raw message.
 */
export type { Address, Envelope, MimePart, ParsedMessage } from './types.js';
export { parseMessage, MAX_DEPTH, MAX_PARTS } from './parse.js';
export {
  decodeBody,
  headerFields,
  resolvePart,
  sectionBytes,
  sectionRange,
  UnknownEncodingError,
  type ByteRange,
  type ResolvedPart,
  type Section,
  type SectionText,
} from './section.js';
export { baseSubject, subjectInfo, parseDate, parseSentDate, messageIds, type SentDate, type SubjectInfo } from './envelope.js';
export { addressText, bodyText, fieldTexts, searchableText, searchHeaderText } from './text.js';
export { parseAddressList } from './address.js';
// Header access for SEARCH HEADER and similar, on the raw bytes.
export { scanHeader, fieldValue, decodedValue, type RawField, type HeaderBlock } from './header.js';
export { headerString } from './bytes.js';
export { decodeWords } from './words.js';
