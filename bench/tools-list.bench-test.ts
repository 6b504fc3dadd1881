/**
 * tools/list weight and latency, as a client sees them from a separate server process over stdio:
 *  - characters of the whole result JSON and of its model-visible part (name + description + inputSchema per
 *    tool, as test/server/registry.test.ts measures the context budget), for every tool (keap-mcp --sandbox:
 *    its default agent may write, so all tools are listed) and for the default read agent of a real key;
 *  - where the rest goes (outputSchema, annotations, _meta, title);
 *  - latency of the first tools/list after initialize and of later ones (p50), vs the bare server, alternating.
 */

import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SERVER_TOOLS } from '../tools/index.js';
import { bareSpec, connectStdio, keapSpec, removeTempDirs, type StdioConn } from './procs.js';
import { type Cell, ms, nowMs, printTable, recordResults, stats } from './run.js';
import { addSummary, fmtInt, fmtMs, fmtRatio } from './summary.js';

const ROUNDS = 30;
/** The listed catalog's context budget: 36,000 characters + 3,000 for the long tail (test/server/registry.test.ts). */
const MODEL_VISIBLE_BUDGET = 39_000;
const WHOLE_TARGET = 45_000;

interface Listed {
  readonly tools: Record<string, unknown>[];
}

/** The raw result, as received (no SDK parsing that could add or drop fields). */
async function listRaw(conn: StdioConn): Promise<Listed> {
  return (await conn.client.request(
    { method: 'tools/list', params: {} },
    z.looseObject({ tools: z.array(z.looseObject({})) }),
  )) as Listed;
}

function weigh(listed: Listed): Record<string, number> {
  const part = (k: string): number =>
    listed.tools.reduce(
      (n, t) => n + (t[k] === undefined ? 0 : JSON.stringify(t[k]).length + k.length + 3),
      0,
    );
  return {
    tools: listed.tools.length,
    whole: JSON.stringify(listed).length,
    modelVisible: listed.tools.reduce(
      (n, t) =>
        n + JSON.stringify({ name: t.name, description: t.description, inputSchema: t.inputSchema }).length,
      0,
    ),
    outputSchema: part('outputSchema'),
    annotations: part('annotations'),
    _meta: part('_meta'),
    title: part('title'),
  };
}

afterAll(() => removeTempDirs());

describe('tools/list', () => {
  it('characters (whole and model-visible) and latency, first and later, vs bare', async () => {
    const all = await connectStdio(keapSpec({ sandbox: true }));
    const read = await connectStdio(keapSpec());
    const bare = await connectStdio(bareSpec());
    try {
      const first = { keap: 0, bare: 0 };
      let t0 = nowMs();
      const allList = await listRaw(all);
      first.keap = nowMs() - t0;
      t0 = nowMs();
      await listRaw(bare);
      first.bare = nowMs() - t0;
      const readList = await listRaw(read);
      const later = { keap: [] as number[], bare: [] as number[] };
      for (let i = 0; i < ROUNDS; i += 1) {
        for (const k of i % 2 === 0 ? (['keap', 'bare'] as const) : (['bare', 'keap'] as const)) {
          const t = nowMs();
          await listRaw(k === 'keap' ? all : bare);
          later[k].push(nowMs() - t);
        }
      }
      const w = { all: weigh(allList), read: weigh(readList) };
      const lat = { keap: stats(later.keap), bare: stats(later.bare) };
      const rows: Record<string, Cell>[] = [
        { agent: 'all tools (keap-mcp --sandbox)', ...w.all },
        { agent: 'default read agent (real key)', ...w.read },
      ];
      printTable('tools/list characters (JSON.stringify of the result as received)', rows);
      printTable(`tools/list latency over stdio (first after initialize; then ${ROUNDS} alternating)`, [
        {
          server: 'keap-mcp --sandbox',
          'first ms': ms(first.keap, 2),
          'later p50 ms': ms(lat.keap.p50, 2),
          'later p95 ms': ms(lat.keap.p95, 2),
        },
        {
          server: 'bare',
          'first ms': ms(first.bare, 2),
          'later p50 ms': ms(lat.bare.p50, 2),
          'later p95 ms': ms(lat.bare.p95, 2),
        },
      ]);
      recordResults('toolsList', { chars: w, latency: { first, later: lat }, rounds: ROUNDS });
      addSummary(40, 'tools/list', [
        {
          figure: `whole tools/list result, all ${w.all.tools} tools (chars)`,
          keap: fmtInt(w.all.whole ?? Number.NaN),
          target: { value: w.all.whole ?? Number.NaN, op: '<=', limit: WHOLE_TARGET, text: '≤ 45,000' },
        },
        {
          figure: 'model-visible part (name+description+inputSchema)',
          keap: fmtInt(w.all.modelVisible ?? Number.NaN),
          target: {
            value: w.all.modelVisible ?? Number.NaN,
            op: '<=',
            limit: MODEL_VISIBLE_BUDGET,
            text: '≤ 39,000 (budget)',
          },
          note: `outputSchema ${fmtInt(w.all.outputSchema ?? 0)}, annotations ${fmtInt(w.all.annotations ?? 0)}, _meta ${fmtInt(w.all._meta ?? 0)}, title ${fmtInt(w.all.title ?? 0)} chars; read agent: ${w.read.tools} tools, ${fmtInt(w.read.whole ?? 0)} whole`,
        },
        {
          figure: 'later tools/list, p50',
          keap: fmtMs(lat.keap.p50, 2),
          bare: fmtMs(lat.bare.p50, 2),
          ratio: fmtRatio(lat.keap.p50 / lat.bare.p50),
          target: { value: lat.keap.p50, op: '<=', limit: 5, text: '≤ 5 ms' },
          note: `all ${w.all.tools} tools (--sandbox); first after initialize ${fmtMs(first.keap, 1)} vs bare ${fmtMs(first.bare, 1)} (one sample; the cold-start section has the median)`,
        },
      ]);
      expect(w.all.tools).toBe(SERVER_TOOLS.length);
    } finally {
      await Promise.all([all.close(), read.close(), bare.close()]);
    }
  });
});
