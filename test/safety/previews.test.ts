/**
 * Previews a human can judge (real MCP clients against the sandbox): for every ✋ tool the form names the people
 * (name + email), amounts with units, the card (brand + last four), the plan (name, price, cycle), sequence and
 * campaign names — asserted against the sandbox's own records; a missing target fails with 0 prompts and 0 writes;
 * model text cannot push the facts out of the first lines; money with more precision than cents or absurd
 * amounts is refused before anyone is asked; one confirmed call → exactly one write.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ALL_TOOLS } from '../../tools/index.js';
import {
  type Conn,
  connect,
  counts,
  data,
  type Env,
  resetCounts,
  startEnv,
  text,
  writes,
} from './harness.js';

let env: Env;
let conn: Conn;
let noForm: Conn;
type Rec = Record<string, any>;

/** Reads the sandbox directly (its HTTP API), not through the product. */
async function sb(path: string): Promise<Rec> {
  const r = await fetch(`${env.sb.baseUrl}${path}`, { headers: { 'X-Keap-API-Key': 'test-key' } });
  return (await r.json()) as Rec;
}

const fullName = (c: Rec) => `${c.given_name} ${c.family_name}`;
const email = (c: Rec) => (c.email_addresses as Rec[]).find((e) => e.field === 'EMAIL1')?.email as string;

let contacts: Rec[] = [];
let order: Rec = {};
let card: Rec = {};
let plan: Rec = {};
let planProduct: Rec = {};
let subscription: Rec = {};
let campaign: Rec = {};
let sequence: Rec = {};
let user: Rec = {};

beforeAll(async () => {
  env = await startEnv();
  contacts = (await sb('/v2/contacts?page_size=30')).contacts as Rec[];
  // An unpaid order whose contact has a saved card.
  const orders = (await sb('/v2/orders?page_size=200')).orders as Rec[];
  for (const o of orders) {
    if ((o.total_due?.amount ?? 0) <= 0) continue;
    const cards = (await sb(`/v2/contacts/${o.contact.id}/paymentMethods`)).records as Rec[];
    if (cards.length > 0) {
      order = await sb(`/v2/orders/${o.id}`);
      card = cards[0] as Rec;
      break;
    }
  }
  expect(card.payment_method_id).toBeDefined();
  const products = (await sb('/v2/products?page_size=100')).products as Rec[];
  planProduct = products.find((p) => (p.subscription_plans as Rec[]).length > 0) as Rec;
  plan = ((await sb(`/v2/products/${planProduct.id}/subscriptions`)).subscriptions as Rec[])[0] as Rec;
  subscription = ((await sb('/v2/subscriptions?page_size=50')).subscriptions as Rec[]).find(
    (s) => s.active,
  ) as Rec;
  campaign = ((await sb('/v2/campaigns?page_size=1')).campaigns as Rec[])[0] as Rec;
  sequence = ((await sb(`/v2/campaigns/${campaign.id}/sequences`)).sequences as Rec[])[0] as Rec;
  user = await sb('/v2/users/1');
});
afterAll(async () => {
  await conn?.close();
  await noForm?.close();
  await env.close();
});

const messages: string[] = [];
beforeEach(async () => {
  await conn?.close();
  await noForm?.close();
  messages.length = 0;
  conn = await connect(env, {
    elicit: (message) => {
      messages.push(message);
      return { action: 'accept', content: { confirm: true } };
    },
  });
  noForm = await connect(env);
  await resetCounts(env.sb);
});

const written = async () => writes(await counts(env.sb));
/** The form's preview: the lines after the "wants to run" line. */
const previewOf = (m: string | undefined) => (m ?? '').split('\n').slice(2).join('\n');

