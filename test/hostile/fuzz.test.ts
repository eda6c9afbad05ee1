/**
 * A bounded fuzzing run per protocol parser (issue 21): IMAP, POP3, SMTP
 * envelope and header handling, DAV XML, iCalendar, vCard, MIME. Fixed seed,
 * at most 4000 inputs or 1.5 s per parser, so CI sees the same inputs every
 * time; `npm run bench -- fuzz` runs the same targets for longer with fresh
 * seeds. A parser may refuse an input only with its own typed error, and no
 * single input may take long (super-linear parsing is a stall waiting for a
 * big enough input). The SMTP command line itself is smtp-server's parser:
 * smtp-wire-fuzz.test.ts fuzzes it over a real listener.
 */
import { describe, expect, it } from 'vitest';
import { runFuzz } from '../helpers/fuzz.js';
import { FUZZ_TARGETS } from '../helpers/fuzz-targets.js';

describe('fuzz', () => {
  it.each(FUZZ_TARGETS.map((t) => [t.name, t] as const))('%s: only typed refusals, no slow input', (_name, target) => {
    const r = runFuzz(target, { seed: 20261207, maxRuns: 4000, maxMs: 1500 });
    expect(r.runs).toBeGreaterThan(200);
    expect(r.ok, 'some mutated inputs still parse').toBeGreaterThan(0);
    if (target.name !== 'mime') expect(r.rejected, 'some are refused').toBeGreaterThan(0);
    expect(r.slowestMs, `slowest input: ${JSON.stringify(r.slowest.slice(0, 200))}`).toBeLessThan(250);
  });
});
