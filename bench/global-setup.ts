/**
 * `npm run bench` global setup: starts bench/results.json afresh (it describes one run) and, after the last
 * section file, prints the one summary table (bench/summary.ts).
 */
import { rmSync } from 'node:fs';
import { RESULTS_PATH } from './run.js';
import { printSummary } from './summary.js';

export default function setup(): () => void {
  rmSync(RESULTS_PATH, { force: true });
  return () => printSummary();
}