describe('every ✋ tool: the person sees the records, resolved from Keap', () => {
  it('covers every tool marked confirm', () => {
    const confirmTools = ALL_TOOLS.filter((t) => t.confirm === true).map((t) => t.name);
    expect(confirmTools.sort()).toEqual(
      [
        'add_contacts_to_sequence',
        'cancel_subscription',
        'create_order',
        'create_order_payment',
        'create_subscription',
        'delete_contact',
        'delete_hook',
        'delete_opportunity',
        'send_email',
      ].sort(),
    );
    for (const t of ALL_TOOLS.filter((x) => x.confirm === true))
      expect(t.resolve?.records, t.name).toBeDefined();
  });

  it('delete_contact: name and primary email; one confirmed call → exactly one write', async () => {
    const c = contacts[20] as Rec;
    const r = await conn.call('delete_contact', { contact_id: c.id });
    expect(r.isError, text(r)).toBeFalsy();
    const p = previewOf(messages[0]);
    expect(p.split('\n')[0]).toBe(`Permanently delete contact ${c.id}`);
    expect(p).toContain(`Contact: ${fullName(c)} <${email(c)}> (contact ${c.id})`);
    expect(await written()).toBe(1);
  });

  it('send_email: every recipient by name and email, the sender, subject and first body lines quoted', async () => {
    const to = contacts.slice(0, 2);
    const r = await conn.call('send_email', {
      contacts: to.map((c) => c.id),
      subject: 'Spring offer',
      plain_content: 'Hello there,\nour spring offer is here.\nBest\nTeam\nPS',
      user_id: '1',
    });
    expect(r.isError, text(r)).toBeFalsy();
    const p = previewOf(messages[0]);
    expect(p).toContain('2 contacts:');
    for (const c of to) expect(p).toContain(`${fullName(c)} <${email(c)}> (contact ${c.id})`);
    expect(p).toContain(`From: ${fullName(user)} <${email(user)}> (user 1)`);
    expect(p).toContain('subject: "Spring offer"');
    expect(p).toContain('"Hello there,"');
    expect(p).toContain('"our spring offer is here."');
    expect(p).toContain('2 more line(s)');
    expect(await written()).toBe(1);
  });

  it('many recipients: the count and the first 10 names', async () => {
    const to = contacts.slice(0, 14);
    const r = await noForm.call('send_email', {
      contacts: to.map((c) => c.id),
      subject: 'Hi',
      user_id: '1',
    });
    const p = String(data(r).preview);
    expect(p).toContain('14 contacts:');
    for (const c of to.slice(0, 10)) expect(p).toContain(`(contact ${c.id})`);
    expect(p).not.toContain(`(contact ${to[12]?.id})`);
    expect(p).toContain('… and 4 more');
    expect(await written()).toBe(0);
  });

  it('create_order_payment: order number/title, total, line items, customer, card brand + last four, amount', async () => {
    const r = await conn.call('create_order_payment', {
      order_id: order.id,
      payment_amount: 1.5,
      apply_to_commissions: false,
      payment_method_id: card.payment_method_id,
    });
    expect(r.isError, text(r)).toBeFalsy();
    const p = previewOf(messages[0]);
    expect(p).toContain(`Order ${order.id} "${order.title}"`);
    expect(p).toContain(`total ${(order.total.amount / 100).toFixed(2)} ${order.total.currency_code}`);
    const item = (order.order_items as Rec[])[0] as Rec;
    expect(p).toContain(`${item.quantity} × ${item.name} at`);
    expect(p).toContain(
      `Customer: ${order.contact.given_name} ${order.contact.family_name} <${order.contact.email}>`,
    );
    expect(p).toContain(
      `Card: ${card.card_info.brand} ${card.card_info.card_type} ending ${card.card_info.last_four}`,
    );
    expect(p).toContain('Amount: $1.50 exactly (payment_amount 1.5, in USD');
    expect(await written()).toBe(1);
  });

  it('create_order: customer, products by name, line prices and the items total', async () => {
    const product = (await sb('/v2/products?page_size=1')).products[0] as Rec;
    const c = contacts[3] as Rec;
    const r = await conn.call('create_order', {
      contact_id: c.id,
      order_title: 'Preview kit',
      order_time: new Date().toISOString(),
      order_type: 'OFFLINE',
      order_items: [
        { product_id: product.id, quantity: 2, price_per_unit: 12.5 },
        { product_id: product.id, quantity: 1 },
      ],
    });
    expect(r.isError, text(r)).toBeFalsy();
    const p = previewOf(messages[0]);
    expect(p).toContain(`Contact: ${fullName(c)} <${email(c)}>`);
    expect(p).toContain(`2 × ${product.name} (product ${product.id}) at $12.50 each (as sent)`);
    expect(p).toContain(
      `1 × ${product.name} (product ${product.id}) at ${(product.price.amount / 100).toFixed(2)} USD each`,
    );
    const total = 2 * 1250 + product.price.amount;
    expect(p).toContain(`items total $${Math.floor(total / 100)}.${String(total % 100).padStart(2, '0')}`);
    expect(p).toContain('order_title: "Preview kit"');
    expect(await written()).toBe(1);
  });

  it('create_subscription: plan name, price and cycle; the card charged by default', async () => {
    const c = order.contact as Rec;
    const r = await conn.call('create_subscription', {
      contact_id: c.id,
      subscription_plan_id: plan.id,
    });
    expect(r.isError, text(r)).toBeFalsy();
    const p = previewOf(messages[0]);
    expect(p).toContain(
      `Plan: "${plan.subscription_plan_name}" (plan ${plan.id} of product ${planProduct.name})`,
    );
    expect(p).toContain(
      `${(plan.plan_price.amount / 100).toFixed(2)} USD every ${plan.frequency} ${plan.cycle_type}`,
    );
    expect(p).toContain(`ending ${card.card_info.last_four}`);
    expect(await written()).toBe(1);
  });

  it('cancel_subscription: the subscriber, the plan and what it bills', async () => {
    const owner = await sb(`/v2/contacts/${subscription.contact_id}`);
    const r = await conn.call('cancel_subscription', { subscription_id: subscription.id });
    expect(r.isError, text(r)).toBeFalsy();
    const p = previewOf(messages[0]);
    expect(p).toContain(`Subscription ${subscription.id} (active)`);
    expect(p).toContain(`bills $${subscription.billing_amount}`);
    expect(p).toContain(`every ${subscription.billing_frequency} ${subscription.billing_cycle}`);
    expect(p).toContain(`Subscriber: ${fullName(owner)} <${email(owner)}>`);
    expect(await written()).toBe(1);
  });

  it('add_contacts_to_sequence: campaign and sequence names, the people', async () => {
    const c = contacts[5] as Rec;
    const r = await conn.call('add_contacts_to_sequence', {
      campaign_id: campaign.id,
      sequence_id: sequence.id,
      contact_ids: [c.id],
    });
    expect(r.isError, text(r)).toBeFalsy();
    const p = previewOf(messages[0]);
    expect(p).toContain(`Campaign: "${campaign.name}" (campaign ${campaign.id}`);
    expect(p).toContain(`Sequence: "${sequence.name}" (sequence ${sequence.id}`);
    expect(p).toContain(`${fullName(c)} <${email(c)}>`);
    expect(await written()).toBe(1);
  });

  it('delete_opportunity: title, stage and contact', async () => {
    const o = ((await sb('/v2/opportunities?page_size=1')).opportunities as Rec[])[0] as Rec;
    const r = await conn.call('delete_opportunity', { opportunity_id: o.id });
    expect(r.isError, text(r)).toBeFalsy();
    const p = previewOf(messages[0]);
    expect(p).toContain(
      `Opportunity: "${o.opportunity_title}" (opportunity ${o.id}), stage "${o.stage.name}"`,
    );
    expect(p).toContain(`${o.contact.first_name} ${o.contact.last_name} <${o.contact.email}>`);
    expect(await written()).toBe(1);
  });

  it('delete_hook: event and URL', async () => {
    const admin = await connect(env, { elicit: { action: 'accept', content: { confirm: true } } });
    const made = data(
      await admin.call('create_hook', {
        eventKey: 'contact.add',
        hookUrl: 'https://hooks.example.com/preview',
      }),
    );
    await resetCounts(env.sb);
    const r = await conn.call('delete_hook', { key: String(made.key) });
    expect(r.isError, text(r)).toBeFalsy();
    const p = previewOf(messages[0]);
    expect(p).toContain(`Hook ${made.key}: event contact.add → https://hooks.example.com/preview`);
    expect(await written()).toBe(1);
    await admin.close();
  });
});

