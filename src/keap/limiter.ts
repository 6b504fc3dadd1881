/**
 * Per-credential rate limiting (the only module that does it), on bottleneck (no `expiration` option: its expiry
 * path leaks capacity in 2.19.5, see tooling.md §5).
 *
 * Shape: per credential, two bottleneck lanes (reads, writes) with `maxConcurrent: 1` queue callers for *send
 * slots*. The job at the head of a lane computes the earliest moment a request may leave without breaking any
 * window, sleeps until then, and records the send (check + record are synchronous, so the lanes never double-book
 * a slot). Reads yield while any write waits, so a write never waits behind a queue of reads (not even behind
 * bottleneck's serialized submission of thousands of reads). The HTTP exchange runs outside the lanes, so slow
 * responses do not slow the pacing.
 *
 * Windows (all sliding, which is stricter than Keap's fixed windows): per second (PAT 10, spike ceiling 25 for
 * every kind) over 1000 ms + `windowMarginMs` (network jitter between our clock and the gateway's), a minimum gap
 * between two sends (smooths bursts for Keap's effective-count spike arrest), per minute, per UTC day. Keap's own
 * x-keap-* budget headers tighten the local view: when the gateway says fewer calls are left than we think (another
 * process uses the same key), we wait for its window to roll.
 *
 * When the wait for a slot would exceed `maxWaitMs`, `acquire()` fails fast with KeapError 'rate_limited'
 * ("rate limited: retry after N s") and nothing is sent.
 *
 * Several processes on one key, no shared state (issue 13): Keap's counters (used − our own accepted sends) show
 * other consumers' calls; they join the per-second window, and an AIMD rate (AimdRate) lowers our pace when they
 * fill it with us or Keap answers 429, then grows it back slowly while we send.
 *
 * Replicas with KEAP_MCP_REDIS_URL (issue 15): once a slot is free locally, it is also reserved in Redis
 * (shared-limit.ts, loaded lazily), so all replicas keep to one budget per credential. A slot is booked at most
 * SHARED_BOOK_AHEAD_MS before it is used (a full window means: wait, then ask again), so it is planned after the
 * arrival corrections of the slots a window earlier; a slot taken late (Redis's answer or the wake-up delayed by a
 * busy event loop) is given back with the next booking instead of being sent into the others' window, and costs
 * no capacity. Keap's counters are not read
 * for other consumers then (the other replicas are already in the budget; counting them again halves the pace);
 * a 429 still lowers the AIMD rate. Bottleneck's own Redis
 * clustering (datastore 'ioredis', same id per credential) works with ioredis 5 for `minTime` spacing, but shares
 * only minTime / maxConcurrent / reservoir: not the sliding 1 s / 60 s windows, not this module's arrival-time
 * correction, not the read/write lanes (its queues and priorities stay per process), and it cannot say how long a
 * call would wait (the fail-fast bound); it is also unmaintained since 2019. Redis lost → SharedLimiterUnavailableError
 * (retryable, nothing sent), never unpaced sends.
 */
import { createRequire } from 'node:module';
import type Bottleneck from 'bottleneck';
import { rateLimitedError } from './errors.js';
import type { RedisBudget, SharedSlot } from './shared-limit.js';
import { type KeapBudget, KeapError, type RateWaitReason } from './types.js';

/**
 * The shared budget in Redis (KEAP_MCP_REDIS_URL) could not be used: nothing was sent to Keap, and nothing will
 * be sent unpaced. Retryable: ioredis reconnects by itself and calls go through again once Redis is back.
 */
export class SharedLimiterUnavailableError extends KeapError {
  constructor(attempts = 0) {
    super({
      category: 'unavailable',
      message:
        'the shared rate limiter (Redis, KEAP_MCP_REDIS_URL) is unreachable, so no Keap call can be paced; nothing was sent to Keap. Try again shortly.',
      reason: 'shared rate limiter (Redis) unreachable',
      retryable: true,
      retryAfterSec: 2,
      attempts,
      notSent: true,
    });
    this.name = 'SharedLimiterUnavailableError';
  }
}

/** One budget per credential for all replicas: Redis at `url`, keys named by `id` (a hash, never the secret). */
export interface SharedLimitConfig {
  readonly redisUrl: string;
  readonly id: string;
  /** Redis command timeout (default 1 s) and wait for a (re)connection (default 2 s). */
  readonly commandTimeoutMs?: number;
  readonly connectWaitMs?: number;
}

