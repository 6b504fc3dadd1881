import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // One test file at a time: the rate-limit tests measure pacing against a sandbox that counts arrivals in
    // 1 s windows, and another file's CPU load on this 2-core machine shows up as send/arrival jitter.
    fileParallelism: false,
    reporters: ['default'],
    // Issue 4: everything the product writes to stderr or returns to a client is scanned for secrets.
    globalSetup: ['test/setup/temp-root.ts', 'test/setup/secret-scan.ts'],
    setupFiles: ['test/setup/capture.ts'],
  },
});
