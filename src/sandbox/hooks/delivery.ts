/**
 * REST Hook delivery — the sandbox's version of Keap's policy (keap-api.md §3.7):
 *  - the handshake POSTs to hookUrl with `X-Hook-Secret`; it succeeds only on HTTP 200 echoing the header;
 *  - only Verified hooks get events; events are batched per hook (≤ 1000 object keys per POST) and sent
 *    `hookDelayMs` after the first event of a batch;
 *  - a failed delivery (no answer within `hookTimeoutMs`, connection error, status < 200 or ≥ 400) is retried after
 *    `hookRetryDelaysMs[n]`; the 4th consecutive failure, or any 410, makes the hook Inactive (its queue is dropped);
 *  - `hookSchedule: 'keap'` replaces both delays with Keap's real schedule (see `hookDelayFor`);
 *  - close() and reset() stop all timers and abort requests in flight.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { SandboxApi, SandboxConfig, SbEvent, SbTable } from '../core/types.js';

export type HookStatus = 'Unverified' | 'Verified' | 'Inactive';

export interface HookRow {
  id: number;
  eventKey: string;
  hookUrl: string;
  status: HookStatus;
  /** The secret sent in the last handshake (checked by delayedVerify). */
  secret: string;
  /** Identity of this subscription's delivery queue (a reset that reuses the id gets a new token). */
  token: string;
  createdAt: string;
}

export interface HookObjectKey {
  id: number | string;
  apiUrl: string;
  timestamp: string;
}

export interface HookPayload {
  event_key: string;
  object_type: string;
  object_keys: HookObjectKey[];
}

/** Number of consecutive failed attempts after which a hook becomes Inactive. */
export const MAX_FAILURES = 4;
/** Most object keys in one POST. */
export const MAX_BATCH = 1000;
export const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_RETRY_DELAYS_MS = [200, 500, 1000] as const;
/** Keap's real retry delays after the 1st, 2nd and 3rd failure: 30–60 s, 5 min, 30 min. */
const KEAP_RETRY_DELAYS_MS = [-1, 5 * 60_000, 30 * 60_000] as const;

/** 30–60 s, uniformly. */
function keapJitterMs(random: () => number): number {
  return 30_000 + Math.floor(random() * 30_001);
}

/**
 * Delay before the next attempt of a batch: `failures` = 0 for the first attempt (after the change), n after the
 * n-th consecutive failure. 'fast' uses hookDelayMs / hookRetryDelaysMs; 'keap' uses Keap's real schedule
 * (first attempt 30–60 s after the change, retries +30–60 s, +5 min, +30 min).
 */
export function hookDelayFor(
  cfg: Pick<SandboxConfig, 'hookDelayMs' | 'hookRetryDelaysMs' | 'hookSchedule'>,
  failures: number,
  random: () => number = Math.random,
): number {
  if (cfg.hookSchedule === 'keap') {
    if (failures === 0) return keapJitterMs(random);
    const d = KEAP_RETRY_DELAYS_MS[Math.min(failures - 1, KEAP_RETRY_DELAYS_MS.length - 1)] ?? -1;
    return d < 0 ? keapJitterMs(random) : d;
  }
  if (failures === 0)
    return Number.isFinite(cfg.hookDelayMs) && cfg.hookDelayMs >= 0 ? cfg.hookDelayMs : 1000;
  const arr = cfg.hookRetryDelaysMs.length > 0 ? cfg.hookRetryDelaysMs : DEFAULT_RETRY_DELAYS_MS;
  return arr[Math.min(failures - 1, arr.length - 1)] ?? 1000;
}

const API_SEGMENTS: Record<string, string> = {
  contact: 'contacts',
  company: 'companies',
  contactGroup: 'tags',
  tag: 'tags',
  opportunity: 'opportunities',
  order: 'orders',
  invoice: 'orders',
  'invoice.payment': 'transactions',
  product: 'products',
  subscription: 'subscriptions',
  note: 'notes',
  task: 'tasks',
  appointment: 'appointments',
  user: 'users',
  leadsource: 'leadSources',
};

export function apiUrlFor(baseUrl: string, objectType: string, id: number | string): string {
  const seg = API_SEGMENTS[objectType] ?? `${objectType}s`;
  return `${baseUrl.replace(/\/$/, '')}/v1/${seg}/${encodeURIComponent(String(id))}`;
}

interface Queue {
  hookId: number;
  token: string;
  eventKey: string;
  objectType: string;
  pending: HookObjectKey[];
  /** The batch being (re)tried; kept until it is delivered or the hook goes Inactive. */
  batch?: HookObjectKey[];
  failures: number;
  timer?: NodeJS.Timeout;
  inflight: boolean;
}

interface AttemptResult {
  ok: boolean;
  status?: number;
  error?: string;
  /** The X-Hook-Secret header of the response. */
  echo?: string;
}

export interface DeliveryAttempt {
  hookId: number;
  eventKey: string;
  keys: number;
  at: string;
  status?: number;
  error?: string;
  ok: boolean;
}

export class HookEngine {
  private readonly queues = new Map<string, Queue>();
  private readonly controllers = new Set<AbortController>();
  /** Recent delivery attempts (newest last, capped) — for diagnostics. */
  readonly attempts: DeliveryAttempt[] = [];
  private closed = false;

  constructor(
    private readonly sb: SandboxApi,
    private readonly table: () => SbTable<HookRow>,
  ) {}

