/**
 * Subscriptions (v2): a contact on a product's subscription plan.
 * Create → ledger 'subscription_started'; `:deactivate` → ledger 'subscription_cancelled'.
 * Money: `billing_amount` is a decimal amount in major units (as Keap types it, `double`); stored in cents.
 *
 * Table: 'subscriptions'. Events: subscription.add, subscription.edit.
 */
import { z } from 'zod';
import { badRequest, conflict, notFound } from '../core/errors.js';
import { listV2, namesParam } from '../core/list.js';
import type { SandboxApi, SbModule, SbRequest, SbResponse, SbRoute } from '../core/types.js';
import { idStr, intBetween, iso, pick } from '../core/util.js';
import { parseBody, pathId, zDate, zId } from '../core/validate.js';
import { contactExists, fromCents, isoDate, toCents } from './commerce-common.js';
import { mergeCustomFields, parseCustomFields, renderCustomFields, storedValues } from './custom-fields.js';
import { defaultPaymentMethod, paymentMethods } from './payments.js';
import { type BillingCycle, plansTable, productsTable, type SubscriptionPlanRow } from './products.js';

export const SUBSCRIPTIONS = 'subscriptions';

export interface SubscriptionAddress {
  line1?: string;
  line2?: string;
  locality?: string;
  field?: 'ADDRESS_FIELD_UNSPECIFIED' | 'BILLING' | 'SHIPPING' | 'OTHER';
  country_code?: string;
  postal_code?: string;
  region_code?: string;
}

export interface SubscriptionRow {
  id: number;
  contact_id: number;
  product_id: number;
  subscription_plan_id: number;
  quantity: number;
  active: boolean;
  /** Cents. */
  billing_amount: number;
  auto_charge: boolean;
  billing_cycle: BillingCycle;
  billing_frequency: number;
  start_date: string;
  last_bill_date?: string;
  next_bill_date?: string;
  end_date?: string;
  merchant_account_id?: number;
  payment_method_id?: number;
  allow_tax: boolean;
  max_charge_attempts: number;
  days_between_retries: number;
  lead_affiliate_id?: number;
  sale_affiliate_id?: number;
  shipping_address?: SubscriptionAddress;
  promo_code?: string;
  shipping_option_id?: number;
  reason_stopped?: string;
  modification_time: string;
  custom_fields: { id: string; content: unknown }[];
}

const CYCLE: Record<BillingCycle, 'DAY' | 'WEEK' | 'MONTH' | 'YEAR'> = {
  DAILY: 'DAY',
  WEEKLY: 'WEEK',
  MONTHLY: 'MONTH',
  YEARLY: 'YEAR',
};

function subscriptions(sb: SandboxApi) {
  return sb.table<SubscriptionRow>(SUBSCRIPTIONS);
}

/** yyyy-mm-dd + n billing periods. */
function addPeriods(date: string, cycle: BillingCycle, n: number): string {
  const d = new Date(`${date}T00:00:00.000Z`);
  if (cycle === 'DAILY') d.setUTCDate(d.getUTCDate() + n);
  else if (cycle === 'WEEKLY') d.setUTCDate(d.getUTCDate() + 7 * n);
  else if (cycle === 'MONTHLY') d.setUTCMonth(d.getUTCMonth() + n);
  else d.setUTCFullYear(d.getUTCFullYear() + n);
  return isoDate(d);
}