export interface LimiterOptions {
  readonly aimd?: Partial<AimdOptions>;
  readonly shared?: SharedLimitConfig;
}

/** bottleneck (CommonJS, ~1.2 MiB) is loaded when a caller first has to queue, not at start. */
let BottleneckClass: typeof Bottleneck | undefined;
function newLane(): Bottleneck {
  BottleneckClass ??= createRequire(import.meta.url)('bottleneck') as typeof Bottleneck;
  return new BottleneckClass({ maxConcurrent: 1, minTime: 0 });
}

/** Told when a caller must wait for a slot: once at the start, then about every second (remaining wait). */
export type WaitListener = (waitMs: number, reason: RateWaitReason) => void;

/** Waits shorter than this are not reported at their start (the minimum gap between sends is ~50 ms). */
export const REPORT_WAIT_MIN_MS = 200;
const REPORT_EVERY_MS = 1000;
/**
 * How far ahead a slot in the shared budget (Redis) may be booked. Further away, the limiter waits and asks again,
 * so a booking is made at most this long before its send, after the arrival corrections of the slots a window
 * earlier have been written (see acquire()).
 */
const SHARED_BOOK_AHEAD_MS = 100;
/** Late shared slots one call gives back in a row before it sends anyway (acquire()). */
const MAX_GIVEN_BACK = 5;

export interface ClientLimits {
  /** Per-second limit of the token kind (PAT/SAK 10; OAuth has none beyond the spike ceiling). */
  readonly perSecond: number | undefined;
  /** Keap's spike arrest (25/s, every kind). */
  readonly spikePerSecond: number;
  readonly perMinute: number;
  readonly perDay: number;
  /**
   * Added to the 1 s and 60 s windows (default 50 ms): the jitter between our send and Keap's count that the arrival
   * corrections (arrived()) have not caught yet. Late slots are moved to their estimated arrival, and shared slots
   * are booked just in time and given back when taken late, so the margin only covers what is still unknown when
   * the next window's slot is taken; 100 ms left three replicas at 87–90 % of the allowed rate, 50 ms at 92–98 %,
   * both with 0 × 429 (test/scale/cluster.test.ts, bench/replicas.bench-test.ts).
   */
  readonly windowMarginMs: number;
  /** Minimum gap between two sends (default: half the even spacing of the per-second limit). */
  readonly minGapMs: number | undefined;
}

export type CredentialKindForLimits = 'pat' | 'oauth';

export function defaultLimits(kind: CredentialKindForLimits): ClientLimits {
  return kind === 'pat'
    ? {
        perSecond: 10,
        spikePerSecond: 25,
        perMinute: 240,
        perDay: 30_000,
        windowMarginMs: 50,
        minGapMs: undefined,
      }
    : {
        perSecond: undefined,
        spikePerSecond: 25,
        perMinute: 1_500,
        perDay: 150_000,
        windowMarginMs: 50,
        minGapMs: undefined,
      };
}

const DAY_MS = 86_400_000;

interface RemoteView {
  readonly available: number;
  readonly at: number;
  /** When the remote window ends (ms epoch). */
  readonly until: number;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason ?? new Error('aborted'));
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal?.reason ?? new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Congestion control for several processes on one credential without shared state (issue 13): additive increase,
 * multiplicative decrease. The rate starts at the credential's per-second ceiling (a process alone never slows
 * down). A congestion signal — a 429, or Keap's headers showing that other consumers fill the window together with
 * us — multiplies the rate by `decrease` (a 429: `lossDecrease`, a pre-loss header signal: `decrease`), at most once
 * per `epochMs` (one burst of 429s is one signal). Afterwards the rate grows by `increasePerSec` per second back to
 * the ceiling. Independent processes that see the same signals converge to shares that together stay just under
 * Keap's ceiling (Chiu & Jain 1989).
 */
export interface AimdOptions {
  /** Highest rate (calls/s): the credential's per-second limit. */
  readonly ceiling: number;
  /** Lowest rate (calls/s). */
  readonly floor: number;
  /** Factor after a header signal (others fill the window with us; no call was refused). */
  readonly decrease: number;
  /** Factor after a 429. */
  readonly lossDecrease: number;
  /** Added per second without a signal. */
  readonly increasePerSec: number;
  /** At most one decrease per epoch (ms). */
  readonly epochMs: number;
  /** Back to the ceiling after this long without a send (the others' state is stale by then). */
  readonly idleResetMs: number;
}

