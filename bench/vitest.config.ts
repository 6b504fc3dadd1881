import { basename } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** Section files in the summary's order; files not listed run after them, alphabetically; the breakdown last. */
const ORDER = ['cold-start', 'http-sessions', 'per-call', 'tools-list', 'shared-key'];
const LAST = ['chokepoint'];

function rank(file: string): number {
  const name = basename(file).replace(/\.bench-test\.ts$/, '');
  const i = ORDER.indexOf(name);
  if (i >= 0) return i;
  return LAST.includes(name) ? ORDER.length + 1 : ORDER.length;
}

class SectionOrder extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return [...files].sort(
      (a, b) => rank(a.moduleId) - rank(b.moduleId) || a.moduleId.localeCompare(b.moduleId),
    );
  }
}

/**
 * Benchmarks only (`npm run bench`; the normal config includes test/**\/*.test.ts, never bench/): one file at a
 * time (timings must not compete), one fork, --expose-gc, long timeouts. The global setup starts
 * bench/results.json afresh and prints the summary table after the last file.
 */
export default defineConfig({
  test: {
    include: ['bench/**/*.bench-test.ts'],
    testTimeout: 300_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
    execArgv: ['--expose-gc'],
    reporters: ['default'],
    globalSetup: ['bench/global-setup.ts'],
    sequence: { sequencer: SectionOrder },
  },
});
