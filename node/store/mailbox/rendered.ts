/**
 * @module node/store/mailbox/rendered
 * A bounded cache of text rendered from one open mailbox's DAV objects (the
 * <response> fragment of a REPORT), so a calendar app's repeated multiget or
 * full calendar-query copies a string instead of building it again. It is
 * owned by the open mailbox: it goes when the mailbox trims its memory or
 * closes, so it holds nothing the decrypted page cache did not already hold
 * while the mailbox was open. The repository drops a collection's entries on
 * every write to that collection.
 *
 * It also keeps a collection's list of objects without their data, valid
 * while the collection's modseq stays where it was, so a repeated full
 * calendar-query or multiget reads no rows at all.
 *
 * An entry is found by the object's modseq (unique to one version of one
 * object in the mailbox) and a variant (what was asked for, such as the
 * requested properties), and is returned only when the href and ETag it was
 * rendered for are the caller's too.
 */

import type { DavObjectHead } from './dav.js';

/** A collection's objects without their data, as of one collection modseq. */
interface Heads {
  modseq: number;
  list: DavObjectHead[];
  byName: Map<string, DavObjectHead>;
  bytes: number;
}

interface Entry {
  collectionId: number;
  href: string;
  etag: string;
  text: string;
  bytes: number;
}

/** What an entry costs besides its strings: the key, the entry object and the map's slot (an estimate). */
const OVERHEAD = 160;
/** Distinct variants remembered; a client sending ever new property lists starts the cache over. */
const MAX_VARIANTS = 64;

/**
 * What the rendered caches of all open mailboxes hold together: each
 * mailbox's own bound times the open mailboxes would be far more than a
 * small server has, so past the shared bound nothing more is kept (what is
 * kept goes with its mailbox's trim or close).
 */
export class RenderedPool {
  used = 0;
  constructor(readonly maxBytes: number) {}

  admits(bytes: number): boolean {
    return this.used + bytes <= this.maxBytes;
  }
}

export class RenderedCache {
  /** Insertion order: eviction takes the oldest. */
  private readonly entries = new Map<string, Entry>();
  private readonly variants = new Map<string, number>();
  private readonly heads = new Map<number, Heads>();
  /** Per collection, the modseq it was last read at without a kept list (see readAgain). */
  private readonly lastRead = new Map<number, number>();
  private used = 0;

  /** `maxBytes` 0 turns the cache off; `pool`, when given, bounds this cache and its siblings together. */
  constructor(
    readonly maxBytes: number,
    private readonly pool: RenderedPool | null = null,
  ) {}

  /** Every change of what is held goes through here, so the shared pool's tally stays exact. */
  private charge(delta: number): void {
    this.used += delta;
    if (this.pool) this.pool.used += delta;
  }

  /** Bytes held now (strings counted at two bytes a character, the most a JS string takes). */
  get bytes(): number {
    return this.used;
  }

  get size(): number {
    return this.entries.size;
  }

  private key(modseq: number, variant: string, add: boolean): string | null {
    let v = this.variants.get(variant);
    if (v === undefined) {
      if (!add) return null;
      if (this.variants.size >= MAX_VARIANTS) this.clear();
      v = this.variants.size;
      this.variants.set(variant, v);
    }
    return `${v}:${modseq}`;
  }

  get(modseq: number, variant: string, href: string, etag: string): string | undefined {
    const k = this.key(modseq, variant, false);
    const e = k === null ? undefined : this.entries.get(k);
    return e && e.href === href && e.etag === etag ? e.text : undefined;
  }

  set(collectionId: number, modseq: number, variant: string, href: string, etag: string, text: string): void {
    const bytes = 2 * (text.length + href.length + etag.length) + OVERHEAD;
    // One entry larger than a quarter of the cache would push out many small ones for one hit.
    if (bytes > this.maxBytes / 4) return;
    const k = this.key(modseq, variant, true)!;
    const old = this.entries.get(k);
    if (old) {
      this.charge(-old.bytes);
      this.entries.delete(k);
    }
    this.evictFor(bytes);
    if (this.pool && !this.pool.admits(bytes)) return;
    this.entries.set(k, { collectionId, href, etag, text, bytes });
    this.charge(bytes);
  }

  /**
   * The objects of a collection without their data, when they were kept at
   * the collection's current modseq (every write to its objects moves it).
   */
  headsAt(collectionId: number, modseq: number): { list: DavObjectHead[]; byName: Map<string, DavObjectHead> } | undefined {
    const h = this.heads.get(collectionId);
    return h && h.modseq === modseq ? h : undefined;
  }

  /**
   * Notes a read of some of a collection's objects at `modseq` and says
   * whether the previous one was at the same modseq too: a collection read
   * twice without a write between is worth keeping the whole list of, one
   * written between every read is not (the list would be read for nothing).
   */
  readAgain(collectionId: number, modseq: number): boolean {
    const again = this.lastRead.get(collectionId) === modseq;
    if (this.lastRead.size >= MAX_VARIANTS && !this.lastRead.has(collectionId)) this.lastRead.clear();
    this.lastRead.set(collectionId, modseq);
    return again;
  }

  setHeads(collectionId: number, modseq: number, list: DavObjectHead[]): void {
    const bytes = list.reduce((n, o) => n + 2 * (o.name.length + o.etag.length + o.uid.length) + OVERHEAD, 0);
    this.dropHeads(collectionId);
    if (bytes > this.maxBytes / 4) return;
    this.evictFor(bytes);
    if (this.pool && !this.pool.admits(bytes)) return;
    this.heads.set(collectionId, { modseq, list, byName: new Map(list.map((o) => [o.name, o])), bytes });
    this.charge(bytes);
  }

  private dropHeads(collectionId: number): void {
    const h = this.heads.get(collectionId);
    if (!h) return;
    this.heads.delete(collectionId);
    this.charge(-h.bytes);
  }

  /** Makes room for `bytes` more: the oldest rendered texts go first. */
  private evictFor(bytes: number): void {
    for (const [k, e] of this.entries) {
      if (this.used + bytes <= this.maxBytes) return;
      this.entries.delete(k);
      this.charge(-e.bytes);
    }
    for (const id of [...this.heads.keys()]) {
      if (this.used + bytes <= this.maxBytes) return;
      this.dropHeads(id);
    }
  }

  /** Forgets everything rendered from one collection (a write to it, or a change of its properties). */
  dropCollection(collectionId: number): void {
    this.dropHeads(collectionId);
    if (this.entries.size === 0) return;
    for (const [k, e] of this.entries)
      if (e.collectionId === collectionId) {
        this.entries.delete(k);
        this.charge(-e.bytes);
      }
  }

  clear(): void {
    this.entries.clear();
    this.heads.clear();
    this.lastRead.clear();
    this.variants.clear();
    this.charge(-this.used);
  }
}