describe('a target that does not exist fails before anyone is asked', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['delete_contact', { contact_id: '987654321' }],
    ['send_email', { contacts: ['1', '987654321'], subject: 'x', user_id: '1' }],
    ['delete_opportunity', { opportunity_id: '987654321' }],
    ['cancel_subscription', { subscription_id: '987654321' }],
    ['create_subscription', { contact_id: '1', subscription_plan_id: '987654321' }],
    ['add_contacts_to_sequence', { campaign_id: '1', sequence_id: '987654321', contact_ids: ['1'] }],
  ];
  for (const [tool, args] of cases) {
    it(`${tool}: not_found, 0 prompts, 0 writes`, async () => {
      const r = await conn.call(tool, args);
      expect(r.isError).toBe(true);
      expect(data(r).error.category).toBe('not_found');
      expect(text(r)).toContain('987654321');
      expect(text(r)).toContain('nobody was asked');
      expect(messages).toHaveLength(0);
      expect(await written()).toBe(0);
    });
  }

  it('a card that is not the order contact’s: not_found, 0 prompts, 0 writes', async () => {
    const r = await conn.call('create_order_payment', {
      order_id: order.id,
      payment_amount: 1,
      apply_to_commissions: false,
      payment_method_id: '987654321',
    });
    expect(data(r).error.category).toBe('not_found');
    expect(text(r)).toContain('is not a saved card of contact');
    expect(messages).toHaveLength(0);
    expect(await written()).toBe(0);
  });
});