export function defaultAimd(ceiling: number): AimdOptions {
  return {
    ceiling,
    floor: Math.max(0.5, ceiling / 20),
    decrease: 0.9,
    lossDecrease: 0.6,
    increasePerSec: ceiling / 60,
    epochMs: 1_500,
    idleResetMs: 90_000,
  };
}

export class AimdRate {
  private current: number;
  private lastDecrease = Number.NEGATIVE_INFINITY;
  private lastSend = Number.NEGATIVE_INFINITY;
  /** Decreases applied so far (for logs and tests). */
  decreases = 0;

  constructor(readonly opts: AimdOptions) {
    this.current = opts.ceiling;
  }

  /** The allowed rate at `now` (calls/s). After `idleResetMs` without a send, the ceiling again. */
  rate(now: number): number {
    if (now - this.lastSend >= this.opts.idleResetMs) return this.opts.ceiling;
    return this.current;
  }

  /**
   * One send at `now`. The rate grows only while it is used (one send at rate r stands for 1/r s of sending, so
   * the increase is `increasePerSec` per second of sending): waiting for Keap's minute window to roll does not
   * bring a process back at full speed.
   */
  sent(now: number): void {
    this.current = this.rate(now);
    this.lastSend = now;
    if (this.current < this.opts.ceiling) {
      this.current = Math.min(this.opts.ceiling, this.current + this.opts.increasePerSec / this.current);
    }
  }

  /**
   * A congestion signal at `now`; returns whether it lowered the rate (false within the epoch of the last one).
   * `share` (0-1], when known, is our part of the calls Keap counted in the last window: the first time other
   * consumers show up, the rate drops at once to that share of the ceiling (a fair start instead of several
   * halvings, each paid with 429s).
   */
  signal(now: number, kind: 'loss' | 'shared', share?: number): boolean {
    if (now - this.lastDecrease < this.opts.epochMs) return false;
    const factor = kind === 'loss' ? this.opts.lossDecrease : this.opts.decrease;
    let next = this.rate(now) * factor;
    if (share !== undefined && this.rate(now) >= this.opts.ceiling) {
      next = Math.min(next, this.opts.ceiling * this.opts.decrease * share);
    }
    this.current = Math.max(this.opts.floor, next);
    this.lastSend = Math.max(this.lastSend, now);
    this.lastDecrease = now;
    this.decreases += 1;
    return true;
  }
}

/**
 * Other consumers of the credential, seen through one of Keap's counters (x-keap-product-throttle-*: the calls
 * counted in the current window of `windowMs`, aligned to the UTC clock). Keap counts a request when it arrives;
 * the counter's `used` (limit − available) at that moment minus our own accepted sends up to that request is what
 * others sent in this window. Only increases of that number are news; the first observation of a window is the
 * baseline (when those calls were made is unknown).
 */
export class SharedCounter {
  /** Own sends (slot times, ascending) of the last window and a bit, and whether Keap refused them. */
  private own: { sent: number; refused: boolean }[] = [];
  private window = -1;
  private othersSeen: number | undefined;

  constructor(
    private readonly windowMs: number,
    /** Own sends this close before a window start may have been counted in it (arrival after the boundary). */
    private readonly marginMs: number,
  ) {}

  sent(at: number): void {
    insertSortedBy(this.own, { sent: at, refused: false });
    const cutoff = at - this.windowMs - this.marginMs;
    let i = 0;
    while (i < this.own.length && (this.own[i]?.sent as number) < cutoff) i += 1;
    if (i > 0) this.own.splice(0, i);
  }

  /**
   * The response to our request sent at `sentAt` reported `available` of `limit` left. Returns how many calls of
   * other consumers are newly known (0 when none, or on a window's first observation).
   */
  observed(sentAt: number, refused: boolean, available: number, limit: number): number {
    const mine = this.own.find((x) => x.sent === sentAt);
    if (mine && refused) mine.refused = true;
    const w = Math.floor(sentAt / this.windowMs);
    if (w < this.window) return 0; // a late answer from a previous window
    const start = w * this.windowMs;
    let ownUpTo = 0;
    for (const x of this.own) {
      if (x.sent > sentAt) break;
      if (x.sent >= start - this.marginMs && !x.refused) ownUpTo += 1;
    }
    // Not clamped: a wrong `limit` (header missing) is a constant offset that the baseline absorbs.
    const others = limit - available - ownUpTo;
    if (w > this.window || this.othersSeen === undefined) {
      this.window = w;
      this.othersSeen = others;
      return 0;
    }
    const fresh = others - this.othersSeen;
    if (fresh <= 0) return 0;
    this.othersSeen = others;
    return fresh;
  }
}

