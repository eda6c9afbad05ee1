/**
 * @module node/managesieve/session
 * One ManageSieve connection (RFC 5804): the state as a union (not
 * authenticated, mid-SASL, authenticated, closed), requests handled one at a
 * time in arrival order, one catch per command: protocol errors go to the
 * wire, anything else becomes NO (TRYLATER) and is logged with its stack.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { SessionIo } from '../net/index.js';
import { AuthFailedError, type Store } from '../store/index.js';
import type { AuthLimiter } from '../util/auth-limiter.js';
import type { Logger } from '../util/log.js';
import { reportUnexpected } from '../util/unexpected.js';
import { scriptCommand } from './commands.js';
import { no, SieveProtoError } from './errors.js';
import { parseCommand, type Command } from './parse.js';
import type { Received } from './receiver.js';
import { response, str } from './respond.js';
import { SIEVE_CAPABILITY } from './capability.js';

/** What the session needs from its connection (node/net's LineConnection). */
export type SieveIo = SessionIo<string>;

export interface SessionOptions {
  id: string;
  remote: string;
  secure: boolean;
  /** Plaintext AUTHENTICATE allowed without TLS (loopback, when configured). */
  plaintextOk: boolean;
  store: Store;
  authLimiter: AuthLimiter;
  log: Logger;
  maxAuthFailures?: number;
}

export type State =
  | { kind: 'nonauth' }
  | { kind: 'sasl' }
  | { kind: 'auth'; accountId: string; address: string }
  | { kind: 'closed' };

const MAX_QUEUED = 16;

export class SieveSession {
  state: State = { kind: 'nonauth' };
  private secure: boolean;
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  private authFailures = 0;

  constructor(
    private readonly io: SieveIo,
    private readonly o: SessionOptions,
  ) {
    this.secure = o.secure;
  }

  /** RFC 5804 §1.7: the server speaks first, with its capabilities. */
  greet(): Promise<void> {
    return this.io.write(this.capabilities() + response('OK', null, 'Haven ManageSieve ready'));
  }

  receive(items: Received[]): void {
    for (const it of items) {
      this.queued++;
      if (this.queued > MAX_QUEUED) this.io.pause();
      this.chain = this.chain.then(async () => {
        try {
          if (this.state.kind !== 'closed') await this.handle(it);
        } finally {
          this.queued--;
          if (this.queued === MAX_QUEUED) this.io.resume();
        }
      });
    }
  }

  closedByPeer(): void {
    this.state = { kind: 'closed' };
  }

  private capabilities(): string {
    const lines = [
      `"IMPLEMENTATION" "Haven"`,
      // RFC 5804 §2.1: no mechanism is offered where it could not be used (before TLS).
      `"SASL" ${str(this.secure || this.o.plaintextOk ? 'PLAIN' : '')}`,
      `"SIEVE" ${str(SIEVE_CAPABILITY)}`,
      ...(this.secure ? [] : ['"STARTTLS"']),
      `"MAXREDIRECTS" "5"`,
      // RFC 5804 §2.14.1: advertised because UNAUTHENTICATE is implemented.
      '"UNAUTHENTICATE"',
      ...(this.state.kind === 'auth' ? [`"OWNER" ${str(this.state.address)}`] : []),
      `"VERSION" "1.0"`,
    ];
    return lines.map((l) => l + '\r\n').join('');
  }

  private async handle(it: Received): Promise<void> {
    const started = Date.now();
    let verb = '?';
    try {
      if (it.kind === 'bad') {
        if (it.fatal) throw new SieveProtoError('BYE', null, `${it.reason}; closing`);
        throw no(it.tryLater ? 'TRYLATER' : null, it.tooBig ? it.reason : `${it.reason}; see RFC 5804 §4 for the syntax`);
      }
      if (this.state.kind === 'sasl') return await this.saslResponse(it.tokens);
      const cmd = parseCommand(it.tokens);
      verb = cmd.verb;
      await this.dispatch(cmd);
      this.o.log.debug({ verb, ms: Date.now() - started }, 'managesieve command');
    } catch (err) {
      if (this.state.kind === 'sasl') this.state = { kind: 'nonauth' };
      if (err instanceof SieveProtoError) {
        this.o.log.debug({ verb, code: err.code, ms: Date.now() - started }, 'managesieve command refused');
        await this.io.write(response(err.kind, err.code, err.text));
        if (err.kind === 'BYE') this.close();
        return;
      }
      this.o.log.error({ err, verb }, 'managesieve command failed');
      reportUnexpected(err);
      await this.io.write(response('NO', 'TRYLATER', 'internal error; try again later'));
    }
  }

  private close(): void {
    this.state = { kind: 'closed' };
    this.io.end();
  }

