import { defineConfig } from 'vitest/config';

/**
 * Benchmarks only (`npm run bench`; the normal config includes test/**\/*.test.ts, never bench/): one file at a
 * time (timings must not compete), one fork, --expose-gc, long timeouts. The global setup starts
 * bench/results.json afresh and prints the summary table after the last file.
 */
export default defineConfig({
  test: {
    include: ['bench/**/*.bench-test.ts'],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
    execArgv: ['--expose-gc'],
    reporters: ['default'],
    globalSetup: ['bench/global-setup.ts'],
  },
});
