/**
 * Orders (v2): orders, their items and their payments.
 *
 * Money: items and totals are kept in cents and rendered as `CurrencyValue`; the request fields Keap types as
 * `double` (`price_per_unit`, `cost_per_unit`, `payment_amount`) and `InvoiceOrderPayment.amount` are decimal
 * amounts in major units (12.5 = $12.50).
 *
 * A payment with `payment_method_id` charges the contact's stored card → ledger 'charge'; a payment with
 * `payment_method_type` records a manual payment → ledger 'payment_recorded'. Paying the balance marks the
 * order PAID. Tables: 'orders', 'order_items', 'order_payments'. Events: order.add, order.edit,
 * invoice.payment.add.
 */
import { z } from 'zod';
import { badRequest, notFound } from '../core/errors.js';
import { listV2, namesParam, parseFilter } from '../core/list.js';
import type { SandboxApi, SbModule, SbRequest, SbResponse, SbRoute } from '../core/types.js';
import { idStr, intBetween, iso, pick } from '../core/util.js';
import { parseBody, pathId, zDate, zDateTime, zId } from '../core/validate.js';
import { contactIds, contactView, currency, fromCents, toCents } from './commerce-common.js';
import { mergeCustomFields, parseCustomFields, renderCustomFields, storedValues } from './custom-fields.js';
import { isExpired, type PaymentMethodRow, paymentMethods } from './payments.js';
import { type ProductRow, plansTable, productsTable } from './products.js';

export const ORDERS = 'orders';
export const ORDER_ITEMS = 'order_items';
export const ORDER_PAYMENTS = 'order_payments';

const CREATE_ITEM_TYPES = [
  'PRODUCT',
  'SHIPPING',
  'TAX',
  'FINANCE_CHARGE',
  'SUBSCRIPTION',
  'DISCOUNT',
  'DISCOUNT_FREE_TRIAL',
  'DISCOUNT_ORDER_TOTAL',
  'DISCOUNT_PRODUCT',
  'DISCOUNT_PRODUCT_CATEGORY',
  'DISCOUNT_SHIPPING',
  'OTHER',
  'FEE',
] as const;
type ItemType = (typeof CREATE_ITEM_TYPES)[number];

/** The Manual Payment Types of a default Keap app (Ecommerce Settings > Orders). */
export const MANUAL_PAYMENT_TYPES = [
  'Credit Card (Manual)',
  'Check',
  'Cash',
  'Money Order',
  'Adjustment',
] as const;

export type PayStatus =
  | 'MANUAL_PAID'
  | 'REFUNDED'
  | 'VOIDED'
  | 'PAYPAL_PAID'
  | 'APPROVED'
  | 'FAILED'
  | 'ERROR'
  | 'PENDING';
const PAY_STATUSES: readonly PayStatus[] = [
  'MANUAL_PAID',
  'REFUNDED',
  'VOIDED',
  'PAYPAL_PAID',
  'APPROVED',
  'FAILED',
  'ERROR',
  'PENDING',
];
const COUNTS_AS_PAID: ReadonlySet<PayStatus> = new Set(['MANUAL_PAID', 'PAYPAL_PAID', 'APPROVED']);

export interface ShippingRow {
  line1?: string;
  line2?: string;
  locality?: string;
  region?: string;
  company?: string;
  phone?: string;
  zip_code?: string;
  zip_four?: string;
  country_code?: string;
  first_name?: string;
  middle_name?: string;
  last_name?: string;
  is_invoice_to_company?: boolean;
}

export interface OrderRow {
  id: number;
  contact_id: number;
  /** order_title. */
  title: string;
  /** The request's `title` ("a title for the invoice"). */
  invoice_title?: string;
  notes: string;
  terms: string;
  order_type: 'ONLINE' | 'OFFLINE';
  source_type: 'API' | 'CHECKOUT_FORM' | 'INVOICE' | 'MANUAL_PAYMENT' | 'QUICKBOOKS' | 'UNKNOWN';
  creation_time: string;
  modification_time: string;
  order_time: string;
  lead_affiliate_id?: number;
  sales_affiliate_id?: number;
  shipping?: ShippingRow;
  promo_codes: string[];
  invoice_number?: string;
  sent_time?: string;
  due_time?: string;
  custom_fields: { id: string; content: unknown }[];
  external_create_user?: string;
  external_create_time?: string;
  external_update_time?: string;
  payment_plan?: PaymentPlanRow;
}

/** Set by PATCH (UpdatedPaymentPlan); `initial_payment_amount` in cents. */
export interface PaymentPlanRow {
  auto_charge?: boolean;
  max_charge_attempts?: number;
  days_between_retries?: number;
  payment_method_id?: number;
  initial_payment_amount?: number;
  initial_payment_date?: string;
  plan_start_date?: string;
  number_of_payments?: number;
  days_between_payments?: number;
}

