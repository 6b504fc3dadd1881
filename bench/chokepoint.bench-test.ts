/**
 * Diagnostic breakdown (in-process, not in the summary's targets): chokepoint overhead, throughput and memory with
 * the rate limits lifted (sandbox NO_LIMITS, client limits off), to find where per-call time goes:
 *  1. latency of list_contacts (page_size 25) and get_contact through MCP Client → server → sandbox vs the same
 *     GET sent straight to the sandbox with undici (SAMPLES sequential calls after WARMUP, interleaved), with two
 *     layer cuts: the Keap client alone (limiter + retries + undici) and MCP with the audit going to the logger
 *     instead of the fsync'd file;
 *  2. throughput: THROUGHPUT_CALLS list_contacts calls at concurrency 20 on each of those four paths;
 *  3. memory: RSS / heap before and after MEMORY_CALLS calls, after a forced GC.
 * The process-level figures (keap-mcp as a separate process vs a bare server) are in the other section files.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Cell,
  type Direct,
  directClient,
  forceGc,
  ms,
  nowMs,
  ok,
  printTable,
  recordResults,
  runPool,
  type Stack,
  type Stats,
  sandboxRequests,
  startStack,
  stats,
} from './run.js';

const WARMUP = 20;
const SAMPLES = 150;
const THROUGHPUT_CALLS = 400;
const CONCURRENCY = 20;
const MEMORY_CALLS = 1_500;

let stack: Stack;
/** Same stack, but audit records go to the (silent) logger instead of the fsync'd file. */
let stackLog: Stack;
let direct: Direct;
let contactId = '';

beforeAll(async () => {
  stack = await startStack({ limits: 'lifted' });
  stackLog = await startStack({ limits: 'lifted', auditToFile: false, sandbox: stack.sandbox });
  direct = directClient(stack.sandbox.baseUrl);
  const first = ok(await stack.call('list_contacts', { page_size: 25 }), 'list_contacts');
  const contacts = first.contacts as { id: number | string }[];
  expect(contacts.length).toBe(25);
  contactId = String(contacts[0]?.id);
});

afterAll(async () => {
  await direct?.close();
  await stackLog?.close();
  await stack?.close();
});

type PathName = 'mcp' | 'mcpLog' | 'client' | 'http';

const PATHS: readonly { key: PathName; label: string }[] = [
  { key: 'mcp', label: "MCP (audit → fsync'd file)" },
  { key: 'mcpLog', label: 'MCP (audit → logger)' },
  { key: 'client', label: 'Keap client only' },
  { key: 'http', label: 'direct undici' },
];

interface Op {
  readonly name: string;
  mcp(): Promise<void>;
  mcpLog(): Promise<void>;
  client(): Promise<void>;
  http(): Promise<void>;
}

function ops(): Op[] {
  return [
    {
      name: 'list_contacts (page_size 25)',
      mcp: async () => {
        const d = ok(await stack.call('list_contacts', { page_size: 25 }), 'list_contacts');
        if ((d.contacts as unknown[]).length !== 25) throw new Error('list_contacts: wrong page');
      },
      mcpLog: async () => {
        const d = ok(await stackLog.call('list_contacts', { page_size: 25 }), 'list_contacts');
        if ((d.contacts as unknown[]).length !== 25) throw new Error('list_contacts: wrong page');
      },
      client: async () => {
        const r = await stack.keap.request({
          method: 'GET',
          path: '/v2/contacts',
          query: { page_size: 25 },
          idempotent: true,
          priority: 'read',
        });
        if ((r.body as { contacts: unknown[] }).contacts.length !== 25) throw new Error('client: wrong page');
      },
      http: async () => {
        const d = (await direct.get('/v2/contacts?page_size=25')) as { contacts: unknown[] };
        if (d.contacts.length !== 25) throw new Error('direct list: wrong page');
      },
    },
    {
      name: 'get_contact',
      mcp: async () => {
        const d = ok(await stack.call('get_contact', { contact_id: contactId }), 'get_contact');
        if (String(d.id) !== contactId) throw new Error('get_contact: wrong contact');
      },
      mcpLog: async () => {
        const d = ok(await stackLog.call('get_contact', { contact_id: contactId }), 'get_contact');
        if (String(d.id) !== contactId) throw new Error('get_contact: wrong contact');
      },
      client: async () => {
        const r = await stack.keap.request({
          method: 'GET',
          path: `/v2/contacts/${contactId}`,
          idempotent: true,
          priority: 'read',
        });
        if (String((r.body as { id: number | string }).id) !== contactId)
          throw new Error('client: wrong contact');
      },
      http: async () => {
        const d = (await direct.get(`/v2/contacts/${contactId}`)) as { id: number | string };
        if (String(d.id) !== contactId) throw new Error('direct get: wrong contact');
      },
    },
  ];
}

function statRow(op: string, path: string, s: Stats): Record<string, Cell> {
  return {
    op,
    path,
    n: s.n,
    'p50 ms': ms(s.p50),
    'p95 ms': ms(s.p95),
    'p99 ms': ms(s.p99),
    'mean ms': ms(s.mean),
    'max ms': ms(s.max),
  };
}

function diffRow(op: string, path: string, a: Stats, b: Stats): Record<string, Cell> {
  return {
    op,
    path,
    n: a.n,
    'p50 ms': ms(a.p50 - b.p50),
    'p95 ms': ms(a.p95 - b.p95),
    'p99 ms': ms(a.p99 - b.p99),
    'mean ms': ms(a.mean - b.mean),
    'max ms': '',
  };
}

