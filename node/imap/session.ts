/**
 * @module node/imap/session
 * One connection's IMAP state machine (RFC 9051 §3): the state as a union
 * whose variants carry their own data, the dispatch table of
 * `{ states, handle }`, the one catch per command that turns errors into
 * tagged replies, and the delivery of other sessions' changes at the
 * moments the RFC allows.
 */
import { recordCommand } from '../util/metrics.js';
import type { Logger } from '../util/log.js';
import { reportUnexpected } from '../util/unexpected.js';
import { COMMANDS } from './commands/index.js';
import { ImapError, toImapError } from './errors.js';
import { fetchItems } from './commands/fetch.js';
import { parseCommand, type Command, type CommandName, type FetchAtt } from './parse.js';
import type { Notifier } from './notify.js';
import type { FlagReader } from '../store/index.js';
import type { MailPort, MailboxChange } from './port.js';
import type { Part } from './receiver.js';
import { astr, flagList, toBuffer, type Chunk } from './respond.js';
import { Selected } from './selected.js';
import { formatSet } from './seqset.js';
import type { ServerContext } from './server-context.js';
import { decodeMailbox, encodeMailbox } from './utf7.js';

export type State =
  | { kind: 'notauth' }
  | { kind: 'auth'; port: MailPort }
  | { kind: 'selected'; port: MailPort; sel: Selected }
  | { kind: 'logout' };
export type StateKind = State['kind'];

/** What a handler returns: the tagged OK's response code and text. */
export type Done = { code?: string; text?: string } | void;

type Narrow<C, N> = C extends { name: infer M } ? ([Extract<M, N>] extends [never] ? never : C) : never;
/** The command variant(s) a name belongs to. */
export type CommandOf<N extends CommandName> = Narrow<Command, N>;

export interface Handler<N extends CommandName = CommandName> {
  states: StateKind[];
  handle(s: Session, cmd: CommandOf<N>): Promise<Done> | Done;
}

/** Connection operations a session asks of its transport. */
export interface Transport {
  write(data: Buffer): void;
  /** Resolves false when the handshake failed (the client left or did not speak TLS); the connection is then closed. */
  startTls(): Promise<boolean>;
  startCompression(): void;
  close(): void;
  /** Sends what is written so far; a promise to await when the client is not reading fast enough, else null. */
  backpressure(): Promise<void> | null;
  /** Bytes written that the client has not yet taken. */
  readonly unsent: number;
  readonly secure: boolean;
  readonly compressed: boolean;
  readonly remoteAddress: string;
}

export const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];
const NO_EXPUNGE = new Set<CommandName>(['FETCH', 'STORE', 'SEARCH', 'SORT', 'THREAD']);

export class Session {
  state: State = { kind: 'notauth' };
  readonly enabled = new Set<string>();
  /** CONDSTORE is on once the client used any of its features (RFC 7162 §3.1). */
  condstore = false;
  /** A line the session waits for (AUTHENTICATE response, IDLE's DONE). */
  continuation: ((line: string) => Promise<void> | void) | null = null;
  idling = false;
  /** What NOTIFY asked for (RFC 5465), or null. */
  notifier: Notifier | null = null;
  /** The command running now; changes from elsewhere wait for its end unless pushed by IDLE or NOTIFY. */
  current: CommandName | null = null;
  /** Set by a handler that already sent its own tagged reply (STARTTLS, COMPRESS). */
  suppressTagged = false;
  private unsubscribe: (() => void) | null = null;

  constructor(
    readonly id: string,
    readonly ctx: ServerContext,
    readonly io: Transport,
    readonly log: Logger,
  ) {}

  get port(): MailPort {
    if (this.state.kind !== 'auth' && this.state.kind !== 'selected') throw new ImapError('BAD', null, 'log in first');
    return this.state.port;
  }

  get sel(): Selected {
    if (this.state.kind !== 'selected') throw new ImapError('BAD', null, 'select a mailbox first');
    return this.state.sel;
  }

  get utf8(): boolean {
    return this.enabled.has('UTF8=ACCEPT') || this.enabled.has('IMAP4REV2');
  }

  get rev2(): boolean {
    return this.enabled.has('IMAP4REV2');
  }

  /** A stored (UTF-8) mailbox name as this client reads it: modified UTF-7 unless UTF8=ACCEPT. */
  wireName(name: string): Chunk[] {
    return astr(this.utf8 ? name : encodeMailbox(name), this.utf8);
  }