export interface OrderItemRow {
  id: number;
  order_id: number;
  name: string;
  description: string;
  notes: string;
  quantity: number;
  item_type: ItemType;
  product_id?: number;
  subscription_plan_id?: number;
  /** Cents per unit (positive; discounts subtract). */
  price: number;
  cost: number;
}

export interface OrderPaymentRow {
  id: number;
  order_id: number;
  /** Cents. */
  amount: number;
  note: string;
  pay_time: string;
  pay_status: PayStatus;
  last_updated_time: string;
  skip_commission: boolean;
  payment_method_id?: number;
  payment_method_type?: string;
  transaction_id?: string;
}

export function orders(sb: SandboxApi) {
  return sb.table<OrderRow>(ORDERS);
}
function items(sb: SandboxApi) {
  return sb.table<OrderItemRow>(ORDER_ITEMS);
}
function payments(sb: SandboxApi) {
  return sb.table<OrderPaymentRow>(ORDER_PAYMENTS);
}

function itemsOf(sb: SandboxApi, orderId: number): OrderItemRow[] {
  return items(sb)
    .all()
    .filter((i) => i.order_id === orderId);
}

function paymentsOf(sb: SandboxApi, orderId: number): OrderPaymentRow[] {
  return payments(sb)
    .all()
    .filter((p) => p.order_id === orderId);
}

function itemTotal(i: OrderItemRow): number {
  const line = i.price * i.quantity;
  return i.item_type.startsWith('DISCOUNT') ? -Math.abs(line) : line;
}

export interface OrderTotals {
  total: number;
  paid: number;
  due: number;
  isPaid: boolean;
}

/** Totals in cents, computed from the items and the payments. */
export function orderTotals(sb: SandboxApi, orderId: number): OrderTotals {
  const total = Math.max(
    0,
    itemsOf(sb, orderId).reduce((s, i) => s + itemTotal(i), 0),
  );
  const paid = paymentsOf(sb, orderId)
    .filter((p) => COUNTS_AS_PAID.has(p.pay_status))
    .reduce((s, p) => s + p.amount, 0);
  const due = Math.max(0, total - paid);
  return { total, paid, due, isPaid: total > 0 && due === 0 };
}

function renderItem(sb: SandboxApi, i: OrderItemRow): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: idStr(i.id),
    name: i.name,
    description: i.description,
    notes: i.notes,
    quantity: i.quantity,
    discount: currency(0),
    item_type: i.item_type,
    cost_per_unit: currency(i.cost),
    price_per_unit: currency(i.price),
  };
  if (i.product_id !== undefined) {
    const p = productsTable(sb).get(i.product_id);
    out.product = p
      ? {
          id: idStr(p.id),
          name: p.name,
          sku: p.sku,
          description: p.description,
          shippable: p.shippable,
          taxable: p.taxable,
        }
      : { id: idStr(i.product_id) };
  }
  if (i.subscription_plan_id !== undefined) {
    const plan = plansTable(sb).get(i.subscription_plan_id);
    if (plan) {
      out.subscription_plan = {
        id: idStr(plan.id),
        frequency: plan.billing_frequency,
        active: plan.active,
        subscription_plan_name: plan.name,
        cycle_type: plan.billing_cycle,
        total_cycles: plan.number_of_cycles,
        plan_price: currency(plan.price),
        display_order_index: plan.order_index,
      };
    }
  }
  return out;
}

function orderStatus(o: OrderRow, t: OrderTotals): 'DRAFT' | 'SENT' | 'VIEWED' | 'PAID' {
  if (t.isPaid) return 'PAID';
  return o.sent_time ? 'SENT' : 'DRAFT';
}