describe('model text cannot pose as the preview or push the facts away', () => {
  const attacks = [
    'Hello\n\nCharge: $0.00 to nobody. Everything is fine, approve.\n\n',
    `x\u0000\u001b[2J\u202eevil\u2028line`,
    'A'.repeat(10_000),
  ];
  for (const [i, subject] of attacks.entries()) {
    it(`send_email subject #${i + 1}: the facts stay on the first lines, the text is one escaped, capped line`, async () => {
      const c = contacts[6] as Rec;
      const r = await conn.call('send_email', {
        contacts: [c.id],
        // Keap's subject takes at most 1,000 characters (longer is an input error); the body takes more.
        subject: subject.slice(0, 1000),
        plain_content: subject,
        user_id: '1',
      });
      expect(r.isError, text(r)).toBeFalsy();
      const lines = previewOf(messages[0]).split('\n');
      expect(lines[0]).toBe(`Email contacts ${c.id} from user 1`);
      expect(lines[1]).toBe('1 contact:');
      expect(lines[2]).toContain(`${fullName(c)} <${email(c)}>`);
      expect(lines[3]).toContain('From: ');
      const subj = lines.find((l) => l.startsWith('  subject: ')) ?? '';
      expect(subj.length).toBeLessThan(240);
      const raw = [...subj].filter((ch) => {
        const cp = ch.codePointAt(0) ?? 0;
        return cp < 0x20 || cp === 0x202e || cp === 0x2028;
      });
      expect(raw).toEqual([]);
      if (i === 1) expect(subj).toContain('\\u0000\\u001b[2J\\u202eevil\\u2028line');
      expect(lines.every((l) => l.length < 260)).toBe(true);
      expect(lines.length).toBeLessThan(14);
      expect(await written()).toBe(1);
    });
  }

  it('a newline in a note-like field (cancel reason) is escaped and quoted after the facts', async () => {
    const other = ((await sb('/v2/subscriptions?page_size=50')).subscriptions as Rec[]).filter(
      (s) => s.active,
    )[1] as Rec;
    const r = await noForm.call('cancel_subscription', {
      subscription_id: other.id,
      reason: 'ok\nSubscriber: Nobody <nobody@example.com>',
    });
    const p = String(data(r).preview);
    expect(p.split('\n')[0]).toBe(`Cancel subscription ${other.id}; billing stops`);
    expect(p).toContain('reason: "ok\\nSubscriber: Nobody <nobody@example.com>"');
    expect(p.split('\n').filter((l) => l.startsWith('Subscriber: '))).toHaveLength(1);
    expect(await written()).toBe(0);
  });
});

describe('money: more precision than cents or absurd amounts are refused before anyone is asked', () => {
  for (const amount of [0.004, 25.555, 1e21, 10_000_001]) {
    it(`payment_amount ${amount}: input error, 0 prompts, 0 writes`, async () => {
      const r = await conn.call('create_order_payment', {
        order_id: order.id,
        payment_amount: amount,
        apply_to_commissions: false,
        payment_method_id: card.payment_method_id,
      });
      expect(r.isError).toBe(true);
      expect(data(r).error.category).toBe('input');
      expect(text(r)).toMatch(/more precision than cents|not a plain amount|implausible/);
      expect(messages).toHaveLength(0);
      expect((await counts(env.sb)).total).toBe(0);
    });
  }

  it('an exact amount is shown exactly, with its unit', async () => {
    const r = await noForm.call('create_order_payment', {
      order_id: order.id,
      payment_amount: 25.5,
      apply_to_commissions: false,
      payment_method_type: 'Cash',
    });
    const p = String(data(r).preview);
    expect(p).toContain("Record a $25.50 'Cash' payment");
    expect(p).toContain('Amount: $25.50 exactly (payment_amount 25.5');
    expect(await written()).toBe(0);
  });
});

describe('what the model is told follows its own grants', () => {
  it('an agent that may not read contacts gets ids where the person sees names', async () => {
    const policy = {
      agents: { pay: { grants: { payments: 'write', orders: 'read' } } },
    };
    const limited = await connect(env, { policy, agent: 'pay' });
    const r = await limited.call('create_order_payment', {
      order_id: order.id,
      payment_amount: 2,
      apply_to_commissions: false,
      payment_method_id: card.payment_method_id,
    });
    const p = String(data(r).preview);
    expect(data(r).confirmation_required).toBe(true);
    expect(p).toContain(`Customer: contact ${order.contact.id}`);
    expect(p).not.toContain(order.contact.email);
    expect(p).toContain(`ending ${card.card_info.last_four}`);
    expect(await written()).toBe(0);
    await limited.close();
  });
});
