import { z } from 'zod';
import { defineTool } from '../src/registry/define.js';
import {
  contactId,
  dollars,
  dollarsField,
  filter,
  idField,
  orderBy,
  orderId,
  page,
  productId,
  timeField,
} from './shared/params.js';

/** Keap's order item types (all documented values). */
const ITEM_TYPES = [
  'PRODUCT',
  'SUBSCRIPTION',
  'SHIPPING',
  'TAX',
  'FEE',
  'FINANCE_CHARGE',
  'DISCOUNT',
  'DISCOUNT_FREE_TRIAL',
  'DISCOUNT_ORDER_TOTAL',
  'DISCOUNT_PRODUCT',
  'DISCOUNT_PRODUCT_CATEGORY',
  'DISCOUNT_SHIPPING',
  'OTHER',
] as const;

/** One order line (Keap's CreateOrderItemRequest, common part; the rest is accepted by name). */
const itemFields = {
  product_id: productId().optional(),
  name: z.string().optional().describe('Line name'),
  quantity: z.int().min(1).describe('Quantity'),
  price_per_unit: dollarsField('Unit price (default: product price)').optional(),
};

export const orderTools = [
  defineTool({
    name: 'list_orders',
    title: 'List orders',
    description: 'Search orders (invoices) with totals and paid status.',
    resource: 'orders',
    access: 'read',
    method: 'GET',
    path: '/v2/orders',
    input: {
      filter: filter(
        'contact_id==7;paid==false',
        'ids, contact_id, product_id, paid, title (* suffix ok), created_since_time',
      ),
      order_by: orderBy('id, order_time'),
      ...page,
    },
    listKey: 'orders',
  }),
  defineTool({
    name: 'get_order',
    title: 'Get an order',
    description: 'Get one order: items, total, amount due.',
    resource: 'orders',
    access: 'read',
    method: 'GET',
    path: '/v2/orders/{order_id}',
    input: { order_id: orderId() },
    findWith: 'list_orders',
  }),
  defineTool({
    name: 'create_order',
    title: 'Create an order',
    description: 'Create an order (invoice) for a contact; charges nothing (see create_order_payment).',
    resource: 'orders',
    access: 'write',
    method: 'POST',
    path: '/v2/orders',
    input: {
      contact_id: contactId(),
      order_title: z.string().describe('Title'),
      order_time: timeField('Order date'),
      order_type: z.enum(['ONLINE', 'OFFLINE']).describe('OFFLINE = manual'),
      order_items: z.array(z.object(itemFields)).optional().describe('Items'),
      notes: z.string().optional().describe('Notes'),
    },
    confirm: true,
    event: 'order.add',
    idempotencyKey: true,
    checkWith: 'get_order',
    resolve: {
      records: { contact_id: 'contact', order_items: 'order_items' },
      texts: { order_title: 'text', notes: 'text' },
      amounts: ['order_items[].price_per_unit'],
    },
    preview: (i) =>
      `Create an order for contact ${String(i.contact_id)} with ${
        Array.isArray(i.order_items) ? i.order_items.length : 0
      } item(s); nothing is charged`,
  }),
  defineTool({
    name: 'add_order_item',
    title: 'Add an item to an order',
    description: 'Add a line to an order: a product, or shipping, tax, fee, discount…',
    resource: 'orders',
    access: 'write',
    method: 'POST',
    path: '/v2/orders/{order_id}/items',
    input: {
      order_id: orderId(),
      ...itemFields,
      item_type: z.enum(ITEM_TYPES).optional().describe('Default PRODUCT'),
    },
    idempotencyKey: true,
    findWith: 'list_orders',
    checkWith: 'get_order',
  }),
  defineTool({
    name: 'list_order_payments',
    title: "List an order's payments",
    description: "List an order's payments.",
    resource: 'payments',
    access: 'read',
    method: 'GET',
    path: '/v2/orders/{order_id}/payments',
    input: {
      order_id: orderId(),
      filter: filter('pay_status==APPROVED', 'payment_id, amount, pay_status'),
      order_by: orderBy('pay_time, amount, pay_status, payment_id, invoice_id, last_updated_time'),
      ...page,
    },
    listKey: 'invoice_order_payments',
    findWith: 'list_orders',
  }),
  defineTool({
    name: 'create_order_payment',
    title: 'Pay an order',
    description:
      'Pay an order: payment_method_id CHARGES that card now; payment_method_type only records a manual payment.',
    resource: 'payments',
    access: 'write',
    method: 'POST',
    path: '/v2/orders/{order_id}/payments',
    input: {
      order_id: orderId(),
      payment_amount: dollarsField('Amount').positive(),
      apply_to_commissions: z.boolean().describe('Credit commissions'),
      payment_method_id: idField('Card, from list_payment_methods').optional(),
      payment_method_type: z.string().optional().describe("Or: manual type, e.g. 'Cash'"),
    },
    rules: [{ kind: 'exactly_one', keys: ['payment_method_id', 'payment_method_type'] }],
    confirm: true,
    idempotencyKey: true,
    findWith: 'list_orders',
    checkWith: 'list_order_payments',
    resolve: {
      records: { order_id: 'order', payment_method_id: 'payment_method' },
      texts: { payment_method_type: 'text' },
      amounts: ['payment_amount'],
    },
    preview: (i) =>
      i.payment_method_id !== undefined
        ? `Charge ${dollars(i.payment_amount)} to payment method ${String(i.payment_method_id)} for order ${String(
            i.order_id,
          )} (contact's card is charged now)`
        : `Record a ${dollars(i.payment_amount)} '${String(i.payment_method_type ?? 'manual')}' payment on order ${String(
            i.order_id,
          )} (no card is charged)`,
  }),
  defineTool({
    name: 'list_payment_methods',
    title: "List a contact's payment methods",
    description: "List a contact's saved cards; gives payment_method_id.",
    resource: 'payments',
    access: 'read',
    method: 'GET',
    path: '/v2/contacts/{contact_id}/paymentMethods',
    input: {
      contact_id: contactId(),
      order_by: orderBy('created_time'),
      ...page,
    },
    listKey: 'records',
    findWith: 'list_contacts',
  }),
];
