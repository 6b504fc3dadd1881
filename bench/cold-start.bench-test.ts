/**
 * P1 cold start over stdio and idle RSS: spawn → initialize → tools/list answered, for keap-mcp with a (fake) PAT
 * and an isolated state directory, keap-mcp --sandbox, and the bare one-tool server. Runs in rotating triples
 * (bare, keap, keap --sandbox in a different order each round) so that machine noise hits all three alike; the
 * ratios are medians of the per-triple ratios. Idle RSS is sampled after tools/list and a short settle (no GC:
 * a stdio server cannot be asked for one without changing it).
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  bareSpec,
  connectStdio,
  keapSpec,
  removeTempDirs,
  rssBytes,
  type ServerSpec,
  sleep,
  tempDir,
} from './procs.js';
import { type Cell, median, ms, nowMs, printTable, recordResults, stats } from './run.js';
import { addSummary, fmtMb, fmtMs, fmtRatio } from './summary.js';

/** Rounds: up to MAX_ROUNDS, but no new round after BUDGET_MS once MIN_ROUNDS are done (a loaded machine). */
const MIN_ROUNDS = 3;
const MAX_ROUNDS = 8;
const BUDGET_MS = 60_000;
const SETTLE_MS = 300;

interface Sample {
  readonly coldMs: number;
  readonly connectMs: number;
  readonly firstListMs: number;
  readonly tools: number;
  readonly rss: number;
}

async function coldStart(spec: ServerSpec): Promise<Sample> {
  const t0 = nowMs();
  const conn = await connectStdio(spec);
  try {
    const t1 = nowMs();
    const { tools } = await conn.client.listTools();
    const t2 = nowMs();
    await sleep(SETTLE_MS);
    const rss = rssBytes(conn.pid);
    return { coldMs: t2 - t0, connectMs: conn.connectMs, firstListMs: t2 - t1, tools: tools.length, rss };
  } finally {
    await conn.close();
  }
}

afterAll(() => removeTempDirs());

describe('cold start over stdio', () => {
  it('P1: spawn → initialize → tools/list, and idle RSS, keap-mcp vs bare', async () => {
    const specs = {
      bare: bareSpec(),
      keap: keapSpec({ stateDir: tempDir('cold') }),
      sandbox: keapSpec({ sandbox: true, stateDir: tempDir('cold-sb') }),
    };
    const kinds = ['bare', 'keap', 'sandbox'] as const;
    // Warm-up: file cache, and the state directory's database created once (as on a desktop after first use).
    for (const k of kinds) await coldStart(specs[k]);
    const samples: Record<(typeof kinds)[number], Sample[]> = { bare: [], keap: [], sandbox: [] };
    const began = nowMs();
    let rounds = 0;
    for (let i = 0; i < MAX_ROUNDS && (i < MIN_ROUNDS || nowMs() - began < BUDGET_MS); i += 1) {
      rounds += 1;
      const order = [...kinds.slice(i % 3), ...kinds.slice(0, i % 3)];
      for (const k of order) samples[k].push(await coldStart(specs[k]));
    }
    const ratio = (k: 'keap' | 'sandbox', f: (s: Sample) => number): number =>
      median(samples[k].map((s, i) => f(s) / f(samples.bare[i] as Sample)));
    const cold = { keap: ratio('keap', (s) => s.coldMs), sandbox: ratio('sandbox', (s) => s.coldMs) };
    const rss = { keap: ratio('keap', (s) => s.rss), sandbox: ratio('sandbox', (s) => s.rss) };
    const st = (k: (typeof kinds)[number], f: (s: Sample) => number) => stats(samples[k].map(f));

    const rows: Record<string, Cell>[] = kinds.map((k) => ({
      server: specs[k].label,
      tools: samples[k][0]?.tools ?? 0,
      'cold p50 ms': ms(st(k, (s) => s.coldMs).p50, 1),
      'cold min ms': ms(st(k, (s) => s.coldMs).min, 1),
      'initialize p50 ms': ms(st(k, (s) => s.connectMs).p50, 1),
      'first tools/list p50 ms': ms(st(k, (s) => s.firstListMs).p50, 2),
      'idle RSS p50 MB': ms(st(k, (s) => s.rss).p50 / 1024 / 1024, 1),
      'cold ×bare': k === 'bare' ? '' : ms(cold[k], 2),
      'RSS ×bare': k === 'bare' ? '' : ms(rss[k], 2),
    }));
    printTable(`P1 cold start over stdio, ${rounds} rotating triples (median of per-triple ratios)`, rows);
    recordResults('coldStart', {
      rounds,
      settleMs: SETTLE_MS,
      samples,
      ratios: { coldStart: cold, idleRss: rss },
    });

    const p50 = (k: (typeof kinds)[number], f: (s: Sample) => number) => st(k, f).p50;
    /** keap-mcp (`kind`) next to the bare server: both p50s of one figure. */
    const pair = (kind: 'keap' | 'sandbox', f: (s: Sample) => number, fmt: (v: number) => string) => ({
      keap: fmt(p50(kind, f)),
      bare: fmt(p50('bare', f)),
    });
    const cold0 = (v: number) => fmtMs(v, 0);
    addSummary(10, 'cold start (stdio)', [
      {
        figure: 'P1 cold start, fake PAT',
        ...pair('keap', (s) => s.coldMs, cold0),
        ratio: fmtRatio(cold.keap),
        target: { value: cold.keap, op: '<=', limit: 1.2, text: '≤ ×1.2' },
      },
      {
        figure: 'P1 cold start, --sandbox',
        ...pair('sandbox', (s) => s.coldMs, cold0),
        ratio: fmtRatio(cold.sandbox),
        target: { value: cold.sandbox, op: '<=', limit: 1.4, text: '≤ ×1.4' },
      },
      {
        figure: 'first tools/list after initialize, fake PAT',
        ...pair(
          'keap',
          (s) => s.firstListMs,
          (v) => fmtMs(v, 1),
        ),
        ratio: fmtRatio(ratio('keap', (s) => s.firstListMs)),
      },
      {
        figure: 'idle RSS (stdio), fake PAT',
        ...pair('keap', (s) => s.rss, fmtMb),
        ratio: fmtRatio(rss.keap),
        target: { value: rss.keap, op: '<=', limit: 1.15, text: '≤ ×1.15' },
        note: `sampled ${SETTLE_MS} ms after tools/list, no GC`,
      },
      {
        figure: 'idle RSS (stdio), --sandbox',
        ...pair('sandbox', (s) => s.rss, fmtMb),
        ratio: fmtRatio(rss.sandbox),
      },
    ]);
    // Sanity, not speed: every server answered with its tools.
    expect(samples.bare.every((s) => s.tools === 1)).toBe(true);
    expect(samples.keap.every((s) => s.tools > 1)).toBe(true);
  });
});
