/**
 * @module node/imap/commands/fetch
 * RFC 9051 §6.4.5 FETCH and UID FETCH: every item, served from the stored
 * metadata and parse result (ENVELOPE, BODYSTRUCTURE) and the raw bytes for
 * sections; CHANGEDSINCE and VANISHED (RFC 7162 §3.1.4, §3.2.6); BINARY
 * (RFC 3516). Fetching a body without PEEK sets \Seen, and FLAGS is then
 * included as the RFC requires.
 */
import type { Envelope, ParsedMessage } from '../../mime/index.js';
import type { MessageMeta } from '../../store/index.js';
import { ImapError } from '../errors.js';
import type { FetchAtt } from '../parse.js';
import { bodyStructure, envelope, flagList, imapDate, str, type Chunk } from '../respond.js';
import { binaryBytes, sectionBytes, sectionLabel } from '../section.js';
import { formatSet, inRanges, resolveRanges } from '../seqset.js';
import type { Handler, Session } from '../session.js';

type Stored = Omit<ParsedMessage, 'headerText' | 'bodyText'>;
type Meta = Omit<MessageMeta, 'threadId'>;

function partial(b: Buffer, att: { partial?: { start: number; length: number } }): [Buffer, string] {
  if (!att.partial) return [b, ''];
  const { start, length } = att.partial;
  return [b.subarray(Math.min(start, b.length), Math.min(start + length, b.length)), `<${start}>`];
}

/** The message was expunged (its bytes released) after the FETCH listed it. */
class GoneError extends Error {}

/** Reads a message's bytes and stored structure at most once per FETCH line. */
class Lazy {
  private rawBuf: Buffer | null = null;
  private parsedMsg: Stored | null = null;
  constructor(
    private readonly s: Session,
    private readonly blobId: number,
  ) {}
  get raw(): Buffer {
    this.rawBuf ??= this.s.port.messages.raw(this.blobId) ?? null;
    if (!this.rawBuf) throw new GoneError();
    return this.rawBuf;
  }
  get parsed(): Stored {
    if (!this.parsedMsg) {
      try {
        this.parsedMsg = this.s.port.messages.parsed(this.blobId);
      } catch {
        throw new GoneError();
      }
    }
    return this.parsedMsg;
  }
  /** The envelope alone (its own small row) unless the whole structure is read anyway. */
  get envelope(): Envelope {
    if (this.parsedMsg) return this.parsedMsg.envelope;
    const e = this.s.port.messages.envelope(this.blobId);
    if (!e) throw new GoneError();
    return e;
  }
}

/**
 * One message's FETCH items (read only: setting \\Seen is the handler's
 * business). No closures per message: on a 100,000-message FETCH they cost
 * more than the items.
 */
export function fetchItems(s: Session, m: Meta, atts: FetchAtt[], withModseq: boolean): Chunk[] {
  const out: Chunk[] = [withModseq ? `UID ${m.uid} MODSEQ (${m.modseq})` : `UID ${m.uid}`];
  const x = new Lazy(s, m.blobId);
  for (const a of atts) {
    switch (a.kind) {
      case 'UID': break;
      case 'MODSEQ': break;
      case 'FLAGS': out.push(` FLAGS ${s.state.kind === 'selected' ? s.flagsOf(s.state.sel, m.uid, m.flags) : flagList(m.flags)}`); break;
      case 'INTERNALDATE': out.push(` INTERNALDATE ${imapDate(m.internalDate)}`); break;
      case 'RFC822.SIZE': out.push(` RFC822.SIZE ${m.size}`); break;
      case 'ENVELOPE': out.push(' ENVELOPE ', ...envelope(x.envelope)); break;
      case 'BODYSTRUCTURE': out.push(' BODYSTRUCTURE ', ...bodyStructure(x.parsed.structure, true)); break;
      case 'BODY': out.push(' BODY ', ...bodyStructure(x.parsed.structure, false)); break;
      case 'RFC822': out.push(' RFC822 ', ...str(x.raw)); break;
      case 'RFC822.HEADER': out.push(' RFC822.HEADER ', ...str(sectionBytes(x.raw, x.parsed.structure, { path: [], text: 'HEADER' }))); break;
      case 'RFC822.TEXT': out.push(' RFC822.TEXT ', ...str(sectionBytes(x.raw, x.parsed.structure, { path: [], text: 'TEXT' }))); break;
      case 'BODY[]': {
        // BODY[] is the stored bytes: no need to read the structure.
        const whole = !a.section.path.length && !a.section.text;
        const [b, origin] = partial(whole ? x.raw : sectionBytes(x.raw, x.parsed.structure, a.section), a);
        out.push(` BODY[${sectionLabel(a.section)}]${origin} `, ...str(b));
        break;
      }
      case 'BINARY[]': {
        const [b, origin] = partial(a.section.path.length ? binaryBytes(x.raw, x.parsed.structure, a.section.path) : x.raw, a);
        // RFC 3516 §4.3: binary content goes in a literal8 when it has NULs.
        out.push(` BINARY[${a.section.path.join('.')}]${origin} `, ...(b.includes(0) ? [`~{${b.length}}\r\n`, b] : str(b)));
        break;
      }
      case 'BINARY.SIZE': out.push(` BINARY.SIZE[${a.section.path.join('.')}] ${binaryBytes(x.raw, x.parsed.structure, a.section.path).length}`); break;
    }
  }
  return out;
}

