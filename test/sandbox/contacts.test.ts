import { describe, expect, it } from 'vitest';
import { startSandbox } from '../../src/sandbox/server.js';
import { call, control, expectDoc, useSandbox } from './core-http.js';
import { specsAvailable, validateRequest, validateResponse } from './openapi-helper.js';

let base: string;
useSandbox((sb) => {
  base = sb.baseUrl;
});

async function walk(
  query: Record<string, string | number>,
  onPage?: (n: number) => Promise<void>,
): Promise<any[]> {
  const out: any[] = [];
  let token = '';
  for (let page = 0; page < 1000; page++) {
    const r = await call(base, 'GET', '/v2/contacts', {
      query: { ...query, ...(token ? { page_token: token } : {}) },
    });
    expect(r.status, r.text).toBe(200);
    expectDoc('v2', 'GET', '/v2/contacts', r);
    out.push(...r.body.contacts);
    token = r.body.next_page_token;
    if (onPage) await onPage(page);
    if (!token) break;
  }
  return out;
}

describe('contacts', () => {
  it('the validator can fail (guards against a vacuous judge)', () => {
    if (!specsAvailable()) return;
    expect(
      validateResponse('v2', 'GET', '/v2/contacts', 200, { contacts: [{ id: 5 }] }).length,
    ).toBeGreaterThan(0);
    expect(
      validateRequest('v2', 'GET', '/v2/contacts', { query: { page_size: 'x' } }).length,
    ).toBeGreaterThan(0);
    expect(
      validateRequest('v2', 'POST', '/v2/contacts', { body: { source_type: 'NOPE' } }).length,
    ).toBeGreaterThan(0);
  });

  it('round trip: create, read, patch with update_mask, fields, delete', async () => {
    const body = {
      given_name: 'Zed',
      family_name: 'Roundtrip',
      email_addresses: [{ email: 'zed.roundtrip@example.com', field: 'EMAIL1' }],
      phone_numbers: [{ number: '(480) 555-1212', field: 'PHONE1', type: 'Mobile' }],
      addresses: [
        {
          field: 'BILLING',
          line1: '1 Test St',
          locality: 'Chandler',
          region: 'Arizona',
          country_code: 'USA',
          postal_code: '85224',
        },
      ],
      company: { id: '1' },
      source_type: 'API',
    };
    expect(validateRequest('v2', 'POST', '/v2/contacts', { body })).toEqual([]);
    const created = await call(base, 'POST', '/v2/contacts', { body });
    expect(created.status, created.text).toBe(201);
    expectDoc('v2', 'POST', '/v2/contacts', created);
    const id = created.body.id;
    expect(typeof id).toBe('string');
    expect(created.body.company.id).toBe('1');

    const got = await call(base, 'GET', `/v2/contacts/${id}`);
    expect(got.status).toBe(200);
    expectDoc('v2', 'GET', '/v2/contacts/{contact_id}', got);
    expect(got.body.email_addresses[0].email).toBe('zed.roundtrip@example.com');

    // update_mask: only family_name is written even though given_name is in the body
    const q = { update_mask: 'family_name' };
    expect(
      validateRequest('v2', 'PATCH', '/v2/contacts/{contact_id}', {
        query: q,
        body: { given_name: 'Nope', family_name: 'Patched' },
      }),
    ).toEqual([]);
    const patched = await call(base, 'PATCH', `/v2/contacts/${id}`, {
      query: q,
      body: { given_name: 'Nope', family_name: 'Patched' },
    });
    expect(patched.status, patched.text).toBe(200);
    expectDoc('v2', 'PATCH', '/v2/contacts/{contact_id}', patched);
    expect(patched.body.family_name).toBe('Patched');
    expect(patched.body.given_name).toBe('Zed');
    // without a mask every given property is written
    const p2 = await call(base, 'PATCH', `/v2/contacts/${id}`, { body: { given_name: 'Zee' } });
    expect(p2.body.given_name).toBe('Zee');
    expect(p2.body.family_name).toBe('Patched');

    const sel = await call(base, 'GET', `/v2/contacts/${id}`, {
      query: { fields: 'given_name,email_addresses' },
    });
    expectDoc('v2', 'GET', '/v2/contacts/{contact_id}', sel);
    expect(Object.keys(sel.body).sort()).toEqual(['email_addresses', 'given_name', 'id']);

    const del = await call(base, 'DELETE', `/v2/contacts/${id}`);
    expect(del.status).toBe(204);
    expectDoc('v2', 'DELETE', '/v2/contacts/{contact_id}', del);
    const gone = await call(base, 'GET', `/v2/contacts/${id}`);
    expect(gone.status).toBe(404);
    expectDoc('v2', 'GET', '/v2/contacts/{contact_id}', gone);
    expect(gone.body).toMatchObject({ code: 404, status: 'NOT_FOUND' });

    const ev = await control(base, 'GET', '/events');
    const keys = ev.body.events.filter((e: any) => String(e.id) === id).map((e: any) => e.eventKey);
    expect(keys).toEqual(['contact.add', 'contact.edit', 'contact.edit', 'contact.delete']);
  });

  it('duplicate_option upserts by Email / EmailAndName', async () => {
    const body = {
      given_name: 'Dup',
      family_name: 'Licate',
      email_addresses: [{ email: 'dup.licate@example.com' }],
    };
    const a = await call(base, 'POST', '/v2/contacts', { query: { duplicate_option: 'Email' }, body });
    expect(a.status).toBe(201);
    const b = await call(base, 'POST', '/v2/contacts', {
      query: { duplicate_option: 'Email' },
      body: { ...body, job_title: 'Boss' },
    });
    expect(b.status).toBe(200);
    expectDoc('v2', 'POST', '/v2/contacts', b);
    expect(b.body.id).toBe(a.body.id);
    expect(b.body.job_title).toBe('Boss');
    // different name + EmailAndName → a new contact
    const c = await call(base, 'POST', '/v2/contacts', {
      query: { duplicate_option: 'EmailAndName' },
      body: { ...body, given_name: 'Other' },
    });
    expect(c.status).toBe(201);
    expect(c.body.id).not.toBe(a.body.id);
    const bad = await call(base, 'POST', '/v2/contacts', { query: { duplicate_option: 'Phone' }, body });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('duplicate_option');
    expectDoc('v2', 'POST', '/v2/contacts', bad);
  });

  it('rejects what the document rejects with 400 naming the field', async () => {
    const cases: [unknown, string][] = [
      [{ given_name: 42 }, 'given_name'],
      [{ given_name: 'A', source_type: 'CARRIER_PIGEON' }, 'source_type'],
      [{ email_addresses: [{ email: 'x@example.com', field: 'EMAIL9' }] }, 'email_addresses[0].field'],
      [{ email_addresses: [{ field: 'EMAIL1' }] }, 'email_addresses[0].email'],
      [{ given_name: 'A', utm_parameters: { utm_source: 'x' } }, 'utm_parameters.keap_source_id'],
      [{ given_name: 'A', birth_date: 'yesterday' }, 'birth_date'],
      [{ given_name: 'A', owner_id: '99999' }, 'owner_id'],
      [{ given_name: 'A', company: { id: '99999' } }, 'company.id'],
    ];
    for (const [body, field] of cases) {
      const r = await call(base, 'POST', '/v2/contacts', { body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.message, JSON.stringify(body)).toContain(field);
      expect(r.body).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
      expectDoc('v2', 'POST', '/v2/contacts', r);
    }
    // the document agrees for the schema-level ones
    for (const [body] of [...cases.slice(0, 3), cases[4]!]) {
      if (specsAvailable())
        expect(
          validateRequest('v2', 'POST', '/v2/contacts', { body }).length,
          JSON.stringify(body),
        ).toBeGreaterThan(0);
    }
    const badId = await call(base, 'GET', '/v2/contacts/abc');
    expect(badId.status).toBe(400);
    expect(badId.body.message).toContain('contact_id');
    const notJson = await fetch(`${base}/v2/contacts`, {
      method: 'POST',
      headers: { 'x-keap-api-key': 'k', 'content-type': 'application/json' },
      body: '{"given_name":',
    });
    expect(notJson.status).toBe(400);
    const badMask = await call(base, 'PATCH', '/v2/contacts/1', {
      query: { update_mask: 'shoe_size' },
      body: {},
    });
    expect(badMask.status).toBe(400);
    expect(badMask.body.message).toContain('update_mask');
    const badFields = await call(base, 'GET', '/v2/contacts', { query: { fields: 'shoe_size' } });
    expect(badFields.status).toBe(400);
    expect(badFields.body.message).toContain('fields');
    const size = await call(base, 'GET', '/v2/contacts', { query: { page_size: 1001 } });
    expect(size.status).toBe(400);
    expect(size.body.message).toContain('page_size');
  });

  it('paging walks every contact exactly once with page_size 7', async () => {
    const all = await walk({ page_size: 7 });
    const ids = all.map((c) => c.id);
    expect(ids.length).toBeGreaterThanOrEqual(200);
    expect(new Set(ids).size).toBe(ids.length);
    const sorted = [...ids].sort((a, b) => Number(a) - Number(b));
    expect(ids).toEqual(sorted);
    const count = ids.length;
    // ordered by email desc, same set
    const byEmail = await walk({ page_size: 7, order_by: 'email desc' });
    expect(byEmail.length).toBe(count);
    expect(new Set(byEmail.map((c) => c.id))).toEqual(new Set(ids));
  });

  it('paging stays exact while contacts are inserted and deleted during the walk', async () => {
    const before = (await walk({ page_size: 1000 })).map((c) => c.id);
    const deleted: string[] = [];
    const inserted: string[] = [];
    const seen = await walk({ page_size: 7, order_by: 'create_time desc' }, async (page) => {
      if (page % 3 === 0 && page < 15) {
        const r = await call(base, 'POST', '/v2/contacts', { body: { given_name: `Walker${page}` } });
        inserted.push(r.body.id);
        // delete one contact we have not reached yet (the oldest remaining)
        const victim = before[deleted.length];
        if (victim) {
          await call(base, 'DELETE', `/v2/contacts/${victim}`);
          deleted.push(victim);
        }
      }
    });
    const seenIds = seen.map((c) => c.id);
    expect(new Set(seenIds).size).toBe(seenIds.length);
    const stable = before.filter((id) => !deleted.includes(id));
    for (const id of stable) expect(seenIds).toContain(id);
    for (const id of deleted) expect(seenIds).not.toContain(id);
  });

  it('filters, wildcards, operators and order_by', async () => {
    const r1 = await call(base, 'GET', '/v2/contacts', {
      query: { filter: 'given_name==Mar*', page_size: 1000 },
    });
    expect(r1.status).toBe(200);
    expectDoc('v2', 'GET', '/v2/contacts', r1);
    expect(r1.body.contacts.length).toBeGreaterThan(0);
    for (const c of r1.body.contacts) expect(c.given_name.startsWith('Mar')).toBe(true);
    expect(r1.body.contacts.some((c: any) => c.given_name === 'Mary')).toBe(true);
    expect(r1.body.contacts.some((c: any) => c.given_name !== 'Mary')).toBe(true);

    const r2 = await call(base, 'GET', '/v2/contacts', {
      query: { filter: 'given_name==Mary', page_size: 1000 },
    });
    for (const c of r2.body.contacts) expect(c.given_name).toBe('Mary');

    const r3 = await call(base, 'GET', '/v2/contacts', {
      query: { filter: 'contact_id>200;contact_id<=205' },
    });
    expect(r3.body.contacts.map((c: any) => c.id)).toEqual(['201', '202', '203', '204', '205']);

    const r4 = await call(base, 'GET', '/v2/contacts', { query: { filter: 'ids==150,155,160' } });
    expect(r4.body.contacts.map((c: any) => c.id)).toEqual(['150', '155', '160']);

    const r5 = await call(base, 'GET', '/v2/contacts', {
      query: { filter: 'city==Chandler;state==Arizona', page_size: 1000 },
    });
    expect(r5.body.contacts.length).toBeGreaterThan(0);
    for (const c of r5.body.contacts) expect(c.addresses[0].locality).toBe('Chandler');

    const r6 = await call(base, 'GET', '/v2/contacts', { query: { order_by: 'email asc', page_size: 1000 } });
    const emails = r6.body.contacts
      .map((c: any) => c.email_addresses[0]?.email?.toLowerCase())
      .filter((e: any) => e !== undefined);
    expect(emails).toEqual([...emails].sort());

    const r7 = await call(base, 'GET', '/v2/contacts', { query: { order_by: 'id desc', page_size: 3 } });
    const ids7 = r7.body.contacts.map((c: any) => Number(c.id));
    expect(ids7[0]).toBeGreaterThan(ids7[1]);

    const email = r1.body.contacts[0].email_addresses[0].email;
    const r8 = await call(base, 'GET', '/v2/contacts', { query: { filter: `email==${email}` } });
    expect(r8.body.contacts.map((c: any) => c.id)).toContain(r1.body.contacts[0].id);

    const since = '2024-06-01T00:00:00.000Z';
    const r9 = await call(base, 'GET', '/v2/contacts', {
      query: { filter: `start_update_time==${since}`, page_size: 1000 },
    });
    for (const c of r9.body.contacts)
      expect(Date.parse(c.update_time)).toBeGreaterThanOrEqual(Date.parse(since));
  });

  it('bad filter / order_by get 400 naming the field, never a silent match-all', async () => {
    const bad: [Record<string, string>, string][] = [
      [{ filter: 'shoe_size==9' }, 'shoe_size'],
      [{ filter: 'given_name>Mary' }, 'given_name'],
      [{ filter: 'given_name' }, 'filter'],
      [{ filter: 'contact_id>abc' }, 'contact_id'],
      [{ filter: 'company_id==12*' }, 'company_id'],
      [{ filter: 'phone_number==5551212' }, 'phone_fields'],
      [{ order_by: 'shoe_size asc' }, 'shoe_size'],
      [{ order_by: 'email sideways' }, 'order_by'],
      [{ page_token: 'garbage' }, 'page_token'],
    ];
    for (const [query, field] of bad) {
      const r = await call(base, 'GET', '/v2/contacts', { query });
      expect(r.status, JSON.stringify(query)).toBe(400);
      expect(r.body.message, JSON.stringify(query)).toContain(field);
      expectDoc('v2', 'GET', '/v2/contacts', r);
    }
  });

  it('seed is deterministic per seed number and reset restores it', async () => {
    const other = await startSandbox({ port: 0, seed: 42 });
    const a = await call(other.baseUrl, 'GET', '/v2/contacts', {
      query: { page_size: 5, fields: 'given_name,email_addresses' },
    });
    const third = await startSandbox({ port: 0, seed: 7 });
    const c = await call(third.baseUrl, 'GET', '/v2/contacts', {
      query: { page_size: 5, fields: 'given_name,email_addresses' },
    });
    await other.close();
    await third.close();
    await control(base, 'POST', '/reset');
    const b = await call(base, 'GET', '/v2/contacts', {
      query: { page_size: 5, fields: 'given_name,email_addresses' },
    });
    expect(b.body).toEqual(a.body);
    expect(c.body).not.toEqual(a.body);
    const all = await walk({ page_size: 1000 });
    expect(all.length).toBe(220);
    const withEmail = all.filter((x) => x.email_addresses.length > 0);
    expect(withEmail.length).toBeGreaterThan(200);
    expect(all.filter((x) => x.phone_numbers.length > 0).length).toBe(220);
    expect(all.filter((x) => x.addresses.length > 0).length).toBe(220);
    expect(all.filter((x) => x.tag_ids.length > 0).length).toBeGreaterThan(100);
  });
});