function render(s: SubscriptionRow): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: idStr(s.id),
    quantity: s.quantity,
    active: s.active,
    contact_id: idStr(s.contact_id),
    product_id: idStr(s.product_id),
    subscription_plan_id: idStr(s.subscription_plan_id),
    billing_amount: fromCents(s.billing_amount),
    auto_charge: s.auto_charge,
    billing_frequency: s.billing_frequency,
    billing_cycle: CYCLE[s.billing_cycle],
    start_date: s.start_date,
    allow_tax: s.allow_tax,
    max_charge_attempts: s.max_charge_attempts,
    days_between_retries: s.days_between_retries,
    lead_affiliate_id: idStr(s.lead_affiliate_id ?? 0),
    sale_affiliate_id: idStr(s.sale_affiliate_id ?? 0),
    modification_time: s.modification_time,
    custom_fields: renderCustomFields(s.custom_fields),
  };
  if (s.last_bill_date) out.last_bill_date = s.last_bill_date;
  if (s.next_bill_date) out.next_bill_date = s.next_bill_date;
  if (s.end_date) out.end_date = s.end_date;
  if (s.merchant_account_id !== undefined) out.merchant_account_id = idStr(s.merchant_account_id);
  out.payment_method_id = idStr(s.payment_method_id ?? 0);
  if (s.shipping_address) out.shipping_address = { ...s.shipping_address };
  if (s.promo_code) out.promo_code = s.promo_code;
  if (s.shipping_option_id !== undefined) out.shipping_option_id = idStr(s.shipping_option_id);
  if (s.reason_stopped) out.reason_stopped = s.reason_stopped;
  return out;
}

const CreateSubscription = z.strictObject({
  quantity: z.number().int().min(1).optional(),
  active: z.boolean().optional(),
  contact_id: zId,
  subscription_plan_id: zId,
  billing_amount: z.number().min(0).optional(),
  auto_charge: z.boolean().optional(),
  max_charge_attempts: z.number().int().min(1).optional(),
  days_between_retries: z.number().int().min(1).optional(),
  start_date: zDate.optional(),
  payment_method_id: zId.optional(),
  allow_tax: z.boolean().optional(),
  allow_duplicate: z.boolean().optional(),
  lead_affiliate_id: zId.optional(),
  sale_affiliate_id: zId.optional(),
  shipping_address: z
    .strictObject({
      line1: z.string().optional(),
      line2: z.string().optional(),
      locality: z.string().optional(),
      field: z.enum(['ADDRESS_FIELD_UNSPECIFIED', 'BILLING', 'SHIPPING', 'OTHER']).optional(),
      country_code: z.string().optional(),
      postal_code: z.string().optional(),
      region_code: z.string().optional(),
    })
    .optional(),
  promo_code: z.string().optional(),
  shipping_option_id: zId.optional(),
  reason_stopped: z.string().optional(),
  custom_fields: z
    .array(z.strictObject({ id: z.string().regex(/^\d+$/, 'must be a numeric id'), content: z.unknown() }))
    .optional(),
});

const SUBSCRIPTION_UPDATE_MASK = [
  'contact_id',
  'subscription_plan_id',
  'quantity',
  'billing_amount',
  'auto_charge',
  'max_charge_attempts',
  'days_between_retries',
  'active',
  'billing_frequency',
  'billing_cycle',
  'next_bill_date',
  'end_date',
  'payment_method_id',
  'allow_tax',
  'lead_affiliate_id',
  'sale_affiliate_id',
  'promo_code',
  'shipping_option_id',
  'reason_stopped',
  'shipping_address',
  'custom_fields',
] as const;
type SubscriptionMaskName = (typeof SUBSCRIPTION_UPDATE_MASK)[number];

const CYCLE_IN: Record<'DAY' | 'WEEK' | 'MONTH' | 'YEAR', BillingCycle> = {
  DAY: 'DAILY',
  WEEK: 'WEEKLY',
  MONTH: 'MONTHLY',
  YEAR: 'YEARLY',
};

