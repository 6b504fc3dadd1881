/**
 * `update_mask` on the four PATCH operations the catalog covers: with a mask only the named properties change
 * (comma-joined or repeated); without one the sent properties change; a name outside the document's enum → 400
 * naming `update_mask`, nothing written.
 */
import { describe, expect, it } from 'vitest';
import { call, type Res, useSandbox } from './core-http.js';
import { loadSpec, specsAvailable, validateRequest } from './openapi-helper.js';

let base: string;
useSandbox((s) => {
  base = s.baseUrl;
});

interface PatchCase {
  template: string;
  path: string;
  /** Read the record (after a PATCH). */
  read: () => Promise<Res>;
  pick: (r: Res) => Record<string, unknown>;
  a: [string, unknown];
  b: [string, unknown];
}

const get = (path: string, query?: Record<string, string>) => call(base, 'GET', path, query ? { query } : {});

const CASES: PatchCase[] = [
  {
    template: '/v2/contacts/{contact_id}',
    path: '/v2/contacts/5',
    read: () => get('/v2/contacts/5'),
    pick: (r) => r.body,
    a: ['job_title', 'Masked Title'],
    b: ['spouse_name', 'Not Written'],
  },
  {
    template: '/v2/companies/{company_id}',
    path: '/v2/companies/4',
    read: () => get('/v2/companies/4'),
    pick: (r) => r.body,
    a: ['notes', 'Masked notes'],
    b: ['website', 'https://not-written.example.com'],
  },
  {
    template: '/v2/opportunities/{opportunity_id}',
    path: '/v2/opportunities/4',
    read: () => get('/v2/opportunities/4'),
    pick: (r) => r.body,
    a: ['opportunity_notes', 'Masked opportunity notes'],
    b: ['next_action_notes', 'Not written'],
  },
  {
    template: '/v2/tasks/{task_id}',
    path: '/v2/tasks/4',
    read: () => get('/v2/tasks', { filter: 'id==4' }),
    pick: (r) => r.body.tasks[0],
    a: ['title', 'Masked task title'],
    b: ['description', 'Not written'],
  },
];

function maskEnum(template: string): string[] {
  const op = loadSpec('v2')?.paths?.[`/rest${template}`]?.patch;
  const p = (op?.parameters ?? []).find((x: any) => x.name === 'update_mask');
  return p?.schema?.items?.enum ?? [];
}

describe.skipIf(!specsAvailable())('update_mask', () => {
  for (const c of CASES) {
    it(`${c.template}: only the masked property changes; unknown names → 400`, async () => {
      const enumValues = maskEnum(c.template);
      expect(enumValues).toContain(c.a[0]);
      expect(enumValues).toContain(c.b[0]);
      const before = c.pick(await c.read());
      const body = { [c.a[0]]: c.a[1], [c.b[0]]: c.b[1] };

      // an unknown name: 400 naming update_mask, nothing written
      const bad = await call(base, 'PATCH', c.path, { query: { update_mask: `${c.a[0]},shoe_size` }, body });
      expect(bad.status, bad.text).toBe(400);
      expect(bad.body.details[0].resource).toBe('update_mask');
      expect(bad.body.message).toContain('shoe_size');
      expect(c.pick(await c.read())[c.a[0]]).toEqual(before[c.a[0]]);

      // the mask names a: b is in the body but not written
      const q = { update_mask: c.a[0] };
      expect(validateRequest('v2', 'PATCH', c.template, { query: q, body })).toEqual([]);
      const r = await call(base, 'PATCH', c.path, { query: q, body });
      expect(r.status, r.text).toBe(200);
      const after = c.pick(await c.read());
      expect(after[c.a[0]]).toEqual(c.a[1]);
      expect(after[c.b[0]]).toEqual(before[c.b[0]]);

      // repeated and comma-joined forms name the same set
      const both = new URLSearchParams([
        ['update_mask', c.a[0]],
        ['update_mask', c.b[0]],
      ]);
      const body2 = { [c.a[0]]: `${String(c.a[1])} 2`, [c.b[0]]: c.b[1] };
      const r2 = await call(base, 'PATCH', c.path, { query: both, body: body2 });
      expect(r2.status, r2.text).toBe(200);
      const after2 = c.pick(await c.read());
      expect(after2[c.a[0]]).toEqual(`${String(c.a[1])} 2`);
      expect(after2[c.b[0]]).toEqual(c.b[1]);

      // no mask: the sent properties change
      const body3 = { [c.a[0]]: `${String(c.a[1])} 3` };
      const r3 = await call(base, 'PATCH', c.path, { body: body3 });
      expect(r3.status, r3.text).toBe(200);
      const after3 = c.pick(await c.read());
      expect(after3[c.a[0]]).toEqual(`${String(c.a[1])} 3`);
      expect(after3[c.b[0]]).toEqual(c.b[1]);
    });
  }

  it('a documented mask name that is not writable (id) is accepted and changes nothing else', async () => {
    const before = (await get('/v2/contacts/6')).body;
    const r = await call(base, 'PATCH', '/v2/contacts/6', {
      query: { update_mask: 'id,given_name' },
      body: { given_name: 'Maskedname', family_name: 'Unchanged?' },
    });
    expect(r.status, r.text).toBe(200);
    expect(r.body.id).toBe('6');
    expect(r.body.given_name).toBe('Maskedname');
    expect(r.body.family_name).toBe(before.family_name);
  });

  it('the mask reaches nested and custom field properties (custom_fields masked out is not written)', async () => {
    const model = (await get('/v2/contacts/model')).body.custom_fields;
    const text = model.find((f: any) => f.field_type === 'TEXT');
    const before = (await get('/v2/contacts/7')).body;
    const r = await call(base, 'PATCH', '/v2/contacts/7', {
      query: { update_mask: 'job_title' },
      body: { job_title: 'Only this', custom_fields: [{ id: text.id, content: 'masked out' }] },
    });
    expect(r.status, r.text).toBe(200);
    expect(r.body.custom_fields).toEqual(before.custom_fields);
    expect(r.body.job_title).toBe('Only this');
  });
});
