/**
 * The same interface tests against both state backends (embedded SQLite and Redis): idempotency, confirmation
 * state (through the real Confirmer), approvals, the OAuth token store, and — on Redis — the hooks inbox and
 * subscription registry. Two stores opened on one Redis play two replicas: whatever one claims, the other sees.
 * Redis runs as a throw-away redis-server on a free loopback port (skipped with a printed reason when the binary is
 * missing, unless KEAP_MCP_REQUIRE_REDIS=1).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredTokens } from '../../src/auth/token-store.js';
import { argsHash } from '../../src/safety/canonical.js';
import { Confirmer, MAX_SECRET_FAILURES } from '../../src/safety/confirm.js';
import { openState, type SharedState, StateUnavailableError } from '../../src/state/index.js';
import { redactRedisUrl } from '../../src/state/redis/connection.js';
import { type RedisServer, redisSkipReason, startRedis } from '../helpers/redis-server.js';
import { sha, spec, tmpDir } from '../safety/helpers.js';

const skip = redisSkipReason();
let redis: RedisServer | undefined;
let n = 0;

beforeAll(async () => {
  if (skip === undefined) redis = await startRedis();
}, 30_000);
afterAll(async () => {
  await redis?.stop();
});

/** Two handles on one backend: two replicas on one Redis, or two processes on one SQLite file. */
async function pair(kind: 'sqlite' | 'redis', now?: () => number): Promise<[SharedState, SharedState]> {
  if (kind === 'redis') {
    const prefix = `t${++n}:`;
    const url = redis?.url as string;
    const o = { stateDir: undefined, redisUrl: url, redisPrefix: prefix, ...(now ? { now } : {}) };
    return [await openState(o), await openState(o)];
  }
  const dir = tmpDir('keap-state-');
  const o = { stateDir: dir, ...(now ? { now } : {}) };
  return [await openState(o), await openState(o)];
}

const backends = (['sqlite', 'redis'] as const).filter((k) => k === 'sqlite' || skip === undefined);

const tool = spec('create_payment', 'payments', 'write');

