/**
 * The shared budget's slot book (src/keap/shared-limit.ts) against a real redis-server: a slot its holder missed
 * (woken too late to send in it) is given back in the same step that reserves the next one, so a late wake-up
 * costs the cluster no capacity and the day's count stays the number of slots really held; a reservation's
 * `plannedAt` (the slot on the caller's clock, the base of arrival corrections) is never later than the slot.
 * Through the limiter (src/keap/limiter.ts) in shared mode: a full window books nothing ahead (the call waits and
 * asks again, so its slot is planned after the corrections of the window before), and a slot whose answer came
 * late (the event loop blocked) is given back and replaced, never sent in; a request answered late moves its slot
 * in Redis to its estimated arrival, where every replica's next booking counts it.
 * Skipped with a printed reason when redis-server is missing, unless KEAP_MCP_REQUIRE_REDIS=1.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialLimiter } from '../../src/keap/limiter.js';
import { RedisBudget } from '../../src/keap/shared-limit.js';
import { type RedisServer, redisSkipReason, startRedis } from '../helpers/redis-server.js';

const skip = redisSkipReason();
let redis: RedisServer;

beforeAll(async () => {
  if (skip) return;
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const budget = (id: string): RedisBudget =>
  new RedisBudget({
    url: redis.url,
    id,
    perSecond: 3,
    perMinute: 100,
    perDay: 1_000,
    windowMarginMs: 0,
    minGapMs: 0,
  });

describe.skipIf(skip)('shared slot book', () => {
  it('a missed slot given back with the next reservation frees its place in the window and the day', async () => {
    const b = budget('missed');
    const view = new Redis(redis.url);
    try {
      const held = [];
      for (let i = 0; i < 3; i++) {
        const r = await b.reserve(0, 5_000);
        expect(r.ok && r.waitMs).toBe(0);
        if (r.ok) held.push(r.slot);
      }
      // The window is full: a fourth slot would be a second away.
      const full = await b.reserve(0, 10);
      expect(full.ok).toBe(false);
      expect(full.waitMs).toBeGreaterThan(900);
      // The third holder missed its slot: giving it back makes room at once; the book still holds three.
      const again = await b.reserve(0, 10, held[2]);
      expect(again.ok && again.waitMs).toBe(0);
      expect(await view.zcard('keap-mcp:limit:missed:slots')).toBe(3);
      expect(await view.zscore('keap-mcp:limit:missed:slots', held[2]?.member ?? '')).toBeNull();
      const dayKeys = await view.keys('keap-mcp:limit:missed:day:*');
      expect(dayKeys).toHaveLength(1);
      expect(await view.get(dayKeys[0] ?? '')).toBe('3');
      // Without giving one back, the next slot waits for the window.
      const next = await b.reserve(0, 5_000);
      expect(next.ok).toBe(true);
      expect(next.waitMs).toBeGreaterThan(900);
    } finally {
      await view.quit();
      await b.close();
    }
  });

  it("plannedAt is the slot on the caller's clock, never later than the slot", async () => {
    const b = budget('planned');
    try {
      for (let i = 0; i < 5; i++) {
        const before = Date.now();
        const r = await b.reserve(0, 5_000);
        const after = Date.now();
        expect(r.ok).toBe(true);
        if (!r.ok) continue;
        expect(r.slot.plannedAt - r.waitMs).toBeGreaterThanOrEqual(before);
        expect(r.slot.plannedAt - r.waitMs).toBeLessThanOrEqual(after);
      }
    } finally {
      await b.close();
    }
  });

  it('through the limiter: a shared window filled by another replica books nothing ahead; the slot is booked when it comes', async () => {
    const l = new CredentialLimiter(
      'oauth',
      { spikePerSecond: 3, windowMarginMs: 0, minGapMs: 0 },
      10_000,
      Date.now,
      {
        shared: { redisUrl: redis.url, id: 'ahead' },
      },
    );
    const view = new Redis(redis.url);
    const key = 'keap-mcp:limit:ahead:slots';
    try {
      // Another replica fills the shared window.
      const other = budget('ahead');
      for (let i = 0; i < 3; i++) expect((await other.reserve(0, 5_000)).ok).toBe(true);
      await other.close();
      expect(await view.zcard(key)).toBe(3);
      const started = Date.now();
      const fourth = l.acquire('read');
      await new Promise((r) => setTimeout(r, 400));
      // Waiting for the window: no slot booked a second ahead.
      expect(await view.zcard(key)).toBe(3);
      const sent = await fourth;
      expect(sent - started).toBeGreaterThanOrEqual(900);
      expect(await view.zcard(key)).toBe(4);
    } finally {
      await view.quit();
      await l.stop();
    }
  });

  it('through the limiter: a slot whose answer came late (Redis busy) is given back, not sent in', async () => {
    const l = new CredentialLimiter('oauth', { spikePerSecond: 25, windowMarginMs: 50 }, 10_000, Date.now, {
      shared: { redisUrl: redis.url, id: 'late' },
    });
    const busy = new Redis(redis.url);
    const view = new Redis(redis.url);
    const key = 'keap-mcp:limit:late:slots';
    try {
      await l.acquire('read'); // connects the shared budget
      // Redis busy for a while (a long script): the next booking is answered well after it was asked.
      const started = Date.now();
      const burn = busy.eval('local x = 0 for i = 1, 40000000 do x = x + 1 end return x', 0);
      await new Promise((r) => setTimeout(r, 20));
      await l.acquire('read');
      await burn;
      expect(Date.now() - started).toBeGreaterThan(60);
      const members = await view.zrange(key, 0, -1);
      // The first booking, then the late one (given back) and its replacement: two slots held, the late one gone.
      expect(members.map((m) => Number(m.split(':').pop()))).toEqual([1, 3]);
    } finally {
      busy.disconnect();
      await view.quit();
      await l.stop();
    }
  });

  it('through the limiter: an answer that came late moves its slot in Redis to the estimated arrival', async () => {
    const l = new CredentialLimiter('oauth', undefined, 10_000, Date.now, {
      shared: { redisUrl: redis.url, id: 'moved' },
    });
    const view = new Redis(redis.url);
    const key = 'keap-mcp:limit:moved:slots';
    try {
      const quick = await l.acquire('read');
      l.arrived(quick, quick + 2); // the quickest round trip: 2 ms
      const slow = await l.acquire('read');
      const [, bookedAt] = await view.zrange(key, 1, 1, 'WITHSCORES');
      l.arrived(slow, slow + 300); // answered 300 ms later: it reached Keap about 298 ms after its slot
      await expect
        .poll(async () => Number((await view.zrange(key, 1, 1, 'WITHSCORES'))[1]) - Number(bookedAt))
        .toBeGreaterThanOrEqual(298);
    } finally {
      await view.quit();
      await l.stop();
    }
  });
});
