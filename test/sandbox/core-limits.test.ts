import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/sandbox/server.js';
import { call, control, useSandbox } from './core-http.js';

let base: string;
useSandbox(
  (sb) => {
    base = sb.baseUrl;
  },
  { limits: DEFAULT_LIMITS },
);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function nextUtcMidnight(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
}

async function contactCount(): Promise<number> {
  const r = await call(base, 'GET', '/v2/contacts', {
    key: `counter-${Math.random()}`,
    query: { page_size: 1000, fields: 'id' },
  });
  expect(r.status).toBe(200);
  return r.body.contacts.length;
}

describe('rate limits (PAT: 10/s, 240/min, 30,000/day)', () => {
  it('headers count down and the quota expires at the next UTC midnight', async () => {
    const key = 'headers-key';
    const startMinute = Math.floor(Date.now() / 60_000);
    for (let i = 1; i <= 3; i++) {
      const before = Date.now();
      const r = await call(base, 'GET', '/v2/users', { key });
      expect(r.status).toBe(200);
      expect(r.headers.get('x-keap-product-throttle-limit')).toBe('240');
      const used = Number(r.headers.get('x-keap-product-throttle-used'));
      // the per-minute window is the UTC minute: exact unless this loop straddles a minute boundary
      if (startMinute === Math.floor(Date.now() / 60_000)) {
        expect(used).toBe(i);
        expect(r.headers.get('x-keap-product-throttle-available')).toBe(String(240 - i));
      }
      expect(used + Number(r.headers.get('x-keap-product-throttle-available'))).toBe(240);
      expect(used).toBeLessThanOrEqual(i);
      expect(r.headers.get('x-keap-product-quota-limit')).toBe('30000');
      expect(r.headers.get('x-keap-product-quota-used')).toBe(String(i));
      expect(r.headers.get('x-keap-product-quota-available')).toBe(String(30000 - i));
      expect(Number(r.headers.get('x-keap-product-quota-expiry-time'))).toBe(nextUtcMidnight(before));
      expect(r.headers.get('x-keap-tenant-throttle-limit')).toBe('10000');
      expect(Number(r.headers.get('x-keap-tenant-throttle-available'))).toBeLessThan(10000);
    }
    // another key is another credential with its own buckets
    const other = await call(base, 'GET', '/v2/users', { key: 'other-key' });
    expect(other.headers.get('x-keap-product-throttle-used')).toBe('1');
  });

  it('a burst over 10/s gets 429 gateway faults and the throttled requests have no effect', async () => {
    await control(base, 'DELETE', '/requests');
    const before = await contactCount();
    const key = 'burst-key';
    const results = await Promise.all(
      Array.from({ length: 15 }, (_, i) =>
        call(base, 'POST', '/v2/contacts', {
          key,
          body: { given_name: `Burst${i}`, phone_numbers: [{ number: '555-0100', field: 'PHONE1' }] },
        }),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(10);
    const throttled = results.filter((r) => r.status === 429);
    expect(throttled).toHaveLength(5);
    for (const r of throttled) {
      expect(r.body).toEqual({
        fault: {
          faultstring: expect.any(String),
          detail: { errorcode: 'policies.ratelimit.SpikeArrestViolation' },
        },
      });
      expect(r.headers.get('x-keap-product-throttle-limit')).toBe('240');
    }
    expect(await contactCount()).toBe(before + 10);
    const counters = (await control(base, 'GET', '/requests')).body;
    expect(counters.routes['POST /v2/contacts']).toMatchObject({
      count: 15,
      effective: 10,
      noEffect: 5,
      rateLimited: 5,
      byStatus: { '201': 10, '429': 5 },
    });
    const events = (await control(base, 'GET', '/events')).body.events.filter(
      (e: any) => e.eventKey === 'contact.add',
    );
    expect(events.length).toBe(10);
  });

  it('a client pacing 10/s (one request per 100 ms) is never throttled', async () => {
    const key = 'paced-key';
    for (let i = 0; i < 22; i++) {
      const r = await call(base, 'GET', '/v2/users', { key });
      expect(r.status, `request ${i}`).toBe(200);
      await sleep(100);
    }
  });

  it('the per-minute limit gives QuotaViolation (configurable at runtime)', async () => {
    const cfg = await control(base, 'POST', '/config', { limits: { patPerMinute: 5 } });
    expect(cfg.status).toBe(200);
    expect(cfg.body.limits.patPerMinute).toBe(5);
    try {
      const key = `minute-key-${Date.now()}`;
      const ok: number[] = [];
      let last: any;
      // 11 sequential calls: even if they straddle a minute boundary one side has ≥ 6 > 5
      for (let i = 0; i < 11; i++) {
        last = await call(base, 'GET', '/v2/users', { key });
        ok.push(last.status);
      }
      expect(ok.filter((s) => s === 429).length).toBeGreaterThanOrEqual(1);
      const r429 = last.status === 429 ? last : undefined;
      if (r429) {
        expect(r429.body.fault.detail.errorcode).toBe('policies.ratelimit.QuotaViolation');
        expect(r429.headers.get('x-keap-product-throttle-available')).toBe('0');
      }
    } finally {
      await control(base, 'POST', '/config', { limits: { patPerMinute: 240 } });
    }
  });

  it('the daily quota gives QuotaViolation', async () => {
    await control(base, 'POST', '/config', { limits: { patPerDay: 3 } });
    try {
      const key = 'daily-key';
      const s = [];
      for (let i = 0; i < 4; i++) s.push(await call(base, 'GET', '/v2/users', { key }));
      expect(s.map((r) => r.status)).toEqual([200, 200, 200, 429]);
      expect(s[3]!.body.fault.detail.errorcode).toBe('policies.ratelimit.QuotaViolation');
      expect(s[3]!.headers.get('x-keap-product-quota-available')).toBe('0');
    } finally {
      await control(base, 'POST', '/config', { limits: { patPerDay: 30000 } });
    }
  });

  it('OAuth tokens get OAuth limits in the headers', async () => {
    const auth = await call(base, 'GET', '/app/oauth/authorize', {
      key: null,
      query: {
        client_id: 'sandbox-client',
        redirect_uri: 'http://localhost/cb',
        response_type: 'code',
        scope: 'full',
      },
    });
    const code = new URL(auth.headers.get('location')!).searchParams.get('code')!;
    const tok = await call(base, 'POST', '/token', {
      key: null,
      form: {
        grant_type: 'authorization_code',
        code,
        client_id: 'sandbox-client',
        client_secret: 'sandbox-secret',
        redirect_uri: 'http://localhost/cb',
      },
    });
    const r = await call(base, 'GET', '/v2/users', { bearer: tok.body.access_token });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-keap-product-throttle-limit')).toBe('1500');
    expect(r.headers.get('x-keap-product-quota-limit')).toBe('150000');
  });
});
