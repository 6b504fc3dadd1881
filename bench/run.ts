/**
 * Benchmark kit: the real sandbox over real HTTP on 127.0.0.1 (port 0), the real Keap client, the real safety
 * layer and createServer() behind an in-memory MCP Client; a direct undici baseline to the same sandbox; timing
 * statistics; a results table on stdout and bench/results.json (merged per section, gitignored).
 *
 * Run: `npx vitest run --config bench/vitest.config.ts` (files run one after another, with --expose-gc).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Agent, request } from 'undici';
import type { ClientLimits } from '../src/keap/client.js';
import type { KeapClientApi } from '../src/keap/types.js';
import type { SafetyApi } from '../src/safety/types.js';
import type { RunningSandbox, SandboxLimits } from '../src/sandbox/core/types.js';
import { NO_LIMITS, startSandbox } from '../src/sandbox/server.js';
import { startHarness } from '../test/server/harness.js';

export const BENCH_KEY = 'bench-sandbox-key';
const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const RESULTS_PATH = join(BENCH_DIR, 'results.json');

/** Client-side limits lifted as far as the sandbox's NO_LIMITS. */
export const CLIENT_NO_LIMITS: Partial<ClientLimits> = {
  perSecond: 1_000_000,
  spikePerSecond: 1_000_000,
  perMinute: 1_000_000_000,
  perDay: 1_000_000_000,
  minGapMs: 0,
};

// ---- statistics -------------------------------------------------------------------------------------------

export interface Stats {
  readonly n: number;
  readonly mean: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly min: number;
  readonly max: number;
}

/** Nearest-rank percentile of ascending samples. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export function stats(samples: readonly number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const sum = s.reduce((a, b) => a + b, 0);
  return {
    n: s.length,
    mean: sum / Math.max(1, s.length),
    p50: percentile(s, 50),
    p95: percentile(s, 95),
    p99: percentile(s, 99),
    min: s[0] ?? Number.NaN,
    max: s[s.length - 1] ?? Number.NaN,
  };
}

export function ms(n: number, digits = 3): number {
  return Number(n.toFixed(digits));
}

/** Median (the mean of the two middle values for an even count). */
export function median(samples: readonly number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Runs `total` tasks with at most `concurrency` in flight; returns the elapsed ms. */
export async function runPool(
  total: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<number> {
  let next = 0;
  const start = nowMs();
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next;
      next += 1;
      if (i >= total) return;
      await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, () => worker()));
  return nowMs() - start;
}

export function forceGc(): boolean {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') return false;
  gc();
  gc();
  return true;
}

// ---- output -----------------------------------------------------------------------------------------------

export type Cell = string | number | boolean | null;