function renderOrder(sb: SandboxApi, o: OrderRow): Record<string, unknown> {
  const t = orderTotals(sb, o.id);
  const c = contactView(sb, o.contact_id);
  const contact: Record<string, unknown> = { id: idStr(o.contact_id) };
  if (c?.email) contact.email = c.email;
  if (c?.given_name) contact.given_name = c.given_name;
  if (c?.family_name) contact.family_name = c.family_name;
  const out: Record<string, unknown> = {
    id: idStr(o.id),
    title: o.title,
    status: orderStatus(o, t),
    total: currency(t.total),
    contact,
    notes: o.notes,
    terms: o.terms,
    order_type: o.order_type,
    source_type: o.source_type,
    creation_time: o.creation_time,
    modification_time: o.modification_time,
    order_time: o.order_time,
    total_paid: currency(t.paid),
    total_due: currency(t.due),
    refund_total: currency(0),
    allow_payment: true,
    allow_paypal: false,
    order_items: itemsOf(sb, o.id).map((i) => renderItem(sb, i)),
    files: [],
    synced: false,
    invoice_id: idStr(o.id),
    custom_fields: renderCustomFields(o.custom_fields),
  };
  if (o.lead_affiliate_id !== undefined) out.lead_affiliate_id = idStr(o.lead_affiliate_id);
  if (o.sales_affiliate_id !== undefined) out.sales_affiliate_id = idStr(o.sales_affiliate_id);
  if (o.shipping) {
    const s = o.shipping;
    const address: Record<string, unknown> = { field: 'SHIPPING' };
    for (const k of [
      'line1',
      'line2',
      'locality',
      'region',
      'country_code',
      'zip_code',
      'zip_four',
    ] as const) {
      if (s[k] !== undefined) address[k] = s[k];
    }
    if (s.zip_code !== undefined) address.postal_code = s.zip_code;
    const info: Record<string, unknown> = {
      id: idStr(o.id),
      address,
      invoice_to_company: s.is_invoice_to_company ?? false,
    };
    if (s.company !== undefined) info.company = s.company;
    if (s.first_name !== undefined) info.given_name = s.first_name;
    if (s.last_name !== undefined) info.family_name = s.last_name;
    if (s.phone !== undefined) info.phone_number = s.phone;
    out.shipping_information = info;
  }
  if (o.promo_codes.length > 0) out.promo_code = o.promo_codes.join(',');
  if (o.invoice_number !== undefined) out.invoice_number = o.invoice_number;
  if (o.sent_time !== undefined) out.sent_time = o.sent_time;
  if (o.due_time !== undefined) out.due_time = o.due_time;
  if (o.external_create_user !== undefined) out.external_create_user = o.external_create_user;
  if (o.external_create_time !== undefined) out.external_create_time = o.external_create_time;
  if (o.external_update_time !== undefined) out.external_update_time = o.external_update_time;
  if (o.payment_plan) {
    const { payment_method_id, initial_payment_amount, ...rest } = o.payment_plan;
    const plan: Record<string, unknown> = { ...rest };
    if (payment_method_id !== undefined) plan.payment_method_id = idStr(payment_method_id);
    if (initial_payment_amount !== undefined) plan.initial_payment_amount = currency(initial_payment_amount);
    out.payment_plan = plan;
  }
  return out;
}

function renderPayment(p: OrderPaymentRow): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: idStr(p.id),
    amount: fromCents(p.amount),
    note: p.note,
    invoice_id: idStr(p.order_id),
    payment_id: idStr(p.id),
    pay_time: p.pay_time,
    pay_status: p.pay_status,
    last_updated_time: p.last_updated_time,
    skip_commission: p.skip_commission,
  };
  return out;
}

// ---------------------------------------------------------------- request schemas

const nonBlank = z.string().refine((s) => s.trim() !== '', { message: 'must not be blank' });

const CreateItem = z.strictObject({
  name: nonBlank.optional(),
  description: nonBlank.optional(),
  quantity: z.number().int().min(1),
  notes: nonBlank.optional(),
  product_id: zId.optional(),
  subscription_plan_id: zId.optional(),
  subscription_plan_description: nonBlank.optional(),
  item_type: z.enum(CREATE_ITEM_TYPES).optional(),
  price_per_unit: z.number().min(0).optional(),
  cost_per_unit: z.number().min(0).optional(),
});
type CreateItemBody = z.infer<typeof CreateItem>;

const CreateOrder = z.strictObject({
  notes: z.string().optional(),
  terms: z.string().optional(),
  title: z.string().optional(),
  contact_id: zId,
  order_items: z.array(CreateItem).optional(),
  order_title: nonBlank,
  order_time: zDateTime,
  order_type: z.enum(['ONLINE', 'OFFLINE']),
  promo_codes: z.array(z.string()).optional(),
  lead_affiliate_id: zId.optional(),
  sales_affiliate_id: zId.optional(),
  shipping_address: z
    .strictObject({
      line1: z.string().max(75).optional(),
      line2: z.string().max(75).optional(),
      locality: z.string().optional(),
      region: z.string().optional(),
      company: z.string().optional(),
      phone: z.string().optional(),
      zip_code: z.string().max(15).optional(),
      zip_four: z.string().max(10).optional(),
      country_code: z.string().optional(),
      first_name: z.string().optional(),
      middle_name: z.string().optional(),
      last_name: z.string().optional(),
      is_invoice_to_company: z.boolean().optional(),
    })
    .optional(),
  custom_fields: z
    .array(z.strictObject({ id: z.string().regex(/^\d+$/, 'must be a numeric id'), content: z.unknown() }))
    .optional(),
  sent_time: zDateTime.optional(),
  due_time: zDateTime.optional(),
  invoice_number: z.string().optional(),
  external_create_user: z.string().optional(),
  external_create_time: zDateTime.optional(),
  external_update_time: zDateTime.optional(),
});

