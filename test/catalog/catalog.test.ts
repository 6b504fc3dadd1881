import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RESOURCES } from '../../src/registry/define.js';
import { ALL_TOOLS } from '../../tools/index.js';
import { CUSTOM_FIELD_MODELS, cents, dollars, ID_PATTERN } from '../../tools/shared/params.js';
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
  it('has exactly the 58 tools of the issue plus list_custom_fields, in its order', () => {
    expect(ALL_TOOLS.map((t) => t.name)).toEqual(TABLE.map((r) => r.name));
    expect(ALL_TOOLS).toHaveLength(59);
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
    // path ids say where to find them (an enum placeholder, like list_custom_fields' model, lists its values)
    const idPlaceholders = ph.filter((p) => !(schema.properties[p] as Json).enum);
    if (idPlaceholders.length > 0) expect(t.findWith).toBeDefined();
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
      'Email contacts 1, 2 from user 1',
    );
    expect(p('send_email', { subject: 'Hi', contacts: ['3'], from_address: 'a@b.co' })).toBe(
      'Email contacts 3 from a@b.co',
    );
    expect(p('delete_contact', { contact_id: '42' })).toBe('Permanently delete contact 42');
    expect(p('delete_opportunity', { opportunity_id: '5' })).toBe('Permanently delete opportunity 5');
    expect(p('delete_hook', { key: 'k1' })).toContain('k1');
    expect(p('create_order', { order_title: 'Kit', contact_id: '7', order_items: [{}, {}] })).toBe(
      'Create an order for contact 7 with 2 item(s); nothing is charged',
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

  it('ids are strings of digits; safe integers are accepted as strings', () => {
    const ok = parse('get_contact', { contact_id: 42 });
    expect(ok.success && ok.data.contact_id).toBe('42');
    expect(parse('get_contact', { contact_id: '42' }).success).toBe(true);
    for (const bad of [
      'abc',
      '',
      '05',
      '0',
      '-1',
      '4.2',
      ' 42',
      0,
      -1,
      4.2,
      2 ** 53,
      [42],
      { id: 42 },
      null,
    ]) {
      expect(parse('get_contact', { contact_id: bad }).success, JSON.stringify(bad)).toBe(false);
    }
    expect(parse('get_contact', {}).success).toBe(false);
    // big ids are fine as strings
    expect(parse('get_contact', { contact_id: '90071992547409930' }).success).toBe(true);
    const list = parse('apply_tag', { tag_id: '1', contact_ids: [1, '2'] });
    expect(list.success && list.data.contact_ids).toEqual(['1', '2']);
    expect(parse('apply_tag', { tag_id: '1', contact_ids: [] }).success).toBe(false);
    expect(parse('apply_tag', { tag_id: '1', contact_ids: ['x'] }).success).toBe(false);
    expect(parse('apply_tag', { tag_id: '1', contact_ids: [['1']] }).success).toBe(false);
    expect(parse('apply_tag', { tag_id: '1', contact_ids: ['007'] }).success).toBe(false);
  });

  it('id errors say what an id looks like', () => {
    const messages = (v: unknown) => {
      const r = parse('get_contact', { contact_id: v });
      return r.success ? [] : r.error.issues.map((i) => i.message);
    };
    expect(messages('05').join(' ')).toMatch(/digits without a leading zero/);
    expect(messages(2 ** 53).join(' ')).toMatch(/9007199254740992 is not a whole number from 1 to 2\^53-1/);
    expect(messages([5]).join(' ')).toMatch(/not a list or object/);
  });

  it('every id field is a digit string with the id pattern (no numeric ids)', () => {
    const ids: string[] = [];
    const walk = (tool: string, schema: Json, at: string) => {
      if (schema.type === 'array' && schema.items) return walk(tool, schema.items, `${at}[]`);
      for (const [k, v] of Object.entries<Json>(schema.properties ?? {})) {
        const p = `${at}.${k}`;
        const leaf = v.type === 'array' ? v.items : v;
        if (k === 'id' || k.endsWith('_id') || k.endsWith('_ids') || k === 'contacts') {
          ids.push(`${tool}${p}`);
          expect(leaf?.type, `${tool}${p}`).toBe('string');
          expect(leaf?.pattern, `${tool}${p}`).toBe(ID_PATTERN.source);
        }
        walk(tool, v, p);
      }
    };
    for (const t of ALL_TOOLS) walk(t.name, inputJsonSchema(t) as Json, '');
    expect(ids.length).toBeGreaterThan(60);
    expect(ids).toContain('achieve_goal.goal_id');
    expect(ids).toContain('create_contact.custom_fields[].id');
  });

  it('achieve_goal takes digit strings and sends the integers Keap documents', () => {
    const r = parse('achieve_goal', { contact_id: '7', automation_id: 3, goal_id: '12' });
    expect(r.success && r.data).toEqual({ contact_id: 7, automation_id: 3, goal_id: 12 });
    expect(parse('achieve_goal', { contact_id: '07' }).success).toBe(false);
  });

  it('aliases name other words for real inputs; rules name real inputs', () => {
    let aliases = 0;
    let rules = 0;
    for (const t of ALL_TOOLS) {
      const keys = Object.keys(t.input);
      for (const [alias, target] of Object.entries(t.aliases ?? {})) {
        aliases++;
        expect(keys, `${t.name}: alias ${alias} -> ${target}`).toContain(target);
        expect(keys, `${t.name}: alias ${alias} shadows an input`).not.toContain(alias);
        expect(MACHINERY_FIELDS).not.toContain(alias);
      }
      for (const rule of t.rules ?? []) {
        rules++;
        expect(rule.keys.length, t.name).toBeGreaterThanOrEqual(2);
        expect(new Set(rule.keys).size, t.name).toBe(rule.keys.length);
        // a rule over optional inputs only (a required one would make the rule moot); keys that are not
        // listed are Keap body properties taken by name (openapi.test.ts checks they are documented)
        const required = ((inputJsonSchema(t) as Json).required ?? []) as string[];
        for (const k of rule.keys) expect(required, `${t.name}: rule key ${k} is required`).not.toContain(k);
        expect(
          rule.keys.some((k) => keys.includes(k)),
          `${t.name}: no rule key is listed`,
        ).toBe(true);
      }
    }
    expect(aliases).toBe(8);
    expect(byName.get('create_contact')!.rules).toEqual([
      { kind: 'at_least_one', keys: ['email_addresses', 'phone_numbers', 'addresses'] },
    ]);
    expect(rules).toBe(6);
    expect(byName.get('send_email')!.aliases).toEqual({ contact_ids: 'contacts' });
    expect(byName.get('apply_tag')!.aliases).toEqual({ contacts: 'contact_ids' });
    expect(byName.get('create_hook')!.aliases).toEqual({ event_key: 'eventKey', hook_url: 'hookUrl' });
    expect(byName.get('create_note')!.rules).toEqual([{ kind: 'at_least_one', keys: ['title', 'type'] }]);
    expect(byName.get('send_email')!.rules).toEqual([
      { kind: 'exactly_one', keys: ['user_id', 'from_address'] },
    ]);
  });

  it('list_custom_fields reads the model of the seven record types', () => {
    const t = byName.get('list_custom_fields')!;
    expect(`${t.method} ${t.path}`).toBe('GET /v2/{model}/model');
    expect(t.access).toBe('read');
    expect(t.listKey).toBe('custom_fields');
    const model = (inputJsonSchema(t) as Json).properties.model;
    expect(model.enum).toEqual([
      'contacts',
      'companies',
      'opportunities',
      'orders',
      'subscriptions',
      'tasks',
      'notes',
    ]);
    expect(model.enum).toEqual([...CUSTOM_FIELD_MODELS]);
    expect(t.description).toMatch(/custom_fields \[\{id, content\}\]/);
    expect(parse('list_custom_fields', { model: 'contacts' }).success).toBe(true);
    expect(parse('list_custom_fields', { model: 'affiliates' }).success).toBe(false);
    // every listed custom_fields input points at it
    for (const x of ALL_TOOLS) {
      const cf = (inputJsonSchema(x) as Json).properties.custom_fields;
      if (cf) expect(cf.description, x.name).toContain('list_custom_fields');
    }
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
      if (!ps) continue;
      expect(ps.description).toMatch(/default 25/i);
      expect(ps.type, t.name).toBe('integer');
      expect(ps.minimum, t.name).toBe(1);
      expect(ps.maximum, t.name).toBe(t.name === 'list_users' ? 100 : 1000);
    }
  });

  it('money fields say their unit: cents (integers) or dollars', () => {
    // Keap: product prices are int64 in the currency's smallest unit; every other amount is a double in units.
    const MONEY = /(^|_)(price|amount|revenue|cost)(_|$)/;
    const found: string[] = [];
    const walk = (tool: string, schema: Json, at: string) => {
      for (const [k, v] of Object.entries<Json>(schema.properties ?? {})) {
        const p = `${tool}.${at}${k}`;
        if (MONEY.test(k)) {
          found.push(p);
          expect(v.description, p).toMatch(/\bin (cents|dollars)\b/);
          if (/\bin cents\b/.test(v.description)) expect(v.type, p).toBe('integer');
          else expect(v.type, p).toBe('number');
        }
        if (v.type === 'object') walk(tool, v, `${at}${k}.`);
        if (v.type === 'array' && v.items?.type === 'object') walk(tool, v.items, `${at}${k}[].`);
      }
    };
    for (const t of ALL_TOOLS) walk(t.name, inputJsonSchema(t) as Json, '');
    expect(found.sort()).toEqual(
      [
        'add_order_item.price_per_unit',
        'create_opportunity.projected_revenue_high',
        'create_order.order_items[].price_per_unit',
        'create_order_payment.payment_amount',
        'create_product.price',
        'create_subscription.billing_amount',
      ].sort(),
    );
    const props = (n: string) => (inputJsonSchema(byName.get(n)!) as Json).properties;
    expect(props('create_product').price.description).toMatch(/in cents/);
    expect(parse('create_product', { name: 'x', price: 12.5, short_description: 'y' }).success).toBe(false);
    expect(parse('create_product', { name: 'x', price: -1, short_description: 'y' }).success).toBe(false);
  });

  it('money previews print exact amounts with their unit', () => {
    expect(dollars(25)).toBe('$25.00');
    expect(dollars(10.5)).toBe('$10.50');
    expect(dollars(25.555)).toBe('$25.555');
    expect(dollars(0.1 + 0.2)).toBe('$0.30000000000000004');
    expect(dollars(-5)).toBe('-$5.00');
    expect(dollars(1e21)).toBe('1e+21 dollars');
    expect(dollars('12')).toBe('12 dollars');
    expect(cents(1999)).toBe('1999 cents = $19.99');
    expect(cents(5)).toBe('5 cents = $0.05');
    expect(cents(0)).toBe('0 cents = $0.00');
    expect(cents(-250)).toBe('-250 cents = -$2.50');
    expect(cents(12.5)).toBe('12.5 cents');
  });

  it('contacts and companies list their common properties; the rest is taken by name', () => {
    const r = parse('create_contact', {
      given_name: 'Ada',
      email_addresses: [{ email: 'a@b.co', field: 'EMAIL1' }],
      phone_numbers: [{ number: '1', field: 'PHONE5' }],
      owner_id: 5,
      custom_fields: [{ id: '12', content: 'blue' }],
    });
    expect(r.success && r.data.owner_id).toBe('5');
    expect(parse('create_contact', { email_addresses: [{ email: 'a@b.co', field: 'HOME' }] }).success).toBe(
      false,
    );
    for (const n of ['update_contact', 'update_company', 'update_opportunity', 'update_task']) {
      expect(byName.get(n)!.description, n).toContain(`create_${n.slice('update_'.length)}'s fields`);
    }
    const company = parse('create_company', {
      company_name: 'Acme',
      email_address: { email: 'x@acme.co' },
      custom_fields: [{ id: 3, content: 1 }],
    });
    expect(company.success && company.data.custom_fields).toEqual([{ id: '3', content: 1 }]);
    expect(
      parse('create_order', {
        contact_id: '1',
        order_title: 't',
        order_time: 'x',
        order_type: 'ONLINE',
        notes: 'n',
        order_items: [{ product_id: '2', name: 'Kit', quantity: 1, price_per_unit: 9.99 }],
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
