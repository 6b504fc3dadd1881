/**
 * Per-call overhead, paced under Keap's limits: `tools/call get_contact` through keap-mcp (a separate process,
 * over stdio and over Streamable HTTP, real MCP clients) minus the same `GET /v2/contacts/{id}` sent straight to
 * the same sandbox with undici. The sandbox runs in this process with Keap's PAT limits (10/s, 240/min); each
 * path has its own key and the cycle (stdio call, direct request, HTTP call, in rotating order) is paced so that
 * no key comes near a limit — the limiter never waits, no 429 happens (checked). The overhead is taken per cycle
 * (MCP call minus the direct request of the same cycle); p50/p99 over the cycles.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../src/sandbox/core/types.js';
import { startSandbox } from '../src/sandbox/server.js';
import {
  connectHttp,
  connectStdio,
  type HttpConn,
  type HttpProc,
  keapSpec,
  removeTempDirs,
  type StdioConn,
  sleep,
  startHttpServer,
} from './procs.js';
import {
  type Cell,
  clearSandboxRequests,
  type Direct,
  directClient,
  ms,
  nowMs,
  ok,
  printTable,
  recordResults,
  sandboxRequests,
  stats,
} from './run.js';
import { addSummary, fmtMs } from './summary.js';

const WARMUP = 8;
const SAMPLES = 60;
/** One cycle sends one request per key; 250 ms per cycle keeps every key at ≤ 4/s (Keap: 10/s, 240/min). */
const CYCLE_MS = 250;
const KEYS = { stdio: 'bench-stdio-key', http: 'bench-http-key', direct: 'bench-direct-key' } as const;

let sandbox: RunningSandbox;
let stdio: StdioConn;
let httpProc: HttpProc;
let http: HttpConn;
let direct: Direct;
let contactId = '';

beforeAll(async () => {
  sandbox = await startSandbox({
    host: '127.0.0.1',
    port: 0,
    apiKeys: Object.values(KEYS),
    control: true,
  });
  direct = directClient(sandbox.baseUrl, KEYS.direct);
  const page = (await direct.get('/v2/contacts?page_size=1')) as { contacts: { id: number | string }[] };
  contactId = String(page.contacts[0]?.id ?? '');
  expect(contactId).not.toBe('');
  stdio = await connectStdio(keapSpec({ baseUrl: sandbox.baseUrl, apiKey: KEYS.stdio }));
  httpProc = await startHttpServer(keapSpec({ http: true, baseUrl: sandbox.baseUrl, apiKey: KEYS.http }));
  http = await connectHttp(httpProc.url);
});

afterAll(async () => {
  await http?.close().catch(() => undefined);
  await httpProc?.stop();
  await stdio?.close();
  await direct?.close();
  await sandbox?.close();
  removeTempDirs();
});

describe('per-call overhead (paced under the limits)', () => {
  it('tools/call get_contact over stdio and HTTP minus the direct request', async () => {
    const paths = {
      stdio: async () => {
        const d = ok(
          (await stdio.client.callTool({
            name: 'get_contact',
            arguments: { contact_id: contactId },
          })) as never,
          'get_contact (stdio)',
        );
        if (String(d.id) !== contactId) throw new Error('stdio: wrong contact');
      },
      http: async () => {
        const d = ok(
          (await http.client.callTool({
            name: 'get_contact',
            arguments: { contact_id: contactId },
          })) as never,
          'get_contact (http)',
        );
        if (String(d.id) !== contactId) throw new Error('http: wrong contact');
      },
      direct: async () => {
        const d = (await direct.get(`/v2/contacts/${contactId}`)) as { id: number | string };
        if (String(d.id) !== contactId) throw new Error('direct: wrong contact');
      },
    };
    const kinds = ['stdio', 'direct', 'http'] as const;
    const t: Record<(typeof kinds)[number], number[]> = { stdio: [], direct: [], http: [] };
    await clearSandboxRequests(sandbox.baseUrl);
    for (let i = 0; i < WARMUP + SAMPLES; i += 1) {
      const started = nowMs();
      const order = [...kinds.slice(i % 3), ...kinds.slice(0, i % 3)];
      for (const k of order) {
        const t0 = nowMs();
        await paths[k]();
        if (i >= WARMUP) t[k].push(nowMs() - t0);
      }
      const left = CYCLE_MS - (nowMs() - started);
      if (left > 0) await sleep(left);
    }
    const counts = await sandboxRequests(sandbox.baseUrl);
    const over = {
      stdio: stats(t.stdio.map((v, i) => v - (t.direct[i] as number))),
      http: stats(t.http.map((v, i) => v - (t.direct[i] as number))),
    };
    const abs = { stdio: stats(t.stdio), http: stats(t.http), direct: stats(t.direct) };
    const rows: Record<string, Cell>[] = [
      ...kinds.map((k) => ({
        path: k === 'direct' ? 'direct undici GET' : `tools/call over ${k}`,
        n: abs[k].n,
        'p50 ms': ms(abs[k].p50, 2),
        'p95 ms': ms(abs[k].p95, 2),
        'p99 ms': ms(abs[k].p99, 2),
      })),
      ...(['stdio', 'http'] as const).map((k) => ({
        path: `overhead ${k} (per cycle)`,
        n: over[k].n,
        'p50 ms': ms(over[k].p50, 2),
        'p95 ms': ms(over[k].p95, 2),
        'p99 ms': ms(over[k].p99, 2),
      })),
    ];
    printTable(
      `per-call overhead, ${SAMPLES} paced cycles after ${WARMUP} warm-up (sandbox with Keap's limits)`,
      rows,
    );
    recordResults('perCall', {
      warmup: WARMUP,
      samples: SAMPLES,
      cycleMs: CYCLE_MS,
      latency: abs,
      overhead: over,
      sandbox: counts.totals,
    });
    addSummary(30, 'per-call overhead', [
      {
        figure: 'tools/call − direct, stdio, p50 (p99)',
        keap: `+${fmtMs(over.stdio.p50, 2)} (${fmtMs(over.stdio.p99, 1)})`,
        target: { value: over.stdio.p50, op: '<=', limit: 1, text: 'p50 ≤ +1 ms' },
      },
      {
        figure: 'tools/call − direct, HTTP, p50 (p99)',
        keap: `+${fmtMs(over.http.p50, 2)} (${fmtMs(over.http.p99, 1)})`,
        target: { value: over.http.p50, op: '<=', limit: 2, text: 'p50 ≤ +2 ms' },
        note: `get_contact, ${SAMPLES} cycles paced at ${CYCLE_MS} ms; direct GET p50 ${fmtMs(abs.direct.p50, 2)}`,
      },
    ]);
    // Paced under the limits: nothing was throttled (else the figure would include limiter waits).
    expect(counts.totals.byStatus['429'] ?? 0).toBe(0);
  });
});
