/**
 * @module node/rspamd/client
 * rspamd over its HTTP protocol: /checkv2 on the normal worker with the SMTP
 * envelope as request headers (IP, Helo, From, one Rcpt per recipient,
 * Hostname, Queue-Id, Deliver-To), and /learnspam, /learnham on the
 * controller. It keeps rspamd's health as a small state (unknown, up, down
 * since when and why) that /health reports; a failed or slow call is an
 * RspamdUnavailableError, and callers go on without rspamd.
 *
 * One connection per request, deliberately: rspamd's normal worker (3.4)
 * answers every request with "Connection: close", keep-alive asked or not,
 * so a keep-alive agent would never reuse a socket. The message is sent as
 * the one buffer the caller holds, not copied, over a bare socket (./http).
 */
import { endpoint, exchange, HttpExchangeError, type Endpoint, type HttpReply } from './http.js';

export interface RspamdOptions {
  /** Normal worker, e.g. http://127.0.0.1:11333, or its Unix socket, unix:/run/rspamd/normal.sock. */
  url: string;
  /** Controller, e.g. http://127.0.0.1:11334 (default: url's host, port 11334; 127.0.0.1 for a unix: url). */
  controllerUrl?: string;
  password?: string;
  timeoutMs?: number;
}

export interface RspamdCheck {
  raw: Buffer;
  ip: string;
  helo: string;
  mailFrom: string;
  rcpts: string[];
  /** The client's reverse-DNS name, when known. */
  clientHostname?: string;
  queueId?: string;
  /** The one local recipient, for per-user statistics. */
  deliverTo?: string;
  /** Our host name (MTA-Name). */
  mtaName?: string;
}

export interface RspamdVerdict {
  action: string;
  score: number;
  required: number;
  symbols: { name: string; score: number }[];
  /** rspamd's message for the SMTP reply, when it gives one. */
  smtpMessage: string | null;
}

export type RspamdHealth =
  | { state: 'unknown' }
  | { state: 'up'; since: number }
  | { state: 'down'; since: number; error: string };

export class RspamdUnavailableError extends Error {
  override name = 'RspamdUnavailableError';
}

export class Rspamd {
  private status: RspamdHealth = { state: 'unknown' };
  private readonly normal: Endpoint;
  private readonly controller: Endpoint;
  private readonly timeoutMs: number;

  constructor(private readonly opts: RspamdOptions) {
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.normal = endpoint(opts.url);
    this.controller = opts.controllerUrl
      ? endpoint(opts.controllerUrl)
      : endpoint(`${this.normal.tls ? 'https' : 'http'}://${this.normal.socketPath ? '127.0.0.1' : this.normal.authority.replace(/:\d+$/, '')}:11334`);
  }

  health(): RspamdHealth {
    return this.status;
  }

  async check(c: RspamdCheck): Promise<RspamdVerdict> {
    const headers: Record<string, string | string[]> = {
      IP: c.ip.replace(/^::ffff:/, ''),
      Helo: c.helo || 'unknown',
      From: c.mailFrom,
      // One header line per recipient: rspamd reads each Rcpt as one address.
      Rcpt: c.rcpts,
      Pass: 'all',
    };
    if (c.clientHostname) headers.Hostname = c.clientHostname;
    if (c.queueId) headers['Queue-Id'] = c.queueId;
    if (c.deliverTo) headers['Deliver-To'] = c.deliverTo;
    if (c.mtaName) headers['MTA-Name'] = c.mtaName;
    const { status, body } = await this.call(this.normal, '/checkv2', headers, c.raw);
    if (status !== 200) throw this.down(`rspamd answered HTTP ${status}`);
    let j: { action?: string; score?: number; required_score?: number; symbols?: Record<string, { name?: string; score?: number }>; messages?: { smtp_message?: string } };
    try {
      j = JSON.parse(body.toString('utf8'));
    } catch {
      throw this.down('rspamd answered something that is not JSON');
    }
    if (typeof j.action !== 'string' || typeof j.score !== 'number') throw this.down('rspamd answered without an action and a score');
    this.up();
    return {
      action: j.action,
      score: j.score,
      required: j.required_score ?? 0,
      symbols: Object.entries(j.symbols ?? {}).map(([name, s]) => ({ name, score: s.score ?? 0 })),
      smtpMessage: j.messages?.smtp_message ?? null,
    };
  }

  /**
   * Teaches Bayes (RFC-free: rspamd's controller protocol). 'already' when
   * rspamd had learned this message that way (208), or when its learn
   * conditions declined the lesson (204, "all learn conditions denied"):
   * rspamd's default condition skips a message its classifier already puts
   * in that class with confidence, so there is nothing left to teach.
   */
  async learn(kind: 'spam' | 'ham', raw: Buffer, deliverTo?: string): Promise<'learned' | 'already'> {
    const headers: Record<string, string> = {};
    if (this.opts.password) headers.Password = this.opts.password;
    if (deliverTo) headers['Deliver-To'] = deliverTo;
    const { status, body } = await this.call(this.controller, kind === 'spam' ? '/learnspam' : '/learnham', headers, raw);
    // 208: this message was already learned as this class; 204: rspamd's learn conditions declined it.
    if (status === 208 || status === 204) return 'already';
    if (status !== 200) throw new Error(`rspamd did not learn the message: HTTP ${status} ${body.toString('utf8').slice(0, 200)}`);
    return 'learned';
  }

  private up(): void {
    if (this.status.state !== 'up') this.status = { state: 'up', since: Date.now() };
  }

  private down(error: string): RspamdUnavailableError {
    if (this.status.state !== 'down' || this.status.error !== error) this.status = { state: 'down', since: this.status.state === 'down' ? this.status.since : Date.now(), error };
    return new RspamdUnavailableError(error);
  }

  private async call(to: Endpoint, path: string, headers: Record<string, string | string[]>, body: Buffer): Promise<HttpReply> {
    try {
      return await exchange(to, path, headers, body, this.timeoutMs);
    } catch (err) {
      if (!(err instanceof HttpExchangeError)) throw err;
      throw this.down(`rspamd at ${to.socketPath ?? `${to.host}:${to.port}`} does not answer: ${err.message}`);
    }
  }
}
