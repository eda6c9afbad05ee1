/**
 * @module node/transfer/mbox
 * The mbox family (RFC 4155 and the qmail/mutt notes on its variants), pure:
 * a streaming splitter that takes chunks and gives whole messages, and the
 * writer's escaping. Messages start at a line beginning `From ` after a blank
 * line (or at the top of the file). The variants differ only in quoting body
 * lines that start with `From `:
 *   - mboxo: `From ` becomes `>From `; `>From ` stays, so unquoting is lossy
 *     and only the first level is undone;
 *   - mboxrd: any `>*From ` gets one more `>`, so unquoting removes exactly one.
 * Haven writes mboxrd. Lines are LF in the file; messages are CRLF in the store.
 */

export type MboxVariant = 'mboxrd' | 'mboxo';

export interface MboxMessage {
  /** The message, with the From_ line removed and quoting undone, lines ending CRLF. */
  raw: Buffer;
  /** The date on the From_ line (ms), when it parses; used as INTERNALDATE. */
  date: number | null;
}

const FROM = Buffer.from('From ');
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The asctime date at the end of a From_ line: `From sender Mon Jan  1 00:00:00 2024` (UTC by convention). */
export function parseFromLineDate(line: string): number | null {
  const m = /(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+(\d{1,2})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s+(?:([A-Z]{3,4}|[+-]\d{4})\s+)?(\d{4})\s*$/.exec(line);
  if (!m) return null;
  const t = Date.UTC(Number(m[7]), MONTHS.indexOf(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5] ?? 0));
  return Number.isFinite(t) ? t : null;
}