/** Keap's UpdateSubscriptionRequest. */
const UpdateSubscription = z.strictObject({
  quantity: z.number().int().min(1).optional(),
  active: z.boolean().optional(),
  contact_id: zId.optional(),
  subscription_plan_id: zId.optional(),
  billing_amount: z.number().min(0).optional(),
  auto_charge: z.boolean().optional(),
  max_charge_attempts: z.number().int().min(1).optional(),
  days_between_retries: z.number().int().min(1).optional(),
  billing_frequency: z.number().int().min(1).optional(),
  billing_cycle: z.enum(['YEAR', 'MONTH', 'WEEK', 'DAY']).optional(),
  next_bill_date: zDate.optional(),
  end_date: zDate.optional(),
  payment_method_id: zId.optional(),
  allow_tax: z.boolean().optional(),
  lead_affiliate_id: zId.optional(),
  sale_affiliate_id: zId.optional(),
  shipping_address: CreateSubscription.shape.shipping_address,
  promo_code: z.string().optional(),
  shipping_option_id: zId.optional(),
  reason_stopped: z.string().optional(),
  custom_fields: CreateSubscription.shape.custom_fields,
});

/**
 * `PATCH /v2/subscriptions/{subscription_id}`: with update_mask only the named properties change (a named
 * optional property left out of the body is cleared; a named required one → 400), without it the sent ones.
 * Turning `active` off records 'subscription_cancelled' in the ledger, turning it on 'subscription_started'.
 */
function updateSubscription(req: SbRequest, sb: SandboxApi): SbResponse {
  const s = getSubscription(sb, req);
  const mask = namesParam(req.query, 'update_mask', SUBSCRIPTION_UPDATE_MASK);
  if (req.body === undefined) throw badRequest('body', 'A request body is required');
  const b = parseBody(UpdateSubscription, req.body);
  const sent = b as Record<string, unknown>;
  const take = (k: SubscriptionMaskName): boolean => (mask ? mask.has(k) : sent[k] !== undefined);
  const need = <T>(k: SubscriptionMaskName, v: T | undefined): T => {
    if (v === undefined) throw badRequest(k, `'${k}' is required when update_mask names it`);
    return v;
  };
  const row: SubscriptionRow = structuredClone(s);
  if (take('contact_id')) {
    const c = need('contact_id', b.contact_id);
    if (!contactExists(sb, c)) throw badRequest('contact_id', `Contact with id ${c} not found`);
    row.contact_id = c;
  }
  if (take('subscription_plan_id')) {
    const id = need('subscription_plan_id', b.subscription_plan_id);
    const plan = plansTable(sb).get(id);
    if (!plan) throw badRequest('subscription_plan_id', `Subscription plan with id ${id} not found`);
    row.subscription_plan_id = plan.id;
    row.product_id = plan.product_id;
  }
  if (take('quantity')) row.quantity = need('quantity', b.quantity);
  if (take('billing_amount')) row.billing_amount = toCents(need('billing_amount', b.billing_amount));
  if (take('auto_charge')) row.auto_charge = b.auto_charge ?? false;
  if (take('max_charge_attempts'))
    row.max_charge_attempts = need('max_charge_attempts', b.max_charge_attempts);
  if (take('days_between_retries'))
    row.days_between_retries = need('days_between_retries', b.days_between_retries);
  if (take('billing_frequency')) row.billing_frequency = need('billing_frequency', b.billing_frequency);
  if (take('billing_cycle')) row.billing_cycle = CYCLE_IN[need('billing_cycle', b.billing_cycle)];
  if (take('allow_tax')) row.allow_tax = b.allow_tax ?? false;
  if (take('active')) row.active = b.active ?? false;
  const optional = [
    'next_bill_date',
    'end_date',
    'lead_affiliate_id',
    'sale_affiliate_id',
    'promo_code',
    'shipping_option_id',
    'reason_stopped',
  ] as const;
  for (const k of optional) {
    if (!take(k)) continue;
    const v = b[k];
    if (v === undefined) delete row[k];
    else Object.assign(row, { [k]: v });
  }
  if (take('shipping_address')) {
    if (b.shipping_address === undefined) delete row.shipping_address;
    else row.shipping_address = { ...b.shipping_address };
  }
  if (take('payment_method_id')) {
    if (b.payment_method_id === undefined) {
      delete row.payment_method_id;
    } else {
      const pm = paymentMethods(sb).get(b.payment_method_id);
      if (!pm || pm.contact_id !== row.contact_id) {
        throw badRequest(
          'payment_method_id',
          `Payment method with id ${b.payment_method_id} not found for contact ${row.contact_id}`,
        );
      }
      row.payment_method_id = pm.id;
      row.merchant_account_id = pm.merchant_account_id;
    }
  }
  if (take('custom_fields')) {
    const incoming = storedValues(parseCustomFields(sb, 'subscriptions', b.custom_fields ?? []));
    row.custom_fields = mergeCustomFields(s.custom_fields, incoming);
  }
  if (row.end_date && row.next_bill_date && row.end_date < row.next_bill_date && row.active) {
    throw badRequest(
      'end_date',
      `'end_date' (${row.end_date}) is before 'next_bill_date' (${row.next_bill_date})`,
    );
  }
  const now = sb.now();
  if (s.active && !row.active) {
    row.end_date ??= isoDate(now);
    delete row.next_bill_date;
    row.reason_stopped ??= 'Cancelled via API';
  }
  row.modification_time = iso(now);
  const patch: Record<string, unknown> = { ...row };
  for (const k of Object.keys(s)) if (!(k in patch)) patch[k] = undefined;
  subscriptions(sb).update(s.id, patch as Partial<SubscriptionRow>);
  if (s.active && !row.active) {
    sb.record('subscription_cancelled', {
      subscription_id: idStr(s.id),
      contact_id: idStr(row.contact_id),
      subscription_plan_id: idStr(row.subscription_plan_id),
      reason: row.reason_stopped,
    });
  } else if (!s.active && row.active) {
    sb.record('subscription_started', {
      subscription_id: idStr(row.id),
      contact_id: idStr(row.contact_id),
      product_id: idStr(row.product_id),
      subscription_plan_id: idStr(row.subscription_plan_id),
      billing_amount: row.billing_amount,
      currency: 'USD',
      billing_cycle: CYCLE[row.billing_cycle],
      start_date: row.start_date,
      payment_method_id: row.payment_method_id === undefined ? null : idStr(row.payment_method_id),
    });
  }
  sb.emit('subscription.edit', 'subscription', s.id);
  return { status: 200, body: render(row) };
}

