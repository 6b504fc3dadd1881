/**
 * Custom fields: the models (`GET /v2/{resource}/model`, Keap's ObjectModel), the demo account's seeded values,
 * and writes that validate `content` against the field's type.
 */
import { describe, expect, it } from 'vitest';
import { call, expectDoc, type Res, useSandbox } from './core-http.js';

let base: string;
useSandbox((s) => {
  base = s.baseUrl;
});

const KINDS = [
  'contacts',
  'companies',
  'opportunities',
  'orders',
  'subscriptions',
  'tasks',
  'notes',
] as const;
type Def = {
  id: string;
  label: string;
  field_type: string;
  options: { id: string; label: string }[];
  record_type: string;
};

async function model(kind: string): Promise<Def[]> {
  const r = await call(base, 'GET', `/v2/${kind}/model`);
  expect(r.status, r.text).toBe(200);
  return r.body.custom_fields;
}

function expect400(r: Res, field: string): void {
  expect(r.status, r.text).toBe(400);
  expect(r.body.status).toBe('INVALID_ARGUMENT');
  expect(r.body.details[0]).toEqual({ domain: 'field', resource: field });
  expect(r.body.message).toContain(field);
}

function validFor(d: Def, v: unknown): boolean {
  switch (d.field_type) {
    case 'WHOLE_NUMBER':
    case 'YEAR':
      return Number.isInteger(v);
    case 'DECIMAL_NUMBER':
    case 'CURRENCY':
    case 'PERCENT':
      return typeof v === 'number';
    case 'DATE':
      return typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v);
    case 'YES_NO':
      return typeof v === 'boolean';
    case 'DROPDOWN':
    case 'RADIO':
      return d.options.some((o) => o.label === v);
    default:
      return typeof v === 'string';
  }
}

describe('custom field models', () => {
  it('every model route answers 200 in the documented shape, with the seeded definitions', async () => {
    const counts: Record<string, number> = {};
    for (const kind of KINDS) {
      const r = await call(base, 'GET', `/v2/${kind}/model`);
      expect(r.status, `${kind}: ${r.text}`).toBe(200);
      expectDoc('v2', 'GET', `/v2/${kind}/model`, r);
      expect(r.body.optional_properties).toContain('custom_fields');
      counts[kind] = r.body.custom_fields.length;
      for (const d of r.body.custom_fields) {
        expect(d.id).toMatch(/^\d+$/);
        expect(d.label).toBeTruthy();
        expect(d.field_name).toBeTruthy();
        if (d.field_type === 'DROPDOWN') expect(d.options.length).toBeGreaterThan(1);
      }
    }
    expect(counts.contacts).toBeGreaterThanOrEqual(5);
    expect(counts.companies).toBeGreaterThanOrEqual(2);
    expect(counts.opportunities).toBeGreaterThanOrEqual(2);
    for (const k of ['orders', 'subscriptions', 'tasks', 'notes'])
      expect(counts[k]).toBeGreaterThanOrEqual(1);
    const types = (await model('contacts')).map((d) => d.field_type);
    for (const t of ['TEXT', 'WHOLE_NUMBER', 'DATE', 'DROPDOWN', 'YES_NO']) expect(types).toContain(t);
    // tasks and notes share Keap's TASK_NOTE_APPOINTMENT record type
    expect(await model('tasks')).toEqual(await model('notes'));
    expect((await model('tasks'))[0]?.record_type).toBe('TASK_NOTE_APPOINTMENT');
    expect((await model('companies'))[0]?.record_type).toBe('COMPANY');
  });

  it('the demo account has values on many contacts, companies and opportunities, each valid for its field', async () => {
    const check = async (kind: string, list: any[], min: number): Promise<void> => {
      const defs = new Map((await model(kind)).map((d) => [d.id, d]));
      const withValues = list.filter((x) => (x.custom_fields ?? []).length > 0);
      expect(withValues.length, kind).toBeGreaterThanOrEqual(min);
      for (const x of withValues) {
        for (const f of x.custom_fields) {
          const d = defs.get(f.id);
          expect(d, `${kind} ${x.id} field ${f.id}`).toBeDefined();
          expect(validFor(d as Def, f.content), `${kind} ${x.id} ${JSON.stringify(f)}`).toBe(true);
        }
      }
    };
    const contacts = await call(base, 'GET', '/v2/contacts', {
      query: { fields: 'id,custom_fields', page_size: 1000 },
    });
    expectDoc('v2', 'GET', '/v2/contacts', contacts);
    await check('contacts', contacts.body.contacts, 80);
    const companies = await call(base, 'GET', '/v2/companies', { query: { fields: 'id,custom_fields' } });
    await check('companies', companies.body.companies, 8);
    const opps = await call(base, 'GET', '/v2/opportunities', {
      query: { fields: 'custom_fields', page_size: 1000 },
    });
    expectDoc('v2', 'GET', '/v2/opportunities', opps);
    await check('opportunities', opps.body.opportunities, 20);
    const orders = await call(base, 'GET', '/v2/orders', { query: { page_size: 1000 } });
    await check('orders', orders.body.orders, 3);
    const tasks = await call(base, 'GET', '/v2/tasks', {
      query: { fields: 'custom_fields', page_size: 1000 },
    });
    expectDoc('v2', 'GET', '/v2/tasks', tasks);
    await check('tasks', tasks.body.tasks, 3);
  });
});

