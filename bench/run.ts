/**
 * @module bench/run
 * `npm run bench -- <name> [options]` runs bench/<name>.ts in its own Node
 * process (each bench parses its own argv and some measure their own RSS, so
 * they must not share a process). With no name, every bench runs in turn
 * with its defaults. Helper scripts that a bench starts as a child (`*-node`,
 * `*-child`) are not benches.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const here = import.meta.dirname;
const benches = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !/-(node|child)\.ts$/.test(f))
  .map((f) => f.slice(0, -3))
  .sort();

const [name, ...rest] = process.argv.slice(2);
if (name === '--help' || name === '-h') {
  console.log(`usage: npm run bench -- [name] [options]\nbenches: ${benches.join(', ')}`);
  process.exit(0);
}
if (name !== undefined && !benches.includes(name)) {
  console.error(`no bench named "${name}"; pick one of: ${benches.join(', ')}`);
  process.exit(2);
}

let failed = 0;
for (const b of name ? [name] : benches) {
  console.log(`\n== bench ${b} ==`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, `${b}.ts`), ...(name ? rest : [])], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.error(`bench ${b} failed (exit ${r.status ?? r.signal})`);
  }
}
process.exit(failed ? 1 : 0);
