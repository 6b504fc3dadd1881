/**
 * Rate limits, as Keap's gateway applies them (keap-api.md §3.6), per credential:
 *  - PAT/SAK: `patPerSecond` (10) and `spikePerSecond` (25) per second, `patPerMinute` (240), `patPerDay` (30,000);
 *  - OAuth (per client): `spikePerSecond`, `oauthPerMinute` (1,500), `oauthPerDay` (150,000);
 *  - the tenant (all credentials together): `tenantPerMinute` (10,000).
 *
 * Windows (precise): the per-second limits are SLIDING windows of exactly 1000 ms — a request at time t is allowed
 * when fewer than N accepted requests of that credential have timestamps in (t-1000 ms, t]. A client pacing one
 * request every 1000/N ms therefore never trips it; N+1 requests inside any 1000 ms do. The per-minute limits are
 * fixed windows aligned to the UTC minute (floor(t / 60000)); the daily quota is the UTC day (resets 00:00 UTC, which is
 * `x-keap-product-quota-expiry-time`, epoch ms). Only accepted requests are counted; a 429 consumes nothing and
 * the rejected request has no effect.
 */
import type { SandboxLimits } from './types.js';

export const DEFAULT_LIMITS: SandboxLimits = {
  patPerSecond: 10,
  patPerMinute: 240,
  patPerDay: 30_000,
  oauthPerMinute: 1_500,
  oauthPerDay: 150_000,
  spikePerSecond: 25,
  tenantPerMinute: 10_000,
};

interface CredWindow {
  recent: number[];
  minute: number;
  minuteCount: number;
  day: number;
  dayCount: number;
}

export interface LimitDecision {
  ok: boolean;
  /** Which limit was hit (when !ok). */
  violation?: 'spike' | 'second' | 'minute' | 'day' | 'tenant';
  headers: Record<string, string>;
}

const DAY_MS = 86_400_000;

export class RateLimiter {
  private creds = new Map<string, CredWindow>();
  private tenantMinute = -1;
  private tenantCount = 0;

  constructor(private readonly getLimits: () => SandboxLimits) {}

  clear(): void {
    this.creds.clear();
    this.tenantMinute = -1;
    this.tenantCount = 0;
  }

  /** Count a request of this credential at time `now` (ms) if it is within every limit. */
  take(credentialId: string, kind: 'pat' | 'oauth', now: number): LimitDecision {
    const lim = this.getLimits();
    let w = this.creds.get(credentialId);
    if (!w) {
      w = { recent: [], minute: -1, minuteCount: 0, day: -1, dayCount: 0 };
      this.creds.set(credentialId, w);
    }
    const minute = Math.floor(now / 60_000);
    const day = Math.floor(now / DAY_MS);
    if (w.minute !== minute) {
      w.minute = minute;
      w.minuteCount = 0;
    }
    if (w.day !== day) {
      w.day = day;
      w.dayCount = 0;
    }
    if (this.tenantMinute !== minute) {
      this.tenantMinute = minute;
      this.tenantCount = 0;
    }
    const cutoff = now - 1000;
    while (w.recent.length > 0 && (w.recent[0] as number) <= cutoff) w.recent.shift();

    const perMinute = kind === 'pat' ? lim.patPerMinute : lim.oauthPerMinute;
    const perDay = kind === 'pat' ? lim.patPerDay : lim.oauthPerDay;
    let violation: LimitDecision['violation'];
    if (w.recent.length >= lim.spikePerSecond) violation = 'spike';
    else if (kind === 'pat' && w.recent.length >= lim.patPerSecond) violation = 'second';
    else if (w.dayCount >= perDay) violation = 'day';
    else if (w.minuteCount >= perMinute) violation = 'minute';
    else if (this.tenantCount >= lim.tenantPerMinute) violation = 'tenant';

    if (!violation) {
      w.recent.push(now);
      w.minuteCount += 1;
      w.dayCount += 1;
      this.tenantCount += 1;
    }
    const headers: Record<string, string> = {
      'x-keap-product-throttle-limit': String(perMinute),
      'x-keap-product-throttle-time-unit': 'minute',
      'x-keap-product-throttle-interval': '1',
      'x-keap-product-throttle-available': String(Math.max(0, perMinute - w.minuteCount)),
      'x-keap-product-throttle-used': String(w.minuteCount),
      'x-keap-product-quota-limit': String(perDay),
      'x-keap-product-quota-time-unit': 'day',
      'x-keap-product-quota-interval': '1',
      'x-keap-product-quota-available': String(Math.max(0, perDay - w.dayCount)),
      'x-keap-product-quota-used': String(w.dayCount),
      'x-keap-product-quota-expiry-time': String((day + 1) * DAY_MS),
      'x-keap-product-spike-limit': `${kind === 'pat' ? Math.min(lim.patPerSecond, lim.spikePerSecond) : lim.spikePerSecond}ps`,
      'x-keap-tenant-throttle-limit': String(lim.tenantPerMinute),
      'x-keap-tenant-throttle-time-unit': 'minute',
      'x-keap-tenant-throttle-interval': '1',
      'x-keap-tenant-throttle-available': String(Math.max(0, lim.tenantPerMinute - this.tenantCount)),
      'x-keap-tenant-throttle-used': String(this.tenantCount),
    };
    return violation ? { ok: false, violation, headers } : { ok: true, headers };
  }
}

/** Gateway fault for a throttled request. */
export function throttleFault(
  v: NonNullable<LimitDecision['violation']>,
  perSecond = 10,
): {
  fault: { faultstring: string; detail: { errorcode: string } };
} {
  if (v === 'spike' || v === 'second') {
    return {
      fault: {
        faultstring: `Spike arrest violation. Allowed rate : MessageRate{messagesPerPeriod=${perSecond}, periodInMicroseconds=1000000}`,
        detail: { errorcode: 'policies.ratelimit.SpikeArrestViolation' },
      },
    };
  }
  return {
    fault: {
      faultstring: 'Rate limit quota violation. Quota limit  exceeded. Identifier : _default',
      detail: { errorcode: 'policies.ratelimit.QuotaViolation' },
    },
  };
}

/** Limits high enough never to trip (functional tests that are not about throttling). */
export const NO_LIMITS: SandboxLimits = {
  patPerSecond: 1_000_000,
  patPerMinute: 1_000_000_000,
  patPerDay: 1_000_000_000,
  oauthPerMinute: 1_000_000_000,
  oauthPerDay: 1_000_000_000,
  spikePerSecond: 1_000_000,
  tenantPerMinute: 1_000_000_000,
};
