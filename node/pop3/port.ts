/**
 * @module node/pop3/port
 * The only data surface POP3 command handlers see: a backend that turns
 * credentials into an exclusively held maildrop, and the maildrop itself — a
 * snapshot of INBOX taken at login (RFC 1939 §4: messages that arrive later
 * are not part of this session), read by message number, committed once.
 */
export interface MaildropEntry {
  /** Stable message id in the store (INBOX UID). */
  readonly uid: number;
  readonly size: number;
  /** RFC 1939 §7 unique-id: never reused, identical across sessions, restarts and restores. */
  readonly uidl: string;
}

export interface Maildrop {
  readonly account: string;
  /** Message n is entries[n - 1]. */
  readonly entries: readonly MaildropEntry[];
  /** The raw message, or null when another client (IMAP) removed it since login. */
  read(uid: number): Buffer | null;
  /** UPDATE state: removes (or hides, in keep mode) all given UIDs in one transaction. */
  commit(uids: readonly number[]): void;
  /** Ends the session's hold on the maildrop; changes nothing. Idempotent. */
  release(): void;
}

export interface Pop3Backend {
  /**
   * Proves the credentials, unlocks the mailbox and takes the maildrop's
   * exclusive lock. Throws AuthFailedError or MaildropInUseError.
   */
  open(user: string, secret: string): Promise<Maildrop>;
}
