/**
 * Issue 2, "Requests that the document would reject (missing required field, wrong type, unknown enum value,
 * bad path id) are rejected by the sandbox with 400 naming the field" — one table over every catalog endpoint
 * family. For each schema-level case the official document is asked too (it must also reject the request), so the
 * table cannot drift into cases only the sandbox dislikes. Each case also checks that nothing changed.
 */
import { describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/core/types.js';
import { call, control, expectValid } from './core-http.js';
import { specsAvailable, validateRequest } from './openapi-helper.js';

let sb: RunningSandbox;

import { useSandbox } from './core-http.js';

useSandbox((s) => {
  sb = s;
});

type Kind = 'required' | 'type' | 'enum' | 'path id';
interface Case {
  family: string;
  kind: Kind;
  method: string;
  path: string;
  /** The document's path template, for the document's own verdict and the Error envelope check. */
  template: string;
  body?: unknown;
  query?: Record<string, string>;
  field: string;
  /** The document states this rule only in prose (or the event-key list), not in the request schema. */
  prose?: true;
}

const NOW = '2026-01-02T03:04:05Z';
const ok = {
  order: { contact_id: '1', order_title: 'x', order_time: NOW, order_type: 'ONLINE' },
  product: { name: 'x', price: 100, short_description: 'x' },
  opp: { contact_id: '1', opportunity_title: 'x', stage_id: '1' },
  task: { assigned_to_user_id: '1', title: 'x' },
  pay: { payment_amount: 1, apply_to_commissions: false, payment_method_type: 'CASH' },
};

function cases(ids: { campaign: string; sequence: string; order: string }): Case[] {
  const seq = `/v2/campaigns/${ids.campaign}/sequences/${ids.sequence}:addContacts`;
  const seqT = '/v2/campaigns/{campaign_id}/sequences/{sequence_id}:addContacts';
  const pay = `/v2/orders/${ids.order}/payments`;
  const payT = '/v2/orders/{order_id}/payments';
  // biome-ignore format: a table reads better one case per line
  return [
    // contacts
    { family: 'contacts', kind: 'type', method: 'POST', path: '/v2/contacts', template: '/v2/contacts', body: { given_name: 42 }, field: 'given_name' },
    { family: 'contacts', kind: 'enum', method: 'POST', path: '/v2/contacts', template: '/v2/contacts', body: { given_name: 'A', source_type: 'PIGEON' }, field: 'source_type' },
    { family: 'contacts', kind: 'required', method: 'POST', path: '/v2/contacts', template: '/v2/contacts', body: { email_addresses: [{ field: 'EMAIL1' }] }, field: 'email_addresses[0].email', prose: true },
    { family: 'contacts', kind: 'path id', method: 'GET', path: '/v2/contacts/abc', template: '/v2/contacts/{contact_id}', field: 'contact_id' },
    // tags
    { family: 'tags', kind: 'required', method: 'POST', path: '/v2/tags', template: '/v2/tags', body: { description: 'x' }, field: 'name', prose: true },
    { family: 'tags', kind: 'type', method: 'POST', path: '/v2/tags', template: '/v2/tags', body: { name: 7 }, field: 'name' },
    { family: 'tags', kind: 'required', method: 'POST', path: '/v2/tags/1/contacts:applyTags', template: '/v2/tags/{tag_id}/contacts:applyTags', body: {}, field: 'contact_ids' },
    { family: 'tags', kind: 'type', method: 'POST', path: '/v2/tags/1/contacts:applyTags', template: '/v2/tags/{tag_id}/contacts:applyTags', body: { contact_ids: 'x' }, field: 'contact_ids' },
    { family: 'tags', kind: 'path id', method: 'GET', path: '/v2/tags/abc', template: '/v2/tags/{tag_id}', field: 'tag_id' },
    // companies
    { family: 'companies', kind: 'type', method: 'POST', path: '/v2/companies', template: '/v2/companies', body: { company_name: 5 }, field: 'company_name' },
    { family: 'companies', kind: 'required', method: 'POST', path: '/v2/companies', template: '/v2/companies', body: { website: 'x.example' }, field: 'company_name', prose: true },
    { family: 'companies', kind: 'path id', method: 'GET', path: '/v2/companies/abc', template: '/v2/companies/{company_id}', field: 'company_id' },
    // opportunities
    { family: 'opportunities', kind: 'required', method: 'POST', path: '/v2/opportunities', template: '/v2/opportunities', body: { contact_id: '1', stage_id: '1' }, field: 'opportunity_title' },
    { family: 'opportunities', kind: 'type', method: 'POST', path: '/v2/opportunities', template: '/v2/opportunities', body: { ...ok.opp, include_in_forecast: 'yes' }, field: 'include_in_forecast' },
    { family: 'opportunities', kind: 'path id', method: 'GET', path: '/v2/opportunities/abc', template: '/v2/opportunities/{opportunity_id}', field: 'opportunity_id' },
    // orders
    { family: 'orders', kind: 'required', method: 'POST', path: '/v2/orders', template: '/v2/orders', body: { ...ok.order, order_title: undefined }, field: 'order_title' },
    { family: 'orders', kind: 'type', method: 'POST', path: '/v2/orders', template: '/v2/orders', body: { ...ok.order, order_title: 9 }, field: 'order_title' },
    { family: 'orders', kind: 'enum', method: 'POST', path: '/v2/orders', template: '/v2/orders', body: { ...ok.order, order_type: 'MAIL' }, field: 'order_type' },
    { family: 'orders', kind: 'enum', method: 'POST', path: `/v2/orders/${ids.order}/items`, template: '/v2/orders/{order_id}/items', body: { quantity: 1, product_id: '1', item_type: 'GIFT' }, field: 'item_type' },
    { family: 'orders', kind: 'path id', method: 'GET', path: '/v2/orders/zz', template: '/v2/orders/{order_id}', field: 'order_id' },
    // payments
    { family: 'payments', kind: 'required', method: 'POST', path: pay, template: payT, body: { payment_amount: 1, payment_method_type: 'CASH' }, field: 'apply_to_commissions' },
    { family: 'payments', kind: 'type', method: 'POST', path: pay, template: payT, body: { ...ok.pay, payment_amount: 'one' }, field: 'payment_amount' },
    { family: 'payments', kind: 'path id', method: 'GET', path: '/v2/orders/zz/payments', template: '/v2/orders/{order_id}/payments', field: 'order_id' },
    { family: 'payments', kind: 'path id', method: 'GET', path: '/v2/contacts/abc/paymentMethods', template: '/v2/contacts/{contact_id}/paymentMethods', field: 'contact_id' },
    // products
    { family: 'products', kind: 'required', method: 'POST', path: '/v2/products', template: '/v2/products', body: { price: 100, short_description: 'x' }, field: 'name' },
    { family: 'products', kind: 'type', method: 'POST', path: '/v2/products', template: '/v2/products', body: { ...ok.product, price: 'cheap' }, field: 'price' },
    { family: 'products', kind: 'path id', method: 'GET', path: '/v2/products/abc', template: '/v2/products/{product_id}', field: 'product_id' },
    // subscriptions
    { family: 'subscriptions', kind: 'required', method: 'POST', path: '/v2/subscriptions', template: '/v2/subscriptions', body: { contact_id: '1' }, field: 'subscription_plan_id' },
    { family: 'subscriptions', kind: 'type', method: 'POST', path: '/v2/subscriptions', template: '/v2/subscriptions', body: { contact_id: '1', subscription_plan_id: '1', quantity: 'two' }, field: 'quantity' },
    { family: 'subscriptions', kind: 'path id', method: 'POST', path: '/v2/subscriptions/abc:deactivate', template: '/v2/subscriptions/{subscription_id}:deactivate', field: 'subscription_id' },
    // campaigns
    { family: 'campaigns', kind: 'required', method: 'POST', path: seq, template: seqT, body: {}, field: 'contact_ids' },
    { family: 'campaigns', kind: 'type', method: 'POST', path: seq, template: seqT, body: { contact_ids: 'x' }, field: 'contact_ids' },
    { family: 'campaigns', kind: 'path id', method: 'GET', path: '/v2/campaigns/abc', template: '/v2/campaigns/{campaign_id}', field: 'campaign_id' },
    { family: 'campaigns', kind: 'required', method: 'POST', path: '/v2/automations/goals/achieve', template: '/v2/automations/goals/achieve', body: { integration: 'x', call_name: 'y' }, field: 'contact_id' },
    { family: 'campaigns', kind: 'type', method: 'POST', path: '/v2/automations/goals/achieve', template: '/v2/automations/goals/achieve', body: { integration: 'x', call_name: 'y', contact_id: 'one' }, field: 'contact_id' },
    // emails
    { family: 'emails', kind: 'required', method: 'POST', path: '/v2/emails:send', template: '/v2/emails:send', body: { contacts: ['1'], user_id: '1' }, field: 'subject' },
    { family: 'emails', kind: 'type', method: 'POST', path: '/v2/emails:send', template: '/v2/emails:send', body: { contacts: '1', subject: 'x', user_id: '1' }, field: 'contacts' },
    { family: 'emails', kind: 'enum', method: 'POST', path: '/v2/emails:send', template: '/v2/emails:send', body: { contacts: ['1'], subject: 'x', user_id: '1', address_field: 'EMAIL9' }, field: 'address_field', prose: true },
    // notes
    { family: 'notes', kind: 'required', method: 'POST', path: '/v2/contacts/1/notes', template: '/v2/contacts/{contact_id}/notes', body: { title: 'x' }, field: 'user_id' },
    { family: 'notes', kind: 'type', method: 'POST', path: '/v2/contacts/1/notes', template: '/v2/contacts/{contact_id}/notes', body: { user_id: '1', title: 'x', is_pinned: 'yes' }, field: 'is_pinned' },
    { family: 'notes', kind: 'enum', method: 'POST', path: '/v2/contacts/1/notes', template: '/v2/contacts/{contact_id}/notes', body: { user_id: '1', title: 'x', type: 'Telepathy' }, field: 'type', prose: true },
    { family: 'notes', kind: 'path id', method: 'GET', path: '/v2/contacts/abc/notes', template: '/v2/contacts/{contact_id}/notes', field: 'contact_id' },
    // tasks
    { family: 'tasks', kind: 'required', method: 'POST', path: '/v2/tasks', template: '/v2/tasks', body: { title: 'x' }, field: 'assigned_to_user_id' },
    { family: 'tasks', kind: 'type', method: 'POST', path: '/v2/tasks', template: '/v2/tasks', body: { ...ok.task, completed: 'no' }, field: 'completed' },
    { family: 'tasks', kind: 'enum', method: 'POST', path: '/v2/tasks', template: '/v2/tasks', body: { ...ok.task, priority: 'HIGH' }, field: 'priority' },
    { family: 'tasks', kind: 'path id', method: 'PATCH', path: '/v2/tasks/abc', template: '/v2/tasks/{task_id}', body: { title: 'x' }, field: 'task_id' },
    // users
    { family: 'users', kind: 'type', method: 'GET', path: '/v2/users', template: '/v2/users', query: { page_size: 'ten' }, field: 'page_size' },
    { family: 'users', kind: 'path id', method: 'GET', path: '/v2/users/abc', template: '/v2/users/{user_id}', field: 'user_id' },
    // hooks (v1)
    { family: 'hooks', kind: 'required', method: 'POST', path: '/v1/hooks', template: '/v1/hooks', body: { eventKey: 'contact.add' }, field: 'hookUrl', prose: true },
    { family: 'hooks', kind: 'type', method: 'POST', path: '/v1/hooks', template: '/v1/hooks', body: { eventKey: 'contact.add', hookUrl: 42 }, field: 'hookUrl' },
    { family: 'hooks', kind: 'enum', method: 'POST', path: '/v1/hooks', template: '/v1/hooks', body: { eventKey: 'contact.explode', hookUrl: 'http://127.0.0.1:9/' }, field: 'eventKey', prose: true },
    { family: 'hooks', kind: 'path id', method: 'GET', path: '/v1/hooks/abc', template: '/v1/hooks/{key}', field: 'key' },
  ];
}

describe('400 naming the field, for every catalog endpoint family', () => {
  it('missing required field, wrong type, unknown enum value and bad path id are rejected without effect', async () => {
    const campaigns = await call(sb.baseUrl, 'GET', '/v2/campaigns');
    const campaign = campaigns.body.campaigns[0].id as string;
    const seqs = await call(sb.baseUrl, 'GET', `/v2/campaigns/${campaign}/sequences`);
    const orders = await call(sb.baseUrl, 'GET', '/v2/orders', { query: { page_size: '1' } });
    const all = cases({
      campaign,
      sequence: String(seqs.body.sequences[0].id),
      order: String(orders.body.orders[0].id),
    });
    const families = new Set(all.map((c) => c.family));
    expect([...families].sort()).toEqual(
      [
        'campaigns',
        'companies',
        'contacts',
        'emails',
        'hooks',
        'notes',
        'opportunities',
        'orders',
        'payments',
        'products',
        'subscriptions',
        'tags',
        'tasks',
        'users',
      ].sort(),
    );
    for (const kind of ['required', 'type', 'path id'] as const)
      for (const f of families)
        if (!['users', 'emails'].includes(f) || kind === 'type')
          expect(
            all.some((c) => c.family === f && c.kind === kind),
            `${f} has a '${kind}' case`,
          ).toBe(true);

    await control(sb.baseUrl, 'DELETE', '/requests');
    const ledgerBefore = (await control(sb.baseUrl, 'GET', '/ledger')).text;
    const failures: string[] = [];
    for (const c of all) {
      const label = `${c.family} ${c.kind}: ${c.method} ${c.path} ${JSON.stringify(c.body ?? c.query ?? '')}`;
      const r = await call(sb.baseUrl, c.method, c.path, {
        ...(c.body !== undefined ? { body: c.body } : {}),
        ...(c.query ? { query: c.query } : {}),
      });
      const message = String(r.body?.message ?? '');
      if (r.status !== 400 || !message.includes(c.field))
        failures.push(`${label} → ${r.status} ${r.text.slice(0, 200)} (want 400 naming ${c.field})`);
      const version = c.template.startsWith('/v1/') ? 'v1' : 'v2';
      // The v2 Error envelope is documented per operation; v1 documents no 400 bodies, so only v2 is judged.
      if (version === 'v2' && r.status === 400) expectValid(version, c.method, c.template, 400, r.body);
      if (version === 'v2' && r.status === 400) expect(r.body, label).toMatchObject({ code: 400 });
      // The document agrees that the request is invalid (schema-level kinds; path ids are checked by pattern/type).
      if (specsAvailable() && c.kind !== 'path id' && !c.prose) {
        const docErrors = validateRequest(version, c.method, c.template, {
          ...(c.body !== undefined ? { body: c.body } : {}),
          ...(c.query ? { query: c.query } : {}),
        });
        if (docErrors.length === 0) failures.push(`${label}: the document accepts this request`);
      }
    }
    expect(failures).toEqual([]);
    // No effect: every one of these requests was counted as without effect and the ledger did not move.
    const n = (await control(sb.baseUrl, 'GET', '/requests')).body;
    expect(n.totals.effective).toBe(0);
    expect(n.totals.noEffect).toBe(all.length);
    expect((await control(sb.baseUrl, 'GET', '/ledger')).text).toBe(ledgerBefore);
  });
});