/** What the client knows about one exchange, for the limiter's view of other consumers. */
export interface Exchange {
  /** The slot the request was sent in (what acquire() returned). */
  readonly sentAt: number;
  readonly status: number;
  /** x-keap-product-throttle-limit, when present. */
  readonly throttleLimit?: number | undefined;
}

export class CredentialLimiter {
  readonly limits: ClientLimits;
  /** Two lanes (maxConcurrent 1 each): a write never queues behind reads, even behind their submission. */
  private lanesMade: Record<'read' | 'write', Bottleneck> | undefined;
  private get lanes(): Record<'read' | 'write', Bottleneck> {
    this.lanesMade ??= { read: newLane(), write: newLane() };
    return this.lanesMade;
  }
  /** Send times of the last minute (+ margin), ascending. */
  private sends: number[] = [];
  /**
   * Slots of the last two seconds, for arrived(): when each was taken, answered, its place in `sends`, and its
   * reservation in the shared budget (Redis) if any.
   */
  private slots: { sent: number; at: number; responded?: number; shared?: SharedSlot }[] = [];
  /** Quickest round trip seen on this credential (ms). */
  private minRtt = Number.POSITIVE_INFINITY;
  private day = -1;
  private dayCount = 0;
  private blockedUntil = 0;
  private throttle: RemoteView | undefined;
  private tenant: RemoteView | undefined;
  private quota: RemoteView | undefined;
  private lastBudget: KeapBudget = {};
  /** When Keap last reported budget headers (ms since epoch). */
  private lastBudgetAt: number | undefined;
  private stopped = false;
  /** Congestion control against other consumers of the credential (issue 13). */
  readonly aimd: AimdRate;
  /** Other consumers seen through Keap's per-minute and per-day counters. */
  private readonly minuteCounter: SharedCounter;
  private readonly dayCounter: SharedCounter;
  /** Estimated arrival times (ascending) of other consumers' calls in the last second or so. */
  private others: number[] = [];
  private readonly sharedConfig: SharedLimitConfig | undefined;
  private sharedBudget: Promise<RedisBudget> | undefined;
  /** Estimated arrival of the last request whose answer carried counters. */
  private lastObservedAt = Number.NEGATIVE_INFINITY;

  constructor(
    kind: CredentialKindForLimits,
    overrides: Partial<ClientLimits> | undefined,
    private readonly maxWaitMs: number,
    private readonly now: () => number = Date.now,
    options: LimiterOptions = {},
  ) {
    this.limits = { ...defaultLimits(kind), ...stripUndefined(overrides ?? {}) };
    this.aimd = new AimdRate({ ...defaultAimd(this.perSecond), ...(options.aimd ?? {}) });
    this.sharedConfig = options.shared;
    this.minuteCounter = new SharedCounter(60_000, this.limits.windowMarginMs);
    this.dayCounter = new SharedCounter(DAY_MS, this.limits.windowMarginMs);
  }

  private get perSecond(): number {
    const { perSecond, spikePerSecond } = this.limits;
    return perSecond === undefined ? spikePerSecond : Math.min(perSecond, spikePerSecond);
  }

  private get minGap(): number {
    return this.limits.minGapMs ?? Math.floor(1000 / this.perSecond / 2);
  }

  /** Budget as last reported by Keap. */
  budget(): KeapBudget {
    return this.lastBudget;
  }

  /** When the budget was last reported by Keap (undefined: no answer with budget headers yet). */
  budgetAt(): number | undefined {
    return this.lastBudgetAt;
  }

  /**
   * Earliest time ≥ `t` at which one more request may leave, given the sends in `log` (ascending) and
   * `extra` sends already promised after the last header observation.
   */
  private earliest(
    t: number,
    log: readonly number[],
    dayCount: number,
    sentSinceObs: (since: number) => number,
  ): number {
    return this.earliestWhy(t, log, dayCount, sentSinceObs).at;
  }

