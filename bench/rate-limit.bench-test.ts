/**
 * 4. Rate-limit pacing: 150 MCP calls at once against the sandbox enforcing Keap's PAT limits (10/s sliding,
 * 240/min, spike 25/s) with the client's default PAT limits. 150 sends at ≤ 10 per sliding second need at least
 * 14 s (the first 10 leave at t=0, the 150th no earlier than t=14 s); 15 s is the naive 150/10. The sandbox's
 * own counters (GET {base}/__sandbox/requests) tell how many 429s it answered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clearSandboxRequests,
  ms,
  nowMs,
  printTable,
  recordResults,
  type Stack,
  sandboxRequests,
  startStack,
} from './run.js';

const CALLS = 150;
const PER_SECOND = 10;
const MIN_MS = ((CALLS - PER_SECOND) / PER_SECOND) * 1000; // 14,000 ms
const NAIVE_MS = (CALLS / PER_SECOND) * 1000; // 15,000 ms

let stack: Stack;
let contactId = '';

beforeAll(async () => {
  stack = await startStack({ limits: 'keap', maxWaitMs: 30_000 });
  const r = await stack.call('list_contacts', { page_size: 1 });
  const contacts = (r.structuredContent as { contacts?: { id: number | string }[] } | undefined)?.contacts;
  contactId = String(contacts?.[0]?.id ?? '');
  expect(contactId).not.toBe('');
  // A fresh second for the burst: the warm-up call must not shift the window.
  await new Promise((r) => setTimeout(r, 1_100));
  await clearSandboxRequests(stack.sandbox.baseUrl);
});

afterAll(async () => {
  await stack?.close();
});

describe('rate-limit pacing (Keap PAT limits)', () => {
  it('4. 150 calls at once: elapsed vs the 14 s minimum, 429s seen by the sandbox', async () => {
    const done: number[] = [];
    let failed = 0;
    const errors = new Map<string, number>();
    const start = nowMs();
    await Promise.all(
      Array.from({ length: CALLS }, async (_, i) => {
        const r =
          i % 2 === 0
            ? await stack.call('get_contact', { contact_id: contactId })
            : await stack.call('list_contacts', { page_size: 25 });
        done.push(nowMs() - start);
        if (r.isError) {
          failed += 1;
          const first = r.content[0];
          const msg = first && first.type === 'text' ? first.text.slice(0, 80) : 'error';
          errors.set(msg, (errors.get(msg) ?? 0) + 1);
        }
      }),
    );
    const elapsed = nowMs() - start;
    const counts = await sandboxRequests(stack.sandbox.baseUrl);
    const seen429 = counts.totals.byStatus['429'] ?? 0;
    done.sort((a, b) => a - b);
    const row = {
      calls: CALLS,
      succeeded: CALLS - failed,
      failed,
      'elapsed ms': ms(elapsed, 0),
      'min ms (14 s)': MIN_MS,
      'naive ms (15 s)': NAIVE_MS,
      'elapsed / min': ms(elapsed / MIN_MS, 3),
      'first done ms': ms(done[0] ?? Number.NaN, 1),
      'sandbox requests': counts.totals.count,
      'sandbox 429s': seen429,
      'achieved calls/s': ms((CALLS * 1000) / elapsed, 2),
    };
    printTable('4. rate-limit pacing: 150 calls at once, sandbox enforcing PAT 10/s', [row]);
    for (const [msg, n] of errors) process.stdout.write(`  error ×${n}: ${msg}\n`);
    recordResults('rateLimit', {
      calls: CALLS,
      perSecond: PER_SECOND,
      minMs: MIN_MS,
      naiveMs: NAIVE_MS,
      elapsedMs: elapsed,
      succeeded: CALLS - failed,
      failed,
      errors: Object.fromEntries(errors),
      sandboxRequests: counts.totals.count,
      sandbox429s: seen429,
      byStatus: counts.totals.byStatus,
    });
    if (seen429 > 0) {
      process.stdout.write(
        `  note: the sandbox answered ${seen429} × 429 (sends are recorded when their slot is taken; a send delayed` +
          ' > windowMarginMs on its way out, e.g. behind a blocked event loop, can land in the same sandbox second' +
          ' as a later one); the retry ladder recovered.\n',
      );
    }
    // Correctness, not speed: every call succeeded, each reached the handler exactly once, none before its slot.
    // The 429 count is measured, not asserted (it depends on event-loop jitter on a loaded machine).
    expect(failed).toBe(0);
    expect(counts.totals.byStatus['200']).toBe(CALLS);
    expect(elapsed).toBeGreaterThanOrEqual(MIN_MS);
  });
});
