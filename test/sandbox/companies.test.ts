import { describe, expect, it } from 'vitest';
import { call, control, expectDoc, useSandbox } from './core-http.js';
import { validateRequest } from './openapi-helper.js';

let base: string;
useSandbox((sb) => {
  base = sb.baseUrl;
});

describe('companies', () => {
  it('lists ≥ 15 companies with the default subset, fields, filters and order_by', async () => {
    const r = await call(base, 'GET', '/v2/companies', { query: { page_size: 1000 } });
    expect(r.status).toBe(200);
    expectDoc('v2', 'GET', '/v2/companies', r);
    expect(r.body.companies.length).toBeGreaterThanOrEqual(15);
    expect(r.body.companies[0].address).toBeUndefined();

    const f = await call(base, 'GET', '/v2/companies', {
      query: { fields: 'company_name,address,email_address', page_size: 3 },
    });
    expectDoc('v2', 'GET', '/v2/companies', f);
    expect(Object.keys(f.body.companies[0]).sort()).toEqual([
      'address',
      'company_name',
      'email_address',
      'id',
    ]);

    const name = r.body.companies[0].company_name as string;
    const exact = await call(base, 'GET', '/v2/companies', { query: { filter: `company_name==${name}` } });
    expect(exact.body.companies.map((c: any) => c.company_name)).toEqual([name]);
    const prefix = name.slice(0, 3);
    const wild = await call(base, 'GET', '/v2/companies', {
      query: { filter: `name==${prefix.toLowerCase()}*` },
    });
    expect(wild.body.companies.length).toBeGreaterThan(0);
    for (const c of wild.body.companies)
      expect(c.company_name.toLowerCase().startsWith(prefix.toLowerCase())).toBe(true);
    const noWild = await call(base, 'GET', '/v2/companies', {
      query: { filter: `company_name==${prefix}*` },
    });
    expect(noWild.status).toBe(400);
    expect(noWild.body.message).toContain('company_name');

    const gt = await call(base, 'GET', '/v2/companies', {
      query: { filter: 'company_id>=10;company_id<12' },
    });
    expect(gt.body.companies.map((c: any) => c.id)).toEqual(['10', '11']);

    const ordered = await call(base, 'GET', '/v2/companies', {
      query: { order_by: 'name asc', page_size: 1000 },
    });
    const names = ordered.body.companies.map((c: any) => c.company_name.toLowerCase());
    expect(names).toEqual([...names].sort());

    const bad = await call(base, 'GET', '/v2/companies', { query: { order_by: 'revenue desc' } });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('revenue');
  });

  it('round trip: create, get, patch with update_mask, delete', async () => {
    const body = {
      company_name: 'Sandbox Test Co',
      email_address: { email: 'hello@sandboxtest.example.com', field: 'EMAIL1' },
      phone_number: { number: '(480) 555-0000', field: 'PHONE1' },
      address: {
        line1: '1 Main',
        locality: 'Chandler',
        region: 'Arizona',
        country_code: 'USA',
        postal_code: '85224',
      },
      website: 'https://sandboxtest.example.com',
    };
    expect(validateRequest('v2', 'POST', '/v2/companies', { body })).toEqual([]);
    const c = await call(base, 'POST', '/v2/companies', { body });
    expect(c.status, c.text).toBe(201);
    expectDoc('v2', 'POST', '/v2/companies', c);
    const id = c.body.id;
    const g = await call(base, 'GET', `/v2/companies/${id}`);
    expectDoc('v2', 'GET', '/v2/companies/{company_id}', g);
    expect(g.body.address.locality).toBe('Chandler');

    const p = await call(base, 'PATCH', `/v2/companies/${id}`, {
      query: { update_mask: 'website' },
      body: { website: 'https://new.example.com', company_name: 'Ignored' },
    });
    expect(p.status, p.text).toBe(200);
    expectDoc('v2', 'PATCH', '/v2/companies/{company_id}', p);
    expect(p.body.website).toBe('https://new.example.com');
    expect(p.body.company_name).toBe('Sandbox Test Co');
    const p2 = await call(base, 'PATCH', `/v2/companies/${id}`, { body: { notes: 'hi' } });
    expect(p2.body.notes).toBe('hi');

    const byCity = await call(base, 'GET', '/v2/companies', {
      query: { filter: 'city==Chan*;email==hello@sandboxtest.example.com' },
    });
    expect(byCity.body.companies.map((x: any) => x.id)).toEqual([id]);

    const events = (await control(base, 'GET', '/events')).body.events.filter(
      (e: any) => String(e.id) === id,
    );
    expect(events.map((e: any) => e.eventKey)).toEqual(['company.add', 'company.edit', 'company.edit']);

    const d = await call(base, 'DELETE', `/v2/companies/${id}`);
    expect(d.status).toBe(204);
    const gone = await call(base, 'GET', `/v2/companies/${id}`);
    expect(gone.status).toBe(404);
    expectDoc('v2', 'GET', '/v2/companies/{company_id}', gone);
  });

  it('rejects bad bodies and ids naming the field', async () => {
    for (const [b, field] of [
      [{ website: 'x' }, 'company_name'],
      [{ company_name: 7 }, 'company_name'],
      [{ company_name: 'X', email_address: { email: 'nope' } }, 'email_address.email'],
      [{ company_name: 'X', phone_number: { number: '1', field: 'PHONE9' } }, 'phone_number.field'],
      [{ company_name: 'X', owner_id: '4242' }, 'owner_id'],
    ] as const) {
      const r = await call(base, 'POST', '/v2/companies', { body: b });
      expect(r.status, JSON.stringify(b)).toBe(400);
      expect(r.body.message, JSON.stringify(b)).toContain(field);
      expectDoc('v2', 'POST', '/v2/companies', r);
    }
    const badId = await call(base, 'PATCH', '/v2/companies/0', { body: {} });
    expect(badId.status).toBe(400);
    expect(badId.body.message).toContain('company_id');
    const badMask = await call(base, 'PATCH', '/v2/companies/1', {
      query: { update_mask: 'revenue' },
      body: {},
    });
    expect(badMask.status).toBe(400);
    expect(badMask.body.message).toContain('update_mask');
  });
});
