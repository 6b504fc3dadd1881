import { describe, expect, it } from 'vitest';
import { call, expectDoc, useSandbox } from './core-http.js';

let base: string;
useSandbox((sb) => {
  base = sb.baseUrl;
});

describe('users', () => {
  it('lists users (page_size 1–100) with filters', async () => {
    const r = await call(base, 'GET', '/v2/users');
    expect(r.status).toBe(200);
    expectDoc('v2', 'GET', '/v2/users', r);
    expect(r.body.users.length).toBeGreaterThanOrEqual(3);
    expect(r.body.users[0].id).toBe('1');

    const all = await call(base, 'GET', '/v2/users', {
      query: { filter: 'include_inactive==true;include_partners==true' },
    });
    expect(all.body.users.length).toBeGreaterThan(r.body.users.length);

    const p = await call(base, 'GET', '/v2/users', { query: { page_size: 1 } });
    expect(p.body.users).toHaveLength(1);
    const p2 = await call(base, 'GET', '/v2/users', {
      query: { page_size: 1, page_token: p.body.next_page_token },
    });
    expect(p2.body.users[0].id).not.toBe(p.body.users[0].id);

    for (const size of [0, 101]) {
      const bad = await call(base, 'GET', '/v2/users', { query: { page_size: size } });
      expect(bad.status).toBe(400);
      expect(bad.body.message).toContain('page_size');
      expectDoc('v2', 'GET', '/v2/users', bad);
    }
    const byName = await call(base, 'GET', '/v2/users', {
      query: { filter: `given_name==${r.body.users[1].given_name}` },
    });
    expect(byName.body.users.map((u: any) => u.id)).toEqual([r.body.users[1].id]);
    const byIds = await call(base, 'GET', '/v2/users', { query: { filter: 'user_ids==1,3' } });
    expect(byIds.body.users.map((u: any) => u.id)).toEqual(['1', '3']);

    const one = await call(base, 'GET', '/v2/users/2');
    expectDoc('v2', 'GET', '/v2/users/{user_id}', one);
    expect(one.body.id).toBe('2');
  });

  it('userinfo is the credential’s own user', async () => {
    const r = await call(base, 'GET', '/v2/oauth/connect/userinfo');
    expect(r.status).toBe(200);
    expectDoc('v2', 'GET', '/v2/oauth/connect/userinfo', r);
    expect(r.body.sub).toBe('1');
    expect(r.body.email).toMatch(/@/);
    expect(r.body.is_admin).toBe(true);
  });
});
