/**
 * @module node/imap/receiver
 * Bytes to whole IMAP requests. A request is the command line with its
 * literals: line segments (text between literals) and literal bodies in
 * order. Resumable across any split of the input; enforces the line length
 * and literal size limits before buffering, so a hostile client cannot make
 * us hold more than one limit's worth of bytes. Synchronizing literals
 * (`{n}`) ask the caller to send a continuation; LITERAL+ (`{n+}`) and
 * BINARY's `~{n}` do not. A non-synchronizing literal the server will not
 * take was sent anyway, so it is read and thrown away (RFC 7888 §4) along
 * with the rest of its command, and the command is refused; only one past
 * `maxDiscard` closes the connection. Pure: no I/O.
 */

export type Part = string | Buffer;

export interface ReceiverLimits {
  /** Longest line segment (between literals) in bytes. */
  maxLine: number;
  /** Largest single literal in bytes. */
  maxLiteral: number;
  /** Most bytes of literals in one request (MULTIAPPEND); also the most a refused request may make us discard. */
  maxRequest: number;
  /** Largest non-synchronizing literal (4096 under LITERAL-, RFC 7888 §5); unlimited when absent. */
  maxNonSync?: number;
  /** Most literal bytes a refused command may make us read and throw away; maxRequest when absent. */
  maxDiscard?: number;
  /** A lower limit for literals of an APPEND (APPENDLIMIT, RFC 7889), so a too-big message is refused before it is sent. */
  maxAppend?: number;
  /**
   * Asked before a literal within the limits is read (the process's memory
   * budget): false refuses the command with a temporary NO [UNAVAILABLE],
   * before the continuation for a synchronizing literal, by reading and
   * dropping a non-synchronizing one.
   */
  admit?: (size: number) => boolean;
}

export type ReceiverEvent =
  | { type: 'request'; parts: Part[] }
  /** A synchronizing literal is announced: send `+ ...` to let the client go on. */
  | { type: 'continue'; size: number }
  /** The request cannot be taken; `fatal` means the stream is out of step and must be closed. */
  | { type: 'reject'; tag: string | null; code: 'TOOBIG' | 'PARSE' | 'UNAVAILABLE'; text: string; fatal: boolean; status?: 'BAD' | 'NO' };

export const DEFAULT_LIMITS: ReceiverLimits = { maxLine: 64 * 1024, maxLiteral: 64 * 1024 * 1024, maxRequest: 256 * 1024 * 1024 };

const LITERAL_RE = /(~?)\{(\d{1,20})(\+|-)?\}$/;

export class Receiver {
  private buf: Buffer = Buffer.alloc(0);
  private parts: Part[] = [];
  private requestBytes = 0;
  /** Bytes of literal still to read; -1 while reading a line. */
  private literalLeft = -1;
  private literalChunks: Buffer[] = [];
  /** Where to resume looking for LF in buf. */
  private scanFrom = 0;
  /** A refused command whose non-synchronizing literals are being thrown away. */
  private skip: { left: number; total: number; reject: ReceiverEvent } | null = null;