  /** earliest() and the window that decided it (for rate_wait events). */
  private earliestWhy(
    t: number,
    log: readonly number[],
    dayCount: number,
    sentSinceObs: (since: number) => number,
  ): { at: number; reason: RateWaitReason } {
    const { perMinute, perDay, windowMarginMs } = this.limits;
    let at = t;
    let reason: RateWaitReason = 'per_second';
    const later = (x: number, why: RateWaitReason): void => {
      if (x > at) {
        at = x;
        reason = why;
      }
    };
    later(this.blockedUntil, 'throttled');
    const n = log.length;
    const ps = this.perSecond;
    if (n >= ps) later((log[n - ps] as number) + 1000 + windowMarginMs, 'per_second');
    if (n >= perMinute) later((log[n - perMinute] as number) + 60_000 + windowMarginMs, 'per_minute');
    if (n > 0) later((log[n - 1] as number) + this.minGap, 'per_second');
    // Other consumers' calls (from Keap's counters) share the per-second window with ours.
    if (this.others.length > 0) {
      const kth = kthLatest(log, this.others, ps);
      if (kth !== undefined) later(kth + 1000 + windowMarginMs, 'keap_budget');
    }
    // Congestion control: below the ceiling, sends are spaced evenly at the current rate.
    const rate = this.aimd.rate(t);
    if (n > 0 && rate < this.aimd.opts.ceiling) later((log[n - 1] as number) + 1000 / rate, 'keap_budget');
    const dayOfAt = Math.floor(at / DAY_MS);
    if (dayOfAt === this.day && dayCount >= perDay) later((this.day + 1) * DAY_MS, 'per_day');
    for (const view of [this.throttle, this.tenant, this.quota]) {
      if (view && at < view.until && view.available - sentSinceObs(view.at) <= 0)
        later(view.until, 'keap_budget');
    }
    return { at, reason };
  }

  /** How long the `k`-th next slot (1 = the very next) is away from now; stops counting past `cap`. */
  estimateWaitMs(k: number, cap = Number.POSITIVE_INFINITY): number {
    const now = this.now();
    const log = this.sends.slice();
    let dayCount = this.day === Math.floor(now / DAY_MS) ? this.dayCount : 0;
    let t = now;
    for (let i = 0; i < k; i += 1) {
      t = this.earliest(t, log, dayCount, (since) => countSince(log, since));
      if (t - now > cap) return t - now;
      log.push(t);
      dayCount += 1;
    }
    return t - now;
  }

  /** Callers in acquire() without a slot yet, by lane (counted synchronously, unlike bottleneck's queues). */
  private readonly waiting = { read: 0, write: 0 };

  /** Slots that a new caller of this lane would wait behind (a write only waits for other writes). */
  private ahead(priority: 'read' | 'write'): number {
    return priority === 'write' ? this.waiting.write : this.waiting.write + this.waiting.read;
  }

