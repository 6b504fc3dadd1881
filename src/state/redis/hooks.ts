/**
 * The REST hooks inbox and subscription registry on Redis (InboxApi, HookRegistryApi of src/hooks/types.ts), with
 * the same semantics as the embedded store (src/hooks/inbox.ts):
 * - add(): one Lua script per delivery, all or nothing: for each key, SET NX on the dedupe key
 *   (event_key, object id, timestamp) → INCR seq → ZADD into the event set (score = seq) and the age index.
 *   A key already seen — on this replica or any other — is a duplicate. Then retention (age, count), with the
 *   drops counted. The promise resolves once Redis acknowledged the script (durability: Redis' own persistence,
 *   see the README's deployment section).
 * - onStored(): every add publishes the new last seq on a channel; each replica's listeners read the events after
 *   their cursor (so every event reaches every listener once, in seq order, whichever replica stored it). A slow
 *   poll covers messages lost while the subscriber reconnected.
 * - Dedupe keys live as long as the age bound (7 days by default), even when the count bound dropped the event
 *   earlier: a late replay of a dropped event is still recognised as a duplicate.
 */
import { randomBytes } from 'node:crypto';
import type {
  AddResult,
  Delivery,
  EventPage,
  EventQuery,
  HookEvent,
  HookRegistryApi,
  HookSubscription,
  InboxApi,
  InboxStats,
  RetentionOptions,
} from '../../hooks/types.js';
import { CATCH_UP_CHUNK, emitEvents, eventBody, pageLimit, retentionOf } from '../../hooks/types.js';
import type { Logger } from '../../logger.js';
import type { RedisConnection } from './connection.js';

/** Safety net beside pub/sub (a message lost while the subscriber reconnected). */
const POLL_MS = 2_000;

/**
 * KEYS: seq, events (zset seq → "seq|json"), ages (zset receivedAt → seq), meta (hash count/dropped)
 * ARGV: prefix for dedupe keys, receivedAt, maxAgeMs, maxEvents, n, then n × (dedupe suffix, json)
 * Returns the stored seqs (0 for a duplicate), in key order.
 */
const ADD_LUA = `
local now = tonumber(ARGV[2])
local maxAge = tonumber(ARGV[3])
local maxEvents = tonumber(ARGV[4])
local n = tonumber(ARGV[5])
local out = {}
local stored = 0
for i = 1, n do
  local d = ARGV[4 + i * 2]
  local json = ARGV[5 + i * 2]
  if redis.call('SET', ARGV[1] .. d, '1', 'NX', 'PX', maxAge) then
    local seq = redis.call('INCR', KEYS[1])
    redis.call('ZADD', KEYS[2], seq, seq .. '|' .. json)
    redis.call('ZADD', KEYS[3], now, seq)
    out[i] = seq
    stored = stored + 1
  else
    out[i] = 0
  end
end
if stored > 0 then redis.call('HINCRBY', KEYS[4], 'count', stored) end
local dropped = 0
local old = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. (now - maxAge))
for _, s in ipairs(old) do
  dropped = dropped + redis.call('ZREMRANGEBYSCORE', KEYS[2], s, s)
end
if #old > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. (now - maxAge)) end
local excess = redis.call('ZCARD', KEYS[2]) - maxEvents
if excess > 0 then
  local gone = redis.call('ZRANGE', KEYS[2], 0, excess - 1, 'WITHSCORES')
  for j = 2, #gone, 2 do redis.call('ZREM', KEYS[3], gone[j]) end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1)
  dropped = dropped + excess
end
if dropped > 0 then
  redis.call('HINCRBY', KEYS[4], 'count', -dropped)
  redis.call('HINCRBY', KEYS[4], 'dropped', dropped)
end
return out`;

type Stored = Omit<HookEvent, 'seq'>;

