/**
 * Several processes on one key: two keap-mcp processes (stdio, as two desktop apps would run them) on one personal
 * access token against one sandbox enforcing Keap's limits (10/s sliding, spike 25/s, 240/min per key), 150
 * calls each at once (get_contact and list_contacts alternating); and one process alone, 150 calls. The sandbox
 * counts the 429s it answers (GET /__sandbox/requests); the achieved rate is compared with the key's ceiling:
 * the fastest schedule the sandbox's own rules allow from the burst's start (10 per sliding second, 240 per UTC
 * minute), simulated.
 *
 * 300 calls cannot fit one UTC minute (240), so the two-process burst starts at second 37–45 of a minute: at the
 * key's ceiling it then splits across two minutes and only the per-second limit binds — the limit this measures.
 * Each scenario has its own sandbox (fresh counters and windows). Calls may wait long (KEAP_MAX_WAIT_MS 120 s).
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, it } from 'vitest';
import { startSandbox } from '../src/sandbox/server.js';
import { connectStdio, keapSpec, removeTempDirs, type StdioConn, sleep } from './procs.js';
import {
  type Cell,
  clearSandboxRequests,
  directClient,
  ms,
  nowMs,
  printTable,
  recordResults,
  sandboxRequests,
} from './run.js';
import { addSummary, fmtInt } from './summary.js';

const CALLS = 150;
const KEY = 'bench-shared-key';
const PROBE_KEY = 'bench-probe-key';
const PER_SECOND = 10;
const PER_MINUTE = 240;
/** The two-process burst starts in [START_FROM, START_TO] seconds past a UTC minute (see above). */
const START_FROM = 37;
const START_TO = 45;

/** Fastest send times (ms after `t0`, epoch ms) for `n` requests: ≤ PER_SECOND in any 1000 ms, ≤ PER_MINUTE per UTC minute. */
function idealElapsedMs(n: number, t0: number): number {
  const sent: number[] = [];
  const perMinute = new Map<number, number>();
  let t = t0;
  for (let i = 0; i < n; i += 1) {
    const prior = sent[i - PER_SECOND];
    if (prior !== undefined) t = Math.max(t, prior + 1000);
    for (;;) {
      const minute = Math.floor(t / 60_000);
      if ((perMinute.get(minute) ?? 0) < PER_MINUTE) break;
      t = (minute + 1) * 60_000;
    }
    const minute = Math.floor(t / 60_000);
    perMinute.set(minute, (perMinute.get(minute) ?? 0) + 1);
    sent.push(t);
  }
  return (sent[n - 1] ?? t0) - t0;
}

/** ms until the next moment whose second-of-minute is START_FROM (0 when inside [START_FROM, START_TO]). */
function msUntilWindow(): number {
  const now = Date.now();
  const into = now % 60_000;
  if (into >= START_FROM * 1000 && into <= START_TO * 1000) return 0;
  return (START_FROM * 1000 - into + 60_000) % 60_000;
}

interface Outcome {
  readonly processes: number;
  readonly calls: number;
  readonly failed: number;
  readonly errors: Record<string, number>;
  readonly elapsedMs: number;
  readonly idealMs: number;
  readonly startSecond: number;
  readonly sandboxRequests: number;
  readonly sandbox429s: number;
  readonly byStatus: Record<string, number>;
  readonly callsPerSec: number;
  readonly ofCeiling: number;
}

