import { beforeEach, describe, expect, it } from 'vitest';
import { NO_LIMITS } from '../../src/sandbox/server.js';
import { call, control, expectDoc, useSandbox } from './core-http.js';

let base: string;
useSandbox((sb) => {
  base = sb.baseUrl;
});
beforeEach(async () => {
  await control(base, 'DELETE', '/faults');
  await control(base, 'DELETE', '/requests');
});

async function countNamed(name: string): Promise<number> {
  const r = await call(base, 'GET', '/v2/contacts', {
    query: { filter: `given_name==${name}`, page_size: 1000 },
  });
  return r.body.contacts.length;
}

describe('control surface', () => {
  it('status faults answer without effect, then the route works again; counters are exact', async () => {
    const f = await control(base, 'POST', '/faults', {
      method: 'POST',
      path: '/v2/contacts',
      status: 503,
      count: 2,
    });
    expect(f.status).toBe(201);
    const r1 = await call(base, 'POST', '/v2/contacts', {
      body: { given_name: 'Faulty', email_addresses: [{ email: 'faulty@example.com', field: 'EMAIL1' }] },
    });
    const r2 = await call(base, 'POST', '/v2/contacts', {
      body: { given_name: 'Faulty', email_addresses: [{ email: 'faulty@example.com', field: 'EMAIL1' }] },
    });
    const r3 = await call(base, 'POST', '/v2/contacts', {
      body: { given_name: 'Faulty', email_addresses: [{ email: 'faulty@example.com', field: 'EMAIL1' }] },
    });
    expect([r1.status, r2.status, r3.status]).toEqual([503, 503, 201]);
    expect(r1.body).toMatchObject({ code: 503, status: 'UNAVAILABLE' });
    // a GET on the same path is not matched by a POST rule
    const g = await call(base, 'GET', '/v2/contacts/1');
    expect(g.status).toBe(200);
    expect(await countNamed('Faulty')).toBe(1);
    const c = (await control(base, 'GET', '/requests')).body;
    expect(c.routes['POST /v2/contacts']).toEqual({
      count: 3,
      effective: 1,
      noEffect: 2,
      rateLimited: 0,
      authFailed: 0,
      faulted: 2,
      byStatus: { '201': 1, '503': 2 },
    });
    expect(c.routes['GET /v2/contacts/{contact_id}']).toMatchObject({ count: 1, effective: 1 });
    expect(c.routes['GET /v2/contacts']).toMatchObject({ count: 1 });
    expect(c.total).toBe(5);
    expect((await control(base, 'GET', '/faults')).body.faults).toEqual([]);
  });

  it('custom body, 429 default gateway body, globs', async () => {
    await control(base, 'POST', '/faults', { path: '/v2/tags/*', status: 418, body: { teapot: true } });
    const t = await call(base, 'GET', '/v2/tags/1/contacts');
    expect(t.status).toBe(418);
    expect(t.body).toEqual({ teapot: true });
    await control(base, 'POST', '/faults', { path: '/v2/users', status: 429 });
    const u = await call(base, 'GET', '/v2/users');
    expect(u.status).toBe(429);
    expect(u.body.fault.detail.errorcode).toBe('policies.ratelimit.QuotaViolation');
    expect((await call(base, 'GET', '/v2/users')).status).toBe(200);
  });

  it('reset before processing: connection dropped, no effect', async () => {
    await control(base, 'POST', '/faults', { method: 'POST', path: '/v2/contacts', reset: 'before' });
    await expect(
      call(base, 'POST', '/v2/contacts', {
        body: {
          given_name: 'ResetBefore',
          email_addresses: [{ email: 'resetbefore@example.com', field: 'EMAIL1' }],
        },
      }),
    ).rejects.toThrow();
    expect(await countNamed('ResetBefore')).toBe(0);
    const c = (await control(base, 'GET', '/requests')).body.routes['POST /v2/contacts'];
    expect(c).toMatchObject({ count: 1, effective: 0, noEffect: 1, faulted: 1, byStatus: { reset: 1 } });
  });

  it('reset after processing: connection dropped, but the contact exists', async () => {
    await control(base, 'POST', '/faults', { method: 'POST', path: '/v2/contacts', reset: 'after' });
    await expect(
      call(base, 'POST', '/v2/contacts', {
        body: {
          given_name: 'ResetAfter',
          email_addresses: [{ email: 'resetafter@example.com', field: 'EMAIL1' }],
        },
      }),
    ).rejects.toThrow();
    expect(await countNamed('ResetAfter')).toBe(1);
    const c = (await control(base, 'GET', '/requests')).body.routes['POST /v2/contacts'];
    expect(c).toMatchObject({ count: 1, effective: 1, faulted: 1, byStatus: { reset: 1 } });
  });

  it('latency and malformed JSON', async () => {
    await control(base, 'POST', '/faults', { path: '/v2/users', latencyMs: 300 });
    const t0 = Date.now();
    const slow = await call(base, 'GET', '/v2/users');
    expect(slow.status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expectDoc('v2', 'GET', '/v2/users', slow);

    await control(base, 'POST', '/faults', { path: '/v2/users', malformed: true });
    const bad = await call(base, 'GET', '/v2/users');
    expect(bad.status).toBe(200);
    expect(() => JSON.parse(bad.text)).toThrow();
    expect(bad.headers.get('content-type')).toContain('application/json');
  });

  it('rejects bad fault specs naming the field', async () => {
    const r = await control(base, 'POST', '/faults', { path: '/v2/x', reset: 'sometimes' });
    expect(r.status).toBe(400);
    expect(r.body.message).toContain('reset');
    const r2 = await control(base, 'POST', '/faults', { status: 500 });
    expect(r2.status).toBe(400);
    expect(r2.body.message).toContain('path');
  });

  it('ledger, events, config and reset', async () => {
    const ledger = await control(base, 'GET', '/ledger');
    expect(ledger.status).toBe(200);
    expect(Array.isArray(ledger.body.entries)).toBe(true);
    const created = await call(base, 'POST', '/v2/contacts', {
      body: { given_name: 'Evented', email_addresses: [{ email: 'evented@example.com', field: 'EMAIL1' }] },
    });
    const ev = (await control(base, 'GET', '/events')).body.events;
    expect(
      ev.some(
        (e: any) =>
          e.eventKey === 'contact.add' && String(e.id) === created.body.id && e.objectType === 'contact',
      ),
    ).toBe(true);
    const cfg = (await control(base, 'GET', '/config')).body;
    expect(cfg).toMatchObject({
      seed: 42,
      accessTokenTtlSec: 86400,
      limits: { patPerSecond: NO_LIMITS.patPerSecond },
      hookTimeoutMs: 30_000,
      hookSchedule: 'fast',
    });
    const badCfg = await control(base, 'POST', '/config', { limits: { patPerSecond: -1 } });
    expect(badCfg.status).toBe(400);
    expect(badCfg.body.message).toContain('limits.patPerSecond');

    await control(base, 'POST', '/reset');
    expect((await call(base, 'GET', `/v2/contacts/${created.body.id}`)).status).toBe(404);
    expect((await control(base, 'GET', '/events')).body.events).toEqual([]);
  });

  it('unknown paths: v2 Error envelope / v1 {message}', async () => {
    const v2 = await call(base, 'GET', '/v2/nothing-here');
    expect(v2.status).toBe(404);
    expect(v2.body).toMatchObject({
      code: 404,
      status: 'NOT_FOUND',
      message: expect.any(String),
      details: [],
    });
    const v1 = await call(base, 'GET', '/v1/nothing-here');
    expect(v1.status).toBe(404);
    expect(Object.keys(v1.body)).toEqual(['message']);
    const method = await call(base, 'PUT', '/v2/contacts');
    expect(method.status).toBe(405);
  });
});