  private async dispatch(cmd: Command): Promise<void> {
    switch (cmd.verb) {
      case 'CAPABILITY':
        return this.io.write(this.capabilities() + response('OK', null, 'capability completed'));
      case 'NOOP':
        // RFC 5804 §2.13: the tag comes back as the TAG response code.
        return this.io.write(`OK${cmd.tag !== null ? ` (TAG ${str(cmd.tag)})` : ''} "Done"\r\n`);
      case 'LOGOUT':
        await this.io.write(response('OK', null, 'logout completed'));
        return this.close();
      case 'STARTTLS':
        return this.startTls();
      case 'AUTHENTICATE':
        return this.authenticate(cmd.mechanism, cmd.initial);
      case 'UNAUTHENTICATE':
        if (this.state.kind !== 'auth') throw no(null, 'not authenticated');
        this.state = { kind: 'nonauth' };
        return this.io.write(response('OK', null, 'unauthenticated'));
    }
    if (this.state.kind !== 'auth') throw no(null, `authenticate first (AUTHENTICATE "PLAIN"), then ${cmd.verb}`);
    return this.io.write(scriptCommand(this.o.store.directory.sieve, this.state.accountId, cmd));
  }

  /** RFC 5804 §2.2: after TLS the client starts over, and the server sends its capabilities again. */
  private async startTls(): Promise<void> {
    if (this.secure) throw no(null, 'TLS is already active');
    if (this.state.kind !== 'nonauth') throw no(null, 'STARTTLS is only allowed before authentication');
    if (!(await this.io.upgrade(response('OK', null, 'begin TLS negotiation now')))) return this.close();
    this.secure = true;
    await this.io.write(this.capabilities() + response('OK', null, 'TLS active'));
  }

  /** RFC 5804 §2.1 with SASL PLAIN (RFC 4616): an initial response, or an empty challenge and one reply. */
  private async authenticate(mechanism: string, initial: string | null): Promise<void> {
    if (this.state.kind !== 'nonauth') throw no(null, 'already authenticated');
    if (!this.secure && !this.o.plaintextOk) throw no('ENCRYPT-NEEDED', 'send STARTTLS first: passwords only travel encrypted');
    if (mechanism !== 'PLAIN') throw no(null, `mechanism ${mechanism} is not offered; use PLAIN`);
    if (initial === null) {
      this.state = { kind: 'sasl' };
      return this.io.write('""\r\n');
    }
    return this.login(initial);
  }

  private async saslResponse(tokens: { kind: string; value: string }[]): Promise<void> {
    this.state = { kind: 'nonauth' };
    if (tokens.length === 1 && tokens[0].kind === 'atom' && tokens[0].value === '*') throw no(null, 'authentication cancelled');
    if (tokens.length !== 1 || tokens[0].kind !== 'string') throw no(null, 'expected the SASL response as a string');
    return this.login(tokens[0].value);
  }

  private async login(b64: string): Promise<void> {
    const parts = Buffer.from(b64, 'base64').toString('utf8').split('\0');
    if (parts.length !== 3 || !parts[1]) throw no(null, 'malformed PLAIN response (authzid NUL user NUL password)');
    const [authz, user, secret] = parts;
    if (authz && authz.toLowerCase() !== user.toLowerCase()) throw no('AUTH-TOO-WEAK', 'acting as another user is not supported');
    const gate = this.o.authLimiter.check(this.o.remote, user);
    if (gate.locked) throw no('TRYLATER', `too many failed logins; wait ${Math.max(1, Math.ceil(gate.retryAfterMs / 60_000))} minute(s)`);
    // A growing delay per recent failure slows guessing without locking out the owner.
    if (gate.delayMs > 0) await sleep(gate.delayMs);
    let lease;
    try {
      lease = await this.o.store.authenticate(user, secret);
    } catch (err) {
      if (!(err instanceof AuthFailedError)) throw err;
      this.o.authLimiter.fail(this.o.remote, user);
      this.o.log.info({ user }, 'managesieve login failed');
      if (++this.authFailures >= (this.o.maxAuthFailures ?? 3)) throw new SieveProtoError('BYE', null, 'wrong user name or password too many times; closing');
      throw no(null, 'wrong user name or password (use your address and an app password)');
    }
    // Scripts live in the directory: the mailbox itself need not stay open.
    lease.release();
    if (this.state.kind === 'closed') return;
    this.o.authLimiter.succeed(this.o.remote, user);
    this.state = { kind: 'auth', accountId: lease.account.id, address: lease.account.address };
    this.o.log.info({ user: lease.account.address }, 'managesieve login');
    await this.io.write(response('OK', null, 'authenticated'));
  }
}