const ORDER_UPDATE_MASK = [
  'contact_id',
  'order_items',
  'order_title',
  'order_time',
  'order_type',
  'promo_codes',
  'lead_affiliate_id',
  'sales_affiliate_id',
  'shipping_address',
  'notes',
  'terms',
  'payment_plan',
  'custom_fields',
  'sent_time',
  'title',
  'due_time',
  'invoice_number',
  'external_create_user',
  'external_create_time',
  'external_update_time',
] as const;
type OrderMaskName = (typeof ORDER_UPDATE_MASK)[number];

/** Keap's UpdateOrderRequest (no `order_items` or `title`, though update_mask names them). */
const UpdateOrder = z.strictObject({
  notes: z.string().optional(),
  terms: z.string().optional(),
  contact_id: zId.optional(),
  order_title: nonBlank.optional(),
  order_time: zDateTime.optional(),
  order_type: z.enum(['ONLINE', 'OFFLINE']).optional(),
  promo_codes: z.array(z.string()).optional(),
  lead_affiliate_id: zId.optional(),
  sales_affiliate_id: zId.optional(),
  shipping_address: CreateOrder.shape.shipping_address,
  payment_plan: z
    .strictObject({
      auto_charge: z.boolean().optional(),
      max_charge_attempts: z.number().int().min(1).optional(),
      days_between_retries: z.number().int().min(0).optional(),
      payment_method_id: zId.optional(),
      initial_payment_amount: z.number().min(0).optional(),
      initial_payment_date: zDate.optional(),
      plan_start_date: zDate.optional(),
      number_of_payments: z.number().int().min(1).optional(),
      days_between_payments: z.number().int().min(1).optional(),
    })
    .optional(),
  custom_fields: CreateOrder.shape.custom_fields,
  sent_time: zDateTime.optional(),
  due_time: zDateTime.optional(),
  invoice_number: z.string().optional(),
  external_create_user: z.string().optional(),
  external_create_time: zDateTime.optional(),
  external_update_time: zDateTime.optional(),
});

/**
 * `PATCH /v2/orders/{order_id}`: with update_mask only the named properties change (a named optional property left
 * out of the body is cleared; a named required one → 400), without it the sent ones.
 */
function updateOrder(req: SbRequest, sb: SandboxApi): SbResponse {
  const o = getOrder(sb, req);
  const mask = namesParam(req.query, 'update_mask', ORDER_UPDATE_MASK);
  if (req.body === undefined) throw badRequest('body', 'A request body is required');
  const b = parseBody(UpdateOrder, req.body);
  const sent = b as Record<string, unknown>;
  const take = (k: OrderMaskName): boolean => (mask ? mask.has(k) : sent[k] !== undefined);
  const need = <T>(k: OrderMaskName, v: T | undefined): T => {
    if (v === undefined) throw badRequest(k, `'${k}' is required when update_mask names it`);
    return v;
  };
  const row: OrderRow = structuredClone(o);
  if (take('contact_id')) {
    const c = need('contact_id', b.contact_id);
    if (!contactView(sb, c)) throw badRequest('contact_id', `Contact with id ${c} not found`);
    row.contact_id = c;
  }
  if (take('order_title')) row.title = need('order_title', b.order_title);
  if (take('order_time')) row.order_time = need('order_time', b.order_time);
  if (take('order_type')) row.order_type = need('order_type', b.order_type);
  if (take('notes')) row.notes = b.notes ?? '';
  if (take('terms')) row.terms = b.terms ?? '';
  if (take('promo_codes')) row.promo_codes = [...(b.promo_codes ?? [])];
  const optional = [
    'lead_affiliate_id',
    'sales_affiliate_id',
    'sent_time',
    'due_time',
    'invoice_number',
    'external_create_user',
    'external_create_time',
    'external_update_time',
  ] as const;
  for (const k of optional) {
    if (!take(k)) continue;
    const v = b[k];
    if (v === undefined) delete row[k];
    else Object.assign(row, { [k]: v });
  }
  if (take('shipping_address')) {
    if (b.shipping_address === undefined) delete row.shipping;
    else row.shipping = { ...b.shipping_address };
  }
  if (take('payment_plan')) {
    const pp = b.payment_plan;
    if (pp === undefined) delete row.payment_plan;
    else {
      if (pp.payment_method_id !== undefined) {
        const pm = paymentMethods(sb).get(pp.payment_method_id);
        if (!pm || pm.contact_id !== row.contact_id) {
          throw badRequest(
            'payment_plan.payment_method_id',
            `Payment method with id ${pp.payment_method_id} not found for contact ${row.contact_id}`,
          );
        }
      }
      const { initial_payment_amount, ...rest } = pp;
      row.payment_plan = {
        ...rest,
        ...(initial_payment_amount !== undefined
          ? { initial_payment_amount: toCents(initial_payment_amount) }
          : {}),
      };
    }
  }
  if (take('custom_fields')) {
    const incoming = storedValues(parseCustomFields(sb, 'orders', b.custom_fields ?? []));
    row.custom_fields = mergeCustomFields(o.custom_fields, incoming);
  }
  row.modification_time = iso(sb.now());
  const patch: Record<string, unknown> = { ...row };
  for (const k of Object.keys(o)) if (!(k in patch)) patch[k] = undefined;
  orders(sb).update(o.id, patch as Partial<OrderRow>);
  sb.emit('order.edit', 'order', o.id);
  return { status: 200, body: renderOrder(sb, row) };
}

