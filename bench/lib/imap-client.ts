/**
 * @module bench/lib/imap-client
 * A lean IMAP client for benchmarks: it counts rather than parses, so the
 * load generator costs little next to the server it measures. Responses are
 * scanned line by line, literals (`{n}`) skipped by length, so a tagged
 * line inside a message body is never mistaken for the end of a command.
 */
import net from 'node:net';

interface Waiter {
  tag: string;
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
  lines: string[] | null;
}

export interface Reply {
  status: string;
  text: string;
  /** Untagged lines (without literal contents), when asked for. */
  lines: string[];
}

export class ImapClient {
  private carry: Buffer = Buffer.alloc(0);
  private skip = 0;
  private continuation = false;
  private waiter: Waiter | null = null;
  private plus: (() => void) | null = null;
  private n = 0;
  private closed = false;
  /** Bytes received since connect. */
  bytes = 0;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.reject(new Error('connection closed'));
      this.waiter = null;
    });
  }

  static async connect(port: number): Promise<ImapClient> {
    const s = net.connect(port, '127.0.0.1');
    s.setNoDelay(true);
    const c = new ImapClient(s);
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      // The greeting is an untagged line: wait for the first line.
      c.waiter = { tag: '*', resolve: () => resolve(), reject, lines: null };
    });
    return c;
  }

  private onData(d: Buffer): void {
    this.bytes += d.length;
    let off = 0;
    while (off < d.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, d.length - off);
        this.skip -= n;
        off += n;
        if (this.skip === 0) this.continuation = true;
        continue;
      }
      const lf = d.indexOf(10, off);
      if (lf === -1) {
        this.carry = this.carry.length ? Buffer.concat([this.carry, d.subarray(off)]) : Buffer.from(d.subarray(off));
        return;
      }
      const line = this.carry.length ? Buffer.concat([this.carry, d.subarray(off, lf + 1)]) : d.subarray(off, lf + 1);
      this.carry = Buffer.alloc(0);
      off = lf + 1;
      const cont = this.continuation;
      this.continuation = false;
      const tail = line.toString('latin1', Math.max(0, line.length - 24));
      const lit = /\{(\d+)\}\r?\n$/.exec(tail);
      if (lit) {
        this.skip = Number(lit[1]);
        if (this.skip === 0) this.continuation = true;
      }
      this.onLine(line, cont);
    }
  }

  private onLine(line: Buffer, cont: boolean): void {
    if (cont) return;
    const w = this.waiter;
    if (line[0] === 0x2b /* + */) {
      const p = this.plus;
      this.plus = null;
      p?.();
      return;
    }
    if (!w) return;
    if (w.tag === '*' && line[0] === 0x2a) {
      this.waiter = null;
      w.resolve({ status: 'OK', text: line.toString('latin1'), lines: [] });
      return;
    }
    if (line[0] === 0x2a) {
      w.lines?.push(line.toString('latin1').trimEnd());
      return;
    }
    const s = line.toString('latin1');
    if (s.startsWith(w.tag + ' ')) {
      this.waiter = null;
      const rest = s.slice(w.tag.length + 1).trimEnd();
      const sp = rest.indexOf(' ');
      w.resolve({ status: sp === -1 ? rest : rest.slice(0, sp), text: rest, lines: w.lines ?? [] });
    }
  }

  /** Sends one command and resolves with its tagged reply; `keep` collects untagged lines. */
  command(text: string, opts: { keep?: boolean; literal?: Buffer } = {}): Promise<Reply> {
    if (this.closed) return Promise.reject(new Error('connection closed'));
    const tag = `t${++this.n}`;
    return new Promise<Reply>((resolve, reject) => {
      this.waiter = { tag, resolve, reject, lines: opts.keep ? [] : null };
      if (opts.literal) this.socket.write(Buffer.concat([Buffer.from(`${tag} ${text} {${opts.literal.length}+}\r\n`), opts.literal, Buffer.from('\r\n')]));
      else this.socket.write(`${tag} ${text}\r\n`);
    });
  }

  /** IDLE, then DONE as soon as the server confirms: one round of the IDLE handshake. */
  async idleOnce(): Promise<Reply> {
    const tag = `t${++this.n}`;
    const confirmed = new Promise<void>((r) => (this.plus = r));
    const done = new Promise<Reply>((resolve, reject) => (this.waiter = { tag, resolve, reject, lines: null }));
    this.socket.write(`${tag} IDLE\r\n`);
    await confirmed;
    this.socket.write('DONE\r\n');
    return done;
  }

  async ok(text: string, opts: { keep?: boolean; literal?: Buffer } = {}): Promise<Reply> {
    const r = await this.command(text, opts);
    if (r.status !== 'OK') throw new Error(`${text.slice(0, 60)}: ${r.text}`);
    return r;
  }

  close(): void {
    this.socket.destroy();
  }
}
