import { defineConfig } from 'vitest/config';

/** Benchmarks only: one file at a time (timings must not compete), one fork, --expose-gc, long timeouts. */
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
  },
});
