/**
 * The process-level policy for the unexpected (issue 21, "no crash from a
 * peer"): an error that reaches the process is logged with its stack,
 * counted in haven_unexpected_errors_total, and the process keeps running.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runChild } from '../helpers/child.js';

describe('process policy', () => {
  it('logs and counts an uncaught exception and an unhandled rejection, and keeps running', async () => {
    const child = runChild(join(import.meta.dirname, 'fixtures', 'policy-child.ts'), []);
    const line = await child.waitFor((l) => l.startsWith('alive') || l.startsWith('__exit__'));
    expect(line).toBe('alive uncaught=1 rejection=1');
    expect(await child.exited).toBe(0);
    const logged = child.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; err?: { message?: string; stack?: string } });
    expect(logged.map((l) => l.err?.message)).toEqual(['boom from a timer', 'rejected and forgotten']);
    expect(logged[0].err?.stack).toContain('policy-child.ts');
  });
});