describe('custom field values on writes', () => {
  it('contact: values of every type are stored; a PATCH merges by id and null clears one', async () => {
    const defs = await model('contacts');
    const by = (t: string) => defs.find((d) => d.field_type === t) as Def;
    const values = [
      { id: by('TEXT').id, content: 'Teal' },
      { id: by('WHOLE_NUMBER').id, content: 12 },
      { id: by('DATE').id, content: '2027-02-28' },
      { id: by('DROPDOWN').id, content: by('DROPDOWN').options[1]?.label },
      { id: by('YES_NO').id, content: false },
    ];
    const c = await call(base, 'POST', '/v2/contacts', {
      body: {
        given_name: 'Custom',
        email_addresses: [{ email: 'custom.fields@example.com', field: 'EMAIL1' }],
        custom_fields: values,
      },
    });
    expect(c.status, c.text).toBe(201);
    expectDoc('v2', 'POST', '/v2/contacts', c);
    expect(c.body.custom_fields).toEqual(values);
    const got = await call(base, 'GET', `/v2/contacts/${c.body.id}`, { query: { fields: 'custom_fields' } });
    expect(got.body.custom_fields).toEqual(values);

    // digit strings are accepted for a whole number (stored as a number)
    const p = await call(base, 'PATCH', `/v2/contacts/${c.body.id}`, {
      body: {
        custom_fields: [
          { id: by('WHOLE_NUMBER').id, content: '40' },
          { id: by('TEXT').id, content: null },
        ],
      },
    });
    expect(p.status, p.text).toBe(200);
    const after = new Map(p.body.custom_fields.map((f: any) => [f.id, f.content]));
    expect(after.get(by('WHOLE_NUMBER').id)).toBe(40);
    expect(after.has(by('TEXT').id)).toBe(false);
    expect(after.get(by('DATE').id)).toBe('2027-02-28');
    expect(after.get(by('YES_NO').id)).toBe(false);
  });

  it('a content of the wrong type, an unknown field or another model’s field → 400 naming it, nothing written', async () => {
    const defs = await model('contacts');
    const by = (t: string) => defs.find((d) => d.field_type === t) as Def;
    const company = (await model('companies'))[0] as Def;
    const before = await call(base, 'GET', '/v2/contacts/9', { query: { fields: 'custom_fields' } });
    const cases: [unknown, string][] = [
      [[{ id: by('WHOLE_NUMBER').id, content: 'abc' }], 'custom_fields[0].content'],
      [[{ id: by('WHOLE_NUMBER').id, content: 2.5 }], 'custom_fields[0].content'],
      [[{ id: by('DATE').id, content: '2027-13-01' }], 'custom_fields[0].content'],
      [[{ id: by('DATE').id, content: '03/15/2027' }], 'custom_fields[0].content'],
      [[{ id: by('DROPDOWN').id, content: 'Not An Option' }], 'custom_fields[0].content'],
      [[{ id: by('YES_NO').id, content: 'maybe' }], 'custom_fields[0].content'],
      [[{ id: by('TEXT').id, content: 5 }], 'custom_fields[0].content'],
      [
        [
          { id: by('TEXT').id, content: 'ok' },
          { id: '99999', content: 'x' },
        ],
        'custom_fields[1].id',
      ],
      [[{ id: company.id, content: 'Retail' }], 'custom_fields[0].id'],
      [[{ id: by('TEXT').id, content: 'x', extra: 1 }], 'custom_fields[0].extra'],
    ];
    for (const [custom_fields, field] of cases) {
      expect400(
        await call(base, 'PATCH', '/v2/contacts/9', { body: { custom_fields, job_title: 'Nope' } }),
        field,
      );
    }
    const after = await call(base, 'GET', '/v2/contacts/9', { query: { fields: 'custom_fields,job_title' } });
    expect(after.body.custom_fields).toEqual(before.body.custom_fields);
    expect(after.body.job_title).not.toBe('Nope');
  });

  it('companies, opportunities, orders, subscriptions, tasks and notes validate their own models', async () => {
    const company = await model('companies');
    const dropdown = company.find((d) => d.field_type === 'DROPDOWN') as Def;
    expect400(
      await call(base, 'PATCH', '/v2/companies/3', {
        body: { custom_fields: [{ id: dropdown.id, content: 'Mining' }] },
      }),
      'custom_fields[0].content',
    );
    const ok = await call(base, 'PATCH', '/v2/companies/3', {
      body: { custom_fields: [{ id: dropdown.id, content: dropdown.options[0]?.label }] },
    });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.custom_fields).toContainEqual({ id: dropdown.id, content: dropdown.options[0]?.label });

    const opp = await model('opportunities');
    const date = opp.find((d) => d.field_type === 'DATE') as Def;
    expect400(
      await call(base, 'PATCH', '/v2/opportunities/2', {
        body: { custom_fields: [{ id: date.id, content: 'soon' }] },
      }),
      'custom_fields[0].content',
    );
    const o = await call(base, 'PATCH', '/v2/opportunities/2', {
      query: { fields: 'custom_fields' },
      body: { custom_fields: [{ id: date.id, content: '2027-06-30' }] },
    });
    expect(o.status, o.text).toBe(200);
    expect(o.body.custom_fields).toContainEqual({ id: date.id, content: '2027-06-30' });

    const contactField = (await model('contacts'))[0] as Def;
    const foreign = [{ id: contactField.id, content: 'x' }];
    const now = '2027-01-02T03:04:05Z';
    expect400(
      await call(base, 'POST', '/v2/orders', {
        body: {
          contact_id: '1',
          order_title: 'x',
          order_time: now,
          order_type: 'ONLINE',
          custom_fields: foreign,
        },
      }),
      'custom_fields[0].id',
    );
    expect400(
      await call(base, 'POST', '/v2/subscriptions', {
        body: { contact_id: '1', subscription_plan_id: '1', allow_duplicate: true, custom_fields: foreign },
      }),
      'custom_fields[0].id',
    );
    expect400(
      await call(base, 'POST', '/v2/tasks', {
        body: { assigned_to_user_id: '1', title: 'x', custom_fields: foreign },
      }),
      'custom_fields[0].id',
    );
    expect400(
      await call(base, 'POST', '/v2/contacts/1/notes', {
        body: { user_id: '1', title: 'x', custom_fields: foreign },
      }),
      'custom_fields[0].id',
    );
    const yesNo = (await model('notes')).find((d) => d.field_type === 'YES_NO') as Def;
    const n = await call(base, 'POST', '/v2/contacts/1/notes', {
      body: { user_id: '1', title: 'x', custom_fields: [{ id: yesNo.id, content: true }] },
    });
    expect(n.status, n.text).toBe(201);
    expectDoc('v2', 'POST', '/v2/contacts/{contact_id}/notes', n);
    expect(n.body.custom_fields).toEqual([{ id: yesNo.id, content: true }]);
  });
});
