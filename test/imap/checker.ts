/**
 * @module test/imap/checker
 * A strict reader of one session's server output, as a demanding client
 * keeps its model of the selected mailbox. Fed every byte the server sent (in
 * order, literals and all) and the commands that change what it expects, it
 * records a violation whenever a response contradicts the session's view:
 *
 * - a keyword in FETCH FLAGS that no untagged FLAGS named first
 *   (RFC 9051 §7.3.5, RFC 3501 §7.2.6);
 * - \Recent or RECENT for a session that enabled IMAP4rev2 (RFC 9051
 *   Appendix E removed them), and a RECENT count above EXISTS (RFC 3501 §7.3.2);
 * - an EXISTS that lowers the count (RFC 9051 §7.4.1: only EXPUNGE may),
 *   or an EXPUNGE or FETCH whose message number is outside 1..count
 *   (RFC 9051 §7.5.1, §7.5.2);
 * - a FETCH whose UID contradicts the UID this number had, or UIDs that do
 *   not ascend with message numbers (RFC 9051 §2.3.1.1).
 */
import { loggedIn, type ImapFixture, type Raw } from './helpers.js';

export interface CheckerOptions {
  /** The session did ENABLE IMAP4rev2: \Recent never appears. */
  rev2?: boolean;
}

export class ResponseChecker {
  readonly violations: string[] = [];
  /** Keywords announced by the last FLAGS, lower-cased. */
  private flags: Set<string> | null = null;
  /** UID per message number (index + 1); 0 where not yet learnt. */
  private uids: number[] = [];
  private selected = false;
  private rest = '';
  private literal = 0;
  private line = '';
  rev2: boolean;

  constructor(opts: CheckerOptions = {}) {
    this.rev2 = opts.rev2 ?? false;
  }

  get count(): number {
    return this.uids.length;
  }

  /** The UIDs of the session's view as far as the responses told them (0 where unknown). */
  get view(): readonly number[] {
    return this.uids;
  }

  /** Tells the checker of a command about to be sent, for those that reset the view. */
  command(text: string): void {
    const verb = text.trim().split(/\s+/)[0].toUpperCase();
    if (verb === 'SELECT' || verb === 'EXAMINE') {
      this.selected = true;
      this.flags = null;
      this.uids = [];
    } else if (verb === 'CLOSE' || verb === 'UNSELECT') {
      this.selected = false;
      this.uids = [];
    } else if (verb === 'ENABLE' && /\bIMAP4REV2\b/i.test(text)) this.rev2 = true;
  }

  /** Feeds server output; responses may be split anywhere. */
  feed(data: string): void {
    let s = this.rest + data;
    this.rest = '';
    while (s.length) {
      if (this.literal > 0) {
        const n = Math.min(this.literal, s.length);
        this.line += '{literal}';
        this.literal -= n;
        s = s.slice(n);
        continue;
      }
      const eol = s.indexOf('\r\n');
      if (eol < 0) {
        this.rest = s;
        return;
      }
      const piece = s.slice(0, eol);
      s = s.slice(eol + 2);
      const lit = /~?\{(\d+)\+?\}$/.exec(piece);
      if (lit) {
        this.line += piece.slice(0, lit.index);
        this.literal = Number(lit[1]);
        if (this.literal === 0) this.line += '{literal}';
        continue;
      }
      this.response(this.line + piece);
      this.line = '';
    }
  }

  private fail(why: string, line: string): void {
    this.violations.push(`${why}: ${line.slice(0, 200)}`);
  }