const CancelSubscription = z.strictObject({ reason: z.string().optional() });

function getSubscription(sb: SandboxApi, req: SbRequest): SubscriptionRow {
  const id = pathId(req, 'subscription_id');
  const s = subscriptions(sb).get(id);
  if (!s) throw notFound('Subscription', id);
  return s;
}

const ID_OPS = ['==', '<=', '<', '>=', '>', '!='] as const;

const routes: SbRoute[] = [
  {
    method: 'GET',
    path: '/v2/subscriptions',
    handler: (req, sb) =>
      listV2<SubscriptionRow>(req, subscriptions(sb).all(), {
        key: 'subscriptions',
        render,
        filter: {
          contact_id: { get: (s) => s.contact_id, type: 'string' },
          subscription_plan_id: { get: (s) => s.subscription_plan_id, type: 'string' },
          status: { get: (s) => (s.active ? 'Active' : 'Inactive'), type: 'string' },
          id: { get: (s) => s.id, type: 'number', ops: ID_OPS },
          billing_amount: { get: (s) => fromCents(s.billing_amount), type: 'number', ops: ID_OPS },
          ids: { get: (s) => s.id, type: 'number', list: true },
          subscription_plan_ids: { get: (s) => s.subscription_plan_id, type: 'number', list: true },
        },
        orderBy: {
          id: (s) => s.id,
          contact_id: (s) => s.contact_id,
          subscription_plan_id: (s) => s.subscription_plan_id,
          modification_time: (s) => s.modification_time,
        },
        defaultOrder: 'id asc',
      }),
  },
  {
    method: 'POST',
    path: '/v2/subscriptions',
    handler: (req, sb) => {
      const b = parseBody(CreateSubscription, req.body);
      if (!contactExists(sb, b.contact_id))
        throw badRequest('contact_id', `Contact with id ${b.contact_id} not found`);
      const plan: SubscriptionPlanRow | undefined = plansTable(sb).get(b.subscription_plan_id);
      if (!plan) {
        throw badRequest(
          'subscription_plan_id',
          `Subscription plan with id ${b.subscription_plan_id} not found`,
        );
      }
      if (!plan.active) {
        throw badRequest('subscription_plan_id', `Subscription plan ${plan.id} is not active`);
      }
      const now = sb.now();
      const today = isoDate(now);
      const start = b.start_date ?? today;
      if (Number.isNaN(Date.parse(start))) throw badRequest('start_date', `Invalid 'start_date' '${start}'`);
      if (start < today) throw badRequest('start_date', `'start_date' must not be in the past`);
      const autoCharge = b.auto_charge ?? true;
      let pmId: number | undefined;
      let merchant: number | undefined;
      if (b.payment_method_id !== undefined) {
        const pm = paymentMethods(sb).get(b.payment_method_id);
        if (!pm || pm.contact_id !== b.contact_id) {
          throw badRequest(
            'payment_method_id',
            `Payment method with id ${b.payment_method_id} not found for contact ${b.contact_id}`,
          );
        }
        pmId = pm.id;
        merchant = pm.merchant_account_id;
      } else if (autoCharge) {
        const pm = defaultPaymentMethod(sb, b.contact_id);
        pmId = pm?.id;
        merchant = pm?.merchant_account_id;
      }
      const active = b.active ?? true;
      if (!b.allow_duplicate) {
        const dup = subscriptions(sb)
          .all()
          .find((s) => s.active && s.contact_id === b.contact_id && s.subscription_plan_id === plan.id);
        if (dup) {
          throw conflict(
            `Contact ${b.contact_id} already has an active subscription (${dup.id}) to plan ${plan.id}; set allow_duplicate to create another`,
          );
        }
      }
      const t = subscriptions(sb);
      const product = productsTable(sb).get(plan.product_id);
      const row: SubscriptionRow = {
        id: t.nextId(),
        contact_id: b.contact_id,
        product_id: plan.product_id,
        subscription_plan_id: plan.id,
        quantity: b.quantity ?? 1,
        active,
        billing_amount: b.billing_amount !== undefined ? toCents(b.billing_amount) : plan.price,
        auto_charge: autoCharge,
        billing_cycle: plan.billing_cycle,
        billing_frequency: plan.billing_frequency,
        start_date: start,
        allow_tax: (b.allow_tax ?? false) && (product?.taxable ?? false),
        max_charge_attempts: b.max_charge_attempts ?? 3,
        days_between_retries: b.days_between_retries ?? 1,
        modification_time: iso(now),
        custom_fields: storedValues(parseCustomFields(sb, 'subscriptions', b.custom_fields ?? [])),
      };
      if (active) row.next_bill_date = start;
      if (plan.number_of_cycles > 0)
        row.end_date = addPeriods(start, plan.billing_cycle, plan.number_of_cycles - 1);
      if (pmId !== undefined) row.payment_method_id = pmId;
      if (merchant !== undefined) row.merchant_account_id = merchant;
      if (b.lead_affiliate_id !== undefined) row.lead_affiliate_id = b.lead_affiliate_id;
      if (b.sale_affiliate_id !== undefined) row.sale_affiliate_id = b.sale_affiliate_id;
      if (b.shipping_address !== undefined) row.shipping_address = { ...b.shipping_address };
      if (b.promo_code !== undefined) row.promo_code = b.promo_code;
      if (b.shipping_option_id !== undefined) row.shipping_option_id = b.shipping_option_id;
      if (b.reason_stopped !== undefined) row.reason_stopped = b.reason_stopped;
      t.insert(row);
      if (active) {
        sb.record('subscription_started', {
          subscription_id: idStr(row.id),
          contact_id: idStr(row.contact_id),
          product_id: idStr(row.product_id),
          subscription_plan_id: idStr(row.subscription_plan_id),
          billing_amount: row.billing_amount,
          currency: 'USD',
          billing_cycle: CYCLE[row.billing_cycle],
          start_date: row.start_date,
          payment_method_id: row.payment_method_id === undefined ? null : idStr(row.payment_method_id),
        });
      }
      sb.emit('subscription.add', 'subscription', row.id);
      return { status: 201, body: render(row) };
    },
  },
  {
    method: 'GET',
    path: '/v2/subscriptions/{subscription_id}',
    handler: (req, sb) => ({ status: 200, body: render(getSubscription(sb, req)) }),
  },
  { method: 'PATCH', path: '/v2/subscriptions/{subscription_id}', handler: updateSubscription },
  {
    method: 'POST',
    path: '/v2/subscriptions/{subscription_id}:deactivate',
    handler: (req, sb) => {
      const s = getSubscription(sb, req);
      if (req.body === undefined)
        throw badRequest('body', `A request body is required (e.g. {"reason": "..."})`);
      const b = parseBody(CancelSubscription, req.body);
      if (!s.active) return { status: 200 };
      const now = sb.now();
      const patch: Partial<SubscriptionRow> = {
        active: false,
        end_date: isoDate(now),
        modification_time: iso(now),
        reason_stopped: b.reason ?? 'Cancelled via API',
        next_bill_date: undefined,
      };
      subscriptions(sb).update(s.id, patch);
      sb.record('subscription_cancelled', {
        subscription_id: idStr(s.id),
        contact_id: idStr(s.contact_id),
        subscription_plan_id: idStr(s.subscription_plan_id),
        reason: patch.reason_stopped,
      });
      sb.emit('subscription.edit', 'subscription', s.id);
      return { status: 200 };
    },
  },
];