function parseMember(m: string): HookEvent {
  const bar = m.indexOf('|');
  return { seq: Number(m.slice(0, bar)), ...(JSON.parse(m.slice(bar + 1)) as Stored) };
}

export interface RedisHooksOptions {
  readonly retention?: Partial<RetentionOptions> | undefined;
  readonly now?: (() => number) | undefined;
  readonly logger?: Logger | undefined;
}

export class RedisInbox implements InboxApi {
  private readonly now: () => number;
  private readonly retention: RetentionOptions;
  private readonly logger: Logger | undefined;
  private readonly listeners = new Set<(events: readonly HookEvent[]) => void>();
  private cursor = 0;
  private catching: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private sub: ReturnType<RedisConnection['subscriber']> | undefined;
  private readonly keys: {
    seq: string;
    events: string;
    ages: string;
    meta: string;
    dedupe: string;
    channel: string;
  };

  constructor(
    private readonly conn: RedisConnection,
    opts: RedisHooksOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.logger = opts.logger;
    this.retention = retentionOf(opts.retention);
    const p = `${conn.prefix}hooks:`;
    this.keys = {
      seq: `${p}seq`,
      events: `${p}events`,
      ages: `${p}ages`,
      meta: `${p}meta`,
      dedupe: `${p}seen:`,
      channel: `${p}stored`,
    };
  }

  async add(receiverId: string, delivery: Delivery): Promise<AddResult> {
    if (delivery.objectKeys.length === 0) return { stored: [], duplicates: 0 };
    const receivedAt = this.now();
    const args: (string | number)[] = [
      this.keys.dedupe,
      receivedAt,
      this.retention.maxAgeMs,
      this.retention.maxEvents,
      delivery.objectKeys.length,
    ];
    const bodies: Stored[] = [];
    for (const k of delivery.objectKeys) {
      const body: Stored = eventBody(delivery, k, receivedAt, receiverId);
      bodies.push(body);
      args.push(JSON.stringify([delivery.eventKey, k.id, k.timestamp]), JSON.stringify(body));
    }
    const seqs = (await this.conn.run('storing the hook delivery', (c) =>
      c.eval(ADD_LUA, 4, this.keys.seq, this.keys.events, this.keys.ages, this.keys.meta, ...args),
    )) as number[];
    const stored: HookEvent[] = [];
    seqs.forEach((seq, i) => {
      const body = bodies[i];
      if (seq > 0 && body !== undefined) stored.push({ seq, ...body });
    });
    if (stored.length > 0) {
      const last = stored[stored.length - 1]?.seq ?? 0;
      // Fan-out to every replica (this one included); a lost message is caught up by the poll.
      void this.conn
        .run('announcing hook events', (c) => c.publish(this.keys.channel, String(last)))
        .catch(() => {});
    }
    return { stored, duplicates: delivery.objectKeys.length - stored.length };
  }

  async list(query: EventQuery): Promise<EventPage> {
    const limit = pageLimit(query);
    const cutoff = this.now() - this.retention.maxAgeMs;
    const events: HookEvent[] = [];
    let from = query.after ?? 0;
    // Filters are applied while scanning in seq order, a chunk at a time, until limit + 1 matches.
    for (;;) {
      const chunk = await this.conn.run('reading hook events', (c) =>
        c.zrangebyscore(this.keys.events, `(${from}`, '+inf', 'LIMIT', 0, CATCH_UP_CHUNK),
      );
      for (const m of chunk) {
        const e = parseMember(m);
        from = e.seq;
        if (e.receivedAt < cutoff) continue;
        if (query.eventKey !== undefined && e.eventKey !== query.eventKey) continue;
        if (query.objectType !== undefined && e.objectType !== query.objectType) continue;
        if (query.since !== undefined && e.receivedAt < query.since) continue;
        events.push(e);
        if (events.length > limit) break;
      }
      if (events.length > limit || chunk.length < CATCH_UP_CHUNK) break;
    }
    const page = events.slice(0, limit);
    const last = page[page.length - 1];
    return events.length > limit && last !== undefined ? { events: page, next: last.seq } : { events: page };
  }