  /**
   * Reserves a send slot: resolves when the request may leave. Throws KeapError 'rate_limited' (nothing sent)
   * when the wait would exceed maxWaitMs (or the smaller bound given, e.g. what is left of a call's total time).
   */
  async acquire(
    priority: 'read' | 'write',
    signal?: AbortSignal,
    maxWaitMs = this.maxWaitMs,
    onWait?: WaitListener,
  ): Promise<number> {
    if (this.stopped) throw new Error('limiter stopped');
    const bound = Math.min(maxWaitMs, this.maxWaitMs);
    const start = this.now();
    const deadline = start + bound;
    // Fast path: nobody queued ahead in this lane (nor a write, for a read) and a slot is free now — take it
    // synchronously. bottleneck costs a few event-loop turns per job, which is most of the client's overhead.
    if (signal?.aborted) throw signal.reason ?? new Error('aborted');
    if (this.ahead(priority) === 0 && !this.sharedConfig) {
      this.prune(start);
      if (
        this.earliest(start, this.sends, this.dayCount, (since) => countSince(this.sends, since)) <= start
      ) {
        this.record(start);
        return start;
      }
    }
    const ahead = this.ahead(priority);
    const est = this.estimateWaitMs(ahead + 1, bound);
    if (est > bound) throw rateLimitedError(est / 1000, 0, this.lastBudget);
    // Reporting: the expected slot time and why, refreshed by the lane job when it learns more.
    let expectedAt = start + est;
    let why: RateWaitReason = ahead > 0 || !onWait ? 'queue' : this.reasonNow(start);
    let ticker: ReturnType<typeof setInterval> | undefined;
    const report = (): void => {
      try {
        onWait?.(Math.max(0, Math.round(expectedAt - this.now())), why);
      } catch {
        // a listener never breaks the call
      }
    };
    if (onWait) {
      if (est >= REPORT_WAIT_MIN_MS) report();
      ticker = setInterval(report, REPORT_EVERY_MS);
      ticker.unref?.();
    }
    this.waiting[priority] += 1;
    try {
      return await this.lanes[priority].schedule(async (): Promise<number> => {
        // A shared slot this job missed (woken too late), given back with its next reservation.
        let missed: SharedSlot | undefined;
        let givenBack = 0;
        for (;;) {
          if (signal?.aborted) throw signal.reason ?? new Error('aborted');
          const now = this.now();
          this.prune(now);
          // Reads yield to any write that has no slot yet (its lane is serviced first).
          let at: number;
          if (priority === 'read' && this.waiting.write > 0) {
            at = now + Math.max(1, this.minGap);
            why = 'queue';
          } else {
            const e = this.earliestWhy(now, this.sends, this.dayCount, (since) =>
              countSince(this.sends, since),
            );
            at = e.at;
            why = e.reason;
          }
          expectedAt = at;
          if (at <= now && this.sharedConfig) {
            // Locally free: now the slot in the budget all replicas share (Redis's clock, atomic).
            const left = Math.max(0, deadline - now);
            const r = await this.reserveShared(Math.min(left, SHARED_BOOK_AHEAD_MS), missed);
            missed = undefined;
            if (!r.ok) {
              if (r.waitMs > left) throw rateLimitedError(r.waitMs / 1000, 0, this.lastBudget);
              // The shared window is full until then: ask again at that moment instead of booking a slot far
              // ahead. A slot booked a second early would be planned before the arrival corrections (arrived())
              // of the slots it follows reach Redis; booked just in time, it sees them.
              expectedAt = now + r.waitMs;
              why = 'queue';
              await sleep(r.waitMs, signal);
              continue;
            }
            if (r.waitMs > 0) {
              expectedAt = now + r.waitMs;
              why = 'queue';
              await sleep(r.waitMs, signal);
            }
            // Late for the slot — Redis's answer or the wake-up came late (a busy event loop): the other replicas
            // planned around it, and sending now could land in their window. Give it back with the next
            // reservation (shared-limit.ts) and take a new one; after a few in a row, send (the window margin and
            // arrival corrections still apply) rather than starve.
            if (
              this.now() - r.slot.plannedAt > this.limits.windowMarginMs / 2 &&
              givenBack < MAX_GIVEN_BACK
            ) {
              missed = r.slot;
              givenBack += 1;
              continue;
            }
            const sent = this.now();
            this.record(sent, r.slot);
            return sent;
          }
          if (at <= now) {
            this.record(now); // synchronous with the check above: two lanes can never take the same slot
            return now;
          }
          // Overtaken by writes or the budget shrank while queued: still never wait past the bound.
          if (at > deadline) throw rateLimitedError((at - now) / 1000, 0, this.lastBudget);
          await sleep(at - now, signal);
        }
      });
    } finally {
      this.waiting[priority] -= 1;
      if (ticker) clearInterval(ticker);
    }
  }

  private async reserveShared(maxWaitMs: number, missed?: SharedSlot): ReturnType<RedisBudget['reserve']> {
    const cfg = this.sharedConfig as SharedLimitConfig;
    this.sharedBudget ??= import('./shared-limit.js').then(
      (m) =>
        new m.RedisBudget({
          url: cfg.redisUrl,
          id: cfg.id,
          perSecond: this.perSecond,
          perMinute: this.limits.perMinute,
          perDay: this.limits.perDay,
          windowMarginMs: this.limits.windowMarginMs,
          minGapMs: this.minGap,
          ...(cfg.commandTimeoutMs !== undefined ? { commandTimeoutMs: cfg.commandTimeoutMs } : {}),
          ...(cfg.connectWaitMs !== undefined ? { connectWaitMs: cfg.connectWaitMs } : {}),
          now: this.now,
        }),
    );
    const budget = await this.sharedBudget;
    try {
      return await budget.reserve(0, maxWaitMs, missed);
    } catch {
      // Never unlimited pacing: without the shared budget nothing is sent.
      throw new SharedLimiterUnavailableError();
    }
  }

