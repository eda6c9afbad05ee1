/**
 * Errors crossing the thread boundary (node/smtp/verify/protocol): mailauth
 * tells "no such record" from "could not ask" by the error's `code` alone —
 * ENOTFOUND/ENODATA are answers (RFC 7208 §4.3 and §4.4: "none" or an empty
 * set), anything else is a temporary error (RFC 7208 §2.6.6 "temperror",
 * RFC 6376 §6.1.2 TEMPFAIL) — and a structured clone of an Error drops it.
 */
import { promises as dns } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { fromWire, ownCopy, toWire } from '../../node/smtp/verify/protocol.js';

describe('errors between the threads', () => {
  it('keep the code and node:dns fields through a structured clone, where a plain Error loses them', async () => {
    const resolver = new dns.Resolver({ timeout: 1, tries: 1 });
    resolver.setServers(['127.0.0.1:9']); // the discard port: nothing answers DNS there
    const real = await resolver.resolve('example.test', 'TXT').then(
      () => null,
      (e: Error) => e,
    );
    expect(real).toBeInstanceOf(Error);
    const code = (real as NodeJS.ErrnoException).code;
    expect(code).toMatch(/^E[A-Z]+$/);
    expect((structuredClone(real) as NodeJS.ErrnoException).code).toBeUndefined();
    const back = fromWire(structuredClone(toWire(real))) as NodeJS.ErrnoException;
    expect(back).toBeInstanceOf(Error);
    expect(back).toMatchObject({ code, syscall: (real as NodeJS.ErrnoException).syscall, hostname: 'example.test', message: real!.message });
  });

  it('turn a thrown non-Error into an Error with its text', () => {
    expect(fromWire(toWire('plain text'))).toMatchObject({ message: 'plain text' });
  });
});

describe('bytes sent to the worker', () => {
  it('are copied into a buffer of exactly their length, not the 8 KiB pool a small Buffer lives in', () => {
    const small = Buffer.from('a short message');
    expect(small.buffer.byteLength).toBeGreaterThan(small.length);
    const copy = ownCopy(small);
    expect(copy.buffer.byteLength).toBe(small.length);
    expect(Buffer.from(copy).equals(small)).toBe(true);
  });
});
