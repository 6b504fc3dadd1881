/**
 * One Keap budget per credential for every replica (issue 15): send slots reserved atomically in Redis by a Lua
 * script, on Redis's clock (replicas' clocks may differ). Loaded only when KEAP_MCP_REDIS_URL is set (limiter.ts
 * imports it lazily), so ioredis never loads otherwise.
 *
 * The script keeps, per credential, a sorted set of slot times (the last minute and a bit) and a counter per UTC
 * day. A reservation is the earliest time t ≥ now + delay with fewer than perSecond slots in (t − 1 s − margin, t],
 * fewer than perMinute in (t − 60 s − margin, t], at least minGap after the last slot and under the daily quota —
 * the same windows as the local limiter, shared. Slots may lie in the future: the caller sleeps until its slot.
 * When the slot would be further than `maxWaitMs` away nothing is reserved.
 *
 * A holder woken too late for its slot (a busy event loop) gives it back in the same script that reserves its next
 * one: removing a slot nobody sent in only loosens the windows of the slots planned around it, and new slots are
 * always placed after the latest one, so the exchange is atomic and never double-books; without it, every late
 * wake-up cost the whole cluster one slot of the window.
 *
 * Why not Bottleneck's own Redis clustering (datastore 'ioredis'): see limiter.ts and the README's rate-limit
 * section — in short, it shares only minTime / maxConcurrent / reservoir, not sliding windows, priorities or a
 * "how long would I wait" answer, and it has been unmaintained since 2019.
 *
 * Redis lost: commands fail at once (no offline queue) or after `commandTimeoutMs`; the limiter turns that into
 * SharedLimiterUnavailableError (retryable, nothing sent) — never unlimited pacing. ioredis reconnects by itself;
 * calls work again as soon as Redis is back.
 */
import { Redis } from 'ioredis';

const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local delay = tonumber(ARGV[1])
local ps = tonumber(ARGV[2])
local sw = tonumber(ARGV[3])
local pm = tonumber(ARGV[4])
local mw = tonumber(ARGV[5])
local gap = tonumber(ARGV[6])
local maxWait = tonumber(ARGV[7])
local pd = tonumber(ARGV[8])
local key = KEYS[1]
if ARGV[10] ~= '' then
  -- a slot its holder missed (woken late): given back, not sent in, so it stops counting (and its day's count)
  local old = redis.call('ZSCORE', key, ARGV[10])
  if old then
    redis.call('ZREM', key, ARGV[10])
    local od = KEYS[2] .. math.floor(tonumber(old) / 86400000)
    if tonumber(redis.call('GET', od) or '0') > 0 then redis.call('DECR', od) end
  end
end
redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. (now - mw))
local at = now + delay
local n = redis.call('ZCARD', key)
local function nth(i)
  local e = redis.call('ZREVRANGE', key, i - 1, i - 1, 'WITHSCORES')
  return tonumber(e[2])
end
if n > 0 then at = math.max(at, nth(1) + gap) end
if n >= ps then at = math.max(at, nth(ps) + sw) end
if n >= pm then at = math.max(at, nth(pm) + mw) end
local day = math.floor(at / 86400000)
local used = tonumber(redis.call('GET', KEYS[2] .. day) or '0')
if used >= pd then
  day = day + 1
  at = math.max(at, day * 86400000)
