import { defineConfig } from 'vitest/config';

// Suites start real listeners on port 0 and real child processes; forks keep
// native modules (better-sqlite3) and SIGKILL tests isolated per file.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    setupFiles: ['test/setup.ts'],
  },
});