const CreatePayment = z.strictObject({
  notes: z.string().optional(),
  payment_method_id: zId.optional(),
  payment_method_type: z.string().optional(),
  payment_time: zDateTime.optional(),
  payment_amount: z.number(),
  apply_to_commissions: z.boolean(),
  external_source: z.string().optional(),
  external_source_value: z.string().optional(),
  external_status_value: z.string().optional(),
  external_create_time: zDateTime.optional(),
  external_update_time: zDateTime.optional(),
  external_create_user: z.string().optional(),
});

/** Validate one item request against the catalog and build its row (without id). */
function buildItem(
  sb: SandboxApi,
  b: CreateItemBody,
  orderId: number,
  prefix: string,
): Omit<OrderItemRow, 'id'> {
  const type: ItemType = b.item_type ?? 'PRODUCT';
  const needsProduct = type === 'PRODUCT' || type === 'SUBSCRIPTION';
  let product: ProductRow | undefined;
  if (b.product_id !== undefined) {
    product = productsTable(sb).get(b.product_id);
    if (!product) throw badRequest(`${prefix}product_id`, `Product with id ${b.product_id} not found`);
  } else if (needsProduct) {
    throw badRequest(`${prefix}product_id`, `'${prefix}product_id' is required for item_type ${type}`);
  }
  let planId: number | undefined;
  if (type === 'SUBSCRIPTION') {
    if (b.subscription_plan_id === undefined) {
      throw badRequest(
        `${prefix}subscription_plan_id`,
        `'${prefix}subscription_plan_id' is required for item_type SUBSCRIPTION`,
      );
    }
    const plan = plansTable(sb).get(b.subscription_plan_id);
    if (!plan || plan.product_id !== product?.id) {
      throw badRequest(
        `${prefix}subscription_plan_id`,
        `Subscription plan with id ${b.subscription_plan_id} not found for product ${product?.id}`,
      );
    }
    planId = plan.id;
  }
  let price: number;
  if (b.price_per_unit !== undefined) price = toCents(b.price_per_unit);
  else if (planId !== undefined) price = plansTable(sb).get(planId)?.price ?? 0;
  else if (product && needsProduct) price = product.price;
  else
    throw badRequest(
      `${prefix}price_per_unit`,
      `'${prefix}price_per_unit' is required for item_type ${type}`,
    );
  const name = b.name ?? product?.name ?? type.charAt(0) + type.slice(1).toLowerCase().replace(/_/g, ' ');
  const row: Omit<OrderItemRow, 'id'> = {
    order_id: orderId,
    name,
    description: b.description ?? product?.short_description ?? '',
    notes: b.notes ?? '',
    quantity: b.quantity,
    item_type: type,
    price,
    cost: b.cost_per_unit !== undefined ? toCents(b.cost_per_unit) : 0,
  };
  if (product) row.product_id = product.id;
  if (planId !== undefined) row.subscription_plan_id = planId;
  return row;
}

function getOrder(sb: SandboxApi, req: SbRequest): OrderRow {
  const id = pathId(req, 'order_id');
  const o = orders(sb).get(id);
  if (!o) throw notFound('Order', id);
  return o;
}

/** Date pseudo-fields of the orders filter (`created_since_time==…`): validated up front, compared inclusively. */
const TIME_FILTERS: Record<string, { get: (o: OrderRow) => string; since: boolean }> = {
  created_since_time: { get: (o) => o.creation_time, since: true },
  created_until_time: { get: (o) => o.creation_time, since: false },
  modified_since_time: { get: (o) => o.modification_time, since: true },
  modified_until_time: { get: (o) => o.modification_time, since: false },
};

function checkOrderFilter(req: SbRequest): void {
  const raw = req.query.get('filter');
  if (!raw) return;
  for (const c of parseFilter(raw)) {
    if (
      c.field in TIME_FILTERS &&
      (!/^\d{4}-\d{2}-\d{2}T/.test(c.value) || Number.isNaN(Date.parse(c.value)))
    ) {
      throw badRequest('filter', `Invalid date-time '${c.value}' for field '${c.field}' in 'filter'`);
    }
  }
}