const BATCH = 65536;

/** A batch buffer for fetchFlagsOnly: lines are written as bytes, with no string per line. */
class LineWriter {
  buf = Buffer.allocUnsafe(BATCH);
  len = 0;

  constructor(private readonly s: Session) {}

  ascii(t: string): void {
    for (let i = 0; i < t.length; i++) this.buf[this.len++] = t.charCodeAt(i);
  }

  uint(n: number): void {
    let digits = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
    let p = (this.len += digits);
    for (let x = n; digits-- > 0; x = Math.floor(x / 10)) this.buf[--p] = 48 + (x % 10);
  }

  /** `* seq FETCH (UID uid[ MODSEQ (modseq)][ FLAGS (flags)])`: modseq 0 for none, flags null for none. */
  line(seq: number, uid: number, modseq: number, flags: string | null): void {
    this.ascii('* ');
    this.uint(seq);
    this.ascii(' FETCH (UID ');
    this.uint(uid);
    if (modseq) {
      this.ascii(' MODSEQ (');
      this.uint(modseq);
      this.ascii(')');
    }
    if (flags !== null) {
      this.ascii(' FLAGS (');
      this.ascii(flags);
      this.ascii(')');
    }
    this.ascii(')\r\n');
  }

  /** Whether a line of `flags` might not fit. The longest: two 10-digit numbers, a 20-digit modseq, the fixed text, the flags. */
  full(flags: string): boolean {
    return this.len + flags.length + 80 > this.buf.length;
  }

  /** Sends the last batch. */
  finish(): void {
    if (this.len) this.s.send(this.buf.subarray(0, this.len));
    this.len = 0;
  }

  /** Sends the batch (the socket keeps the bytes) and starts a fresh buffer with room for `flags`; a promise when the client is behind. */
  flush(flags: string): Promise<void> | null {
    this.finish();
    this.buf = Buffer.allocUnsafe(Math.max(BATCH, flags.length + 80));
    return this.s.io.backpressure();
  }
}

/**
 * FETCH of nothing but UID, FLAGS and MODSEQ — how clients resync a folder
 * (`UID FETCH 1:* (FLAGS)`, with CHANGEDSINCE under CONDSTORE) — from the
 * folder's in-memory flag index, over the view's spans rather than a list of
 * every UID, writing bytes, one write per 64 KB.
 */
async function fetchFlagsOnly(s: Session, spans: [number, number][], withFlags: boolean, withModseq: boolean, changedSince: number | null): Promise<void> {
  const sel = s.sel;
  const view = sel.uids;
  const w = new LineWriter(s);
  let index = s.port.messages.flagLookup(sel.folderId);
  // \Recent is this session's, not the index's (RFC 3501 §2.3.2); IMAP4rev2 sessions never see it.
  const recentFloor = s.rev2 ? Infinity : sel.recentFloor;
  // Keywords these lines may show are announced first (RFC 9051 §7.3.5): the index's list holds every one its flags can name.
  if (withFlags) s.announceFolderKeywords(sel, index);
  for (const [start, end] of spans) {
    for (let k = start; k < end; k++) {
      const uid = view[k];
      // null: expunged, not yet announced to this session; skipped, as the store no longer has it.
      let flags = index.flags(uid);
      if (flags === null) continue;
      if (uid >= recentFloor && sel.isRecent(uid)) flags = flags ? flags + ' \\Recent' : '\\Recent';
      const modseq = withModseq ? index.modseqOf(uid) : 0;
      if (changedSince !== null && modseq <= changedSince) continue;
      if (w.full(flags)) {
        const wait = w.flush(flags);
        if (wait) {
          await wait;
          index = s.port.messages.flagLookup(sel.folderId);
          if (withFlags) s.announceFolderKeywords(sel, index);
        }
      }
      w.line(k + 1, uid, modseq, withFlags ? flags : null);
    }
  }
  w.finish();
}