// ---------------------------------------------------------------- seed

function seed(sb: SandboxApi): void {
  const rnd = (): number => sb.random();
  const plans = plansTable(sb)
    .all()
    .filter((p) => p.active);
  const now = sb.now();
  const pms = paymentMethods(sb)
    .all()
    .filter((p) => Number(p.expiration_year) > now.getUTCFullYear());
  if (plans.length === 0 || pms.length === 0) return;
  const t = subscriptions(sb);
  const used = new Set<string>();
  for (let n = 0; n < 24; n++) {
    const pm = pick(rnd, pms);
    const plan = pick(rnd, plans);
    const key = `${pm.contact_id}:${plan.id}`;
    if (used.has(key)) continue;
    used.add(key);
    const startMs = now.getTime() - intBetween(rnd, 20, 400) * 86_400_000;
    const start = isoDate(new Date(startMs));
    let last = start;
    let next = addPeriods(start, plan.billing_cycle, 1);
    let k = 1;
    while (next <= isoDate(now) && k < 1000) {
      last = next;
      k++;
      next = addPeriods(start, plan.billing_cycle, k);
    }
    const active = rnd() >= 0.25;
    const row: SubscriptionRow = {
      id: t.nextId(),
      contact_id: pm.contact_id,
      product_id: plan.product_id,
      subscription_plan_id: plan.id,
      quantity: 1,
      active,
      billing_amount: plan.price,
      auto_charge: true,
      billing_cycle: plan.billing_cycle,
      billing_frequency: plan.billing_frequency,
      start_date: start,
      last_bill_date: last,
      payment_method_id: pm.id,
      merchant_account_id: pm.merchant_account_id,
      allow_tax: false,
      max_charge_attempts: 3,
      days_between_retries: 1,
      modification_time: iso(new Date(Date.parse(`${last}T12:00:00.000Z`))),
      custom_fields: [],
    };
    if (active) row.next_bill_date = next;
    else {
      row.end_date = last;
      row.reason_stopped = pick(rnd, ['Customer requested cancellation', 'Card declined', 'Switched plans']);
    }
    t.insert(row);
  }
}

export const subscriptionsModule: SbModule = { name: 'subscriptions', routes, seed };
