/**
 * @module node/pop3/state
 * POP3 session state (RFC 1939 §3) as a union whose variants carry their own
 * data, and the surface command handlers get from the session: the state,
 * connection facts, the port, and the ways to answer.
 */
import type { Logger } from '../util/log.js';
import type { AuthLimiter } from '../util/auth-limiter.js';
import type { Command, Verb } from './parse.js';
import type { Maildrop, MaildropEntry, Pop3Backend } from './port.js';
import { Pop3Error } from './errors.js';

export type Pop3State =
  /** Before login; `user` is the name from USER awaiting PASS. */
  | { kind: 'authorization'; user: string | null }
  /** AUTH issued without an initial response: the next line is the SASL response (RFC 5034 §4). */
  | { kind: 'sasl'; mechanism: 'PLAIN' }
  /** Logged in, maildrop locked; `deleted` holds message numbers marked by DELE. */
  | { kind: 'transaction'; drop: Maildrop; deleted: Set<number> }
  /** QUIT from TRANSACTION: deletions are being applied, then the connection closes. */
  | { kind: 'update' }
  | { kind: 'closed' };

export type StateKind = Pop3State['kind'];
export type TransactionState = Extract<Pop3State, { kind: 'transaction' }>;

export interface Pop3Limits {
  /** Longest command line in octets, CRLF included (RFC 2449 §4 asks for 255; AUTH PLAIN lines run longer). */
  maxLineBytes: number;
  /** Unknown, malformed, overlong or wrong-state commands before the connection is closed. */
  maxBadCommands: number;
  /** Failed logins on one connection before it is closed (the shared AuthLimiter counts across connections). */
  maxAuthFailures: number;
  /** RFC 1939 §3: the autologout timer is at least 10 minutes. */
  idleTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** Allow USER/PASS and AUTH PLAIN without TLS from 127.0.0.1 and ::1 (local clients and tests). */
  allowPlaintextOnLoopback: boolean;
}

export const DEFAULT_LIMITS: Pop3Limits = {
  maxLineBytes: 2048,
  maxBadCommands: 10,
  maxAuthFailures: 3,
  idleTimeoutMs: 10 * 60_000,
  maxConnections: 1000,
  maxConnectionsPerIp: 20,
  allowPlaintextOnLoopback: false,
};

export interface Pop3Context {
  state: Pop3State;
  readonly id: string;
  readonly remote: string;
  readonly hostname: string;
  /** The connection is TLS (implicit or after STLS). */
  readonly secure: boolean;
  /** USER/PASS and AUTH PLAIN may be used now. */
  readonly plaintextAllowed: boolean;
  readonly limits: Pop3Limits;
  readonly backend: Pop3Backend;
  readonly authLimiter: AuthLimiter;
  readonly log: Logger;
  authFailures: number;
  /** Writes a reply; resolves once the socket accepts more (backpressure). */
  send(reply: Buffer): Promise<void>;
  /** Sends `reply` ("+OK begin TLS") and upgrades the connection; resolves after the handshake. */
  startTls(reply: Buffer): Promise<void>;
  /** Closes the connection after pending replies are written. */
  end(): void;
  /** False when the connection went away meanwhile (the caller must release what it acquired). */
  readonly open: boolean;
}

export interface CommandSpec<V extends Verb> {
  states: readonly StateKind[];
  handle(ctx: Pop3Context, cmd: Extract<Command, { verb: V }>): Promise<void>;
}

/** The session's TRANSACTION data; the dispatch table guarantees the state. */
export function transaction(ctx: Pop3Context): TransactionState {
  if (ctx.state.kind !== 'transaction') throw new Pop3Error(null, 'log in first');
  return ctx.state;
}

/** Message n of the snapshot, refusing numbers past the end and deleted messages (RFC 1939 §5). */
export function entry(s: TransactionState, n: number): MaildropEntry {
  const e = s.drop.entries[n - 1];
  if (!e) throw new Pop3Error(null, `no message ${n}; the maildrop has ${s.drop.entries.length} (see LIST)`);
  if (s.deleted.has(n)) throw new Pop3Error(null, `message ${n} is marked deleted; RSET undeletes it`);
  return e;
}
