/**
 * @module node/managesieve/receiver
 * Bytes to whole ManageSieve requests (RFC 5804 §4): atoms, quoted strings
 * and literals ({N+} or {N}, CRLF, N octets) up to the CRLF that ends the
 * line. Resumable across chunks; the text outside literals is capped so a
 * client cannot make the server hold an unbounded line, and a literal over
 * the cap is refused before its bytes are buffered. Pure: no I/O.
 */
export type Token = { kind: 'atom'; value: string } | { kind: 'string'; value: string };

/** `tooBig`: a literal over the limit, skipped unread (a size refusal, not a syntax error); `tryLater`: one refused for now. */
export type Received = { kind: 'request'; tokens: Token[] } | { kind: 'bad'; reason: string; fatal: boolean; tooBig?: true; tryLater?: true };

export interface ReceiverLimits {
  /** Longest text outside literals in one request. */
  maxLine: number;
  /** Largest literal; a bigger one is skipped as it arrives, never buffered. */
  maxLiteral: number;
  /** Said after a refused literal's limit (before authentication the limit is the pre-login one). */
  when?: string | null;
  /**
   * Asked while a literal within the limit is still arriving (the process's
   * memory budget): false skips it like one over the limit, as a temporary
   * refusal the client retries.
   */
  admit?: (size: number) => boolean;
}

export class Receiver {
  private buf: Buffer = Buffer.alloc(0);
  /** Octets of a refused literal still to be skipped, then the rest of its line. */
  private skipping = 0;
  private skipLine = false;

  /** Replaced as a whole when the session's state changes (AUTHENTICATE, UNAUTHENTICATE). */
  constructor(public limits: ReceiverLimits) {}

  push(chunk: Buffer): Received[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Received[] = [];
    for (;;) {
      if (this.skipping > 0) {
        const n = Math.min(this.skipping, this.buf.length);
        this.buf = this.buf.subarray(n);
        this.skipping -= n;
        if (this.skipping > 0) return out;
      }
      if (this.skipLine) {
        const lf = this.buf.indexOf(0x0a);
        if (lf < 0) {
          this.buf = Buffer.alloc(0);
          return out;
        }
        this.buf = this.buf.subarray(lf + 1);
        this.skipLine = false;
      }
      const r = this.scan();
      if (r === null) {
        if (this.buf.length > this.limits.maxLine && this.buf.indexOf(0x7b) < 0) {
          this.buf = Buffer.alloc(0);
          out.push({ kind: 'bad', reason: 'line too long', fatal: true });
        }
        return out;
      }
      out.push(r);
    }
  }

  reset(): void {
    this.buf = Buffer.alloc(0);
    this.skipping = 0;
    this.skipLine = false;
  }

  /** One request from the front of the buffer, or null when it is not complete yet. */
  private scan(): Received | null {
    const b = this.buf;
    const tokens: Token[] = [];
    let i = 0;
    let text = 0; // octets outside literals
    const bad = (reason: string, end: number): Received => {
      const lf = b.indexOf(0x0a, end);
      if (lf < 0) {
        this.buf = Buffer.alloc(0);
        this.skipLine = true;
      } else this.buf = b.subarray(lf + 1);
      return { kind: 'bad', reason, fatal: false };
    };
    for (;;) {
      if (text > this.limits.maxLine) return bad('line too long', i);
      if (i >= b.length) return null;
      const c = b[i];
      if (c === 0x20) {
        i++;
        text++;
        continue;
      }
      if (c === 0x0d || c === 0x0a) {
        const end = c === 0x0d ? (i + 1 < b.length ? (b[i + 1] === 0x0a ? i + 2 : -1) : null) : i + 1;
        if (end === null) return null;
        if (end < 0) return bad('bare CR', i);
        this.buf = b.subarray(end);
        return { kind: 'request', tokens };
      }
      if (c === 0x22) {
        let j = i + 1;
        const parts: number[] = [];
        for (;;) {
          if (j >= b.length) return null;
          const d = b[j];
          if (d === 0x22) break;
          if (d === 0x0d || d === 0x0a) return bad('line break inside a quoted string', j);
          if (d === 0x5c) {
            if (j + 1 >= b.length) return null;
            parts.push(b[j + 1]);
            j += 2;
            continue;
          }
          parts.push(d);
          j++;
        }
        tokens.push({ kind: 'string', value: Buffer.from(parts).toString('utf8') });
        text += j + 1 - i;
        i = j + 1;
        continue;
      }
      if (c === 0x7b) {
        const close = b.indexOf(0x7d, i);
        if (close < 0) return b.length - i > 24 ? bad('malformed literal', i) : null;
        const m = /^\{([0-9]{1,10})(\+?)\}$/.exec(b.toString('latin1', i, close + 1));
        if (!m) return bad('malformed literal', i);
        if (close + 1 >= b.length || (b[close + 1] === 0x0d && close + 2 >= b.length)) return null;
        const start = b[close + 1] === 0x0d && b[close + 2] === 0x0a ? close + 3 : b[close + 1] === 0x0a ? close + 2 : -1;
        if (start < 0) return bad('a literal must be followed by CRLF', close);
        const n = Number(m[1]);
        const { maxLiteral, when } = this.limits;
        if (n > maxLiteral) {
          // Skip its bytes as they come, then the rest of its line: nothing of it is buffered.
          this.skipping = n;
          this.skipLine = true;
          this.buf = b.subarray(start);
          return { kind: 'bad', reason: `literal of ${n} octets is over the ${maxLiteral}-octet limit${when ? ` ${when}` : ''}`, fatal: false, tooBig: true };
        }
        if (b.length < start + n) {
          if (this.limits.admit && !this.limits.admit(n)) {
            this.skipping = n;
            this.skipLine = true;
            this.buf = b.subarray(start);
            return { kind: 'bad', reason: 'the server is short of memory right now; try again in a few minutes', fatal: false, tooBig: true, tryLater: true };
          }
          return null;
        }
        tokens.push({ kind: 'string', value: b.toString('utf8', start, start + n) });
        text += start - i;
        i = start + n;
        continue;
      }
      let j = i;
      while (j < b.length && b[j] > 0x20 && b[j] < 0x7f && b[j] !== 0x22 && b[j] !== 0x7b) j++;
      if (j === i) return bad('unexpected character', i);
      if (j >= b.length) return null;
      tokens.push({ kind: 'atom', value: b.toString('latin1', i, j) });
      text += j - i;
      i = j;
    }
  }
}
