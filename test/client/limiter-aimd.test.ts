/**
 * Congestion control of the limiter (issue 13 item 5), pure: the AIMD rule, other consumers read from Keap's
 * counters, and how both shape the send slots. A fake clock; no network.
 */
import { describe, expect, it } from 'vitest';
import { AimdRate, CredentialLimiter, defaultAimd, SharedCounter } from '../../src/keap/limiter.js';

describe('AIMD rule', () => {
  const opts = { ...defaultAimd(10), decrease: 0.9, lossDecrease: 0.5, increasePerSec: 0.5, epochMs: 1000 };

  it('starts at the ceiling and stays there without a signal', () => {
    const a = new AimdRate(opts);
    for (let t = 0; t < 10_000; t += 100) a.sent(t);
    expect(a.rate(10_000)).toBe(10);
    expect(a.decreases).toBe(0);
  });

  it('a 429 halves (lossDecrease), a counter signal takes 10 %, once per epoch', () => {
    const a = new AimdRate(opts);
    expect(a.signal(1_000, 'loss')).toBe(true);
    expect(a.rate(1_000)).toBe(5);
    // A burst of 429s within the epoch is one signal.
    expect(a.signal(1_200, 'loss')).toBe(false);
    expect(a.signal(1_999, 'shared')).toBe(false);
    expect(a.rate(1_999)).toBe(5);
    expect(a.signal(2_000, 'shared')).toBe(true);
    expect(a.rate(2_000)).toBeCloseTo(4.5);
    expect(a.decreases).toBe(2);
  });

  it('grows back additively, only while sending: increasePerSec per second of sends', () => {
    const a = new AimdRate(opts);
    a.signal(0, 'loss'); // 5/s
    // Idle for 30 s (e.g. waiting for Keap's minute window): no growth.
    expect(a.rate(30_000)).toBe(5);
    // Sending at the allowed rate for 4 s: +0.5/s.
    let t = 30_000;
    while (t < 34_000) {
      a.sent(t);
      t += 1000 / a.rate(t);
    }
    expect(a.rate(t)).toBeGreaterThan(6.9);
    expect(a.rate(t)).toBeLessThan(7.1);
    // Never above the ceiling.
    for (let i = 0; i < 1000; i += 1) a.sent(t + i);
    expect(a.rate(t + 1000)).toBe(10);
  });

  it('never below the floor; back to the ceiling after a long idle time', () => {
    const a = new AimdRate({ ...opts, floor: 1 });
    for (let i = 0; i < 20; i += 1) a.signal(i * 1000, 'loss');
    expect(a.rate(20_000)).toBe(1);
    expect(a.rate(20_000 + opts.idleResetMs)).toBe(10);
  });

  it('the first sign of others drops straight to our share of the window', () => {
    const a = new AimdRate(opts);
    expect(a.signal(0, 'shared', 0.5)).toBe(true);
    expect(a.rate(0)).toBeCloseTo(10 * 0.9 * 0.5);
    // Later signals are plain multiplicative decreases (the share only applies at the ceiling).
    a.signal(2_000, 'shared', 0.1);
    expect(a.rate(2_000)).toBeCloseTo(4.5 * 0.9);
  });

  it('two flows with the same signals converge towards equal shares (Chiu-Jain)', () => {
    const x = new AimdRate(opts);
    const y = new AimdRate(opts);
    x.signal(0, 'shared', 0.8); // unequal start: 7.2 vs 1.8
    y.signal(0, 'shared', 0.2);
    let t = 0;
    for (let round = 0; round < 40; round += 1) {
      // Both send for a second at their rates, then both see the window full.
      for (const f of [x, y]) {
        const n = Math.round(f.rate(t));
        for (let i = 0; i < n; i += 1) f.sent(t + (i * 1000) / n);
      }
      t += 1000;
      if (x.rate(t) + y.rate(t) >= 9) {
        x.signal(t, 'shared');
        y.signal(t, 'shared');
      }
    }
    expect(Math.abs(x.rate(t) - y.rate(t))).toBeLessThan(2);
  });
});