  /** The window that keeps the very next slot from being free at `now`. */
  private reasonNow(now: number): RateWaitReason {
    return this.earliestWhy(now, this.sends, this.dayCount, (since) => countSince(this.sends, since)).reason;
  }

  private prune(now: number): void {
    const cutoff = now - 60_000 - this.limits.windowMarginMs;
    let i = 0;
    while (i < this.sends.length && (this.sends[i] as number) <= cutoff) i += 1;
    if (i > 0) this.sends.splice(0, i);
    const oc = now - 1000 - this.limits.windowMarginMs;
    let j = 0;
    while (j < this.others.length && (this.others[j] as number) <= oc) j += 1;
    if (j > 0) this.others.splice(0, j);
  }

  /**
   * A response to the request sent in the slot taken at `sentAt` came back at `respondedAt`. Keap counts a
   * request when it arrives, which can be well after the slot was taken (a new connection's handshake, a
   * stalled event loop): the arrival is at most `respondedAt - minRtt` (the quickest round trip seen on this
   * credential). Slots of the last window are moved to that estimate when it is later than the slot, so the
   * 1 s window is counted the way Keap counts it; a later, quicker round trip sharpens earlier estimates.
   */
  arrived(sentAt: number, respondedAt: number): void {
    const rtt = Math.max(0, respondedAt - sentAt);
    if (rtt < this.minRtt) this.minRtt = rtt;
    const slot = this.slots.find((x) => x.sent === sentAt && x.responded === undefined);
    if (slot) slot.responded = respondedAt;
    const shared = slot?.shared;
    if (shared) {
      // From the slot's planned time, not from sentAt: the time Redis's answer took and the wait before sending
      // are lateness too (a slot counted too early lets another replica send into Keap's window).
      const late = respondedAt - this.minRtt - Math.min(sentAt, shared.plannedAt);
      if (late > 0) void this.sharedBudget?.then((b) => b.moved(shared, late)).catch(() => undefined);
    }
    const horizon = respondedAt - 2000 - this.limits.windowMarginMs;
    this.slots = this.slots.filter((x) => x.sent > horizon);
    for (const x of this.slots) {
      if (x.responded === undefined) continue;
      const est = Math.max(x.sent, x.responded - this.minRtt);
      if (est === x.at) continue;
      const i = this.sends.indexOf(x.at);
      if (i >= 0) this.sends.splice(i, 1);
      insertSorted(this.sends, est);
      x.at = est;
    }
  }

  private record(now: number, shared?: SharedSlot): void {
    insertSorted(this.sends, now);
    this.minuteCounter.sent(now);
    this.aimd.sent(now);
    this.dayCounter.sent(now);
    this.slots.push(shared ? { sent: now, at: now, shared } : { sent: now, at: now });
    // Slots never answered (failed sends) leave with the window.
    if (this.slots.length > 64) this.slots = this.slots.filter((x) => x.sent > now - 2000);
    const day = Math.floor(now / DAY_MS);
    if (day !== this.day) {
      this.day = day;
      this.dayCount = 0;
    }
    this.dayCount += 1;
  }

  /**
   * Keeps the local budget in step with Keap's x-keap-* headers of a response received at `now`. With `exchange`
   * (which request it answered), the counters also tell what other consumers of the credential sent: their calls
   * join the per-second window, and when they fill it together with ours, the rate comes down (congestion control).
   */
  observe(budget: KeapBudget, exchange?: Exchange): void {
    const now = this.now();
    // With the shared budget (Redis) the other replicas' calls are already in it: Keap's counters cannot tell
    // them from outside consumers, and counting them again here would pace every replica to a share of a share.
    // Congestion control still reacts to 429s (throttled()).
    if (exchange && !this.sharedConfig) this.observeOthers(budget, exchange, now);
    this.lastBudget = { ...this.lastBudget, ...budget };
    if (Object.keys(budget).length > 0) this.lastBudgetAt = now;
    const minuteEnd = (Math.floor(now / 60_000) + 1) * 60_000 + this.limits.windowMarginMs;
    if (budget.throttleAvailable !== undefined) {
      this.throttle = { available: budget.throttleAvailable, at: now, until: minuteEnd };
    }
    if (budget.tenantAvailable !== undefined) {
      this.tenant = { available: budget.tenantAvailable, at: now, until: minuteEnd };
    }
    if (budget.quotaAvailable !== undefined) {
      const until =
        budget.quotaExpiryMs !== undefined && budget.quotaExpiryMs > now
          ? budget.quotaExpiryMs
          : (Math.floor(now / DAY_MS) + 1) * DAY_MS;
      this.quota = { available: budget.quotaAvailable, at: now, until };
    }
  }