  async stats(): Promise<InboxStats> {
    const [meta, seq] = await this.conn.run('reading hook inbox stats', (c) =>
      Promise.all([c.hmget(this.keys.meta, 'count', 'dropped'), c.get(this.keys.seq)]),
    );
    return {
      stored: Number(meta[0] ?? 0),
      dropped: Number(meta[1] ?? 0),
      lastSeq: Number(seq ?? 0),
    };
  }

  onStored(listener: (events: readonly HookEvent[]) => void): () => void {
    if (this.listeners.size === 0) this.start();
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.stop();
  }

  private start(): void {
    // Events stored before the first listener are history, not news.
    // (Until the position is known — Redis may be down — catch-ups try to read it first.)
    this.cursor = Number.POSITIVE_INFINITY;
    this.catchUp();
    const sub = this.conn.subscriber();
    this.sub = sub;
    sub.on('message', (channel: string) => {
      if (channel === this.keys.channel) this.catchUp();
    });
    void sub.subscribe(this.keys.channel).catch(() => {});
    this.timer = setInterval(() => this.catchUp(), POLL_MS);
    this.timer.unref();
  }

  private stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.sub?.disconnect();
    this.sub = undefined;
  }

  /** One catch-up at a time; a request during one runs another after it. */
  private catchUp(): void {
    if (this.catching !== undefined) {
      this.again = true;
      return;
    }
    this.catching = this.readNew()
      .catch((err: unknown) => {
        this.logger?.warn(
          { err: err instanceof Error ? err.message : String(err) },
          'hooks inbox catch-up failed (Redis)',
        );
      })
      .finally(() => {
        this.catching = undefined;
        if (this.again) {
          this.again = false;
          this.catchUp();
        }
      });
  }

  private async readNew(): Promise<void> {
    if (!Number.isFinite(this.cursor)) {
      const v = await this.conn.run('reading the hook inbox position', (c) => c.get(this.keys.seq));
      this.cursor = Number(v ?? 0);
      return;
    }
    while (this.listeners.size > 0) {
      const chunk = await this.conn.run('reading hook events', (c) =>
        c.zrangebyscore(this.keys.events, `(${this.cursor}`, '+inf', 'LIMIT', 0, CATCH_UP_CHUNK),
      );
      if (chunk.length === 0) return;
      const events = chunk.map(parseMember);
      this.cursor = events[events.length - 1]?.seq ?? this.cursor;
      emitEvents(this.listeners, events, this.logger);
      if (chunk.length < CATCH_UP_CHUNK) return;
    }
  }
}

const RECEIVER_ID_PATTERN = /^[A-Za-z0-9_-]{22,64}$/;

const RECORD_DELIVERY_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local last = tonumber(redis.call('HGET', KEYS[1], 'lastDeliveryAt') or '0')
if tonumber(ARGV[1]) > last then redis.call('HSET', KEYS[1], 'lastDeliveryAt', ARGV[1]) end
redis.call('HINCRBY', KEYS[1], 'eventsStored', ARGV[2])
return 1`;

const SET_IF_EXISTS_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`;

function subscriptionFrom(h: Record<string, string>): HookSubscription | undefined {
  if (h.receiverId === undefined || h.eventKey === undefined || h.agent === undefined) return undefined;
  const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));
  const verifiedAt = num(h.verifiedAt);
  const lastDeliveryAt = num(h.lastDeliveryAt);
  return {
    receiverId: h.receiverId,
    eventKey: h.eventKey,
    ...(h.hookKey !== undefined && h.hookKey !== '' ? { hookKey: h.hookKey } : {}),
    ...(verifiedAt !== undefined ? { verifiedAt } : {}),
    ...(lastDeliveryAt !== undefined ? { lastDeliveryAt } : {}),
    eventsStored: num(h.eventsStored) ?? 0,
    createdAt: num(h.createdAt) ?? 0,
    agent: h.agent,
  };
}