describe.each(backends)('state contract: %s', (kind) => {
  it('idempotency: new → replay; conflict; pending → unknown; release / markUnknown; one winner of a race', async () => {
    const [a, b] = await pair(kind);
    const h1 = argsHash({ x: 1 });
    const h2 = argsHash({ x: 2 });
    expect(await a.idempotency.begin('ag', 'k1', 't', h1)).toEqual({ state: 'new' });
    // The other replica sees the claim at once.
    expect(await b.idempotency.peek('ag', 'k1', 't', h1)).toEqual({ state: 'unknown' });
    await a.idempotency.complete('ag', 'k1', { id: 42 });
    expect(await b.idempotency.begin('ag', 'k1', 't', h1)).toEqual({ state: 'replay', result: { id: 42 } });
    expect(await b.idempotency.begin('ag', 'k1', 't', h2)).toEqual({ state: 'conflict' });
    expect(await b.idempotency.begin('other', 'k1', 't', h2)).toEqual({ state: 'new' });
    expect(await a.idempotency.peek('ag', 'nope', 't', h1)).toEqual({ state: 'new' });
    // release forgets only a pending claim; markUnknown keeps it as unknown.
    await a.idempotency.begin('ag', 'k2', 't', h1);
    await b.idempotency.release('ag', 'k2');
    expect(await a.idempotency.begin('ag', 'k2', 't', h1)).toEqual({ state: 'new' });
    await b.idempotency.markUnknown('ag', 'k2');
    await b.idempotency.release('ag', 'k2');
    expect(await a.idempotency.begin('ag', 'k2', 't', h1)).toEqual({ state: 'unknown' });
    // A race of 20 claims over both handles: exactly one 'new'.
    const rs = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).idempotency.begin('ag', 'race', 't', h1)),
    );
    expect(rs.filter((r) => r.state === 'new')).toHaveLength(1);
    // Keys with separators cannot collide.
    expect(await a.idempotency.begin('a:b', 'c', 't', h1)).toEqual({ state: 'new' });
    expect(await a.idempotency.begin('a', 'b:c', 't', h1)).toEqual({ state: 'new' });
    await a.close();
    await b.close();
  });

  it('confirmation: a token issued on one verifies on the other, once; a concurrent replay loses', async () => {
    const [a, b] = await pair(kind);
    const ca = new Confirmer({ state: a.confirmState });
    const cb = new Confirmer({ state: b.confirmState });
    const args = { order_id: 9, amount: 25 };
    const base = { agent: 'ops', spec: tool, args, preview: 'Charge', mode: 'confirm' as const };
    const issued = await ca.confirm(base);
    expect(issued.kind).toBe('required');
    const token = issued.kind === 'required' ? issued.token : '';
    const rs = await Promise.all([
      cb.confirm({ ...base, token }),
      ca.confirm({ ...base, token }),
      cb.confirm({ ...base, token }),
    ]);
    expect(rs.filter((r) => r.kind === 'proceed')).toHaveLength(1);
    expect(rs.filter((r) => r.kind === 'rejected')).toHaveLength(2);
    // Changed arguments are refused on either side.
    const again = await cb.confirm(base);
    const t2 = again.kind === 'required' ? again.token : '';
    expect((await ca.confirm({ ...base, args: { ...args, amount: 26 }, token: t2 })).kind).toBe('rejected');
    await a.close();
    await b.close();
  });

  it('human secret: wrong secrets on both replicas count together and lock the tool for both', async () => {
    const [a, b] = await pair(kind);
    const secret = 'the-operator-secret';
    const ca = new Confirmer({ state: a.confirmState, humanSecretSha256: sha(secret) });
    const cb = new Confirmer({ state: b.confirmState, humanSecretSha256: sha(secret) });
    const base = { agent: 'ops', spec: tool, args: { v: 1 }, preview: 'x', mode: 'human_secret' as const };
    for (let i = 0; i < MAX_SECRET_FAILURES; i++) {
      const c = i % 2 ? ca : cb;
      const issued = await c.confirm(base);
      const token = issued.kind === 'required' ? issued.token : '';
      const r = await c.confirm({ ...base, token, humanSecret: `wrong-${i}` });
      expect(r.kind).toBe('rejected');
    }
    const locked = await ca.confirm(base);
    expect(locked.kind).toBe('rejected');
    expect(locked.kind === 'rejected' ? locked.reason : '').toMatch(/locked/);
    expect((await cb.confirm(base)).kind).toBe('rejected');
    await a.close();
    await b.close();
  });

  it('approvals: created on one, decided on the other, consumed exactly once across both', async () => {
    const [a, b] = await pair(kind);
    const h = argsHash({ order_id: 9 });
    const input = {
      agent: 'ops',
      tool: 'create_payment',
      request: { method: 'POST', path: '/v2/orders/9/payments', body: { amount: 25 } },
      preview: 'Charge $25',
      argsHash: h,
      session: 's1',
    };
    const x = await a.approvals.create(input);
    expect((await b.approvals.listPending()).map((p) => p.id)).toContain(x.id);
    expect(await b.approvals.consume(x.id, 'ops', 'create_payment', h)).toMatchObject({
      ok: false,
      reason: 'pending',
    });
    expect(await b.approvals.approve(x.id, 'operator:1')).toMatchObject({ ok: true });
    expect(await a.approvals.deny(x.id, 'operator:2')).toMatchObject({
      ok: false,
      reason: 'already_decided',
    });
    expect(await a.approvals.consume(x.id, 'bot', 'create_payment', h)).toMatchObject({
      ok: false,
      reason: 'other_agent',
    });
    const rs = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? a : b).approvals.consume(x.id, 'ops', 'create_payment', h),
      ),
    );
    expect(rs.filter((r) => r.ok)).toHaveLength(1);
    const used = rs.find((r) => r.ok);
    expect(used?.ok && used.approval.request).toEqual(input.request);
    expect(await a.approvals.get(x.id)).toMatchObject({ status: 'consumed', decidedBy: 'operator:1' });
    expect((await b.approvals.listRecent(5))[0]?.id).toBe(x.id);
    expect(await a.approvals.get('not-an-id')).toBeUndefined();
    expect(await a.approvals.approve('AAAAAAAAAAAAAAAAAAAAAA', 'op')).toMatchObject({
      ok: false,
      reason: 'unknown',
    });
    await a.close();
    await b.close();
  });

  it('tokens: saved on one, loaded on the other; the refresh lock lets one holder run at a time', async () => {
    const [a, b] = await pair(kind);
    const t: StoredTokens = {
      accessToken: 'acc-1',
      refreshToken: 'ref-1',
      expiresAt: Date.now() + 3_600_000,
      tokenType: 'bearer',
      scope: 'full',
      clientId: 'c',
      obtainedAt: Date.now(),
      lastRefreshAt: undefined,
    };
    await a.tokens.save(t);
    expect(await b.tokens.load()).toEqual(JSON.parse(JSON.stringify(t)));
    if (kind === 'redis') {
      let inside = 0;
      let most = 0;
      const run = (s: SharedState) =>
        s.tokens.withRefreshLock?.(async () => {
          inside += 1;
          most = Math.max(most, inside);
          await new Promise((r) => setTimeout(r, 30));
          inside -= 1;
        });
      await Promise.all([run(a), run(b), run(a), run(b)]);
      expect(most).toBe(1);
    }
    await b.tokens.clear();
    expect(await a.tokens.load()).toBeUndefined();
    await a.close();
    await b.close();
  });
});

