/**
 * @module node/imap/commands/fetch
 * RFC 9051 §6.4.5 FETCH and UID FETCH: every item, served from the stored
 * metadata and parse result (ENVELOPE, BODYSTRUCTURE) and the raw bytes for
 * sections; CHANGEDSINCE and VANISHED (RFC 7162 §3.1.4, §3.2.6); BINARY
 * (RFC 3516). Fetching a body without PEEK sets \Seen, and FLAGS is then
 * included as the RFC requires.
 */
import type { ParsedMessage } from '../../mime/index.js';
import type { MessageMeta } from '../../store/index.js';
import { ImapError } from '../errors.js';
import type { FetchAtt } from '../parse.js';
import { bodyStructure, envelope, flagList, imapDate, str, type Chunk } from '../respond.js';
import { binaryBytes, sectionBytes, sectionLabel } from '../section.js';
import { formatSet, inRanges, resolveRanges } from '../seqset.js';
import type { Handler, Session } from '../session.js';

type Stored = Omit<ParsedMessage, 'headerText' | 'bodyText'>;

function partial(b: Buffer, att: { partial?: { start: number; length: number } }): [Buffer, string] {
  if (!att.partial) return [b, ''];
  const { start, length } = att.partial;
  return [b.subarray(Math.min(start, b.length), Math.min(start + length, b.length)), `<${start}>`];
}

/** One message's FETCH items (read only: setting \\Seen is the handler's business). */
export function fetchItems(s: Session, m: MessageMeta, atts: FetchAtt[], withModseq: boolean): Chunk[] {
  const out: Chunk[] = [];
  let raw: Buffer | null = null;
  let parsed: Stored | null = null;
  const getRaw = () => (raw ??= s.port.messages.raw(m.blobId));
  const getParsed = () => (parsed ??= s.port.messages.parsed(m.blobId));
  const add = (...c: Chunk[]) => out.push(out.length ? ' ' : '', ...c);
  for (const a of atts) {
    switch (a.kind) {
      case 'UID': break;
      case 'FLAGS': add(`FLAGS ${flagList(m.flags)}`); break;
      case 'INTERNALDATE': add(`INTERNALDATE ${imapDate(m.internalDate)}`); break;
      case 'RFC822.SIZE': add(`RFC822.SIZE ${m.size}`); break;
      case 'MODSEQ': break;
      case 'ENVELOPE': add('ENVELOPE ', ...envelope(getParsed().envelope)); break;
      case 'BODYSTRUCTURE': add('BODYSTRUCTURE ', ...bodyStructure(getParsed().structure, true)); break;
      case 'BODY': add('BODY ', ...bodyStructure(getParsed().structure, false)); break;
      case 'RFC822': add('RFC822 ', ...str(getRaw())); break;
      case 'RFC822.HEADER': add('RFC822.HEADER ', ...str(sectionBytes(getRaw(), getParsed().structure, { path: [], text: 'HEADER' }))); break;
      case 'RFC822.TEXT': add('RFC822.TEXT ', ...str(sectionBytes(getRaw(), getParsed().structure, { path: [], text: 'TEXT' }))); break;
      case 'BODY[]': {
        // BODY[] is the stored bytes: no need to read the structure.
        const whole = !a.section.path.length && !a.section.text;
        const [b, origin] = partial(whole ? getRaw() : sectionBytes(getRaw(), getParsed().structure, a.section), a);
        add(`BODY[${sectionLabel(a.section)}]${origin} `, ...str(b));
        break;
      }
      case 'BINARY[]': {
        const [b, origin] = partial(a.section.path.length ? binaryBytes(getRaw(), getParsed().structure, a.section.path) : getRaw(), a);
        // RFC 3516 §4.3: binary content goes in a literal8 when it has NULs.
        add(`BINARY[${a.section.path.join('.')}]${origin} `, ...(b.includes(0) ? [`~{${b.length}}\r\n`, b] : str(b)));
        break;
      }
      case 'BINARY.SIZE': add(`BINARY.SIZE[${a.section.path.join('.')}] ${binaryBytes(getRaw(), getParsed().structure, a.section.path).length}`); break;
    }
  }
  return [`UID ${m.uid}`, ...(withModseq ? [` MODSEQ (${m.modseq})`] : []), out.length ? ' ' : '', ...out];
}

export const fetch: Handler<'FETCH'> = {
  states: ['selected'],
  async handle(s, cmd) {
    const sel = s.sel;
    if (cmd.vanished && (!cmd.uid || !s.enabled.has('QRESYNC') || cmd.changedSince === null))
      throw new ImapError('BAD', null, 'VANISHED needs UID FETCH, CHANGEDSINCE and QRESYNC enabled');
    const wantModseq = cmd.changedSince !== null || cmd.atts.some((a) => a.kind === 'MODSEQ');
    if (wantModseq) s.condstore = true;
    const uids = sel.resolve(cmd.set, !!cmd.uid);
    if (cmd.vanished && cmd.set.kind === 'set') {
      const r = resolveRanges(cmd.set.ranges, sel.lastUid);
      const v = s.port.messages.expungedSince(sel.folderId, cmd.changedSince!).filter((u) => inRanges(r, u));
      if (v.length) s.untagged(`VANISHED (EARLIER) ${formatSet(v)}`);
    }
    if (!uids.length) return;
    const want = new Set(uids);
    let metas = s.port.messages.list(sel.folderId, { from: uids[0], to: uids[uids.length - 1] }).filter((m) => want.has(m.uid));
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
    for (const m of metas) {
      const seq = sel.seqOf(m.uid);
      if (!seq) continue;
      let line;
      try {
        line = fetchItems(s, m, atts, wantModseq || (s.condstore && atts.some((a) => a.kind === 'FLAGS')));
      } catch (err) {
        // Expunged by another session while we waited for the client to read: skip it.
        if (!(err instanceof ImapError) && !s.port.messages.get(sel.folderId, m.uid)) continue;
        throw err;
      }
      s.send(`* ${seq} FETCH (`, ...line, ')\r\n');
      const wait = s.io.backpressure();
      if (wait) await wait;
    }
  },
};
