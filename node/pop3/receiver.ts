/**
 * @module node/pop3/receiver
 * Bytes to whole command lines. Resumable across chunks, with a hard line
 * limit: a line longer than the limit is never buffered whole — its bytes are
 * dropped up to the next LF and it is reported once as overlong, so a client
 * cannot make the server hold an unbounded line. Pure: no I/O.
 */
export type Received = { kind: 'line'; text: string } | { kind: 'overlong' };

export class Receiver {
  private parts: Buffer[] = [];
  private held = 0;
  private discarding = false;

  /** @param maxLine longest accepted line in octets, CRLF included */
  constructor(private readonly maxLine: number) {}

  /** Feeds a chunk; returns the whole lines (and overlong markers) it completed, in order. */
  push(chunk: Buffer): Received[] {
    const out: Received[] = [];
    let start = 0;
    while (start < chunk.length) {
      const lf = chunk.indexOf(0x0a, start);
      const end = lf === -1 ? chunk.length : lf + 1;
      const piece = chunk.subarray(start, end);
      start = end;
      if (this.discarding) {
        if (lf !== -1) {
          this.discarding = false;
          out.push({ kind: 'overlong' });
        }
        continue;
      }
      if (this.held + piece.length > this.maxLine) {
        this.parts = [];
        this.held = 0;
        if (lf === -1) this.discarding = true;
        else out.push({ kind: 'overlong' });
        continue;
      }
      if (lf === -1) {
        this.parts.push(piece);
        this.held += piece.length;
        continue;
      }
      const whole = this.parts.length ? Buffer.concat([...this.parts, piece]) : piece;
      this.parts = [];
      this.held = 0;
      let n = whole.length - 1;
      if (n > 0 && whole[n - 1] === 0x0d) n--;
      out.push({ kind: 'line', text: whole.toString('utf8', 0, n) });
    }
    return out;
  }

  /** Drops anything buffered: after STLS, bytes sent before the handshake must not count (RFC 2595 §8 spirit, CVE-2011-0411). */
  reset(): void {
    this.parts = [];
    this.held = 0;
    this.discarding = false;
  }
}
