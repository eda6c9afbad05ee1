/**
 * @module test/helpers/fuzz
 * One seeded mutation fuzzer for every protocol parser (fuzz-targets.ts):
 * each input is a seed from the target's corpus with a few random edits
 * (delete, insert a character or a snippet, duplicate a span), or now and
 * then random text from its alphabet. A target returns 'ok' or 'rejected'
 * (the parser's own typed error) and throws for anything else, which is a
 * bug. The same targets run bounded in CI (a few thousand inputs, a fixed
 * seed) and for as long as asked in `npm run bench -- fuzz`.
 */
import { rng } from './rng.js';

export interface FuzzTarget {
  name: string;
  /** Well-formed inputs to mutate. */
  seeds: readonly string[];
  /** Characters and snippets the mutations insert. */
  alphabet: readonly string[];
  /** Parses one input: 'ok', or 'rejected' when the parser refused it with its typed error; throws otherwise. */
  run(input: string): 'ok' | 'rejected';
}

export interface FuzzResult {
  runs: number;
  ok: number;
  rejected: number;
  /** The slowest single input, ms (re-timed, best of three): a super-linear parser shows here before it shows as a hang. */
  slowestMs: number;
  slowest: string;
}

export function mutate(r: () => number, s: string, alphabet: readonly string[]): string {
  let a = s;
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const p = Math.floor(r() * (a.length + 1));
    const op = r();
    if (op < 0.35) a = a.slice(0, p) + a.slice(p + 1 + Math.floor(r() * 3));
    else if (op < 0.8) a = a.slice(0, p) + alphabet[Math.floor(r() * alphabet.length)] + a.slice(p);
    else a = a.slice(0, p) + a.slice(p, p + Math.floor(r() * 40)) + a.slice(p);
  }
  return a;
}

export function runFuzz(t: FuzzTarget, opts: { seed: number; maxRuns: number; maxMs: number }): FuzzResult {
  const r = rng(opts.seed);
  const started = performance.now();
  const res: FuzzResult = { runs: 0, ok: 0, rejected: 0, slowestMs: 0, slowest: '' };
  while (res.runs < opts.maxRuns && performance.now() - started < opts.maxMs) {
    const input =
      r() < 0.05
        ? Array.from({ length: Math.floor(r() * 120) }, () => t.alphabet[Math.floor(r() * t.alphabet.length)]).join('')
        : mutate(r, t.seeds[res.runs % t.seeds.length], t.alphabet);
    const t0 = performance.now();
    let outcome: 'ok' | 'rejected';
    try {
      outcome = t.run(input);
    } catch (err) {
      throw new Error(`${t.name}: ${(err as Error).message} for input ${JSON.stringify(input)}`, { cause: err });
    }
    const ms = performance.now() - t0;
    if (ms > res.slowestMs) {
      res.slowestMs = ms;
      res.slowest = input;
    }
    res.runs++;
    res[outcome]++;
  }
  // A garbage collection or a busy machine can make any one input look slow: the slowest is timed again, best of three.
  if (res.slowest) {
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      t.run(res.slowest);
      best = Math.min(best, performance.now() - t0);
    }
    res.slowestMs = best;
  }
  return res;
}
