/**
 * @module node/smtp/verify/protocol
 * The messages between the main thread and the verification worker
 * (node/smtp/verify/worker.ts), and how errors cross the thread boundary.
 * Pure: no I/O, no threads.
 *
 * A structured clone of an Error keeps its message but drops `code`, and
 * mailauth decides on `code` alone (ENOTFOUND/ENODATA: no record, so SPF
 * "none" and DKIM "neutral"; ETIMEOUT, EREFUSED, ESERVFAIL…: "temperror",
 * RFC 7208 §2.6.6 / RFC 6376 §6.1.2 / RFC 7489 §6.6.3), so errors travel as
 * plain fields and are rebuilt on the other side.
 */

/** ARC sealing options, as mailauth takes them. */
export interface SealOptions {
  signingDomain: string;
  selector: string;
  privateKey: string;
}

/** What mailauth's `authenticate` needs besides the message and a resolver. */
export interface AuthOptions {
  ip: string;
  helo: string;
  sender: string;
  mta: string;
  seal?: SealOptions;
}

export interface WireError {
  name: string;
  message: string;
  stack?: string;
  /** Own primitive fields: `code`, and node:dns's `errno`, `syscall`, `hostname`. */
  fields: Record<string, string | number | boolean>;
}

/** Main thread to worker. */
export type ToWorker =
  /** A message to verify; `bytes` is the whole message, or absent when the worker is to pull it in slices. */
  | { t: 'job'; id: number; opts: AuthOptions; size: number; bytes?: Uint8Array }
  /** The next slice of a pulled message; null once it is all sent. */
  | { t: 'chunk'; id: number; bytes: Uint8Array | null }
  /** The answer to a DNS question the worker asked. */
  | { t: 'dns'; q: number; ok: true; value: unknown }
  | { t: 'dns'; q: number; ok: false; error: WireError }
  /** Is the event loop free? (the watchdog) */
  | { t: 'ping' };

/** Worker to main thread. */
export type FromWorker =
  | { t: 'pong' }
  | { t: 'pull'; id: number }
  | { t: 'dns'; id: number; q: number; name: string; type: string }
  | { t: 'done'; id: number; result: unknown }
  | { t: 'fail'; id: number; error: WireError };

export function toWire(err: unknown): WireError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err), fields: {} };
  const fields: WireError['fields'] = {};
  for (const [k, v] of Object.entries(err)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') fields[k] = v;
  }
  return { name: err.name, message: err.message, stack: err.stack, fields };
}

export function fromWire(w: WireError): Error {
  const err = Object.assign(new Error(w.message), w.fields);
  if (w.name !== 'Error') Object.defineProperty(err, 'name', { value: w.name, enumerable: false, configurable: true, writable: true });
  if (w.stack) err.stack = w.stack;
  return err;
}

/**
 * A copy of `bytes` in an ArrayBuffer of its own, exactly its length, for
 * transferring: posting a view would clone its whole backing buffer, and a
 * small Buffer's backing buffer is Node's shared 8 KiB pool.
 */
export function ownCopy(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

/**
 * The worker died (crashed, ran out of its heap, was stopped) while the
 * message was being verified: nothing was decided about it, so the sender
 * is asked to retry (a 4xx), never told yes or no.
 */
export class VerifierGoneError extends Error {
  constructor(why: string) {
    super(`verification worker gone: ${why}`);
    this.name = 'VerifierGoneError';
  }
}