  private response(line: string): void {
    if (!line.startsWith('* ')) return;
    const body = line.slice(2);
    let m: RegExpExecArray | null;
    if ((m = /^FLAGS \(([^)]*)\)/i.exec(body))) {
      this.flags = new Set(words(m[1]).map((f) => f.toLowerCase()));
      return;
    }
    if (!this.selected) return;
    if ((m = /^(\d+) EXISTS$/i.exec(body))) {
      const n = Number(m[1]);
      if (n < this.uids.length) this.fail(`EXISTS ${n} lowers the count from ${this.uids.length}`, line);
      while (this.uids.length < n) this.uids.push(0);
      return;
    }
    if ((m = /^(\d+) RECENT$/i.exec(body))) {
      if (this.rev2) this.fail('RECENT sent to an IMAP4rev2 session', line);
      else if (Number(m[1]) > this.uids.length) this.fail(`RECENT ${m[1]} above the ${this.uids.length} messages`, line);
      return;
    }
    if ((m = /^(\d+) EXPUNGE$/i.exec(body))) {
      const n = Number(m[1]);
      if (n < 1 || n > this.uids.length) this.fail(`EXPUNGE ${n} outside 1..${this.uids.length}`, line);
      else this.uids.splice(n - 1, 1);
      return;
    }
    if ((m = /^VANISHED (\(EARLIER\) )?(\S+)$/i.exec(body))) {
      if (m[1]) return; // about UIDs the client may not hold; the count is unchanged
      const gone = expand(m[2]);
      this.uids = this.uids.filter((u) => !gone.has(u));
      return;
    }
    if ((m = /^(\d+) FETCH \((.*)\)$/i.exec(body))) this.fetch(Number(m[1]), m[2], line);
  }

  private fetch(n: number, items: string, line: string): void {
    if (n < 1 || n > this.uids.length) {
      this.fail(`FETCH ${n} outside 1..${this.uids.length}`, line);
      return;
    }
    const uid = /(?:^|\s)UID (\d+)/i.exec(items);
    if (uid) {
      const u = Number(uid[1]);
      const had = this.uids[n - 1];
      if (had && had !== u) this.fail(`message ${n} was UID ${had}, now UID ${u}`, line);
      let i = n - 2;
      while (i >= 0 && !this.uids[i]) i--;
      let j = n;
      while (j < this.uids.length && !this.uids[j]) j++;
      if ((i >= 0 && this.uids[i] >= u) || (j < this.uids.length && this.uids[j] <= u)) this.fail(`UID ${u} out of order at message ${n}`, line);
      this.uids[n - 1] = u;
    }
    const fl = /(?:^|\s)FLAGS \(([^)]*)\)/i.exec(items);
    if (!fl) return;
    for (const f of words(fl[1])) {
      if (f.toLowerCase() === '\\recent') {
        if (this.rev2) this.fail('\\Recent sent to an IMAP4rev2 session', line);
        continue;
      }
      if (f.startsWith('\\')) continue;
      if (!this.flags) this.fail(`keyword ${f} in FETCH before any FLAGS`, line);
      else if (!this.flags.has(f.toLowerCase())) this.fail(`keyword ${f} in FETCH not announced in FLAGS`, line);
    }
  }
}

/** A checked session logged in to the fixture as its account. */
export async function checkedSession(f: ImapFixture, opts: CheckerOptions = {}): Promise<Checked> {
  return new Checked(await loggedIn(f), opts);
}

/** A raw client whose every command and reply pass through a checker. */
export class Checked {
  readonly checker: ResponseChecker;
  constructor(
    readonly raw: Raw,
    opts: CheckerOptions = {},
  ) {
    this.checker = new ResponseChecker(opts);
  }

  async cmd(tag: string, text: string): Promise<string> {
    this.checker.command(text);
    const r = await this.raw.cmd(tag, text);
    this.checker.feed(r);
    return r;
  }

  get violations(): string[] {
    return this.checker.violations;
  }
}

function words(s: string): string[] {
  return s.split(' ').filter(Boolean);
}

function expand(set: string): Set<number> {
  const out = new Set<number>();
  for (const r of set.split(',')) {
    const [a, b] = r.split(':').map(Number);
    for (let u = Math.min(a, b ?? a); u <= Math.max(a, b ?? a); u++) out.add(u);
  }
  return out;
}