function diff(a: Stats, b: Stats): Record<string, number> {
  return { p50: a.p50 - b.p50, p95: a.p95 - b.p95, p99: a.p99 - b.p99, mean: a.mean - b.mean };
}

describe('chokepoint (limits lifted)', () => {
  it('1. per-call latency: MCP → server → sandbox vs direct undici', async () => {
    const rows: Record<string, Cell>[] = [];
    const json: Record<string, unknown> = {};
    for (const op of ops()) {
      for (let i = 0; i < WARMUP; i += 1) for (const p of PATHS) await op[p.key]();
      const samples: Record<PathName, number[]> = { mcp: [], mcpLog: [], client: [], http: [] };
      // Interleaved so that machine noise (2 shared cores) hits every path alike.
      for (let i = 0; i < SAMPLES; i += 1) {
        for (const p of PATHS) {
          const t = nowMs();
          await op[p.key]();
          samples[p.key].push(nowMs() - t);
        }
      }
      const st = {
        mcp: stats(samples.mcp),
        mcpLog: stats(samples.mcpLog),
        client: stats(samples.client),
        http: stats(samples.http),
      };
      for (const p of PATHS) rows.push(statRow(op.name, p.label, st[p.key]));
      rows.push(
        diffRow(op.name, 'overhead: MCP − direct', st.mcp, st.http),
        diffRow(op.name, '  of which Keap client − direct', st.client, st.http),
        diffRow(op.name, '  of which audit fsync (MCP − MCP log)', st.mcp, st.mcpLog),
        diffRow(op.name, '  rest: MCP log − Keap client', st.mcpLog, st.client),
      );
      json[op.name] = {
        ...st,
        overhead: {
          total: diff(st.mcp, st.http),
          keapClient: diff(st.client, st.http),
          auditFsync: diff(st.mcp, st.mcpLog),
          mcpAndSafety: diff(st.mcpLog, st.client),
        },
      };
    }
    printTable(`1. latency, ${SAMPLES} sequential calls after ${WARMUP} warm-up (limits lifted)`, rows);
    recordResults('latency', { warmup: WARMUP, samples: SAMPLES, ops: json });
  });

  it(`2. throughput: ${THROUGHPUT_CALLS} calls at concurrency ${CONCURRENCY}`, async () => {
    const before = await sandboxRequests(stack.sandbox.baseUrl);
    const rows: Record<string, Cell>[] = [];
    const json: Record<string, Record<string, unknown>> = {};
    // list_contacts only (the heavier payload), to keep the whole run near 2 minutes on a shared machine.
    for (const op of ops().slice(0, 1)) {
      json[op.name] = {};
      for (const p of PATHS) {
        const elapsed = await runPool(THROUGHPUT_CALLS, CONCURRENCY, () => op[p.key]());
        const perSec = (THROUGHPUT_CALLS * 1000) / elapsed;
        rows.push({
          op: op.name,
          path: p.label,
          calls: THROUGHPUT_CALLS,
          concurrency: CONCURRENCY,
          'elapsed ms': ms(elapsed, 1),
          'calls/s': ms(perSec, 1),
        });
        (json[op.name] as Record<string, unknown>)[p.key] = { elapsedMs: elapsed, callsPerSec: perSec };
      }
    }
    const after = await sandboxRequests(stack.sandbox.baseUrl);
    printTable(
      `2. throughput, ${THROUGHPUT_CALLS} calls at concurrency ${CONCURRENCY} (limits lifted)`,
      rows,
    );
    recordResults('throughput', { calls: THROUGHPUT_CALLS, concurrency: CONCURRENCY, ops: json });
    // Every call reached the sandbox exactly once (no retries, no 429s with the limits lifted).
    expect(after.total - before.total).toBe(THROUGHPUT_CALLS * PATHS.length);
    expect(after.totals.rateLimited).toBe(0);
  });

  it(`3. memory: RSS and heap before/after ${MEMORY_CALLS} calls`, async () => {
    // On the audit → logger stack: the fsync'd file holds no memory and would only stretch the run (~6 ms/call).
    const gc = forceGc();
    const m0 = process.memoryUsage();
    const [list, get] = ops();
    if (!list || !get) throw new Error('ops');
    const elapsed = await runPool(MEMORY_CALLS, CONCURRENCY, (i) =>
      i % 2 === 0 ? list.mcpLog() : get.mcpLog(),
    );
    const m1raw = process.memoryUsage();
    forceGc();
    const m1 = process.memoryUsage();
    const mb = (n: number): number => ms(n / 1024 / 1024, 2);
    const rows: Record<string, Cell>[] = (['rss', 'heapUsed', 'heapTotal', 'external'] as const).map((k) => ({
      metric: k,
      'before MB': mb(m0[k]),
      'after (no GC) MB': mb(m1raw[k]),
      'after GC MB': mb(m1[k]),
      'delta MB': mb(m1[k] - m0[k]),
      'bytes/call': Math.round((m1[k] - m0[k]) / MEMORY_CALLS),
    }));
    printTable(
      `3. memory, ${MEMORY_CALLS} MCP calls (audit → logger, list/get alternating, concurrency ${CONCURRENCY}, ${ms(elapsed, 0)} ms; forced GC: ${gc})`,
      rows,
    );
    recordResults('memory', {
      calls: MEMORY_CALLS,
      concurrency: CONCURRENCY,
      audit: 'logger',
      forcedGc: gc,
      elapsedMs: elapsed,
      before: m0,
      afterNoGc: m1raw,
      after: m1,
      delta: {
        rss: m1.rss - m0.rss,
        heapUsed: m1.heapUsed - m0.heapUsed,
        heapTotal: m1.heapTotal - m0.heapTotal,
        external: m1.external - m0.external,
      },
    });
  });
});
