import { defineConfig } from 'vitest/config';

// Suites start real listeners on port 0 and real child processes; forks keep
// native modules (better-sqlite3) and SIGKILL tests isolated per file.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Two files at a time even on two cores (vitest would take one): most suites wait on
    // sockets, fsync and child processes; measured on 2 cores, 2m40s instead of 4m20s.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    setupFiles: ['test/setup.ts'],
  },
});
