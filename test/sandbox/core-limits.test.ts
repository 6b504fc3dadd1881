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

async function oauthToken(): Promise<string> {
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
  return tok.body.access_token as string;
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

  it('the tenant limit (10,000/min) is shared by all credentials, counts down, and a 429 over it has no effect', async () => {
    // Default headers: the tenant budget counts down by exactly one per accepted request, whoever sends it.
    const minute = Math.floor(Date.now() / 60_000);
    const a = await call(base, 'GET', '/v2/users', { key: `tenant-a-${Date.now()}` });
    const b = await call(base, 'GET', '/v2/users', { key: `tenant-b-${Date.now()}` });
    expect(a.headers.get('x-keap-tenant-throttle-limit')).toBe('10000');
    if (Math.floor(Date.now() / 60_000) === minute)
      expect(Number(b.headers.get('x-keap-tenant-throttle-available'))).toBe(
        Number(a.headers.get('x-keap-tenant-throttle-available')) - 1,
      );

    await control(base, 'POST', '/config', { limits: { tenantPerMinute: 4 } });
    try {
      // Wait for a fresh UTC minute when too close to its end, so the window is one minute for the whole test.
      const left = 60_000 - (Date.now() % 60_000);
      if (left < 3000) await sleep(left + 50);
      await control(base, 'DELETE', '/requests');
      const adds = async () =>
        (await control(base, 'GET', '/events')).body.events.filter((e: any) => e.eventKey === 'contact.add')
          .length as number;
      const addsBefore = await adds();
      const before = await call(base, 'GET', '/v2/users', { key: `tenant-probe-${Date.now()}` });
      const used = 4 - Number(before.headers.get('x-keap-tenant-throttle-available'));
      const results = [];
      // Every request from a DIFFERENT key: no per-credential limit is anywhere near, only the tenant's.
      for (let i = 0; i < 6; i++)
        results.push(
          await call(base, 'POST', '/v2/contacts', {
            key: `tenant-${i}-${Date.now()}`,
            body: {
              given_name: `Tenant${i}`,
              email_addresses: [{ email: `tenant${i}@example.com`, field: 'EMAIL1' }],
            },
          }),
        );
      const accepted = results.filter((r) => r.status === 201).length;
      expect(accepted).toBe(Math.max(0, 4 - used));
      const throttled = results.filter((r) => r.status === 429);
      expect(throttled.length).toBe(6 - accepted);
      for (const r of throttled) {
        expect(r.body.fault.detail.errorcode).toBe('policies.ratelimit.QuotaViolation');
        expect(r.headers.get('x-keap-tenant-throttle-limit')).toBe('4');
        expect(r.headers.get('x-keap-tenant-throttle-available')).toBe('0');
        // the credential itself still has its whole budget: this is the tenant's limit
        expect(r.headers.get('x-keap-product-throttle-used')).toBe('0');
      }
      const n = (await control(base, 'GET', '/requests')).body;
      expect(n.routes['POST /v2/contacts']).toMatchObject({ effective: accepted, rateLimited: 6 - accepted });
      expect(await adds()).toBe(addsBefore + accepted); // only the accepted requests had an effect
    } finally {
      await control(base, 'POST', '/config', { limits: { tenantPerMinute: 10_000 } });
    }
  });

  it('every response carries the throttle, quota and tenant headers (errors and 429s too)', async () => {
    const names = [
      'x-keap-product-throttle-limit',
      'x-keap-product-throttle-available',
      'x-keap-product-throttle-used',
      'x-keap-product-quota-limit',
      'x-keap-product-quota-available',
      'x-keap-product-quota-used',
      'x-keap-product-quota-expiry-time',
      'x-keap-tenant-throttle-limit',
      'x-keap-tenant-throttle-available',
    ];
    const key = `every-${Date.now()}`;
    const rs = [
      await call(base, 'GET', '/v2/contacts/99999999', { key }), // 404
      await call(base, 'POST', '/v2/contacts', { key, body: { given_name: 1 } }), // 400
      await call(base, 'GET', '/v1/hooks', { key }), // v1
    ];
    expect(rs.map((r) => r.status)).toEqual([404, 400, 200]);
    await control(base, 'POST', '/config', { limits: { patPerDay: 3 } });
    try {
      rs.push(await call(base, 'GET', '/v2/users', { key })); // 429: the day's 3 are used
    } finally {
      await control(base, 'POST', '/config', { limits: { patPerDay: 30000 } });
    }
    expect(rs[3]?.status).toBe(429);
    for (const r of rs) for (const h of names) expect(r.headers.get(h), `${r.status} ${h}`).toMatch(/^\d+$/);
    expect(rs.map((r) => r.headers.get('x-keap-product-quota-used'))).toEqual(['1', '2', '3', '3']);
  });

  it('OAuth: the 25/s spike ceiling applies (a burst of 30 → 25 accepted, 5 SpikeArrest 429s)', async () => {
    const token = await oauthToken();
    const rs = await Promise.all(
      Array.from({ length: 30 }, () => call(base, 'GET', '/v2/users', { bearer: token })),
    );
    expect(rs.filter((r) => r.status === 200)).toHaveLength(25);
    const throttled = rs.filter((r) => r.status === 429);
    expect(throttled).toHaveLength(5);
    for (const r of throttled)
      expect(r.body.fault.detail.errorcode).toBe('policies.ratelimit.SpikeArrestViolation');
    await sleep(1100); // leave this client's 1 s window empty for the next test
  });

  it('OAuth tokens get OAuth limits in the headers', async () => {
    const r = await call(base, 'GET', '/v2/users', { bearer: await oauthToken() });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-keap-product-throttle-limit')).toBe('1500');
    expect(r.headers.get('x-keap-product-quota-limit')).toBe('150000');
  });
});