export class RedisHookRegistry implements HookRegistryApi {
  private readonly now: () => number;
  private readonly index: string;
  private readonly byKey: string;

  constructor(
    private readonly conn: RedisConnection,
    opts: Pick<RedisHooksOptions, 'now'> = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.index = `${conn.prefix}hooks:subscriptions`;
    this.byKey = `${conn.prefix}hooks:by-hook-key`;
  }

  private k(id: string): string {
    return `${this.conn.prefix}hooks:subscription:${id}`;
  }

  async create(input: { eventKey: string; agent: string }): Promise<HookSubscription> {
    const sub: HookSubscription = {
      receiverId: randomBytes(24).toString('base64url'),
      eventKey: input.eventKey,
      eventsStored: 0,
      createdAt: this.now(),
      agent: input.agent,
    };
    await this.conn.run('creating the hook subscription', (c) =>
      c
        .multi()
        .hset(this.k(sub.receiverId), {
          receiverId: sub.receiverId,
          eventKey: sub.eventKey,
          eventsStored: '0',
          createdAt: String(sub.createdAt),
          agent: sub.agent,
        })
        .zadd(this.index, sub.createdAt, sub.receiverId)
        .exec(),
    );
    return sub;
  }

  async get(receiverId: string): Promise<HookSubscription | undefined> {
    if (!RECEIVER_ID_PATTERN.test(receiverId)) return undefined;
    const h = await this.conn.run('reading the hook subscription', (c) => c.hgetall(this.k(receiverId)));
    return subscriptionFrom(h);
  }

  async byHookKey(hookKey: string): Promise<HookSubscription | undefined> {
    const id = await this.conn.run('reading the hook subscription', (c) => c.hget(this.byKey, hookKey));
    return id === null ? undefined : this.get(id);
  }

  async list(): Promise<readonly HookSubscription[]> {
    const ids = await this.conn.run('listing hook subscriptions', (c) => c.zrange(this.index, 0, -1));
    if (ids.length === 0) return [];
    const all = await this.conn.run('listing hook subscriptions', (c) => {
      const p = c.pipeline();
      for (const id of ids) p.hgetall(this.k(id));
      return p.exec();
    });
    const out: HookSubscription[] = [];
    for (const [err, h] of all ?? []) {
      const s = err ? undefined : subscriptionFrom(h as Record<string, string>);
      if (s !== undefined) out.push(s);
    }
    return out;
  }

  async setHookKey(receiverId: string, hookKey: string): Promise<void> {
    await this.conn.run('storing the hook key', async (c) => {
      const ok = await c.eval(SET_IF_EXISTS_LUA, 1, this.k(receiverId), 'hookKey', hookKey);
      if (ok === 1) await c.hset(this.byKey, hookKey, receiverId);
    });
  }

  async markVerified(receiverId: string, at: number): Promise<void> {
    await this.conn.run('marking the hook verified', (c) =>
      c.eval(SET_IF_EXISTS_LUA, 1, this.k(receiverId), 'verifiedAt', String(at)),
    );
  }

  async recordDelivery(receiverId: string, at: number, events: number): Promise<void> {
    await this.conn.run('recording the hook delivery', (c) =>
      c.eval(RECORD_DELIVERY_LUA, 1, this.k(receiverId), at, events),
    );
  }

  async remove(receiverId: string): Promise<void> {
    await this.conn.run('removing the hook subscription', async (c) => {
      const hookKey = await c.hget(this.k(receiverId), 'hookKey');
      const m = c.multi().del(this.k(receiverId)).zrem(this.index, receiverId);
      if (hookKey !== null && hookKey !== '') m.hdel(this.byKey, hookKey);
      await m.exec();
    });
  }
}