  /** Replaced as a whole when the session's limits change (at login). */
  constructor(public limits: ReceiverLimits = DEFAULT_LIMITS) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
  }

  /** Drops everything buffered (after STARTTLS, so no plaintext command survives into TLS). */
  reset(): void {
    this.buf = Buffer.alloc(0);
    this.parts = [];
    this.requestBytes = 0;
    this.literalLeft = -1;
    this.literalChunks = [];
    this.scanFrom = 0;
    this.skip = null;
  }

  /** Takes the bytes not yet consumed (after COMPRESS they are compressed and must be inflated). */
  drain(): Buffer {
    const b = this.buf;
    this.buf = Buffer.alloc(0);
    this.scanFrom = 0;
    return b;
  }

  /** Bytes buffered beyond what has been turned into events. */
  get pending(): number {
    return this.buf.length;
  }

  /** Whether a request has begun (some of it arrived) and is not complete. */
  get midRequest(): boolean {
    return this.parts.length > 0 || this.literalLeft >= 0 || this.buf.length > 0 || this.skip !== null;
  }

  /** The next event from what has arrived, or null when more bytes are needed. */
  next(): ReceiverEvent | null {
    for (;;) {
      if (this.skip && this.skip.left > 0) {
        const take = Math.min(this.skip.left, this.buf.length);
        this.buf = this.buf.subarray(take);
        this.skip.left -= take;
        if (this.skip.left > 0) return null;
      }
      if (this.literalLeft >= 0) {
        if (this.buf.length === 0 && this.literalLeft > 0) return null;
        const take = Math.min(this.literalLeft, this.buf.length);
        if (take > 0) {
          this.literalChunks.push(this.buf.subarray(0, take));
          this.buf = this.buf.subarray(take);
          this.literalLeft -= take;
        }
        if (this.literalLeft > 0) return null;
        this.parts.push(this.literalChunks.length === 1 ? Buffer.from(this.literalChunks[0]) : Buffer.concat(this.literalChunks));
        this.literalChunks = [];
        this.literalLeft = -1;
        this.scanFrom = 0;
        continue;
      }
      const lf = this.buf.indexOf(0x0a, this.scanFrom);
      if (lf === -1) {
        this.scanFrom = this.buf.length;
        if (this.buf.length > this.limits.maxLine) return this.fatal('line too long');
        return null;
      }
      if (lf > this.limits.maxLine) return this.fatal('line too long');
      const end = lf > 0 && this.buf[lf - 1] === 0x0d ? lf - 1 : lf;
      const line = this.buf.toString('utf8', 0, end);
      this.buf = this.buf.subarray(lf + 1);
      this.scanFrom = 0;
      const m = LITERAL_RE.exec(line);
      if (this.skip) {
        // The rest of a refused command: more non-synchronizing literals are thrown away too;
        // a synchronizing one is never sent (the client gets the refusal instead of "+").
        if (m && m[3] !== undefined) {
          const size = Number(m[2]);
          this.skip.total += size;
          if (this.skip.total > this.discardCap) return this.fatal('too much literal data');
          this.skip.left = size;
          continue;
        }
        const ev = this.skip.reject;
        this.skip = null;
        return ev;
      }
      if (!m) {
        const parts = this.parts;
        parts.push(line);
        this.parts = [];
        this.requestBytes = 0;
        return { type: 'request', parts };
      }
      const size = Number(m[2]);
      const sync = m[3] === undefined;
      const segment = line.slice(0, m.index) + (m[1] ? '~' : '');
      this.parts.push(segment);
      this.requestBytes += size;
      const overNonSync = !sync && size > (this.limits.maxNonSync ?? Infinity);
      const max = this.limits.maxAppend !== undefined && /^\S+ APPEND /i.test(this.parts[0] as string) ? Math.min(this.limits.maxAppend, this.limits.maxLiteral) : this.limits.maxLiteral;
      const tooBig = size > max || this.requestBytes > this.limits.maxRequest || overNonSync;
      if (tooBig || (this.limits.admit && !this.limits.admit(size))) {
        const tag = this.tag();
        this.parts = [];
        this.requestBytes = 0;
        const reject: ReceiverEvent = !tooBig
          ? { type: 'reject', tag, code: 'UNAVAILABLE', status: 'NO', fatal: false, text: 'the server is short of memory right now; try again in a minute' }
          : overNonSync && size <= max
            ? { type: 'reject', tag, code: 'TOOBIG', status: 'BAD', fatal: false, text: `a non-synchronizing literal may be at most ${this.limits.maxNonSync} bytes (LITERAL-); send {${size}} and wait for "+"` }
            : { type: 'reject', tag, code: 'TOOBIG', fatal: false, text: `literal of ${size} bytes is over the limit of ${max}; send a smaller message` };
        // A synchronizing literal was never sent: the stream stays in step.
        if (sync) return reject;
        this.skip = { left: size, total: size, reject };
        if (size > this.discardCap) return this.fatal('too much literal data');
        continue;
      }
      this.literalLeft = size;
      if (sync) return { type: 'continue', size };
    }
  }

  private get discardCap(): number {
    return this.limits.maxDiscard ?? this.limits.maxRequest;
  }

  private tag(): string | null {
    const first = this.parts[0];
    if (typeof first !== 'string') return null;
    const t = /^([^\s(){%*"\\\]\x00-\x1f\x7f]+) /.exec(first);
    return t ? t[1] : null;
  }

  private fatal(text: string): ReceiverEvent {
    const tag = this.skip?.reject.type === 'reject' ? this.skip.reject.tag : this.parts.length ? this.tag() : /^([^\s(){%*"\\\]\x00-\x1f\x7f]+) /.exec(this.buf.toString('latin1', 0, 64))?.[1] ?? null;
    const limit = text === 'line too long' ? `${this.limits.maxLine} bytes per line` : `${this.discardCap} bytes of literals per refused command`;
    this.reset();
    return { type: 'reject', tag, code: 'TOOBIG', text: `${text}; the limit is ${limit}`, fatal: true };
  }
}
