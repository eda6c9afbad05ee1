/**
 * @module node/store/mailbox/rendered
 * A bounded cache of text rendered from one open mailbox's DAV objects (the
 * <response> fragment of a REPORT), so a calendar app's repeated multiget or
 * full calendar-query copies a string instead of building it again. It is
 * owned by the open mailbox: it goes when the mailbox trims its memory or
 * closes, so it holds nothing the decrypted page cache did not already hold
 * while the mailbox was open. The DAV layer chooses the keys; the repository
 * drops a collection's entries on every write to that collection.
 */

interface Entry {
  collectionId: number;
  text: string;
  bytes: number;
}

/** What an entry costs besides its text: the key, the entry object and the map's slot (an estimate). */
const OVERHEAD = 160;

export class RenderedCache {
  /** Insertion order is recency: a hit moves its entry to the end, eviction takes from the front. */
  private readonly entries = new Map<string, Entry>();
  private used = 0;

  /** `maxBytes` 0 turns the cache off. */
  constructor(readonly maxBytes: number) {}

  /** Bytes held now (texts counted at two bytes a character, the most a JS string takes). */
  get bytes(): number {
    return this.used;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): string | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.text;
  }

  set(collectionId: number, key: string, text: string): void {
    const bytes = 2 * (text.length + key.length) + OVERHEAD;
    // One entry larger than a quarter of the cache would push out many small ones for one hit.
    if (bytes > this.maxBytes / 4) return;
    const old = this.entries.get(key);
    if (old) {
      this.used -= old.bytes;
      this.entries.delete(key);
    }
    while (this.used + bytes > this.maxBytes) {
      const [k, e] = this.entries.entries().next().value!;
      this.entries.delete(k);
      this.used -= e.bytes;
    }
    this.entries.set(key, { collectionId, text, bytes });
    this.used += bytes;
  }

  /** Forgets everything rendered from one collection (a write to it, or a change of its properties). */
  dropCollection(collectionId: number): void {
    if (this.entries.size === 0) return;
    for (const [k, e] of this.entries)
      if (e.collectionId === collectionId) {
        this.entries.delete(k);
        this.used -= e.bytes;
      }
  }

  clear(): void {
    this.entries.clear();
    this.used = 0;
  }
}
