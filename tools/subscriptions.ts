import { z } from 'zod';
import { defineTool } from '../src/registry/define.js';
import {
  contactId,
  dollars,
  dollarsField,
  filter,
  idField,
  orderBy,
  page,
  productId,
  subscriptionId,
} from './shared/params.js';

export const subscriptionTools = [
  defineTool({
    name: 'list_subscriptions',
    title: 'List subscriptions',
    description: 'Search recurring subscriptions.',
    resource: 'subscriptions',
    access: 'read',
    method: 'GET',
    path: '/v2/subscriptions',
    input: {
      filter: filter('contact_id==7', 'contact_id, subscription_plan_id, status, ids'),
      order_by: orderBy('id, modification_time'),
      ...page,
    },
    listKey: 'subscriptions',
  }),
  defineTool({
    name: 'get_subscription',
    title: 'Get a subscription',
    description: 'Get one subscription.',
    resource: 'subscriptions',
    access: 'read',
    method: 'GET',
    path: '/v2/subscriptions/{subscription_id}',
    input: { subscription_id: subscriptionId() },
    findWith: 'list_subscriptions',
  }),
  defineTool({
    name: 'list_subscription_plans',
    title: "List a product's subscription plans",
    description: "List a product's subscription plans; gives subscription_plan_id.",
    resource: 'subscriptions',
    access: 'read',
    method: 'GET',
    path: '/v2/products/{product_id}/subscriptions',
    input: {
      product_id: productId(),
      filter: filter('active==true', 'active, cycle_type'),
      order_by: orderBy('id, product_id'),
      ...page,
    },
    listKey: 'subscriptions',
    findWith: 'list_products',
  }),
  defineTool({
    name: 'create_subscription',
    title: 'Create a subscription',
    description:
      'Subscribe a contact to a plan; bills on schedule, charging a saved card unless auto_charge is false.',
    resource: 'subscriptions',
    access: 'write',
    method: 'POST',
    path: '/v2/subscriptions',
    input: {
      contact_id: contactId(),
      subscription_plan_id: idField('From list_subscription_plans'),
      payment_method_id: idField('From list_payment_methods; default: latest card').optional(),
      billing_amount: dollarsField('Per cycle (default: plan price)').min(0).optional(),
      start_date: z.string().optional().describe('First bill date, YYYY-MM-DD (default today)'),
      auto_charge: z.boolean().optional().describe('Default true'),
    },
    confirm: true,
    event: 'subscription.add',
    idempotencyKey: true,
    checkWith: 'get_subscription',
    resolve: {
      records: {
        contact_id: 'contact',
        subscription_plan_id: 'subscription_plan',
        payment_method_id: 'payment_method',
      },
      amounts: ['billing_amount'],
    },
    preview: (i) =>
      `Subscribe contact ${String(i.contact_id)} to plan ${String(i.subscription_plan_id)}${
        i.billing_amount !== undefined
          ? ` at ${dollars(i.billing_amount)} per cycle`
          : " at the plan's price per cycle"
      }${
        i.auto_charge === false
          ? ' (not auto-charged)'
          : ` (auto-charged to ${i.payment_method_id !== undefined ? `payment method ${String(i.payment_method_id)}` : "the contact's latest card"})`
      }`,
  }),
  defineTool({
    name: 'cancel_subscription',
    title: 'Cancel a subscription',
    description: 'Cancel a subscription; billing stops. Cannot be undone.',
    resource: 'subscriptions',
    access: 'write',
    method: 'POST',
    path: '/v2/subscriptions/{subscription_id}:deactivate',
    input: {
      subscription_id: subscriptionId(),
      reason: z.string().optional().describe('Why'),
    },
    confirm: true,
    event: 'subscription.edit',
    idempotent: true,
    findWith: 'list_subscriptions',
    checkWith: 'get_subscription',
    resolve: { records: { subscription_id: 'subscription' }, texts: { reason: 'text' } },
    preview: (i) => `Cancel subscription ${String(i.subscription_id)}; billing stops`,
  }),
];
