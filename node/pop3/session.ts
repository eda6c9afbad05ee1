/**
 * @module node/pop3/session
 * One POP3 connection's state machine: a queue of received lines handled one
 * at a time (so PIPELINING clients get answers in order), a dispatch table of
 * `{ states, handle }` per verb, and the one catch per command that turns
 * errors into "-ERR [CODE] text". Unknown errors are logged with their stack
 * and reported; I/O is the server's (Pop3Io), so this file never sees a socket.
 */
import type { AuthLimiter } from '../util/auth-limiter.js';
import type { Logger } from '../util/log.js';
import { cpuClock, type SessionIo } from '../net/index.js';
import { recordCommand } from '../util/metrics.js';
import { reportUnexpected } from '../util/unexpected.js';
import { auth, saslResponse } from './commands/auth.js';
import { capa } from './commands/capa.js';
import { dele } from './commands/dele.js';
import { list } from './commands/list.js';
import { noop } from './commands/noop.js';
import { pass } from './commands/pass.js';
import { quit } from './commands/quit.js';
import { retr } from './commands/retr.js';
import { rset } from './commands/rset.js';
import { stat } from './commands/stat.js';
import { stls } from './commands/stls.js';
import { top } from './commands/top.js';
import { uidl } from './commands/uidl.js';
import { user } from './commands/user.js';
import { Pop3Error, toPop3Error } from './errors.js';
import { parseCommand, type Command, type Verb } from './parse.js';
import type { Pop3Backend } from './port.js';
import type { Received } from './receiver.js';
import { fail, ok } from './respond.js';
import type { CommandSpec, Pop3Context, Pop3Limits, Pop3State } from './state.js';

const COMMANDS: { [V in Verb]: CommandSpec<V> } = {
  USER: user,
  PASS: pass,
  AUTH: auth,
  CAPA: capa,
  STLS: stls,
  STAT: stat,
  LIST: list,
  UIDL: uidl,
  RETR: retr,
  TOP: top,
  DELE: dele,
  NOOP: noop,
  RSET: rset,
  QUIT: quit,
};

/** What the session needs from its connection (node/net's LineConnection). */
export type Pop3Io = SessionIo<Buffer>;

export interface SessionOptions {
  id: string;
  remote: string;
  loopback: boolean;
  secure: boolean;
  hostname: string;
  limits: Pop3Limits;
  backend: Pop3Backend;
  authLimiter: AuthLimiter;
  log: Logger;
}

/** Lines queued beyond this pause reading from the socket until the session catches up. */
const QUEUE_HIGH = 64;

export class Pop3Session implements Pop3Context {
  state: Pop3State = { kind: 'authorization', user: null };
  authFailures = 0;
  secure: boolean;
  readonly id: string;
  readonly remote: string;
  readonly hostname: string;
  readonly limits: Pop3Limits;
  readonly backend: Pop3Backend;
  readonly authLimiter: AuthLimiter;
  readonly log: Logger;
  private readonly loopback: boolean;
  private badCommands = 0;
  private queue: Received[] = [];
  private running = false;
  private upgrading = false;
  private closed = false;
  private ending = false;

  constructor(
    private readonly io: Pop3Io,
    o: SessionOptions,
  ) {
    this.id = o.id;
    this.remote = o.remote;
    this.loopback = o.loopback;
    this.secure = o.secure;
    this.hostname = o.hostname;
    this.limits = o.limits;
    this.backend = o.backend;
    this.authLimiter = o.authLimiter;
    this.log = o.log;
  }

  get plaintextAllowed(): boolean {
    return this.secure || (this.loopback && this.limits.allowPlaintextOnLoopback);
  }

  get open(): boolean {
    return !this.closed;
  }

  greet(): Promise<void> {
    return this.send(ok(`${this.hostname} POP3 ready`));
  }

  async send(reply: Buffer): Promise<void> {
    if (!this.closed) await this.io.write(reply);
  }

  async startTls(reply: Buffer): Promise<void> {
    // RFC 2595 §4 / CVE-2011-0411: nothing sent before the handshake may be
    // executed after it, so queued lines are dropped and new ones ignored.
    this.upgrading = true;
    this.queue = [];
    const upgraded = await this.io.upgrade(reply);
    this.upgrading = false;
    // A failed handshake is an I/O failure: the connection is already gone, nothing to answer.
    if (upgraded) this.secure = true;
    else this.end();
  }

