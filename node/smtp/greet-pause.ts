/**
 * @module node/smtp/greet-pause
 * Early-talker detection paid once per client, the way Postfix's postscreen
 * does it (its pregreet test and `postscreen_pregreet_ttl`). RFC 5321 §3.1
 * and §4.3.1: the client waits for the server's 220 before it says anything;
 * spam bots that blast their commands at once give themselves away. smtp-server
 * holds every connection 100 ms to catch them, which caps a sender that opens
 * a connection per message at ten messages a second per connection slot.
 *
 * Here the pause is configurable and adaptive: a client address that waited
 * the whole pause politely is remembered for a while (bounded entries, oldest
 * forgotten first) and greeted at once on its next connections; an early
 * talker is refused (421) and stays unremembered, so it pauses again.
 * Submission never pauses (its clients authenticate; the listener passes no
 * policy) and neither does loopback unless asked (local tools, the bench).
 */
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { isLoopback } from '../util/loopback.js';

export interface GreetPauseOptions {
  /** How long a first-time client must stay quiet before the 220; 0 turns the check off. */
  pauseMs: number;
  /** How long a client address that waited politely skips the pause; 0 remembers nobody. */
  rememberMs: number;
  /** Most client addresses remembered (about 100 bytes each); the oldest go first. */
  maxRemembered: number;
  /** Pause loopback clients too (a bench standing in for remote senders). */
  pauseLoopback: boolean;
}

export const DEFAULT_GREET_PAUSE: GreetPauseOptions = { pauseMs: 100, rememberMs: 24 * 3600_000, maxRemembered: 10_000, pauseLoopback: false };

/**
 * The remembered polite clients. Entries are stored in the order they were
 * (re)recorded and all live equally long, so the Map's first entry is always
 * the one that expires first: pruning and eviction both take from the head.
 */
export class GreetPause {
  private readonly until = new Map<string, number>();
  readonly options: GreetPauseOptions;

  constructor(
    options: Partial<GreetPauseOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.options = { ...DEFAULT_GREET_PAUSE, ...options };
  }

  /** Milliseconds to hold this client before the greeting (0: greet at once). */
  pauseFor(ip: string): number {
    const { pauseMs, pauseLoopback } = this.options;
    if (pauseMs <= 0 || (!pauseLoopback && isLoopback(ip))) return 0;
    const t = this.until.get(ip);
    if (t === undefined) return pauseMs;
    if (t > this.now()) return 0;
    this.until.delete(ip);
    return pauseMs;
  }

  /** The client sat through the whole pause without talking. */
  waited(ip: string): void {
    const { rememberMs, maxRemembered } = this.options;
    if (rememberMs <= 0 || maxRemembered <= 0) return;
    const now = this.now();
    this.until.delete(ip);
    this.until.set(ip, now + rememberMs);
    for (const [k, t] of this.until) {
      if (t > now && this.until.size <= maxRemembered) break;
      this.until.delete(k);
    }
  }

  get size(): number {
    return this.until.size;
  }
}

const POLICY = Symbol.for('haven.smtp.greetPause');

interface Connection {
  _server: { options: Record<string | symbol, unknown>; connections: Set<unknown> };
  remoteAddress: string;
  name: string;
  _closing: boolean;
  _closed: boolean;
  _setListeners(cb: () => void): void;
  connectionReady(): void;
  send(code: number, text: string, context?: unknown): void;
  init(): void;
  [POLICY]?: true;
}

/**
 * Replaces smtp-server's fixed 100 ms connection delay, for servers whose
 * options carry a policy under `greetPauseOption`, with the policy's pause.
 * Servers without one keep the library's behaviour.
 */
export function patchGreetPause(): void {
  const proto = SMTPConnection.prototype as unknown as Connection;
  if (proto[POLICY]) return;
  const original = proto.init;
  proto.init = function (this: Connection) {
    const policy = this._server?.options?.[POLICY] as GreetPause | null | undefined;
    if (policy === undefined) return original.call(this);
    this._setListeners(() => {
      const max = this._server.options.maxClients as number | undefined;
      if (max && this._server.connections.size > max) return this.send(421, `${this.name} Too many connected clients, try again in a moment`, false);
      const ip = this.remoteAddress;
      const ms = policy ? policy.pauseFor(ip) : 0;
      if (ms <= 0) return this.connectionReady();
      // Until connectionReady sets _ready, smtp-server answers any command
      // with 421 "You talk too soon" and closes: that is the early talker.
      const timer = setTimeout(() => {
        if (this._closing || this._closed) return;
        policy!.waited(ip);
        this.connectionReady();
      }, ms);
      timer.unref();
    });
  };
  proto[POLICY] = true;
}

/** The smtp-server option key under which a listener passes its policy (null: never pause). */
export const greetPauseOption: symbol = POLICY;