export function formatFromLine(sender: string, date: number): string {
  const d = new Date(date);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `From ${sender || 'MAILER-DAEMON'} ${days[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

/** Removes one level of quoting from a body line (`>From ` → `From `, and for mboxrd `>>From ` → `>From `). */
function unquote(line: Buffer, variant: MboxVariant): Buffer {
  if (line[0] !== 0x3e) return line;
  let n = 0;
  while (line[n] === 0x3e) n++;
  if (!line.subarray(n, n + 5).equals(FROM)) return line;
  if (variant === 'mboxo' && n !== 1) return line;
  return line.subarray(1);
}

/**
 * Splits an mbox stream. `push` each chunk and collect what it returns; `end`
 * gives the last message. Holds one message and one partial line, never the file.
 */
export class MboxSplitter {
  private partial: Buffer = Buffer.alloc(0);
  private lines: Buffer[] = [];
  private fromLine: string | null = null;
  private prevBlank = true;
  private sawFrom = false;

  constructor(private readonly variant: MboxVariant = 'mboxrd') {}

  push(chunk: Buffer): MboxMessage[] {
    const out: MboxMessage[] = [];
    let data = this.partial.length ? Buffer.concat([this.partial, chunk]) : chunk;
    let start = 0;
    for (;;) {
      const nl = data.indexOf(0x0a, start);
      if (nl < 0) break;
      this.line(data.subarray(start, nl + 1), out);
      start = nl + 1;
    }
    this.partial = Buffer.from(data.subarray(start));
    data = Buffer.alloc(0);
    return out;
  }

  end(): MboxMessage[] {
    const out: MboxMessage[] = [];
    if (this.partial.length) this.line(this.partial, out);
    this.partial = Buffer.alloc(0);
    this.finish(out);
    return out;
  }

  /** Whether the stream began with a From_ line: anything else is not an mbox. */
  get started(): boolean {
    return this.sawFrom;
  }

  private line(line: Buffer, out: MboxMessage[]): void {
    if (this.prevBlank && line.subarray(0, 5).equals(FROM)) {
      this.finish(out);
      this.fromLine = line.toString('latin1').replace(/\r?\n$/, '');
      this.sawFrom = true;
      this.prevBlank = false;
      return;
    }
    if (!this.sawFrom) {
      // Text before the first From_ line: not an mbox (a lone message, a Maildir file).
      if (line.toString('latin1').trim() === '') return;
      throw new NotMboxError('the file does not start with a "From " line, so it is not an mbox; import a single message file with a Maildir, or check the path');
    }
    this.prevBlank = line.length === 1 || (line.length === 2 && line[0] === 0x0d);
    this.lines.push(unquote(line, this.variant));
  }

  private finish(out: MboxMessage[]): void {
    if (this.fromLine === null) return;
    const lines = this.lines;
    // The blank line before the next From_ is the separator, not the message's.
    // At the end of the file too: a writer ends every message with one (RFC 4155 §2).
    if (lines.length && isBlank(lines[lines.length - 1])) lines.pop();
    // A last line without its newline (the file's end) is still a line: it gets its CRLF, as every other.
    const last = lines[lines.length - 1];
    if (last && last[last.length - 1] !== 0x0a) lines.push(Buffer.from('\n'));
    out.push({ raw: toCrlf(Buffer.concat(lines)), date: parseFromLineDate(this.fromLine) });
    this.lines = [];
    this.fromLine = null;
  }
}

const isBlank = (l: Buffer) => l.length === 1 ? l[0] === 0x0a : l.length === 2 && l[0] === 0x0d && l[1] === 0x0a;

export class NotMboxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotMboxError';
  }
}

/** Bare LF line ends become CRLF (RFC 5322 §2.3); CRLF stays. */
export function toCrlf(raw: Buffer): Buffer {
  let bare = 0;
  for (let i = 0; i < raw.length; i++) if (raw[i] === 0x0a && (i === 0 || raw[i - 1] !== 0x0d)) bare++;
  if (bare === 0) return raw;
  const out = Buffer.allocUnsafe(raw.length + bare);
  let o = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x0a && (i === 0 || raw[i - 1] !== 0x0d)) out[o++] = 0x0d;
    out[o++] = raw[i];
  }
  return out;
}

/** CRLF line ends become LF, as files in mbox and Maildir have them. */
export function toLf(raw: Buffer): Buffer {
  let n = 0;
  for (let i = 0; i + 1 < raw.length; i++) if (raw[i] === 0x0d && raw[i + 1] === 0x0a) n++;
  if (n === 0) return raw;
  const out = Buffer.allocUnsafe(raw.length - n);
  let o = 0;
  for (let i = 0; i < raw.length; i++) if (!(raw[i] === 0x0d && raw[i + 1] === 0x0a)) out[o++] = raw[i];
  return out;
}

/**
 * The most bytes mboxrdEntry(withMboxStatus(raw, flags), …) can take for a
 * stored message of `size` bytes, known before it is read (so a ZIP entry
 * of a folder's mbox needs ZIP64 only when the folder may reach 4 GiB): the
 * status headers add at most 44 bytes and the keywords, the From_ line at
 * most 64 with its newline, the end 2; LF line ends only shrink it; a quote
 * is one `>` for a line of at least 6 bytes (`From ` and its newline), so
 * doubling bounds it with room to spare.
 */
export function mboxrdBound(size: number, flags: readonly string[]): number {
  const status = 44 + flags.reduce((n, f) => n + Buffer.byteLength(f) + 1, 0);
  return 2 * (size + status) + 64 + 2;
}

/**
 * One message as mboxrd: the From_ line, the LF body with every `>*From `
 * line quoted once more, ending in a newline, then the blank separator line.
 */
export function mboxrdEntry(raw: Buffer, sender: string, date: number): Buffer {
  const body = toLf(raw);
  const parts: Buffer[] = [Buffer.from(formatFromLine(sender, date) + '\n')];
  let start = 0;
  while (start < body.length) {
    let nl = body.indexOf(0x0a, start);
    if (nl < 0) nl = body.length - 1;
    const line = body.subarray(start, nl + 1);
    let n = 0;
    while (line[n] === 0x3e) n++;
    if (line.subarray(n, n + 5).equals(FROM)) parts.push(Buffer.from('>'));
    parts.push(line);
    start = nl + 1;
  }
  if (body.length === 0 || body[body.length - 1] !== 0x0a) parts.push(Buffer.from('\n'));
  parts.push(Buffer.from('\n'));
  return Buffer.concat(parts);
}
