/**
 * @module bench/fuzz
 * The long fuzzing run: the same parser targets CI fuzzes for a second and a
 * half each (test/hostile/fuzz.test.ts), here for as long as asked and with
 * a fresh seed each run (printed, so a failure can be replayed).
 * Run: npm run bench -- fuzz [--seconds 60] [--target imap] [--seed N]
 */
import { runFuzz } from '../test/helpers/fuzz.js';
import { FUZZ_TARGETS } from '../test/helpers/fuzz-targets.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : process.argv[i + 1];
}

const seconds = Number(arg('seconds') ?? 60);
const only = arg('target');
const seed = Number(arg('seed') ?? Date.now() % 2 ** 31);
const targets = FUZZ_TARGETS.filter((t) => !only || t.name === only);
if (targets.length === 0) {
  console.error(`no target "${only}"; pick one of: ${FUZZ_TARGETS.map((t) => t.name).join(', ')}`);
  process.exit(2);
}
console.log(`seed ${seed}, ${seconds} s per target`);
let failed = 0;
for (const t of targets) {
  try {
    const r = runFuzz(t, { seed, maxRuns: Number.MAX_SAFE_INTEGER, maxMs: seconds * 1000 });
    console.log(`${t.name.padEnd(10)} ${String(r.runs).padStart(9)} inputs  ${String(r.ok).padStart(9)} parsed  ${String(r.rejected).padStart(9)} refused  slowest ${r.slowestMs.toFixed(1)} ms`);
    if (r.slowestMs > 250) console.log(`  slowest input: ${JSON.stringify(r.slowest.slice(0, 300))}`);
  } catch (err) {
    failed++;
    console.log(`${t.name.padEnd(10)} FAILED (replay with --target ${t.name} --seed ${seed}): ${(err as Error).message.slice(0, 2000)}`);
  }
}
process.exit(failed ? 1 : 0);
