/**
 * One Keap budget per credential for all replicas (issue 15, KEAP_MCP_REDIS_URL): three Keap clients in separate
 * processes (each its own limiter) reserve their send slots in one Redis, against one sandbox enforcing Keap's
 * per-second limit → 0 × 429. Redis lost while running → calls fail with the typed, retryable error and nothing
 * reaches Keap (never unlimited pacing); Redis back → calls go through again without a restart.
 *
 * Needs redis-server (test/helpers/redis-server.ts): skipped with a printed reason when it is missing, unless
 * KEAP_MCP_REQUIRE_REDIS=1. The per-minute limit is raised on both sides (sandbox and clients) so that 300 calls
 * are about the per-second window, the one Keap reports no header for.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeapClient } from '../../src/keap/client.js';
import { SharedLimiterUnavailableError } from '../../src/keap/limiter.js';
import { type KeapClientApi, KeapError } from '../../src/keap/types.js';
import { DEFAULT_LIMITS, startSandbox } from '../../src/sandbox/server.js';
import { type RedisServer, redisSkipReason, startRedis } from '../helpers/redis-server.js';
import { captureLogger, control, counters, findSecrets } from './helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CHILD = join(import.meta.dirname, 'fixtures', 'limiter-child.mjs');
const KEYS = ['KeapAK-shared-budget-1-0123456789', 'KeapAK-shared-budget-2-0123456789'];
const PER_MINUTE = 1_000;
const skip = redisSkipReason();

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;
let sb: Sandbox;
let redis: RedisServer;
const cap = captureLogger();

beforeAll(async () => {
  if (skip) return;
  expect(existsSync(join(ROOT, 'dist', 'src', 'keap', 'client.js')), 'run `npm run build` first').toBe(true);
  redis = await startRedis();
  sb = await startSandbox({
    port: 0,
    control: true,
    apiKeys: KEYS,
    limits: { ...DEFAULT_LIMITS, patPerMinute: PER_MINUTE },
  });
});

afterAll(async () => {
  await sb?.close();
  await redis?.stop();
  expect(findSecrets([cap.text()], KEYS)).toEqual([]);
});

interface ChildResult {
  ok: number;
  failed: number;
  attempts: number;
  errors: string[];
  elapsedMs: number;
}

/** `processes` clients, each in its own process, `calls` reads each, all released at once. */
async function burst(processes: number, calls: number, key: string): Promise<ChildResult[]> {
  const kids = Array.from({ length: processes }, () => {
    const child = spawn(process.execPath, [CHILD], {
      env: {
        PATH: process.env.PATH ?? '',
        BASE_URL: sb.baseUrl,
        API_KEY: key,
        CALLS: String(calls),
        PER_MINUTE: String(PER_MINUTE),
        REDIS_URL: redis.url,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString('utf8');
    });
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString('utf8');
    });
    const done = new Promise<ChildResult>((resolve, reject) => {
      child.on('exit', (code) => {
        expect(err).not.toContain(key);
        if (code === 0) resolve(JSON.parse(out) as ChildResult);
        else reject(new Error(`child exited ${code}: ${err.slice(0, 2000)}`));
      });
    });
    return { child, done };
  });
  // Let every process load before the start signal (module loading is not part of the burst).
  await new Promise((r) => setTimeout(r, 1_500));
  await control(sb.baseUrl, 'DELETE', '/__sandbox/requests');
  for (const k of kids) k.child.stdin.write('go\n');
  return Promise.all(kids.map((k) => k.done));
}

describe.skipIf(skip !== undefined)('one budget per credential in Redis (KEAP_MCP_REDIS_URL)', () => {
  it('three processes × 100 calls at once, one Redis: every call succeeds, 0 × 429', async () => {
    const results = await burst(3, 100, KEYS[0] as string);
    const n = await counters(sb.baseUrl);
    const elapsed = Math.max(...results.map((r) => r.elapsedMs));
    process.stderr.write(
      `[shared-budget] 3 processes × 100 with Redis: sandbox saw ${n.total}, 429s ${n.totals.rateLimited}, slowest process ${elapsed} ms\n`,
    );
    expect(results.flatMap((r) => r.errors)).toEqual([]);
    expect(results.map((r) => r.ok)).toEqual([100, 100, 100]);
    expect(n.totals.rateLimited).toBe(0);
    expect(n.total).toBe(300);
  }, 120_000);

  it('Redis lost: calls fail with the retryable shared-limiter error and nothing is sent; Redis back: calls go through', async () => {
    const key = KEYS[1] as string;
    const client: KeapClientApi = createKeapClient({
      baseUrl: sb.baseUrl,
      credential: { kind: 'pat', apiKey: key },
      logger: cap.logger,
      redisUrl: redis.url,
    });
    const read = () =>
      client.request({
        method: 'GET',
        path: '/v2/tags',
        query: { page_size: 1 },
        idempotent: true,
        priority: 'read',
      });
    try {
      expect((await read()).status).toBe(200);
      await redis.stop();
      await control(sb.baseUrl, 'DELETE', '/__sandbox/requests');
      const settled = await Promise.allSettled([read(), read(), read()]);
      for (const s of settled) {
        expect(s.status).toBe('rejected');
        const e = (s as PromiseRejectedResult).reason as KeapError;
        expect(e).toBeInstanceOf(SharedLimiterUnavailableError);
        expect(e).toBeInstanceOf(KeapError);
        expect(e.category).toBe('unavailable');
        expect(e.retryable).toBe(true);
        expect(e.notSent).toBe(true);
        expect(e.message).toMatch(/shared rate limiter \(Redis.*unreachable.*nothing was sent/);
        expect(e.message).not.toContain(redis.url);
      }
      // Nothing reached "Keap" while the budget was unknown.
      expect((await counters(sb.baseUrl)).total).toBe(0);
      await redis.restart();
      // ioredis reconnects by itself (the call waits up to 2 s for it): no restart of the client.
      expect((await read()).status).toBe(200);
      expect((await counters(sb.baseUrl)).total).toBe(1);
    } finally {
      await client.close();
    }
  }, 60_000);
});
