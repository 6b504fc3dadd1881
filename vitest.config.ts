import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
    // Issue 4: everything the product writes to stderr or returns to a client is scanned for secrets.
    globalSetup: ['test/setup/secret-scan.ts'],
    setupFiles: ['test/setup/capture.ts'],
  },
});