describe.skipIf(skip !== undefined)('Redis only', () => {
  it('hooks inbox: exactly once across replicas, listeners on the other replica get the events, retention counts drops', async () => {
    const [a, b] = await pair('redis');
    const inboxA = a.hookInbox;
    const inboxB = b.hookInbox;
    if (inboxA === undefined || inboxB === undefined) throw new Error('no inbox');
    const seenOnB: number[] = [];
    const off = inboxB.onStored((evs) => seenOnB.push(...evs.map((e) => e.seq)));
    await new Promise((r) => setTimeout(r, 200)); // the subscriber is connected
    const delivery = {
      eventKey: 'contact.add',
      objectType: 'contact',
      objectKeys: [
        { id: '1', apiUrl: '', timestamp: '2026-11-30T10:00:00Z' },
        { id: '2', apiUrl: '', timestamp: '2026-11-30T10:00:00Z' },
      ],
    };
    const [r1, r2] = await Promise.all([inboxA.add('recv', delivery), inboxB.add('recv', delivery)]);
    expect(r1.stored.length + r2.stored.length).toBe(2);
    expect(r1.duplicates + r2.duplicates).toBe(2);
    const page = await inboxB.list({ limit: 10 });
    expect(page.events.map((e) => e.objectId).sort()).toEqual(['1', '2']);
    await expect.poll(() => seenOnB.length, { timeout: 5000 }).toBe(2);
    off();
    // Filters and cursor paging.
    await inboxA.add('recv', {
      eventKey: 'order.add',
      objectType: 'order',
      objectKeys: [{ id: '9', apiUrl: '', timestamp: 't' }],
    });
    const one = await inboxA.list({ limit: 1 });
    expect(one.events).toHaveLength(1);
    expect(one.next).toBe(one.events[0]?.seq);
    expect((await inboxA.list({ limit: 10, eventKey: 'order.add' })).events.map((e) => e.objectId)).toEqual([
      '9',
    ]);
    expect(await inboxA.stats()).toMatchObject({ stored: 3, dropped: 0 });
    await a.close();
    await b.close();
  });

  it('hooks inbox retention: beyond maxEvents the oldest are dropped and counted', async () => {
    const prefix = `ret${++n}:`;
    const s = await openState({
      stateDir: undefined,
      redisUrl: redis?.url,
      redisPrefix: prefix,
      hooksRetention: { maxEvents: 3 },
    });
    const inbox = s.hookInbox;
    if (inbox === undefined) throw new Error('no inbox');
    await inbox.add('r', {
      eventKey: 'tag.apply',
      objectType: 'tag',
      objectKeys: Array.from({ length: 5 }, (_, i) => ({ id: String(i), apiUrl: '', timestamp: 'x' })),
    });
    expect(await inbox.stats()).toMatchObject({ stored: 3, dropped: 2, lastSeq: 5 });
    expect((await inbox.list({ limit: 10 })).events.map((e) => e.objectId)).toEqual(['2', '3', '4']);
    await s.close();
  });

  it('hook registry: create, hook key lookup, verify, deliveries, remove — visible from the other replica', async () => {
    const [a, b] = await pair('redis');
    const ra = a.hookRegistry;
    const rb = b.hookRegistry;
    if (ra === undefined || rb === undefined) throw new Error('no registry');
    const sub = await ra.create({ eventKey: 'contact.add', agent: 'ops' });
    expect(sub.receiverId).toMatch(/^[A-Za-z0-9_-]{32}$/);
    await rb.setHookKey(sub.receiverId, '77');
    await rb.markVerified(sub.receiverId, 1000);
    await ra.recordDelivery(sub.receiverId, 2000, 3);
    await rb.recordDelivery(sub.receiverId, 1500, 2);
    expect(await ra.byHookKey('77')).toMatchObject({
      receiverId: sub.receiverId,
      hookKey: '77',
      verifiedAt: 1000,
      lastDeliveryAt: 2000,
      eventsStored: 5,
    });
    expect((await rb.list()).map((s) => s.receiverId)).toEqual([sub.receiverId]);
    await rb.remove(sub.receiverId);
    expect(await ra.get(sub.receiverId)).toBeUndefined();
    expect(await ra.byHookKey('77')).toBeUndefined();
    await a.close();
    await b.close();
  });

  it('Redis down: a clear retryable error (no password), writes refused, reads only when opted in; back without a restart', async () => {
    const own = await startRedis();
    const url = `redis://:s3cret-pass@127.0.0.1:${own.port}`;
    expect(redactRedisUrl(url)).toBe(`redis://:***@127.0.0.1:${own.port}`);
    const s = await openState({ stateDir: undefined, redisUrl: own.url, redisPrefix: 'down:' });
    const r = await openState({
      stateDir: undefined,
      redisUrl: own.url,
      redisPrefix: 'down:',
      redisReadsWhenDown: true,
    });
    expect(s.unavailable('write')).toBeUndefined();
    await own.stop();
    await expect.poll(() => s.unavailable('write') !== undefined, { timeout: 5000 }).toBe(true);
    expect(s.unavailable('read')).toBeInstanceOf(StateUnavailableError);
    await expect.poll(() => r.unavailable('write') !== undefined, { timeout: 5000 }).toBe(true);
    expect(r.unavailable('read')).toBeUndefined();
    const err = await s.idempotency.begin('a', 'k', 't', 'h').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateUnavailableError);
    expect(String((err as Error).message)).toMatch(/unreachable/);
    await own.restart();
    await expect.poll(() => s.unavailable('write'), { timeout: 10_000 }).toBeUndefined();
    expect(await s.idempotency.begin('a', 'k', 't', 'h')).toEqual({ state: 'new' });
    await s.close();
    await r.close();
    await own.stop();
  }, 30_000);

  it('Redis unreachable at start: openState rejects with the URL without its password', async () => {
    const e = await openState({
      stateDir: undefined,
      redisUrl: 'redis://user:hunter2-secret@127.0.0.1:1',
    }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StateUnavailableError);
    const msg = (e as Error).message;
    expect(msg).toContain('redis://user:***@127.0.0.1:1');
    expect(msg).not.toContain('hunter2');
  });
});