describe('other consumers from Keap counters', () => {
  it('counts what others sent in the window: used minus our own accepted sends, news only', () => {
    const c = new SharedCounter(60_000, 100);
    const limit = 240;
    c.sent(60_000);
    // First answer of the window: baseline (3 calls of others earlier in the minute, time unknown).
    expect(c.observed(60_000, false, limit - 4, limit)).toBe(0);
    c.sent(60_100);
    // Two more others before our second arrived.
    expect(c.observed(60_100, false, limit - 7, limit)).toBe(2);
    c.sent(60_200);
    // Only ours: nothing new.
    expect(c.observed(60_200, false, limit - 8, limit)).toBe(0);
    // A refused call of ours (429) is not counted by Keap: still nothing new.
    c.sent(60_300);
    expect(c.observed(60_300, true, limit - 8, limit)).toBe(0);
    // A wrong limit (header missing) is a constant offset: the baseline absorbs it.
    const d = new SharedCounter(60_000, 100);
    d.sent(120_000);
    expect(d.observed(120_000, false, 1000 - 1, 30)).toBe(0);
    d.sent(120_100);
    expect(d.observed(120_100, false, 1000 - 3, 30)).toBe(1);
  });

  it('the limiter alone keeps its pace; with a second consumer in the counters it slows down', async () => {
    let now = 1_000_000;
    const alone = new CredentialLimiter('pat', undefined, 60_000, () => now);
    let used = 0;
    for (let i = 0; i < 30; i += 1) {
      const slot = await alone.acquire('read');
      used += 1;
      alone.arrived(slot, now + 2);
      alone.observe({ throttleAvailable: 240 - used }, { sentAt: slot, status: 200 });
      now += Math.max(1, alone.estimateWaitMs(1));
    }
    expect(alone.aimd.decreases).toBe(0);
    expect(alone.aimd.rate(now)).toBe(10);
    await alone.stop();

    now = 2_000_040;
    const shared = new CredentialLimiter('pat', undefined, 60_000, () => now);
    used = 0;
    const gaps: number[] = [];
    let last = 0;
    for (let i = 0; i < 30; i += 1) {
      const slot = await shared.acquire('read');
      if (last) gaps.push(slot - last);
      last = slot;
      used += 2; // another process sends as much as we do
      shared.arrived(slot, now + 2);
      shared.observe({ throttleAvailable: 240 - used }, { sentAt: slot, status: 200 });
      now += Math.max(1, shared.estimateWaitMs(1));
    }
    expect(shared.aimd.decreases).toBeGreaterThan(0);
    expect(shared.aimd.rate(now)).toBeLessThanOrEqual(5);
    // Evenly spaced at the lower rate (≥ 200 ms), not bursts at the 50 ms minimum gap.
    expect(Math.min(...gaps.slice(-10))).toBeGreaterThanOrEqual(200);
    await shared.stop();
  });

  it('with the shared budget (Redis) the replicas in the counters are not "others": no slow-down, no extra wait', async () => {
    // Keap's counters rise by 2 per observation (the other replicas' calls, already in the shared budget).
    const run = async (shared: boolean): Promise<{ decreases: number; waitMs: number }> => {
      let now = 3_000_000;
      const l = new CredentialLimiter(
        'oauth',
        undefined,
        60_000,
        () => now,
        shared ? { shared: { redisUrl: 'redis://127.0.0.1:1', id: 'test' } } : {},
      );
      let used = 0;
      for (let i = 0; i < 40; i += 1) {
        used += 2;
        l.observe({ throttleAvailable: 1_500 - used }, { sentAt: now, status: 200 });
        now += 40;
      }
      const out = { decreases: l.aimd.decreases, waitMs: l.estimateWaitMs(1) };
      await l.stop();
      return out;
    };
    const local = await run(false);
    expect(local.decreases).toBeGreaterThan(0);
    expect(local.waitMs).toBeGreaterThan(0);
    expect(await run(true)).toEqual({ decreases: 0, waitMs: 0 });
  });

  it('a 429 lowers the rate and holds the credential', async () => {
    let now = 5_000_000;
    const l = new CredentialLimiter('pat', undefined, 60_000, () => now);
    await l.acquire('read');
    l.throttled(1_000);
    expect(l.aimd.rate(now)).toBeLessThan(10);
    expect(l.estimateWaitMs(1)).toBe(1_000);
    now += 1_000;
    expect(l.estimateWaitMs(1)).toBeGreaterThanOrEqual(0);
    await l.stop();
  });
});