async function scenario(processes: number, align: boolean): Promise<Outcome> {
  const sandbox = await startSandbox({
    host: '127.0.0.1',
    port: 0,
    apiKeys: [KEY, PROBE_KEY],
    control: true,
  });
  const probe = directClient(sandbox.baseUrl, PROBE_KEY);
  const conns: StdioConn[] = [];
  try {
    const page = (await probe.get('/v2/contacts?page_size=1')) as { contacts: { id: number | string }[] };
    const contactId = String(page.contacts[0]?.id ?? '');
    for (let p = 0; p < processes; p += 1) {
      const c = await connectStdio(
        keapSpec({ baseUrl: sandbox.baseUrl, apiKey: KEY, env: { KEAP_MAX_WAIT_MS: '120000' } }),
      );
      conns.push(c);
      await c.client.listTools();
    }
    if (align) await sleep(msUntilWindow());
    await clearSandboxRequests(sandbox.baseUrl);
    const errors: Record<string, number> = {};
    let failed = 0;
    const startEpoch = Date.now();
    const start = nowMs();
    await Promise.all(
      conns.flatMap((c) =>
        Array.from({ length: CALLS }, async (_, i) => {
          const r = (await c.client.callTool(
            i % 2 === 0
              ? { name: 'get_contact', arguments: { contact_id: contactId } }
              : { name: 'list_contacts', arguments: { page_size: 25 } },
            undefined,
            { timeout: 180_000 },
          )) as CallToolResult;
          if (r.isError) {
            failed += 1;
            const first = r.content[0];
            const msg = first && first.type === 'text' ? first.text.slice(0, 100) : 'error';
            errors[msg] = (errors[msg] ?? 0) + 1;
          }
        }),
      ),
    );
    const elapsedMs = nowMs() - start;
    const counts = await sandboxRequests(sandbox.baseUrl);
    const total = CALLS * processes;
    const idealMs = idealElapsedMs(total, startEpoch);
    return {
      processes,
      calls: total,
      failed,
      errors,
      elapsedMs,
      idealMs,
      startSecond: Math.floor((startEpoch % 60_000) / 1000),
      sandboxRequests: counts.totals.count,
      sandbox429s: counts.totals.byStatus['429'] ?? 0,
      byStatus: counts.totals.byStatus,
      callsPerSec: (total * 1000) / elapsedMs,
      ofCeiling: idealMs / elapsedMs,
    };
  } finally {
    await Promise.all(conns.map((c) => c.close()));
    await probe.close();
    await sandbox.close();
  }
}

afterAll(() => removeTempDirs());

describe('several processes on one key', () => {
  it(`two processes × ${CALLS} calls at once on one key, and one process alone`, async () => {
    let solo: Outcome;
    let two: Outcome;
    // Use the wait for the two-process window: run the single process first when there is time for it.
    if (msUntilWindow() >= 30_000) {
      solo = await scenario(1, false);
      two = await scenario(2, true);
    } else {
      two = await scenario(2, true);
      solo = await scenario(1, false);
    }
    const rows: Record<string, Cell>[] = [solo, two].map((o) => ({
      processes: o.processes,
      calls: o.calls,
      failed: o.failed,
      'sandbox requests': o.sandboxRequests,
      '429s': o.sandbox429s,
      'elapsed s': ms(o.elapsedMs / 1000, 2),
      'ceiling s': ms(o.idealMs / 1000, 2),
      'calls/s': ms(o.callsPerSec, 2),
      '% of ceiling': ms(o.ofCeiling * 100, 1),
      'start :ss': o.startSecond,
    }));
    printTable(`one key shared: ${CALLS} calls per process at once, sandbox with Keap's PAT limits`, rows);
    for (const o of [solo, two]) {
      for (const [msg, n] of Object.entries(o.errors))
        process.stdout.write(`  ${o.processes} process(es), error ×${n}: ${msg}\n`);
    }
    recordResults('sharedKey', { callsPerProcess: CALLS, solo, two });
    addSummary(50, 'one key, several processes', [
      {
        figure: `2 processes × ${CALLS} calls: 429s at the sandbox`,
        keap: fmtInt(two.sandbox429s),
        target: { value: two.sandbox429s, op: '<=', limit: 3, text: '≤ 3' },
        note: `${two.failed} failed calls; ${two.sandboxRequests} requests reached the sandbox`,
      },
      {
        figure: `2 processes × ${CALLS} calls: achieved rate`,
        keap: `${two.callsPerSec.toFixed(2)}/s = ${(two.ofCeiling * 100).toFixed(0)} % of ceiling`,
        target: { value: two.ofCeiling, op: '>=', limit: 0.85, text: '≥ 85 %' },
        note: `ceiling: ${two.calls} calls in ${(two.idealMs / 1000).toFixed(1)} s at ${PER_SECOND}/s (sliding), ${PER_MINUTE}/min`,
      },
      {
        figure: `1 process × ${CALLS} calls: 429s at the sandbox`,
        keap: fmtInt(solo.sandbox429s),
        target: { value: solo.sandbox429s, op: '<=', limit: 0, text: '0' },
      },
      {
        figure: `1 process × ${CALLS} calls: achieved rate`,
        keap: `${solo.callsPerSec.toFixed(2)}/s = ${(solo.ofCeiling * 100).toFixed(0)} % of ceiling`,
      },
    ]);
    // Correctness, not speed: one process alone completes every call.
    expect(solo.failed).toBe(0);
  });
});