  /** Converts the mailbox names of a command from modified UTF-7 for a client that is not in UTF-8 mode. */
  private decodeNames(cmd: Command): void {
    if (this.utf8) return;
    const c = cmd as unknown as Record<string, unknown>;
    for (const k of ['mailbox', 'from', 'to', 'ref']) if (typeof c[k] === 'string') c[k] = decodeMailbox(c[k] as string);
    if (cmd.name === 'GETQUOTAROOT') cmd.root = decodeMailbox(cmd.root);
    if (cmd.name === 'LIST' || cmd.name === 'LSUB') cmd.patterns = cmd.patterns.map(decodeMailbox);
    if (cmd.name === 'NOTIFY') for (const g of cmd.set?.groups ?? []) g.mailboxes = g.mailboxes.map(decodeMailbox);
  }

  send(...chunks: Chunk[]): void {
    this.io.write(toBuffer(chunks));
  }

  /** `* <text>` */
  untagged(...chunks: Chunk[]): void {
    this.send('* ', ...chunks, '\r\n');
  }

  greet(): void {
    this.untagged(`OK [CAPABILITY ${this.ctx.capabilities(this).join(' ')}] Haven IMAP ready`);
  }

  authenticated(port: MailPort): void {
    this.state = { kind: 'auth', port };
    this.unsubscribe = port.onChange((c) => this.onChange(c));
  }

  select(sel: Selected | null): void {
    if (this.state.kind !== 'auth' && this.state.kind !== 'selected') return;
    const port = this.state.port;
    this.state = sel ? { kind: 'selected', port, sel } : { kind: 'auth', port };
  }