  end(): void {
    this.ending = true;
    this.queue = [];
    this.io.end();
  }

  /** Lines from the receiver, in order. */
  receive(items: Received[]): void {
    if (this.closed || this.ending || this.upgrading || items.length === 0) return;
    this.queue.push(...items);
    if (this.queue.length > QUEUE_HIGH) this.io.pause();
    if (!this.running) void this.pump();
  }

  private async pump(): Promise<void> {
    this.running = true;
    while (!this.closed && !this.ending && this.queue.length) await this.handle(this.queue.shift()!);
    this.running = false;
    if (!this.closed) this.io.resume();
  }

  private async handle(item: Received): Promise<void> {
    const started = performance.now();
    const cpu = cpuClock('pop3');
    let verb = 'line';
    let result = 'ok';
    try {
      if (item.kind === 'overlong') {
        if (this.state.kind === 'sasl') this.state = { kind: 'authorization', user: null };
        throw this.badCommand(new Pop3Error(null, `line too long; commands are at most ${this.limits.maxLineBytes} octets`));
      }
      if (this.state.kind === 'sasl') {
        verb = 'AUTH';
        await saslResponse(this, item.text);
        return;
      }
      let cmd: Command;
      try {
        cmd = parseCommand(item.text);
      } catch (err) {
        throw this.badCommand(err);
      }
      verb = cmd.verb;
      const spec = COMMANDS[cmd.verb] as CommandSpec<Verb>;
      if (!spec.states.includes(this.state.kind)) throw this.badCommand(new Pop3Error(null, wrongState(cmd.verb, this.state)));
      await spec.handle(this, cmd as never);
    } catch (err) {
      result = 'err';
      await this.reply(err);
    } finally {
      this.log.debug({ cmd: verb, ms: Math.round((performance.now() - started) * 10) / 10, result }, 'pop3 command');
      recordCommand('pop3', result, (performance.now() - started) / 1000);
      cpu();
    }
  }

  private badCommand(err: unknown): unknown {
    if (!(err instanceof Pop3Error)) return err;
    if (++this.badCommands < this.limits.maxBadCommands) return err;
    return new Pop3Error(null, `${err.text}; too many bad commands, closing`, true);
  }

  /** The catch-all: protocol errors to the wire, unknown ones logged, reported and answered SYS/TEMP. */
  private async reply(err: unknown): Promise<void> {
    let e = toPop3Error(err);
    if (!e) {
      reportUnexpected(err);
      this.log.error({ err }, 'pop3 command failed');
      e = new Pop3Error('SYS/TEMP', 'internal server error, nothing was changed; retry, and tell the operator if it persists');
    }
    await this.send(fail(e));
    // A failed UPDATE still ends the session (RFC 1939 §6): the client must reconnect.
    if (e.close || this.state.kind === 'update') {
      this.release();
      this.end();
    }
  }

  /** RFC 1939 §3 autologout: the session ends without entering UPDATE. */
  /** A command is being handled: time spent here (a login's key derivation) is not idleness. */
  get busy(): boolean {
    return this.running;
  }

  async timeout(): Promise<void> {
    await this.send(fail(new Pop3Error(null, 'autologout: idle for too long; nothing was deleted')));
    this.end();
  }

  /** The connection is gone: release the maildrop without applying deletions. */
  closedByPeer(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.release();
  }

  /**
   * Every way a session ends comes through here: the maildrop lock goes back
   * (QUIT releases it itself after UPDATE), or every later login of that account
   * would get IN-USE until a restart (RFC 2449 §8.1.2).
   */
  private release(): void {
    const st = this.state;
    this.state = { kind: 'closed' };
    if (st.kind === 'transaction') st.drop.release();
  }
}

function wrongState(verb: Verb, state: Pop3State): string {
  if (state.kind === 'authorization') return `${verb} needs a login first (USER/PASS or AUTH)`;
  if (state.kind === 'transaction') return `${verb} is not allowed after login`;
  return `${verb} is not allowed now`;
}