/** Prints a fixed-width table to stdout. */
export function printTable(title: string, rows: readonly Record<string, Cell>[]): void {
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const show = (v: Cell | undefined): string => (v === undefined || v === null ? '' : String(v));
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => show(r[c]).length)));
  // Numbers right-aligned, text left-aligned.
  const numeric = cols.map((c) =>
    rows.every((r) => r[c] === undefined || r[c] === null || typeof r[c] === 'number'),
  );
  const line = (cells: string[]): string =>
    `| ${cells.map((c, i) => (i === 0 || !numeric[i] ? c.padEnd(width[i] ?? 0) : c.padStart(width[i] ?? 0))).join(' | ')} |`;
  const out = [
    '',
    `== ${title} ==`,
    line(cols),
    `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map((r) => line(cols.map((c) => show(r[c])))),
    '',
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

/** Merges one section into bench/results.json (files run sequentially, so read-modify-write is safe). */
export function recordResults(section: string, value: unknown): void {
  let all: Record<string, unknown> = {};
  if (existsSync(RESULTS_PATH)) {
    try {
      all = JSON.parse(readFileSync(RESULTS_PATH, 'utf8')) as Record<string, unknown>;
    } catch {
      all = {};
    }
  }
  all._meta = {
    updated: new Date().toISOString(),
    cpus: cpus().length,
    loadavg1m: ms(loadavg()[0] ?? 0, 2),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    gc: typeof (globalThis as { gc?: unknown }).gc === 'function',
  };
  all[section] = value;
  writeFileSync(RESULTS_PATH, `${JSON.stringify(all, null, 2)}\n`);
}

// ---- the stack under test ---------------------------------------------------------------------------------

export async function startBenchSandbox(limits: 'lifted' | 'keap'): Promise<RunningSandbox> {
  const lim: Partial<SandboxLimits> | undefined = limits === 'lifted' ? NO_LIMITS : undefined;
  return startSandbox({
    host: '127.0.0.1',
    port: 0,
    apiKeys: [BENCH_KEY],
    control: true,
    ...(lim ? { limits: lim } : {}),
  });
}

export interface Stack {
  readonly sandbox: RunningSandbox;
  readonly client: Client;
  readonly keap: KeapClientApi;
  readonly safety: SafetyApi;
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  close(): Promise<void>;
}

export interface StackOptions {
  /** 'lifted': sandbox NO_LIMITS and client limits lifted; 'keap': Keap's PAT limits on both sides. */
  readonly limits: 'lifted' | 'keap';
  /** Longest wait for a client rate-limit slot (default 30 s). */
  readonly maxWaitMs?: number;
  /** Audit records to a temp file, fsync'd per record as in production (default true); false: to the logger. */
  readonly auditToFile?: boolean;
  /** Reuse a running sandbox (not closed by close()). */
  readonly sandbox?: RunningSandbox;
}

/**
 * Sandbox + Keap client + safety (audit to a temp file) + createServer() + MCP Client over InMemoryTransport:
 * the test harness (test/server/harness.ts) on a bench sandbox.
 */
export async function startStack(opts: StackOptions): Promise<Stack> {
  const ownSandbox = opts.sandbox === undefined;
  const sandbox = opts.sandbox ?? (await startBenchSandbox(opts.limits));
  const h = await startHarness({
    sandbox,
    apiKey: BENCH_KEY,
    maxWaitMs: opts.maxWaitMs ?? 30_000,
    ...(opts.limits === 'lifted' ? { clientLimits: CLIENT_NO_LIMITS } : {}),
    auditToFile: opts.auditToFile !== false,
  });
  return {
    sandbox,
    client: h.client,
    keap: h.keap,
    safety: h.safety,
    call: (name, args) => h.call(name, args),
    async close() {
      await h.close();
      if (ownSandbox) await sandbox.close();
    },
  };
}

/** Throws unless the tool call succeeded (a benchmark of failures measures nothing). */
export function ok(r: CallToolResult, what: string): Record<string, unknown> {
  if (r.isError || !r.structuredContent) {
    const first = r.content[0];
    throw new Error(`${what} failed: ${first && first.type === 'text' ? first.text : 'no content'}`);
  }
  return r.structuredContent as Record<string, unknown>;
}

/** The same HTTP request straight to the sandbox with undici (keep-alive pool like the Keap client's). */
export interface Direct {
  get(pathAndQuery: string): Promise<unknown>;
  close(): Promise<void>;
}

export function directClient(baseUrl: string, apiKey: string = BENCH_KEY): Direct {
  const agent = new Agent({ keepAliveTimeout: 10_000, connections: 32 });
  return {
    async get(pathAndQuery) {
      const res = await request(`${baseUrl}${pathAndQuery}`, {
        dispatcher: agent,
        method: 'GET',
        headers: { accept: 'application/json', 'x-keap-api-key': apiKey },
      });
      const body = (await res.body.json()) as unknown;
      if (res.statusCode !== 200) throw new Error(`direct GET ${pathAndQuery}: ${res.statusCode}`);
      return body;
    },
    close: () => agent.close(),
  };
}

export interface SandboxRequestCounts {
  total: number;
  totals: { count: number; rateLimited: number; byStatus: Record<string, number> };
  routes: Record<string, { count: number; rateLimited: number; byStatus: Record<string, number> }>;
}

/** GET {base}/__sandbox/requests. */
export async function sandboxRequests(baseUrl: string): Promise<SandboxRequestCounts> {
  const res = await request(`${baseUrl}/__sandbox/requests`, { method: 'GET' });
  return (await res.body.json()) as SandboxRequestCounts;
}

export async function clearSandboxRequests(baseUrl: string): Promise<void> {
  const res = await request(`${baseUrl}/__sandbox/requests`, { method: 'DELETE' });
  await res.body.dump();
}
