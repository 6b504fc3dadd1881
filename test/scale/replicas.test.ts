/**
 * Scale-out end to end: three real server processes (`node dist/src/index.js --http`) on one throw-away Redis,
 * against the sandbox over loopback, with Keap OAuth; real MCP clients over Streamable HTTP, one per replica.
 * - the OAuth pair stored by `auth login` in Redis; expired, 60 concurrent calls over the replicas → exactly one
 *   refresh at the token endpoint, no failure;
 * - the same idempotency key sent to two replicas at once → one Keap write;
 * - a confirmation token issued by one replica is accepted by another, once; a third refuses the replay;
 * - Redis stopped mid-run → writes fail with the clear, retryable error and nothing is sent; Redis back → the same
 *   processes serve again.
 * Skipped with a printed reason when redis-server is missing, unless KEAP_MCP_REQUIRE_REDIS=1.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_LIMITS } from '../../src/sandbox/server.js';
import { control, tokenPosts } from '../client/helpers.js';
import { redisSkipReason } from '../helpers/redis-server.js';
import { type Cluster, startCluster } from '../helpers/replica-cluster.js';
import { type Counts, data, text, writes } from '../safety/harness.js';

const skip = redisSkipReason();
const counts = async (sb: { baseUrl: string }) =>
  (await control(sb.baseUrl, 'GET', '/__sandbox/requests')) as Counts;
const resetCounts = (sb: { baseUrl: string }) => control(sb.baseUrl, 'DELETE', '/__sandbox/requests');

describe.skipIf(skip !== undefined)('three replicas on one Redis', () => {
  let cl: Cluster;
  const call = (i: number, name: string, args: Record<string, unknown>): Promise<CallToolResult> =>
    cl.call(i, name, args);
  const pairInRedis = () => cl.pairInRedis();
  const putPair: Cluster['putPair'] = (t) => cl.putPair(t);

  beforeAll(async () => {
    cl = await startCluster({ replicas: 3, limits: NO_LIMITS });
    expect(await pairInRedis()).toBeDefined();
  }, 120_000);

  afterAll(async () => {
    await cl?.close();
  });

  it('expired access token, 60 concurrent calls over 3 replicas → exactly 1 refresh, every call succeeds', async () => {
    const pair = await pairInRedis();
    if (pair === undefined) throw new Error('no pair');
    await putPair({ ...pair, expiresAt: Date.now() - 1000 });
    const before = await tokenPosts(cl.sb.baseUrl);
    const rs = await Promise.all(Array.from({ length: 60 }, (_, i) => call(i, 'list_tags', {})));
    const failed = rs.filter((r) => r.isError);
    expect(failed.map(text)).toEqual([]);
    expect((await tokenPosts(cl.sb.baseUrl)) - before).toBe(1);
    const after = await pairInRedis();
    expect(after?.refreshToken).not.toBe(pair.refreshToken);
    expect(after?.expiresAt).toBeGreaterThan(Date.now());
  }, 120_000);

  it('the same idempotency key sent to two replicas at once → one Keap write', async () => {
    await resetCounts(cl.sb);
    const args = {
      given_name: 'Ida',
      family_name: 'Replica',
      email_addresses: [{ email: 'ida.replica@example.com', field: 'EMAIL1' }],
      idempotency_key: 'replica-key-1',
    };
    const [a, b] = await Promise.all([call(0, 'create_contact', args), call(1, 'create_contact', args)]);
    expect(writes(await counts(cl.sb))).toBe(1);
    const ok = [a, b].filter((r) => !r.isError);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    // The loser either replays the stored result or says the first call is still in flight (outcome unknown).
    for (const r of [a, b].filter((x) => x.isError)) expect(text(r)).toMatch(/did not finish|outcome/i);
    // A later repeat on the third replica replays without writing.
    const c = await call(2, 'create_contact', args);
    expect(c.isError, text(c)).toBeFalsy();
    expect(data(c).idempotent_replay).toBe(true);
    expect(writes(await counts(cl.sb))).toBe(1);
  }, 60_000);

  it('a confirmation token issued by one replica confirms on another, once; the third refuses it', async () => {
    const created = await call(0, 'create_contact', {
      given_name: 'Del',
      family_name: 'Replica',
      email_addresses: [{ email: 'del.replica@example.com', field: 'EMAIL1' }],
    });
    expect(created.isError, text(created)).toBeFalsy();
    const id = data(created).id as string | number;
    await resetCounts(cl.sb);
    const first = await call(0, 'delete_contact', { contact_id: id });
    expect(first.isError, text(first)).toBeFalsy();
    const token = data(first).confirmation_token as string;
    expect(typeof token).toBe('string');
    const second = await call(1, 'delete_contact', { contact_id: id, confirmation_token: token });
    expect(second.isError, text(second)).toBeFalsy();
    const third = await call(2, 'delete_contact', { contact_id: id, confirmation_token: token });
    expect(third.isError).toBe(true);
    expect(text(third)).toMatch(/already used/);
    expect(writes(await counts(cl.sb))).toBe(1);
  }, 60_000);

  it('Redis stopped mid-run: writes refused with a clear retryable error, nothing sent; back → served again without a restart', async () => {
    const pair = await pairInRedis();
    if (pair === undefined) throw new Error('no pair');
    await resetCounts(cl.sb);
    await cl.redis.stop();
    const args = {
      given_name: 'Ola',
      family_name: 'Outage',
      email_addresses: [{ email: 'ola.outage@example.com', field: 'EMAIL1' }],
    };
    const down = await Promise.all([0, 1, 2].map((i) => call(i, 'create_contact', args)));
    for (const r of down) {
      expect(r.isError).toBe(true);
      expect(text(r)).toMatch(/Redis/);
      expect(text(r)).toMatch(/unavailable/);
      expect(text(r)).toMatch(/retry/i);
    }
    // Reads are refused too (KEAP_MCP_REDIS_READS_WHEN_DOWN not set).
    expect((await call(0, 'list_tags', {})).isError).toBe(true);
    expect(writes(await counts(cl.sb))).toBe(0);
    // Redis is back (the test server keeps no data: the pair is put back, as Redis' persistence would).
    await cl.redis.restart();
    await putPair(pair);
    await expect
      .poll(
        async () =>
          (await call(1, 'create_contact', { ...args, idempotency_key: 'after-outage' })).isError === true,
        {
          timeout: 15_000,
          interval: 500,
        },
      )
      .toBe(false);
    expect(writes(await counts(cl.sb))).toBe(1);
    for (const r of cl.replicas) expect(r.proc.child.exitCode).toBeNull();
  }, 60_000);
});
