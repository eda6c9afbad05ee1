/**
 * @module node/transfer/progress
 * How far an import or export is: messages and bytes done of the total the
 * source announced, the rate over the last seconds and the time left. The
 * job updates it, the CLI prints it as a line or as JSON, the admin API
 * serves the same snapshot. Pure apart from the clock it is given.
 */

export interface ProgressSnapshot {
  phase: 'starting' | 'running' | 'done' | 'failed' | 'cancelled';
  /** The folder or collection being worked on. */
  current: string | null;
  messages: number;
  /** Messages already there (a resumed or repeated import). */
  skipped: number;
  bytes: number;
  totalMessages: number | null;
  totalBytes: number | null;
  /** Messages per second and bytes per second over the recent window. */
  rate: number;
  bytesRate: number;
  etaSeconds: number | null;
  elapsedSeconds: number;
  /** Calendars and address book entries. */
  objects: number;
  /** Retries after a lost connection. */
  retries: number;
  error: string | null;
}

const WINDOW_MS = 5_000;

export class Progress {
  private readonly started: number;
  private samples: { t: number; m: number; b: number }[] = [];
  s: ProgressSnapshot;

  constructor(private readonly now: () => number = Date.now) {
    this.started = now();
    this.s = { phase: 'starting', current: null, messages: 0, skipped: 0, bytes: 0, totalMessages: null, totalBytes: null, rate: 0, bytesRate: 0, etaSeconds: null, elapsedSeconds: 0, objects: 0, retries: 0, error: null };
  }

  /** What the source announced; `null` messages when it cannot tell without reading everything (an mbox). */
  total(messages: number | null, bytes: number | null): void {
    if (messages !== null) this.s.totalMessages = (this.s.totalMessages ?? 0) + messages;
    if (bytes !== null) this.s.totalBytes = (this.s.totalBytes ?? 0) + bytes;
  }

  add(done: { messages: number; skipped: number; bytes: number }): void {
    this.s.phase = 'running';
    this.s.messages += done.messages;
    this.s.skipped += done.skipped;
    this.s.bytes += done.bytes;
  }

  snapshot(): ProgressSnapshot {
    const t = this.now();
    const count = this.s.messages + this.s.skipped;
    this.samples.push({ t, m: count, b: this.s.bytes });
    while (this.samples.length > 2 && t - this.samples[0].t > WINDOW_MS) this.samples.shift();
    const first = this.samples[0];
    const dt = (t - first.t) / 1000;
    const whole = (t - this.started) / 1000;
    // Over the window once it spans a second; over the whole run before that.
    const rate = dt >= 1 ? (count - first.m) / dt : whole > 0 ? count / whole : 0;
    const bytesRate = dt >= 1 ? (this.s.bytes - first.b) / dt : whole > 0 ? this.s.bytes / whole : 0;
    // Time left by messages when the total is known, else by bytes (an mbox announces only its size).
    const left = this.s.totalMessages !== null ? Math.max(0, this.s.totalMessages - count) : null;
    const leftBytes = this.s.totalBytes ? Math.max(0, this.s.totalBytes - this.s.bytes) : null;
    const eta = left !== null ? (rate > 0 ? Math.ceil(left / rate) : null) : leftBytes !== null && bytesRate > 0 ? Math.ceil(leftBytes / bytesRate) : null;
    return {
      ...this.s,
      rate: Math.round(rate * 10) / 10,
      bytesRate: Math.round(bytesRate),
      etaSeconds: eta,
      elapsedSeconds: Math.round(whole * 10) / 10,
    };
  }
}

/** One human line: `1200/5000 messages, 85.1/310.0 MB, 412 msg/s, 0.9 MB/s, 10 s left (INBOX)`. */
export function formatProgress(p: ProgressSnapshot): string {
  const mb = (n: number) => (n / 1_048_576).toFixed(1);
  const count = p.messages + p.skipped;
  const parts = [
    `${count}${p.totalMessages !== null ? `/${p.totalMessages}` : ''} messages${p.skipped ? ` (${p.skipped} already there)` : ''}`,
    `${mb(p.bytes)}${p.totalBytes !== null ? `/${mb(p.totalBytes)}` : ''} MB`,
    `${Math.round(p.rate)} msg/s`,
    `${mb(p.bytesRate)} MB/s`,
  ];
  if (p.objects) parts.push(`${p.objects} calendar/contact entries`);
  if (p.etaSeconds !== null && p.phase === 'running') parts.push(`${p.etaSeconds} s left`);
  if (p.retries) parts.push(`${p.retries} retries`);
  return parts.join(', ') + (p.current && p.phase === 'running' ? ` (${p.current})` : '') + (p.phase !== 'running' ? ` [${p.phase}]` : '');
}