end
if at - now > maxWait then return {-1, at - now} end
redis.call('ZADD', key, at, ARGV[9])
redis.call('PEXPIRE', key, mw + 60000)
redis.call('INCR', KEYS[2] .. day)
redis.call('PEXPIRE', KEYS[2] .. day, 172800000)
return {at - now, 0, at}
`;

export interface SharedLimitSettings {
  /** KEAP_MCP_REDIS_URL */
  readonly url: string;
  /** Stands for the credential in Redis keys: a hash, never the secret. */
  readonly id: string;
  readonly perSecond: number;
  readonly perMinute: number;
  readonly perDay: number;
  /** Added to the 1 s and 60 s windows. */
  readonly windowMarginMs: number;
  readonly minGapMs: number;
  /** How long one command may take before Redis counts as lost (default 1 s). */
  readonly commandTimeoutMs?: number;
  /** How long a call waits for a (re)connection before failing (default 2 s). */
  readonly connectWaitMs?: number;
  /** The caller's clock (default Date.now): Reservation.plannedAt is on it. */
  readonly now?: () => number;
}

export type Reservation =
  /** Send after `waitMs` (0: now); `slot` names the reservation for moved(). */
  | { readonly ok: true; readonly waitMs: number; readonly slot: SharedSlot }
  /** The slot would be `waitMs` away (beyond the bound): nothing reserved. */
  | { readonly ok: false; readonly waitMs: number };

export interface SharedSlot {
  readonly member: string;
  /** Slot time on Redis's clock (ms). */
  readonly at: number;
  /**
   * The slot on the caller's clock, never later than it really is: the moment the script was sent plus the wait it
   * answered (the script ran at or after that moment). Lateness measured from here includes Redis's answer time
   * and the caller's own delay before sending, so moved() never places a slot before its request arrived.
   */
  readonly plannedAt: number;
}

/** Redis could not be used (down, unreachable, timed out). Turned into the typed error by limiter.ts. */
export class RedisUnreachable extends Error {}

export class RedisBudget {
  private readonly redis: Redis;
  private readonly keys: [string, string];
  private seq = 0;
  private readonly tag = Math.random().toString(36).slice(2, 10);

  constructor(private readonly s: SharedLimitSettings) {
    this.redis = new Redis(s.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: s.commandTimeoutMs ?? 1_000,
      connectTimeout: 2_000,
      retryStrategy: (times) => Math.min(100 * times, 1_000),
      lazyConnect: false,
    });
    // Connection errors are expected while Redis is away; calls report them (no unhandled 'error' events).
    this.redis.on('error', () => undefined);
    this.keys = [`keap-mcp:limit:${s.id}:slots`, `keap-mcp:limit:${s.id}:day:`];
  }

  private async ready(): Promise<void> {
    if (this.redis.status === 'ready') return;
    const wait = this.s.connectWaitMs ?? 2_000;
    await new Promise<void>((resolve, reject) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        this.redis.off('ready', onReady);
        if (ok) resolve();
        else reject(new RedisUnreachable(`no connection to Redis within ${wait} ms`));
      };
      const onReady = (): void => done(true);
      const timer = setTimeout(() => done(false), wait);
      this.redis.on('ready', onReady);
      if (this.redis.status === 'end') {
        // closed for good (quit): no reconnection will come
        done(false);
      }
    });
  }

  /**
   * Reserves the next shared slot no earlier than `delayMs` from now and no further than `maxWaitMs`; `replaces`:
   * a slot of this holder that was not sent in (woken too late), given back in the same step.
   */
  async reserve(delayMs: number, maxWaitMs: number, replaces?: SharedSlot): Promise<Reservation> {
    try {
      await this.ready();
      this.seq += 1;
      const askedAt = (this.s.now ?? Date.now)();
      const r = (await this.redis.eval(
        RESERVE,
        2,
        this.keys[0],
        this.keys[1],
        Math.max(0, Math.ceil(delayMs)),
        this.s.perSecond,
        1000 + this.s.windowMarginMs,
        this.s.perMinute,
        60_000 + this.s.windowMarginMs,
        this.s.minGapMs,
        Math.max(0, Math.floor(maxWaitMs)),
        this.s.perDay,
        `${this.tag}:${this.seq}`,
        replaces?.member ?? '',
      )) as [number, number, number?];
      const [first, second, at] = r;
      return first < 0
        ? { ok: false, waitMs: second }
        : {
            ok: true,
            waitMs: first,
            slot: { member: `${this.tag}:${this.seq}`, at: at ?? 0, plannedAt: askedAt + first },
          };
    } catch (e) {
      if (e instanceof RedisUnreachable) throw e;
      throw new RedisUnreachable(e instanceof Error ? e.message : String(e));
    }
  }

  /**
   * The request of `slot` reached Keap about `lateMs` after its slot (Redis's answer, a busy event loop, a new
   * connection; measured from `slot.plannedAt`): move the slot there so later reservations of every replica count
   * it where Keap did. Best effort (no wait).
   */
  moved(slot: SharedSlot, lateMs: number): void {
    if (lateMs <= 0 || this.redis.status !== 'ready') return;
    this.redis.zadd(this.keys[0], 'XX', slot.at + Math.round(lateMs), slot.member).catch(() => undefined);
  }

  async close(): Promise<void> {
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}
