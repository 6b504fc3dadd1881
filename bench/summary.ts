/**
 * The one summary table of `npm run bench`. Each section file adds its headline figures with addSummary(); they
 * are kept in bench/results.json under "summary" (one list per section, replaced when the section runs again) and
 * printed together, in section order, by the global teardown (bench/global-setup.ts) after the last file.
 *
 * A figure is "keap-mcp vs bare" (plus their ratio) where a bare server has one, else just keap-mcp's value; its
 * target (from issue 13) is checked here so that every section states met/missed the same way.
 */
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { type Cell, printTable, RESULTS_PATH, recordResults } from './run.js';

export interface Target {
  /** The value compared: the ratio, keap-mcp's figure or any derived number. */
  readonly value: number;
  readonly op: '<=' | '>=';
  readonly limit: number;
  /** How the target reads in the table, e.g. "≤ 1.2×". */
  readonly text: string;
}

export interface SummaryRow {
  readonly figure: string;
  readonly keap: string;
  readonly bare?: string;
  readonly ratio?: string;
  readonly target?: Target;
  /** Why a figure is what it is, or how it was measured (short). */
  readonly note?: string;
}

interface StoredRow extends SummaryRow {
  readonly status: 'met' | 'MISSED' | '';
}

interface StoredSection {
  readonly order: number;
  readonly title: string;
  readonly rows: StoredRow[];
}

export function met(t: Target): boolean {
  return Number.isFinite(t.value) && (t.op === '<=' ? t.value <= t.limit : t.value >= t.limit);
}

function readAll(): Record<string, unknown> {
  if (!existsSync(RESULTS_PATH)) return {};
  try {
    return JSON.parse(readFileSync(RESULTS_PATH, 'utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/**
 * Adds (replaces) one section's rows. `order` places the section in the table (cold start 10, memory 20,
 * per-call 30, tools/list 40, shared key 50; new sections pick a free number, e.g. 60).
 */
export function addSummary(order: number, title: string, rows: readonly SummaryRow[]): void {
  const all = readAll();
  const summary = (all.summary ?? {}) as Record<string, StoredSection>;
  summary[title] = {
    order,
    title,
    rows: rows.map((r) => ({ ...r, status: r.target ? (met(r.target) ? 'met' : 'MISSED') : '' })),
  };
  recordResults('summary', summary);
}

/** Prints the summary table (every section recorded in this run). */
export function printSummary(): void {
  const summary = (readAll().summary ?? {}) as Record<string, StoredSection>;
  const sections = Object.values(summary).sort((a, b) => a.order - b.order);
  if (sections.length === 0) return;
  const rows: Record<string, Cell>[] = [];
  for (const s of sections) {
    for (const r of s.rows) {
      rows.push({
        section: s.title,
        figure: r.figure,
        'keap-mcp': r.keap,
        bare: r.bare ?? '',
        ratio: r.ratio ?? '',
        target: r.target?.text ?? '',
        status: r.status,
      });
    }
  }
  printTable(
    `SUMMARY (keap-mcp vs a bare one-tool SDK server; targets from issue 13) — ${RESULTS_PATH}`,
    rows,
  );
  const missed = rows.filter((r) => r.status === 'MISSED').length;
  const withTarget = rows.filter((r) => r.status !== '').length;
  const load = loadavg()[0] ?? 0;
  process.stdout.write(
    `targets met: ${withTarget - missed} of ${withTarget}  (node ${process.version}, ${cpus().length} CPUs, load average now ${load.toFixed(1)}${load > cpus().length ? ': a loaded machine inflates times and ratios' : ''})\n`,
  );
  const notes = sections.flatMap((s) => s.rows.filter((r) => r.note).map((r) => `  ${r.figure}: ${r.note}`));
  if (notes.length > 0) process.stdout.write(`notes:\n${notes.join('\n')}\n`);
}

// ---- formatting -------------------------------------------------------------------------------------------

export function fmtMs(n: number, digits = 1): string {
  return Number.isFinite(n) ? `${n.toFixed(digits)} ms` : 'n/a';
}

export function fmtMb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function fmtKb(bytes: number): string {
  return `${Math.round(bytes / 1024)} kB`;
}

export function fmtRatio(n: number): string {
  return Number.isFinite(n) ? `×${n.toFixed(2)}` : 'n/a';
}

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
