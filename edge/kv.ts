/**
 * @module edge/kv
 * The slice of Workers KV the edge uses, and an in-memory implementation for
 * the local run and tests. KV is eventually consistent and keeps a value for
 * at least 60 s when given a TTL; the edge only stores things that tolerate
 * that (probe history, login attempt counts, revoked sessions).
 */

export interface EdgeKv {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void>;
  delete(key: string): Promise<void>;
}

/** Workers KV refuses a TTL under 60 s. */
export const KV_MIN_TTL = 60;

export class MemoryKv implements EdgeKv {
  private readonly data = new Map<string, { value: string; expires: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  async get(key: string): Promise<string | null> {
    const e = this.data.get(key);
    if (!e) return null;
    if (e.expires <= this.now()) {
      this.data.delete(key);
      return null;
    }
    return e.value;
  }

  async put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void> {
    const ttl = options?.expirationTtl;
    if (ttl !== undefined && ttl < KV_MIN_TTL) throw new Error(`KV expirationTtl must be at least ${KV_MIN_TTL} s (got ${ttl})`);
    this.data.set(key, { value, expires: ttl === undefined ? Infinity : this.now() + ttl * 1000 });
  }

  async delete(key: string): Promise<void> {
    this.data.delete(key);
  }
}