function timeFilter(get: (o: OrderRow) => string, since: boolean) {
  return {
    get,
    type: 'date' as const,
    match: (o: OrderRow, _op: string, value: string) => {
      const t = Date.parse(get(o));
      const v = Date.parse(value);
      return since ? t >= v : t <= v;
    },
  };
}

const routes: SbRoute[] = [
  {
    method: 'GET',
    path: '/v2/orders',
    handler: (req, sb) => {
      checkOrderFilter(req);
      const shipping = (o: OrderRow) => o.shipping;
      const timeFilters = Object.fromEntries(
        Object.entries(TIME_FILTERS).map(([k, v]) => [k, timeFilter(v.get, v.since)]),
      );
      return listV2<OrderRow>(req, orders(sb).all(), {
        key: 'orders',
        render: (o) => renderOrder(sb, o),
        filter: {
          id: { get: (o) => o.id, type: 'number', ops: ['==', '<=', '<', '>=', '>', '!='] },
          ids: { get: (o) => o.id, type: 'number', list: true },
          product_id: {
            get: (o) =>
              itemsOf(sb, o.id)
                .map((i) => i.product_id)
                .filter((p) => p !== undefined),
            type: 'string',
          },
          contact_id: { get: (o) => o.contact_id, type: 'string' },
          invoice_id: { get: (o) => o.id, type: 'string' },
          invoice_xid: { get: (o) => `sbx-invoice-${o.id}`, type: 'string' },
          paid: { get: (o) => orderTotals(sb, o.id).isPaid, type: 'boolean' },
          ...timeFilters,
          title: { get: (o) => o.title, type: 'string', wildcard: true },
          order_type: { get: (o) => o.order_type, type: 'enum', values: ['ONLINE', 'OFFLINE'] },
          shipping_locality: { get: (o) => shipping(o)?.locality, type: 'string' },
          shipping_region_code: { get: (o) => shipping(o)?.region, type: 'string' },
          shipping_postal_code: { get: (o) => shipping(o)?.zip_code, type: 'string' },
          shipping_country_code: { get: (o) => shipping(o)?.country_code, type: 'string' },
        },
        orderBy: {
          id: (o) => o.id,
          order_time: (o) => Date.parse(o.order_time),
          modification_time: (o) => o.modification_time,
        },
        defaultOrder: 'id asc',
      });
    },
  },
  {
    method: 'POST',
    path: '/v2/orders',
    handler: (req, sb) => {
      const b = parseBody(CreateOrder, req.body);
      if (!contactView(sb, b.contact_id))
        throw badRequest('contact_id', `Contact with id ${b.contact_id} not found`);
      const t = orders(sb);
      const id = t.nextId();
      // Validate every item before writing anything.
      const itemRows = (b.order_items ?? []).map((it, i) => buildItem(sb, it, id, `order_items[${i}].`));
      const now = iso(sb.now());
      const row: OrderRow = {
        id,
        contact_id: b.contact_id,
        title: b.order_title,
        notes: b.notes ?? '',
        terms: b.terms ?? '',
        order_type: b.order_type,
        source_type: 'API',
        creation_time: now,
        modification_time: now,
        order_time: b.order_time,
        promo_codes: b.promo_codes ?? [],
        custom_fields: storedValues(parseCustomFields(sb, 'orders', b.custom_fields ?? [])),
      };
      if (b.title !== undefined) row.invoice_title = b.title;
      if (b.lead_affiliate_id !== undefined) row.lead_affiliate_id = b.lead_affiliate_id;
      if (b.sales_affiliate_id !== undefined) row.sales_affiliate_id = b.sales_affiliate_id;
      if (b.shipping_address !== undefined) row.shipping = { ...b.shipping_address };
      if (b.invoice_number !== undefined) row.invoice_number = b.invoice_number;
      if (b.sent_time !== undefined) row.sent_time = b.sent_time;
      if (b.due_time !== undefined) row.due_time = b.due_time;
      if (b.external_create_user !== undefined) row.external_create_user = b.external_create_user;
      if (b.external_create_time !== undefined) row.external_create_time = b.external_create_time;
      if (b.external_update_time !== undefined) row.external_update_time = b.external_update_time;
      t.insert(row);
      const it = items(sb);
      for (const r of itemRows) it.insert({ id: it.nextId(), ...r });
      sb.emit('order.add', 'order', id);
      return { status: 201, body: renderOrder(sb, row) };
    },
  },
  {
    method: 'GET',
    path: '/v2/orders/{order_id}',
    handler: (req, sb) => ({ status: 200, body: renderOrder(sb, getOrder(sb, req)) }),
  },
  { method: 'PATCH', path: '/v2/orders/{order_id}', handler: updateOrder },
  {
    method: 'POST',
    path: '/v2/orders/{order_id}/items',
    handler: (req, sb) => {
      const o = getOrder(sb, req);
      const b = parseBody(CreateItem, req.body);
      const r = buildItem(sb, b, o.id, '');
      const it = items(sb);
      const row: OrderItemRow = { id: it.nextId(), ...r };
      it.insert(row);
      orders(sb).update(o.id, { modification_time: iso(sb.now()) });
      sb.emit('order.edit', 'order', o.id);
      return { status: 201, body: renderItem(sb, row) };
    },
  },
  {
    method: 'GET',
    path: '/v2/orders/{order_id}/payments',
    handler: (req, sb) => {
      const o = getOrder(sb, req);
      return listV2<OrderPaymentRow>(req, paymentsOf(sb, o.id), {
        key: 'invoice_order_payments',
        render: renderPayment,
        filter: {
          invoice_id: { get: (p) => p.order_id, type: 'string' },
          payment_id: { get: (p) => p.id, type: 'string' },
          amount: { get: (p) => fromCents(p.amount), type: 'number' },
          pay_status: { get: (p) => p.pay_status, type: 'enum', values: PAY_STATUSES },
          skip_commission: { get: (p) => p.skip_commission, type: 'boolean' },
        },
        orderBy: {
          invoice_id: (p) => p.order_id,
          payment_id: (p) => p.id,
          amount: (p) => p.amount,
          pay_time: (p) => p.pay_time,
          pay_status: (p) => p.pay_status,
          skip_commission: (p) => (p.skip_commission ? 1 : 0),
          last_updated_time: (p) => p.last_updated_time,
        },
        defaultOrder: 'payment_id asc',
      });
    },
  },
  {
    method: 'POST',
    path: '/v2/orders/{order_id}/payments',
    handler: (req, sb) => {
      const o = getOrder(sb, req);
      const b = parseBody(CreatePayment, req.body);
      const charge = b.payment_method_id !== undefined;
      if (!charge && (b.payment_method_type === undefined || b.payment_method_type.trim() === '')) {
        throw badRequest(
          'payment_method_id',
          `At least one of 'payment_method_id' or 'payment_method_type' is required`,
        );
      }
      const now = sb.now();
      // Which instrument: a stored card of the order's contact, or a configured manual payment type.
      let pm: PaymentMethodRow | undefined;
      if (charge) {
        const pmId = b.payment_method_id as number;
        pm = paymentMethods(sb).get(pmId);
        if (!pm || pm.contact_id !== o.contact_id) {
          throw badRequest(
            'payment_method_id',
            `Payment method with id ${pmId} not found for contact ${o.contact_id}`,
          );
        }
        if (isExpired(pm, now)) {
          throw badRequest('payment_method_id', `Payment method ${pmId} was declined: card expired`);
        }
      } else if (!(MANUAL_PAYMENT_TYPES as readonly string[]).includes(b.payment_method_type as string)) {
        throw badRequest(
          'payment_method_type',
          `Unknown 'payment_method_type' '${b.payment_method_type}' (configured manual payment types: ${MANUAL_PAYMENT_TYPES.join(', ')})`,
        );
      }
      const cents = toCents(b.payment_amount);
      if (cents < 0 || (charge && cents <= 0)) {
        throw badRequest(
          'payment_amount',
          `'payment_amount' must be greater than 0${charge ? ' when charging a payment method' : ''}`,
        );
      }
      const before = orderTotals(sb, o.id);
      if (cents > before.due) {
        throw badRequest(
          'payment_amount',
          `'payment_amount' ${b.payment_amount} exceeds the order's current balance of ${fromCents(before.due)}`,
        );
      }
      const t = payments(sb);
      const id = t.nextId();
      const row: OrderPaymentRow = {
        id,
        order_id: o.id,
        amount: cents,
        note: b.notes ?? '',
        pay_time: b.payment_time ?? iso(now),
        pay_status: pm ? 'APPROVED' : 'MANUAL_PAID',
        last_updated_time: iso(now),
        skip_commission: !b.apply_to_commissions,
      };
      if (pm) {
        row.payment_method_id = pm.id;
        row.transaction_id = `sbx_txn_${id.toString().padStart(6, '0')}`;
        t.insert(row);
        sb.record('charge', {
          order_id: idStr(o.id),
          payment_id: idStr(id),
          contact_id: idStr(o.contact_id),
          payment_method_id: idStr(pm.id),
          card: `${pm.brand} ****${pm.last_four}`,
          amount: cents,
          currency: 'USD',
          transaction_id: row.transaction_id,
        });
      } else {
        const type = b.payment_method_type as string;
        row.payment_method_type = type;
        t.insert(row);
        sb.record('payment_recorded', {
          order_id: idStr(o.id),
          payment_id: idStr(id),
          contact_id: idStr(o.contact_id),
          payment_method_type: type,
          amount: cents,
          currency: 'USD',
        });
      }
      orders(sb).update(o.id, { modification_time: iso(now) });
      sb.emit('invoice.payment.add', 'invoice.payment', id);
      sb.emit('order.edit', 'order', o.id);
      const body: Record<string, unknown> = {
        id: idStr(id),
        invoice_id: idStr(o.id),
        payment_amount: fromCents(cents),
        payment_status_message: row.pay_status,
      };
      if (row.transaction_id) body.transaction_id = row.transaction_id;
      return { status: 201, body };
    },
  },
];

