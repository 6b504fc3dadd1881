/**
 * Scale-out on one key (issue 15): 300 reads (list_tags) on one Keap OAuth credential, sent at once through one
 * replica, then spread over three replicas (`keap-mcp --http` processes on one Redis: the shared budget,
 * src/keap/shared-limit.ts), against the sandbox as its own process with Keap's limits (OAuth: spike arrest 25 per
 * sliding second, 1,500 per UTC minute). The sandbox counts the 429s it answers. The achieved rate (calls ÷ wall
 * time from the first call to the last answer) is compared with the allowed rate, 25/s (the target: ≥ 90 %), and,
 * as a stricter reading, with the fastest schedule those limits allow for a finite burst (25 at once, then 25 per
 * further second: 11 s for 300, i.e. 27.3/s on average).
 * Each scenario's replicas serve one call each first (a running deployment; the first call loads the client).
 * Set-up: test/helpers/replica-cluster.ts (each scenario has its own Redis, sandbox and replicas).
 */
import { describe, expect, it } from 'vitest';
import { control, counters } from '../test/client/helpers.js';
import { redisSkipReason } from '../test/helpers/redis-server.js';
import { startCluster } from '../test/helpers/replica-cluster.js';
import { type Cell, ms, nowMs, printTable, recordResults } from './run.js';
import { addSummary, fmtInt } from './summary.js';

const CALLS = 300;
const PER_SECOND = 25;
const IDEAL_MS = (Math.ceil(CALLS / PER_SECOND) - 1) * 1000;
const skip = redisSkipReason();

interface Outcome {
  readonly replicas: number;
  readonly failed: number;
  readonly elapsedMs: number;
  readonly sandboxRequests: number;
  readonly sandbox429s: number;
  readonly callsPerSec: number;
  readonly ofAllowed: number;
  readonly ofCeiling: number;
}

async function scenario(replicas: number): Promise<Outcome> {
  const cl = await startCluster({ replicas });
  try {
    // One call per replica first (the OAuth pair read, undici loaded), then a clean window and clean counters.
    for (let i = 0; i < replicas; i++) await cl.call(i, 'list_tags', {});
    await new Promise((r) => setTimeout(r, 1100));
    await control(cl.sb.baseUrl, 'DELETE', '/__sandbox/requests');
    const start = nowMs();
    const rs = await Promise.all(Array.from({ length: CALLS }, (_, i) => cl.call(i, 'list_tags', {})));
    const elapsedMs = nowMs() - start;
    const c = await counters(cl.sb.baseUrl);
    return {
      replicas,
      failed: rs.filter((r) => r.isError).length,
      elapsedMs,
      sandboxRequests: c.totals.count,
      sandbox429s: c.totals.byStatus['429'] ?? 0,
      callsPerSec: (CALLS * 1000) / elapsedMs,
      ofAllowed: (CALLS * 1000) / elapsedMs / PER_SECOND,
      ofCeiling: IDEAL_MS / elapsedMs,
    };
  } finally {
    await cl.close();
  }
}

describe.skipIf(skip !== undefined)('replicas on one key', () => {
  it(`${CALLS} calls through 1 replica, then spread over 3 (one Redis)`, async () => {
    const one = await scenario(1);
    const three = await scenario(3);
    const rows: Record<string, Cell>[] = [one, three].map((o) => ({
      replicas: o.replicas,
      calls: CALLS,
      failed: o.failed,
      'sandbox requests': o.sandboxRequests,
      '429s': o.sandbox429s,
      'elapsed s': ms(o.elapsedMs / 1000, 2),
      'ceiling s': ms(IDEAL_MS / 1000, 2),
      'calls/s': ms(o.callsPerSec, 2),
      [`% of ${PER_SECOND}/s`]: ms(o.ofAllowed * 100, 1),
      '% of fastest schedule': ms(o.ofCeiling * 100, 1),
    }));
    printTable(`one OAuth key, ${CALLS} calls at once, sandbox with Keap's limits`, rows);
    recordResults('replicas', { calls: CALLS, one, three });
    addSummary(60, 'replicas on one key (Redis)', [
      {
        figure: `3 replicas × ${CALLS} calls: 429s at the sandbox`,
        keap: fmtInt(three.sandbox429s),
        target: { value: three.sandbox429s, op: '<=', limit: 0, text: '0' },
        note: `${three.failed} failed calls; ${three.sandboxRequests} requests reached the sandbox`,
      },
      {
        figure: `3 replicas × ${CALLS} calls: achieved rate`,
        keap: `${three.callsPerSec.toFixed(2)}/s = ${(three.ofAllowed * 100).toFixed(0)} % of ${PER_SECOND}/s`,
        target: { value: three.ofAllowed, op: '>=', limit: 0.9, text: '≥ 90 %' },
        note: `allowed: ${PER_SECOND}/s (sliding second); of the fastest schedule for ${CALLS} (${(IDEAL_MS / 1000).toFixed(0)} s): ${(three.ofCeiling * 100).toFixed(0)} %`,
      },
      {
        figure: `1 replica × ${CALLS} calls: 429s at the sandbox`,
        keap: fmtInt(one.sandbox429s),
        target: { value: one.sandbox429s, op: '<=', limit: 0, text: '0' },
      },
      {
        figure: `1 replica × ${CALLS} calls: achieved rate`,
        keap: `${one.callsPerSec.toFixed(2)}/s = ${(one.ofAllowed * 100).toFixed(0)} % of ${PER_SECOND}/s`,
      },
    ]);
    // Correctness, not speed: every call succeeds.
    expect(one.failed + three.failed).toBe(0);
  }, 300_000);
});