export const fetch: Handler<'FETCH'> = {
  states: ['selected'],
  async handle(s, cmd) {
    const sel = s.sel;
    if (cmd.vanished && (!cmd.uid || !s.enabled.has('QRESYNC') || cmd.changedSince === null))
      throw new ImapError('BAD', null, 'VANISHED needs UID FETCH, CHANGEDSINCE and QRESYNC enabled');
    const wantModseq = cmd.changedSince !== null || cmd.atts.some((a) => a.kind === 'MODSEQ');
    if (wantModseq) s.enableCondstore();
    const spans = sel.spans(cmd.set, !!cmd.uid);
    if (cmd.vanished && cmd.set.kind === 'set') {
      const r = resolveRanges(cmd.set.ranges, sel.lastUid);
      const v = s.port.messages.expungedSince(sel.folderId, cmd.changedSince!).filter((u) => inRanges(r, u));
      if (v.length) s.untagged(`VANISHED (EARLIER) ${formatSet(v)}`);
    }
    if (!spans.length) return;
    if (cmd.atts.every((a) => a.kind === 'FLAGS' || a.kind === 'UID' || a.kind === 'MODSEQ')) {
      const withFlags = cmd.atts.some((a) => a.kind === 'FLAGS');
      await fetchFlagsOnly(s, spans, withFlags, wantModseq || (s.condstore && withFlags), cmd.changedSince);
      return;
    }
    const uids = sel.uidsIn(spans);
    // Both lists ascend by UID: intersect them in one walk (a Set of 100,000 UIDs costs more).
    let metas = [];
    let j = 0;
    for (const m of s.port.messages.listPlain(sel.folderId, uids[0], uids[uids.length - 1])) {
      while (j < uids.length && uids[j] < m.uid) j++;
      if (uids[j] === m.uid) metas.push(m);
    }
    if (cmd.changedSince !== null) metas = metas.filter((m) => m.modseq > cmd.changedSince!);
    const setsSeen = !sel.readOnly && cmd.atts.some((a) => a.kind === 'RFC822' || a.kind === 'RFC822.TEXT' || ((a.kind === 'BODY[]' || a.kind === 'BINARY[]') && !a.peek));
    let atts = cmd.atts;
    if (setsSeen) {
      const unseen = metas.filter((m) => !m.flags.includes('\\Seen')).map((m) => m.uid);
      if (unseen.length) {
        const { updated } = s.port.messages.storeFlags(sel.folderId, unseen, 'add', ['\\Seen'], { origin: s.id });
        const byUid = new Map(updated.map((u) => [u.uid, u]));
        metas = metas.map((m) => byUid.get(m.uid) ?? m);
        if (!atts.some((a) => a.kind === 'FLAGS')) atts = [...atts, { kind: 'FLAGS' }];
      }
    }
    const withFlags = atts.some((a) => a.kind === 'FLAGS');
    const withModseq = wantModseq || (s.condstore && withFlags);
    // Lines are gathered into writes of about 64 KB: one write per line costs more than the line.
    let batch: Chunk[] = [];
    let size = 0;
    for (const m of metas) {
      const seq = sel.seqOf(m.uid);
      if (!seq) continue;
      let line;
      try {
        line = fetchItems(s, m, atts, withModseq);
      } catch (err) {
        // Expunged by another session while we waited for the client to read: skip it (never send NIL for its body).
        if (err instanceof GoneError && !s.port.messages.get(sel.folderId, m.uid)) continue;
        throw err;
      }
      if (withFlags) s.announceKeywords(sel, m.flags);
      batch.push(`* ${seq} FETCH (`, ...line, ')\r\n');
      for (const c of line) size += c.length;
      if (size < 65536) continue;
      s.send(...batch);
      batch = [];
      size = 0;
      const wait = s.io.backpressure();
      if (wait) await wait;
    }
    if (batch.length) s.send(...batch);
  },
};