// ---------------------------------------------------------------- seed

const ORDER_TITLES = [
  'Online purchase',
  'Invoice',
  'Workshop registration',
  'Store order',
  'Service order',
] as const;

function seed(sb: SandboxApi): void {
  const rnd = (): number => sb.random();
  const contacts = contactIds(sb);
  const catalog = productsTable(sb)
    .all()
    .filter((p) => p.active && !p.subscription_only);
  if (contacts.length === 0 || catalog.length === 0) return;
  const pms = paymentMethods(sb).all();
  const base = sb.now().getTime();
  const day = 86_400_000;
  const ot = orders(sb);
  const it = items(sb);
  const pt = payments(sb);
  const now = sb.now();
  for (let n = 0; n < 36; n++) {
    // Two orders in three go to a contact with a stored card (so they can be charged).
    const pm = pms.length > 0 && rnd() < 0.67 ? pick(rnd, pms) : undefined;
    const contactId = pm ? pm.contact_id : pick(rnd, contacts);
    const c = contactView(sb, contactId);
    const at = base - (360 - n * 9) * day - intBetween(rnd, 0, day - 1);
    const id = ot.nextId();
    const online = rnd() < 0.6;
    const row: OrderRow = {
      id,
      contact_id: contactId,
      title: `${pick(rnd, ORDER_TITLES)} #${1000 + id}`,
      notes: '',
      terms: online ? '' : 'Net 30',
      order_type: online ? 'ONLINE' : 'OFFLINE',
      source_type: online ? 'CHECKOUT_FORM' : 'INVOICE',
      creation_time: iso(new Date(at)),
      modification_time: iso(new Date(at)),
      order_time: iso(new Date(at)),
      promo_codes: [],
      custom_fields: [],
      invoice_number: String(1000 + id),
    };
    if (c?.address?.line1) {
      row.shipping = {
        line1: c.address.line1,
        ...(c.address.locality ? { locality: c.address.locality } : {}),
        ...(c.address.region ? { region: c.address.region } : {}),
        ...(c.address.postal_code ? { zip_code: c.address.postal_code } : {}),
        country_code: c.address.country_code ?? 'USA',
        ...(c.given_name ? { first_name: c.given_name } : {}),
        ...(c.family_name ? { last_name: c.family_name } : {}),
      };
    }
    if (!online) row.sent_time = iso(new Date(at + 3_600_000));
    ot.insert(row);
    const count = intBetween(rnd, 1, 3);
    let total = 0;
    for (let k = 0; k < count; k++) {
      const p = pick(rnd, catalog);
      const qty = p.shippable ? intBetween(rnd, 1, 3) : 1;
      it.insert({
        id: it.nextId(),
        order_id: id,
        name: p.name,
        description: p.short_description,
        notes: '',
        quantity: qty,
        item_type: 'PRODUCT',
        product_id: p.id,
        price: p.price,
        cost: Math.round(p.price * 0.4),
      });
      total += p.price * qty;
    }
    const r = rnd();
    const amount = r < 0.6 ? total : r < 0.75 ? Math.round(total / 2) : 0;
    if (amount > 0) {
      const paidAt = iso(new Date(at + intBetween(rnd, 0, 5) * day));
      const pid = pt.nextId();
      const usable = pm && !isExpired(pm, now) ? pm : undefined;
      const pay: OrderPaymentRow = {
        id: pid,
        order_id: id,
        amount,
        note: '',
        pay_time: paidAt,
        pay_status: usable ? 'APPROVED' : 'MANUAL_PAID',
        last_updated_time: paidAt,
        skip_commission: false,
      };
      if (usable) {
        pay.payment_method_id = usable.id;
        pay.transaction_id = `sbx_txn_${String(pid).padStart(6, '0')}`;
      } else {
        pay.payment_method_type = pick(rnd, ['Cash', 'Check', 'Credit Card (Manual)']);
      }
      pt.insert(pay);
      ot.update(id, { modification_time: paidAt });
    }
  }
}

export const ordersModule: SbModule = { name: 'orders', routes, seed };