  private observeOthers(budget: KeapBudget, ex: Exchange, now: number): void {
    const refused = ex.status === 429;
    let fresh = 0;
    if (budget.throttleAvailable !== undefined) {
      const limit = ex.throttleLimit ?? this.limits.perMinute;
      fresh = this.minuteCounter.observed(ex.sentAt, refused, budget.throttleAvailable, limit);
    }
    if (budget.quotaAvailable !== undefined) {
      const day = this.dayCounter.observed(ex.sentAt, refused, budget.quotaAvailable, this.limits.perDay);
      fresh = Math.max(fresh, day);
    }
    // Keap counted them after our previous observed request and before this one arrived (its estimated arrival):
    // spread evenly over that interval (stamping them all at the end would overstate the window).
    const slot = this.slots.find((x) => x.sent === ex.sentAt);
    const at = Math.min(now, slot ? slot.at : ex.sentAt);
    const prev = this.lastObservedAt;
    if (at > prev) this.lastObservedAt = at;
    if (fresh <= 0) return;
    const ps = this.perSecond;
    const n = Math.min(fresh, ps);
    const from = Math.max(prev, at - 1000);
    for (let i = 1; i <= n; i += 1) insertSorted(this.others, from + ((at - from) * i) / n);
    this.prune(now);
    // Together with ours they fill Keap's per-second window: congestion, before any 429.
    const since = now - 1000;
    const own = countSince(this.sends, since + 1);
    const combined = own + countSince(this.others, since + 1);
    if (combined >= ps - 1 && this.aimd.signal(now, 'shared', Math.max(own, 1) / combined)) {
      this.onRate?.(this.aimd.rate(now), 'shared');
    }
  }

  /** After a 429: hold every send of this credential for a moment, and lower the rate (congestion control). */
  throttled(holdMs: number): void {
    const now = this.now();
    this.blockedUntil = Math.max(this.blockedUntil, now + holdMs);
    if (this.aimd.signal(now, 'loss')) this.onRate?.(this.aimd.rate(now), 'loss');
  }

  /** Told when congestion control lowers the rate (calls/s) and why. */
  onRate: ((rate: number, signal: 'loss' | 'shared') => void) | undefined;

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const shared = this.sharedBudget;
    this.sharedBudget = undefined;
    if (shared) await shared.then((b) => b.close()).catch(() => undefined);
    const lanes = this.lanesMade;
    if (lanes === undefined) return;
    await Promise.all(
      [lanes.read, lanes.write].map((l) => l.stop({ dropWaitingJobs: true }).catch(() => undefined)),
    );
  }
}

/** The `k`-th latest entry of the union of two ascending logs (undefined when they hold fewer than `k`). */
function kthLatest(a: readonly number[], b: readonly number[], k: number): number | undefined {
  if (a.length + b.length < k) return undefined;
  let i = a.length - 1;
  let j = b.length - 1;
  let v = 0;
  for (let n = 0; n < k; n += 1) {
    const x = i >= 0 ? (a[i] as number) : Number.NEGATIVE_INFINITY;
    const y = j >= 0 ? (b[j] as number) : Number.NEGATIVE_INFINITY;
    if (x >= y) {
      v = x;
      i -= 1;
    } else {
      v = y;
      j -= 1;
    }
  }
  return v;
}

function insertSortedBy(
  log: { sent: number; refused: boolean }[],
  v: { sent: number; refused: boolean },
): void {
  let i = log.length;
  while (i > 0 && (log[i - 1]?.sent as number) > v.sent) i -= 1;
  log.splice(i, 0, v);
}

/** Inserts `v` into the ascending `log` (usually at the end). */
function insertSorted(log: number[], v: number): void {
  let i = log.length;
  while (i > 0 && (log[i - 1] as number) > v) i -= 1;
  log.splice(i, 0, v);
}

/** Entries of the ascending `log` at or after `since` (binary search: the log holds up to a minute of sends). */
function countSince(log: readonly number[], since: number): number {
  let lo = 0;
  let hi = log.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((log[mid] as number) >= since) hi = mid;
    else lo = mid + 1;
  }
  return log.length - lo;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