  private delayMs(): number {
    return hookDelayFor(this.sb.config(), 0);
  }

  private retryDelayMs(failures: number): number {
    return hookDelayFor(this.sb.config(), failures);
  }

  timeoutMs(): number {
    const v = this.sb.config().hookTimeoutMs;
    return v > 0 ? v : DEFAULT_TIMEOUT_MS;
  }

  newSecret(): string {
    return randomBytes(24).toString('hex');
  }

  newToken(): string {
    return randomUUID();
  }

  /** The handshake: POST to hookUrl with X-Hook-Secret; true when the receiver answers 200 echoing it. */
  async handshake(hookUrl: string, secret: string): Promise<boolean> {
    if (this.closed) return false;
    const res = await this.post(hookUrl, undefined, { 'X-Hook-Secret': secret });
    return res.ok && res.status === 200 && res.echo === secret;
  }

  /** Listener for sb.onEvent: queue the object for every Verified hook on that event key. */
  onEvent(ev: SbEvent): void {
    if (this.closed) return;
    for (const hook of this.table().all()) {
      if (hook.status !== 'Verified' || hook.eventKey !== ev.eventKey) continue;
      let q = this.queues.get(hook.token);
      if (!q) {
        q = {
          hookId: hook.id,
          token: hook.token,
          eventKey: ev.eventKey,
          objectType: ev.objectType,
          pending: [],
          failures: 0,
          inflight: false,
        };
        this.queues.set(hook.token, q);
      }
      q.pending.push({
        id: ev.id,
        apiUrl: apiUrlFor(this.sb.baseUrl, ev.objectType, ev.id),
        timestamp: ev.at,
      });
      if (!q.timer && !q.inflight && !q.batch) this.schedule(q, this.delayMs());
    }
  }

  /** Forget a hook's queue (deleted, re-pointed, or made Inactive). */
  drop(token: string): void {
    const q = this.queues.get(token);
    if (!q) return;
    if (q.timer) clearTimeout(q.timer);
    this.queues.delete(token);
  }

  /** Stop every timer and abort requests in flight (reset). The engine stays usable. */
  clear(): void {
    for (const q of this.queues.values()) if (q.timer) clearTimeout(q.timer);
    this.queues.clear();
    for (const c of this.controllers) c.abort();
    this.controllers.clear();
  }

  /** Stop for good (server close). */
  close(): void {
    this.closed = true;
    this.clear();
  }

  private schedule(q: Queue, ms: number): void {
    if (this.closed) return;
    if (q.timer) clearTimeout(q.timer);
    q.timer = setTimeout(() => {
      q.timer = undefined;
      void this.flush(q);
    }, ms);
    q.timer.unref();
  }

  private current(q: Queue): HookRow | undefined {
    if (this.queues.get(q.token) !== q) return undefined;
    const hook = this.table().get(q.hookId);
    if (!hook || hook.token !== q.token || hook.status !== 'Verified') {
      this.drop(q.token);
      return undefined;
    }
    return hook;
  }

  private async flush(q: Queue): Promise<void> {
    if (this.closed || q.inflight) return;
    const hook = this.current(q);
    if (!hook) return;
    if (!q.batch) {
      if (q.pending.length === 0) return;
      q.batch = q.pending.splice(0, MAX_BATCH);
    }
    const payload: HookPayload = { event_key: q.eventKey, object_type: q.objectType, object_keys: q.batch };
    q.inflight = true;
    const res = await this.post(hook.hookUrl, payload, {});
    q.inflight = false;
    if (this.closed) return;
    this.attempts.push({
      hookId: q.hookId,
      eventKey: q.eventKey,
      keys: q.batch.length,
      at: this.sb.now().toISOString(),
      ok: res.ok,
      ...(res.status !== undefined ? { status: res.status } : {}),
      ...(res.error !== undefined ? { error: res.error } : {}),
    });
    if (this.attempts.length > 500) this.attempts.splice(0, this.attempts.length - 500);
    const now = this.current(q);
    if (!now) return;
    if (res.ok) {
      q.batch = undefined;
      q.failures = 0;
      if (q.pending.length > 0) this.schedule(q, q.pending.length >= MAX_BATCH ? 0 : this.delayMs());
      return;
    }
    q.failures++;
    if (res.status === 410 || q.failures >= MAX_FAILURES) {
      this.table().update(now.id, { status: 'Inactive' });
      this.drop(q.token);
      return;
    }
    this.schedule(q, this.retryDelayMs(q.failures));
  }

  private async post(
    url: string,
    payload: HookPayload | undefined,
    headers: Record<string, string>,
  ): Promise<AttemptResult> {
    const controller = new AbortController();
    this.controllers.add(controller);
    const timer = setTimeout(() => controller.abort(), this.timeoutMs());
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: payload === undefined ? '' : JSON.stringify(payload),
        signal: controller.signal,
        redirect: 'manual',
      });
      const echo = res.headers.get('x-hook-secret') ?? undefined;
      await res.arrayBuffer().catch(() => undefined);
      const ok = res.status >= 200 && res.status < 400;
      return ok
        ? { ok: true, status: res.status, ...(echo !== undefined ? { echo } : {}) }
        : { ok: false, status: res.status };
    } catch (err) {
      return {
        ok: false,
        error: controller.signal.aborted ? 'timeout' : err instanceof Error ? err.message : 'error',
      };
    } finally {
      clearTimeout(timer);
      this.controllers.delete(controller);
    }
  }
}
