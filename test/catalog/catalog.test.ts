import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RESOURCES } from '../../src/registry/define.js';
import { ALL_TOOLS } from '../../tools/index.js';
import { inputJsonSchema, measure } from './measure.js';
import { IDEMPOTENCY_KEY_TOOLS, TABLE } from './table.js';

type Json = Record<string, any>;

const byName = new Map(ALL_TOOLS.map((t) => [t.name, t]));
const placeholders = (path: string) => [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
const MACHINERY_FIELDS = ['dry_run', 'idempotency_key', 'confirmation_token', 'human_secret'];

/** Every property of an object schema (recursively, through arrays) lacking a description. */
function undescribed(schema: Json, at: string): string[] {
  const out: string[] = [];
  if (schema.type === 'object' && schema.properties) {
    for (const [k, v] of Object.entries<Json>(schema.properties)) {
      if (typeof v.description !== 'string' || v.description.trim().length < 3) out.push(`${at}.${k}`);
      out.push(...undescribed(v, `${at}.${k}`));
    }
  }
  if (schema.type === 'array' && schema.items) out.push(...undescribed(schema.items, `${at}[]`));
  return out;
}

describe('catalog table', () => {
  it('has exactly the 58 tools of the issue, in its order', () => {
    expect(ALL_TOOLS.map((t) => t.name)).toEqual(TABLE.map((r) => r.name));
    expect(ALL_TOOLS).toHaveLength(58);
  });

  it('names are unique snake_case', () => {
    expect(new Set(ALL_TOOLS.map((t) => t.name)).size).toBe(ALL_TOOLS.length);
    for (const t of ALL_TOOLS) expect(t.name).toMatch(/^[a-z][a-z0-9_]*$/);
  });

  it.each(TABLE.map((r) => [r.name, r] as const))('%s matches the table', (name, row) => {
    const t = byName.get(name)!;
    expect(`${t.method} ${t.path}`).toBe(row.endpoint);
    expect(t.resource).toBe(row.resource);
    expect(RESOURCES).toContain(t.resource);
    expect(t.access).toBe(row.access);
    expect(t.confirm === true).toBe(row.confirm);
    expect(t.event).toBe(row.event);
    expect(t.access === 'read').toBe(t.method === 'GET');
  });
});

describe('catalog entries', () => {
  it.each(ALL_TOOLS.map((t) => [t.name, t] as const))('%s is well formed', (_name, t) => {
    expect(t.title.length).toBeGreaterThan(3);
    expect(t.description.length).toBeGreaterThan(10);
    expect(t.description.length).toBeLessThanOrEqual(1000);
    const schema = inputJsonSchema(t) as Json;
    expect(schema.type).toBe('object');
    for (const k of ['anyOf', 'oneOf', 'allOf', 'not', '$ref']) expect(schema).not.toHaveProperty(k);
    expect(undescribed(schema, t.name)).toEqual([]);
    for (const k of MACHINERY_FIELDS) expect(Object.keys(t.input)).not.toContain(k);

    // path placeholders == path input keys, always required
    const ph = placeholders(t.path);
    for (const p of ph) {
      expect(Object.keys(t.input)).toContain(p);
      expect(schema.required ?? []).toContain(p);
    }
    // keys listed as query exist and are not path params
    for (const q of t.query ?? []) {
      expect(Object.keys(t.input)).toContain(q);
      expect(ph).not.toContain(q);
    }
    if (t.query) expect(['POST', 'PATCH', 'PUT']).toContain(t.method);

    // list tools say where their items are
    if (t.name.startsWith('list_')) expect(typeof t.listKey).toBe('string');
    else expect(t.listKey).toBeUndefined();

    // cross references point at read tools of the catalog
    for (const ref of [t.findWith, t.checkWith]) {
      if (ref === undefined) continue;
      expect(byName.has(ref), `${t.name} -> ${ref}`).toBe(true);
      expect(byName.get(ref)!.access).toBe('read');
    }
    if (ph.length > 0) expect(t.findWith).toBeDefined();
    if (t.access === 'write') expect(t.checkWith).toBeDefined();

    // confirm tools carry a preview
    if (t.confirm) expect(typeof t.preview).toBe('function');
    expect(t.idempotencyKey === true).toBe(IDEMPOTENCY_KEY_TOOLS.includes(t.name));
    if (t.idempotent) expect(t.access).toBe('write');
  });

  it('idempotent is set only where repeating has no extra effect', () => {
    const idem = ALL_TOOLS.filter((t) => t.idempotent === true).map((t) => t.name);
    expect(idem.sort()).toEqual(
      [
        'apply_tag',
        'cancel_subscription',
        'remove_contacts_from_sequence',
        'remove_tag',
        'verify_hook',
      ].sort(),
    );
  });

  it('previews are plain sentences built from the input', () => {
    const p = (name: string, input: Record<string, unknown>) => byName.get(name)!.preview!(input);
    expect(p('create_order_payment', { order_id: '99', payment_amount: 25, payment_method_id: '12' })).toBe(
      "Charge $25.00 to payment method 12 for order 99 (contact's card is charged now)",
    );
    expect(
      p('create_order_payment', { order_id: '99', payment_amount: 10.5, payment_method_type: 'Cash' }),
    ).toBe("Record a $10.50 'Cash' payment on order 99 (no card is charged)");
    expect(p('send_email', { subject: 'Welcome', contacts: ['1', '2'], user_id: '1' })).toBe(
      "Email 'Welcome' to contacts 1, 2 from user 1",
    );
    expect(p('send_email', { subject: 'Hi', contacts: ['3'], from_address: 'a@b.co' })).toBe(
      "Email 'Hi' to contacts 3 from a@b.co",
    );
    expect(p('delete_contact', { contact_id: '42' })).toBe('Permanently delete contact 42');
    expect(p('delete_opportunity', { opportunity_id: '5' })).toBe('Permanently delete opportunity 5');
    expect(p('delete_hook', { key: 'k1' })).toContain('k1');
    expect(p('create_order', { order_title: 'Kit', contact_id: '7', order_items: [{}, {}] })).toBe(
      "Create order 'Kit' for contact 7 with 2 item(s); nothing is charged",
    );
    expect(p('create_subscription', { contact_id: '7', subscription_plan_id: '3' })).toBe(
      "Subscribe contact 7 to plan 3 at the plan's price per cycle (auto-charged to the contact's latest card)",
    );
    expect(
      p('create_subscription', { contact_id: '7', subscription_plan_id: '3', billing_amount: 9.9 }),
    ).toContain('at $9.90 per cycle');
    expect(
      p('create_subscription', { contact_id: '7', subscription_plan_id: '3', payment_method_id: '9' }),
    ).toContain('payment method 9');
    expect(p('cancel_subscription', { subscription_id: '8' })).toBe('Cancel subscription 8; billing stops');
    expect(p('add_contacts_to_sequence', { campaign_id: '1', sequence_id: '2', contact_ids: ['5'] })).toBe(
      'Add contacts 5 to sequence 2 of campaign 1 (its emails may start sending)',
    );
  });
});

describe('field helpers', () => {
  const parse = (name: string, input: unknown) => z.object(byName.get(name)!.input).safeParse(input);

  it('ids are strings of digits; numbers are accepted as strings', () => {
    const ok = parse('get_contact', { contact_id: 42 });
    expect(ok.success && ok.data.contact_id).toBe('42');
    expect(parse('get_contact', { contact_id: '42' }).success).toBe(true);
    expect(parse('get_contact', { contact_id: 'abc' }).success).toBe(false);
    expect(parse('get_contact', { contact_id: '' }).success).toBe(false);
    expect(parse('get_contact', {}).success).toBe(false);
    const list = parse('apply_tag', { tag_id: '1', contact_ids: [1, '2'] });
    expect(list.success && list.data.contact_ids).toEqual(['1', '2']);
    expect(parse('apply_tag', { tag_id: '1', contact_ids: [] }).success).toBe(false);
    expect(parse('apply_tag', { tag_id: '1', contact_ids: ['x'] }).success).toBe(false);
  });

  it('send_email takes plain text and sends Base64', () => {
    const r = parse('send_email', {
      contacts: ['1'],
      subject: 'Hi',
      plain_content: 'Hello ✓',
      html_content: '<p>Hello</p>',
      user_id: '1',
    });
    expect(r.success).toBe(true);
    if (!r.success) return;
    expect(r.data.plain_content).toBe(Buffer.from('Hello ✓', 'utf8').toString('base64'));
    expect(Buffer.from(String(r.data.html_content), 'base64').toString('utf8')).toBe('<p>Hello</p>');
    const schema = inputJsonSchema(byName.get('send_email')!) as Json;
    expect(schema.properties.plain_content.type).toBe('string');
  });

  it('page_size is bounded and defaults are described', () => {
    expect(parse('list_contacts', { page_size: 25 }).success).toBe(true);
    expect(parse('list_contacts', { page_size: 0 }).success).toBe(false);
    expect(parse('list_contacts', { page_size: 1001 }).success).toBe(false);
    expect(parse('list_contacts', { page_size: 2.5 }).success).toBe(false);
    expect(parse('list_users', { page_size: 101 }).success).toBe(false);
    expect(parse('list_users', { page_size: 100 }).success).toBe(true);
    for (const t of ALL_TOOLS) {
      const ps = (inputJsonSchema(t) as Json).properties.page_size;
      if (ps) expect(ps.description).toContain('default 25');
    }
  });

  it('money fields say their unit', () => {
    const props = (n: string) => (inputJsonSchema(byName.get(n)!) as Json).properties;
    expect(props('create_product').price.description).toMatch(/cents/i);
    expect(props('create_order_payment').payment_amount.description).toMatch(/currency units/);
    expect(parse('create_product', { name: 'x', price: 12.5, short_description: 'y' }).success).toBe(false);
  });

  it('contacts and companies take addresses; region_code says it needs country_code', () => {
    const address = {
      field: 'BILLING',
      line1: '1 Main St',
      locality: 'Phoenix',
      region_code: 'US-AZ',
      postal_code: '85001',
      country_code: 'USA',
    };
    for (const n of ['create_contact', 'update_contact']) {
      const r = parse(n, { contact_id: '1', addresses: [address], job_title: 'CTO', company: { id: 5 } });
      expect(r.success && r.data.company).toEqual({ id: '5' });
      expect(parse(n, { contact_id: '1', addresses: [{ ...address, field: 'HOME' }] }).success).toBe(false);
      const items = (inputJsonSchema(byName.get(n)!) as Json).properties.addresses.items;
      expect(items.required).toEqual(['field']);
      expect(items.properties.region_code.description).toMatch(/country_code/);
    }
    for (const n of ['create_company', 'update_company']) {
      const { field: _f, ...companyAddress } = address;
      const r = parse(n, { company_id: '1', company_name: 'Acme', address: companyAddress, website: 'x.co' });
      expect(r.success).toBe(true);
    }
    expect(
      parse('create_order', {
        contact_id: '1',
        order_title: 't',
        order_time: 'x',
        order_type: 'ONLINE',
        promo_codes: ['SAVE10'],
      }).success,
    ).toBe(true);
  });

  it('user fields point at list_users / get_current_user', () => {
    for (const t of ALL_TOOLS) {
      const props = (inputJsonSchema(t) as Json).properties as Record<string, Json>;
      for (const k of ['user_id', 'assigned_to_user_id', 'owner_id']) {
        if (props[k]) expect(props[k].description, `${t.name}.${k}`).toMatch(/list_users.*get_current_user/);
      }
    }
  });
});

describe('context budget', () => {
  it('fits: all tools ≤ 29,950 chars, read-only ≤ 15,500 (machinery adds ~5,500 to writes; real caps 36,000/16,000 less 500)', () => {
    const b = measure(ALL_TOOLS);
    const top = [...b.perTool].sort((x, y) => y.size - x.size).slice(0, 5);
    console.log(
      `catalog budget: total ${b.total} / 29950, read-only ${b.read} / 15500; largest: ${top
        .map((t) => `${t.name} ${t.size}`)
        .join(', ')}`,
    );
    expect(b.total).toBeLessThanOrEqual(29_950);
    expect(b.read).toBeLessThanOrEqual(15_500);
  });
});