  /** Ends the session: releases the mailbox lease exactly once. */
  end(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.state.kind === 'auth' || this.state.kind === 'selected') {
      this.state.port.release();
      this.ctx.loggedOut(this.state.port.accountId);
    }
    this.state = { kind: 'logout' };
  }

  /** Handles one whole request from the receiver. */
  async request(parts: Part[]): Promise<void> {
    if (this.continuation) {
      const k = this.continuation;
      this.continuation = null;
      await k(typeof parts[0] === 'string' && parts.length === 1 ? parts[0] : '');
      return;
    }
    let cmd: Command;
    try {
      cmd = parseCommand(parts);
    } catch (err) {
      if (!(err instanceof ImapError)) {
        reportUnexpected(err);
        this.send(`${(err as { tag?: string }).tag ?? '*'} BAD [SERVERBUG] the command could not be read\r\n`);
        return;
      }
      this.reply(err.tag ?? '*', err);
      recordCommand('imap', err.status, 0);
      return;
    }
    await this.run(cmd);
  }

  private async run(cmd: Command): Promise<void> {
    const started = Date.now();
    const h = COMMANDS[cmd.name] as Handler | undefined;
    const label = (cmd.uid ? 'UID ' : '') + (cmd.name === 'UIDEXPUNGE' ? 'EXPUNGE' : cmd.name);
    let result = 'OK';
    this.current = cmd.name;
    try {
      if (!h) throw new ImapError('BAD', null, `${label} is not supported`);
      if (!h.states.includes(this.state.kind)) throw new ImapError('BAD', null, this.wrongState(label));
      this.ctx.rateCheck(this);
      this.decodeNames(cmd);
      const done = await h.handle(this, cmd as never);
      if (this.continuation) return; // the handler waits for a line (AUTHENTICATE, IDLE)
      if (this.suppressTagged) {
        this.suppressTagged = false;
        return;
      }
      if ((this.state.kind as StateKind) === 'logout') return;
      this.flush(!NO_EXPUNGE.has(cmd.name) || !!cmd.uid);
      const d = done ?? {};
      this.send(`${cmd.tag} OK ${d.code ? `[${d.code}] ` : ''}${d.text ?? `${label} completed`}\r\n`);
    } catch (err) {
      result = this.fail(cmd.tag, err, cmd);
    } finally {
      this.current = null;
      this.log.debug({ cmd: label, ms: Date.now() - started, result }, 'command');
      recordCommand('imap', result, (Date.now() - started) / 1000);
    }
  }

  /** The one place a failed command becomes a tagged reply; returns the result for the log. */
  fail(tag: string, err: unknown, cmd?: Command): string {
    const e = toImapError(err, { tryCreate: cmd?.name === 'APPEND' || cmd?.name === 'COPY' || cmd?.name === 'MOVE' });
    if (e) {
      if (this.state.kind === 'selected' && e.status === 'NO' && cmd) this.flush(!NO_EXPUNGE.has(cmd.name) || !!cmd.uid);
      this.reply(tag, e);
      return e.status;
    }
    reportUnexpected(err);
    this.log.error({ err, cmd: cmd?.name }, 'command failed');
    this.send(`${tag} NO [SERVERBUG] internal error; the administrator can find it in the log, try again later\r\n`);
    return 'SERVERBUG';
  }

  reply(tag: string, e: ImapError): void {
    this.send(`${tag} ${e.status} ${e.code ? `[${e.code}] ` : ''}${e.message}\r\n`);
  }

  private wrongState(label: string): string {
    switch (this.state.kind) {
      case 'notauth':
        return `${label} needs a login first`;
      case 'auth':
        return `${label} needs a selected mailbox; SELECT one first`;
      default:
        return `${label} is not allowed in this state`;
    }
  }

  private onChange(c: MailboxChange): void {
    if (c.type === 'dav' || this.state.kind === 'notauth' || this.state.kind === 'logout') return;
    // Only when this change would be pushed unasked: during a command the backlog may be its own answer (one big literal), and changes wait.
    if (this.notifier && (this.current === null || this.idling) && this.io.unsent > this.ctx.limits.notifyBacklogBytes) {
      // RFC 5465 §5.8: stop as if NOTIFY NONE had been sent; what changed in the selected mailbox still reaches it at the next command.
      this.notifier = null;
      this.untagged('OK [NOTIFICATIONOVERFLOW] notifications stopped because the client fell behind; send NOTIFY SET again once caught up');
    }
    const n = this.notifier;
    if (c.type === 'folders') {
      if (n?.foldersChanged(this.current) && this.current === null) this.pushNotifications();
      return;
    }
    if (this.state.kind !== 'selected' || c.folderId !== this.state.sel.folderId) {
      if (n?.messageChanged(c) && this.current === null) this.pushNotifications();
      return;
    }
    const sel = this.state.sel;
    if (c.type === 'exists') {
      const last = sel.lastUid;
      for (const u of c.uids) if (u > last) sel.pendingNew.push(u);
    } else if (c.origin === this.id) return;
    else if (c.type === 'flags') for (const u of c.uids) sel.pendingFlags.add(u);
    else if (c.type === 'expunge') {
      let uids = c.uids;
      if (!uids.length) {
        // A folder-wide change (INBOX renamed): whatever is no longer there.
        const now = new Set(this.port.messages.uids(sel.folderId));
        uids = [...sel.uids, ...sel.pendingNew].filter((u) => !now.has(u));
      }
      for (const u of uids) sel.pendingExpunge.add(u);
    }
    if (this.idling) this.flush(true);
    else if (n && this.current === null) {
      // RFC 5465 §5: SELECTED tells at once, expunges included; SELECTED-DELAYED keeps expunges for a command.
      const push = n.selectedPush(c);
      if (push) this.flush(push === 'immediate');
    }
  }

  /** Writes STATUS and LIST responses NOTIFY has queued. */
  private pushNotifications(): void {
    const out = this.notifier?.take(this.state.kind === 'selected' ? this.state.sel.folderId : null, this.condstore);
    if (out) this.io.write(out);
  }

  /** Tells the client what changed, as far as the current moment allows. */
  flush(allowExpunge: boolean): void {
    this.pushNotifications();
    if (this.state.kind !== 'selected') return;
    const sel = this.state.sel;
    if (allowExpunge && sel.pendingExpunge.size) {
      this.expunged(sel, [...sel.pendingExpunge]);
      sel.pendingExpunge.clear();
    }
    if (sel.pendingNew.length || sel.pendingFlags.size) this.announceFolderKeywords(sel);
    if (sel.pendingNew.length) {
      const fresh = sel.pendingNew.splice(0);
      sel.append(fresh);
      // RFC 3501 §7.3.2: an IMAP4rev1 client hears RECENT with EXISTS (one write, so a reader waiting for either sees both).
      if (this.rev2) this.untagged(`${sel.count} EXISTS`);
      else {
        this.takeRecent(sel, fresh[0], fresh[fresh.length - 1] + 1);
        this.send(`* ${sel.count} EXISTS\r\n* ${sel.recentCount} RECENT\r\n`);
      }
      const atts = this.notifier?.newFetch;
      if (atts) this.fetchNew(sel, fresh, atts);
    }
    if (sel.pendingFlags.size) {
      const uids = [...sel.pendingFlags].sort((a, b) => a - b);
      sel.pendingFlags.clear();
      for (const uid of uids) {
        const seq = sel.seqOf(uid);
        if (!seq || sel.pendingExpunge.has(uid)) continue;
        const m = this.port.messages.get(sel.folderId, uid);
        if (!m) continue;
        this.announceKeywords(sel, m.flags);
        this.untagged(`${seq} FETCH (UID ${uid} FLAGS ${this.flagsOf(sel, uid, m.flags)}${this.condstore ? ` MODSEQ (${m.modseq})` : ''})`);
      }
    }
  }

  /**
   * RFC 3501 §2.3.2, §7.3.2: for an IMAP4rev1 session, the messages of
   * [from, to) newly in its view are recent for it: a read-write session
   * claims those no other session has seen, so each is recent in exactly one;
   * a read-only one (EXAMINE) claims nothing and sees the unclaimed ones
   * (RFC 3501 §6.3.2: EXAMINE must not make \Recent go away).
   */
  takeRecent(sel: Selected, from: number, to: number): void {
    const start = sel.readOnly ? this.port.messages.recentFrom(sel.folderId) : this.port.messages.claimRecent(sel.folderId, to);
    sel.addRecent(Math.max(start, from), to);
  }

  /** A message's flag list as this session sees it: with \Recent for an IMAP4rev1 session that holds it as recent (IMAP4rev2 has no \Recent). */
  flagsOf(sel: Selected, uid: number, flags: readonly string[]): string {
    return flagList(!this.rev2 && sel.isRecent(uid) ? [...flags, '\\Recent'] : flags);
  }

  /** STATUS RECENT (RFC 3501 §6.3.10): messages no session has seen as recent, and those this one holds as recent. */
  recentStatus(folderId: number): number {
    if (this.rev2) return 0;
    const m = this.port.messages;
    const unclaimed = m.countFrom(folderId, m.recentFrom(folderId));
    const sel = this.state.kind === 'selected' ? this.state.sel : null;
    return sel && sel.folderId === folderId && !sel.readOnly ? unclaimed + sel.recentCount : unclaimed;
  }

  /**
   * RFC 9051 §7.3.5 (RFC 3501 §7.2.6): FLAGS names every flag the mailbox
   * uses, and a client learns a new keyword from an updated FLAGS (with
   * PERMANENTFLAGS) before any response shows it. Sent at SELECT and again
   * whenever a keyword appears that this session was not told of.
   */
  sendFlags(sel: Selected): void {
    const flags = [...SYSTEM_FLAGS, ...sel.keywords.values()];
    this.untagged(`FLAGS ${flagList(flags)}`);
    this.untagged(`OK [PERMANENTFLAGS ${sel.readOnly ? '()' : flagList([...flags, '\\*'])}] flags you can change`);
  }

  /** Announces the keywords among `flags` the client has not been told of; call before sending them. */
  announceKeywords(sel: Selected, flags: Iterable<string>): void {
    if (sel.learnKeywords(flags)) this.sendFlags(sel);
  }

  /** Announces every keyword now in use in the selected folder (cheap when none is new); nothing if the folder is gone. */
  announceFolderKeywords(sel: Selected, index?: FlagReader): void {
    const names = index ? index.keywordNames() : this.port.messages.keywordNames(sel.folderId);
    if (names && sel.learnFolderKeywords(names)) this.sendFlags(sel);
  }

  /** RFC 5465 §5.2: MessageNew's fetch attributes for each new message, never setting \Seen. */
  private fetchNew(sel: Selected, uids: number[], atts: FetchAtt[]): void {
    for (const uid of uids) {
      const m = this.port.messages.get(sel.folderId, uid);
      if (!m) continue;
      this.announceKeywords(sel, m.flags);
      this.send(`* ${sel.seqOf(uid)} FETCH (`, ...fetchItems(this, m, atts, this.condstore), ')\r\n');
    }
  }

  /**
   * RFC 7162 §3.1: the first CONDSTORE enabling command (ENABLE, FETCH or
   * SEARCH with MODSEQ, CHANGEDSINCE, UNCHANGEDSINCE, STATUS HIGHESTMODSEQ)
   * turns MODSEQ on for the session; with a mailbox selected the client is
   * told its HIGHESTMODSEQ at once, as SELECT would have told it.
   */
  enableCondstore(): void {
    if (this.condstore) return;
    this.condstore = true;
    if (this.state.kind !== 'selected') return;
    const f = this.port.folders.byId(this.state.sel.folderId);
    if (f) this.untagged(`OK [HIGHESTMODSEQ ${f.highestModseq}] CONDSTORE is on`);
  }

  /**
   * Announces expunged messages: VANISHED under QRESYNC, else EXPUNGE per
   * message. Only those in the client's view are announced; any of `uids`
   * the client was not yet told of (waiting in pendingNew) are dropped from
   * what its next EXISTS will count.
   */
  expunged(sel: Selected, uids: number[]): void {
    if (!uids.length) return;
    if (this.enabled.has('QRESYNC')) {
      const known = uids.filter((u) => sel.seqOf(u) > 0);
      sel.remove(uids);
      if (known.length) this.untagged(`VANISHED ${formatSet(known)}`);
      return;
    }
    for (const seq of sel.remove(uids)) this.untagged(`${seq} EXPUNGE`);
  }
}
