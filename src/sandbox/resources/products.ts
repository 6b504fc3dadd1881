/**
 * Products and their subscription plans (v2). Prices are stored in cents; v2 renders them as
 * `CurrencyValue {amount (smallest unit, int64), currency_code, formatted_amount}`.
 */
import { z } from 'zod';
import { badRequest, notFound } from '../core/errors.js';
import { listV2, namesParam } from '../core/list.js';
import type { SandboxApi, SbModule, SbRequest, SbResponse, SbRoute } from '../core/types.js';
import { idStr, intBetween, iso, pick } from '../core/util.js';
import { parseBody, pathId } from '../core/validate.js';
import { currency } from './commerce-common.js';

export const PRODUCTS = 'products';
export const SUBSCRIPTION_PLANS = 'subscription_plans';

export type BillingCycle = 'DAILY' | 'WEEKLY' | 'MONTHLY' | 'YEARLY';

export interface ProductRow {
  id: number;
  name: string;
  sku: string;
  /** Cents. */
  price: number;
  active: boolean;
  description: string;
  short_description: string;
  shippable: boolean;
  weight: number;
  taxable: boolean;
  inventory?: {
    inventory_limit?: number;
    inventory_count?: number;
    out_of_stock_enabled?: boolean;
    email_for_inventory_notifications?: string;
  };
  subscription_only: boolean;
  storefront_hidden: boolean;
  country_taxable: boolean;
  state_taxable: boolean;
  city_taxable: boolean;
  top_html?: string;
  bottom_html?: string;
  is_package: boolean;
  needs_digital_delivery: boolean;
  delivery_description?: string;
  categories: string[];
  create_time: string;
  update_time: string;
}

export interface SubscriptionPlanRow {
  id: number;
  product_id: number;
  name: string;
  active: boolean;
  prorate: boolean;
  billing_cycle: BillingCycle;
  billing_frequency: number;
  /** 0 = never ends. */
  number_of_cycles: number;
  /** Cents. */
  price: number;
  order_index: number;
}

export function productsTable(sb: SandboxApi) {
  return sb.table<ProductRow>(PRODUCTS);
}

export function plansTable(sb: SandboxApi) {
  return sb.table<SubscriptionPlanRow>(SUBSCRIPTION_PLANS);
}

export function plansOf(sb: SandboxApi, productId: number): SubscriptionPlanRow[] {
  return plansTable(sb)
    .all()
    .filter((p) => p.product_id === productId)
    .sort((a, b) => a.order_index - b.order_index || a.id - b.id);
}

/** `SubscriptionPlan` as orders and /products/{id}/subscriptions render it. */
export function renderPlan(p: SubscriptionPlanRow): Record<string, unknown> {
  return {
    id: idStr(p.id),
    frequency: p.billing_frequency,
    active: p.active,
    subscription_plan_name: p.name,
    cycle_type: p.billing_cycle,
    total_cycles: p.number_of_cycles,
    plan_price: currency(p.price),
    display_order_index: p.order_index,
  };
}

/** `SubscriptionPlan_List` / `_Detail` as embedded in a product. */
function renderEmbeddedPlan(p: SubscriptionPlanRow): Record<string, unknown> {
  return {
    id: idStr(p.id),
    active: p.active,
    prorate: p.prorate,
    billing_cycle: p.billing_cycle,
    billing_frequency: p.billing_frequency,
    number_of_cycles: p.number_of_cycles,
    plan_price: currency(p.price),
    order_index: p.order_index,
  };
}

function renderProduct(sb: SandboxApi, p: ProductRow, detail: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: idStr(p.id),
    name: p.name,
    price: currency(p.price),
    active: p.active,
    description: p.description,
    sku: p.sku,
    shippable: p.shippable,
    weight: p.weight,
    taxable: p.taxable,
    categories: [...p.categories],
    options: [],
    short_description: p.short_description,
    subscription_only: p.subscription_only,
    storefront_hidden: p.storefront_hidden,
    country_taxable: p.country_taxable,
    state_taxable: p.state_taxable,
    city_taxable: p.city_taxable,
    subscription_plans: plansOf(sb, p.id).map(renderEmbeddedPlan),
    is_package: p.is_package,
    needs_digital_delivery: p.needs_digital_delivery,
    has_legacy_image: false,
    create_time: p.create_time,
    update_time: p.update_time,
  };
  if (p.inventory) {
    const inv = { ...p.inventory };
    // "inventory_count … is omitted in List responses."
    if (!detail) delete inv.inventory_count;
    out.inventory = inv;
  }
  if (p.top_html !== undefined) out.top_html = p.top_html;
  if (p.bottom_html !== undefined) out.bottom_html = p.bottom_html;
  if (p.delivery_description !== undefined) out.delivery_description = p.delivery_description;
  return out;
}

const nonBlank = z.string().refine((s) => s.trim() !== '', { message: 'must not be blank' });

const CreateProduct = z.strictObject({
  name: nonBlank,
  sku: z.string().optional(),
  price: z.number().int().min(0),
  active: z.boolean().optional(),
  description: z.string().optional(),
  shippable: z.boolean().optional(),
  weight: z.number().min(0).optional(),
  taxable: z.boolean().optional(),
  inventory: z
    .strictObject({
      inventory_limit: z.number().int().min(0).optional(),
      inventory_count: z.number().int().min(0).optional(),
      out_of_stock_enabled: z.boolean().optional(),
      email_for_inventory_notifications: z.string().optional(),
    })
    .optional(),
  short_description: z.string(),
  subscription_only: z.boolean().optional(),
  storefront_hidden: z.boolean().optional(),
  country_taxable: z.boolean().optional(),
  state_taxable: z.boolean().optional(),
  city_taxable: z.boolean().optional(),
  top_html: z.string().optional(),
  bottom_html: z.string().optional(),
  is_package: z.boolean().optional(),
  needs_digital_delivery: z.boolean().optional(),
  delivery_description: z.string().optional(),
});

const PRODUCT_UPDATE_MASK = [
  'active',
  'name',
  'description',
  'price',
  'sku',
  'shippable',
  'short_description',
  'subscription_only',
  'storefront_hidden',
  'weight',
  'taxable',
  'country_taxable',
  'city_taxable',
  'state_taxable',
  'inventory_limit',
  'out_of_stock_enabled',
  'email_for_inventory_notifications',
  'top_html',
  'bottom_html',
  'is_package',
  'needs_digital_delivery',
  'delivery_description',
] as const;
type ProductMaskName = (typeof PRODUCT_UPDATE_MASK)[number];

/** Keap's UpdateProductRequest_Detail (no `description`, though update_mask names it). */
const UpdateProduct = z.strictObject({
  name: nonBlank.optional(),
  sku: z.string().optional(),
  price: z.number().int().min(0).optional(),
  active: z.boolean().optional(),
  shippable: z.boolean().optional(),
  weight: z.number().min(0).optional(),
  taxable: z.boolean().optional(),
  short_description: z.string().optional(),
  subscription_only: z.boolean().optional(),
  storefront_hidden: z.boolean().optional(),
  country_taxable: z.boolean().optional(),
  state_taxable: z.boolean().optional(),
  city_taxable: z.boolean().optional(),
  inventory_limit: z.number().int().min(0).optional(),
  out_of_stock_enabled: z.boolean().optional(),
  email_for_inventory_notifications: z.string().optional(),
  top_html: z.string().optional(),
  bottom_html: z.string().optional(),
  is_package: z.boolean().optional(),
  needs_digital_delivery: z.boolean().optional(),
  delivery_description: z.string().optional(),
});

const BOOL_PROPS = [
  'active',
  'shippable',
  'taxable',
  'subscription_only',
  'storefront_hidden',
  'country_taxable',
  'state_taxable',
  'city_taxable',
  'is_package',
  'needs_digital_delivery',
] as const;

/**
 * `PATCH /v2/products/{product_id}`: with update_mask only the named properties change (a named property left
 * out of the body is cleared: false / empty / 0; `name` and `price` cannot be cleared), without it the sent ones.
 */
function updateProduct(req: SbRequest, sb: SandboxApi): SbResponse {
  const p = getProduct(sb, req);
  const mask = namesParam(req.query, 'update_mask', PRODUCT_UPDATE_MASK);
  if (req.body === undefined) throw badRequest('body', 'A request body is required');
  const b = parseBody(UpdateProduct, req.body);
  const sent = b as Record<string, unknown>;
  const take = (k: ProductMaskName): boolean => (mask ? mask.has(k) : sent[k] !== undefined);
  const row: ProductRow = structuredClone(p);
  if (take('name')) {
    if (b.name === undefined) throw badRequest('name', "'name' is required when update_mask names it");
    row.name = b.name;
  }
  if (take('price')) {
    if (b.price === undefined) throw badRequest('price', "'price' is required when update_mask names it");
    row.price = b.price;
  }
  for (const k of BOOL_PROPS) if (take(k)) row[k] = b[k] ?? false;
  if (take('sku')) row.sku = b.sku ?? '';
  if (take('short_description')) row.short_description = b.short_description ?? '';
  if (take('weight')) row.weight = b.weight ?? 0;
  for (const k of ['top_html', 'bottom_html', 'delivery_description'] as const) {
    if (!take(k)) continue;
    const v = b[k];
    if (v === undefined) delete row[k];
    else row[k] = v;
  }
  for (const k of ['inventory_limit', 'out_of_stock_enabled', 'email_for_inventory_notifications'] as const) {
    if (!take(k)) continue;
    const inv = { ...(row.inventory ?? {}) };
    const v = b[k];
    if (v === undefined) delete inv[k];
    else Object.assign(inv, { [k]: v });
    row.inventory = inv;
  }
  row.update_time = iso(sb.now());
  productsTable(sb).update(p.id, row);
  sb.emit('product.edit', 'product', p.id);
  return { status: 200, body: renderProduct(sb, row, true) };
}

function getProduct(sb: SandboxApi, req: SbRequest): ProductRow {
  const id = pathId(req, 'product_id');
  const p = productsTable(sb).get(id);
  if (!p) throw notFound('Product', id);
  return p;
}

const routes: SbRoute[] = [
  {
    method: 'GET',
    path: '/v2/products',
    handler: (req, sb) =>
      listV2<ProductRow>(req, productsTable(sb).all(), {
        key: 'products',
        render: (p) => renderProduct(sb, p, false),
        filter: {
          name: { get: (p) => p.name, type: 'string', wildcard: true },
          sku: { get: (p) => p.sku, type: 'string', wildcard: true },
          description: { get: (p) => p.description, type: 'string', wildcard: true },
          short_description: { get: (p) => p.short_description, type: 'string', wildcard: true },
          product_id: { get: (p) => p.id, type: 'number', ops: ['==', '>', '<', '>=', '<='] },
          product_ids: { get: (p) => p.id, type: 'number', list: true },
        },
        orderBy: {
          name: (p) => p.name.toLowerCase(),
          sku: (p) => p.sku.toLowerCase(),
          last_updated_time: (p) => p.update_time,
          id: (p) => p.id,
        },
        defaultOrder: 'id asc',
      }),
  },
  {
    method: 'POST',
    path: '/v2/products',
    handler: (req, sb) => {
      const b = parseBody(CreateProduct, req.body);
      const now = iso(sb.now());
      const t = productsTable(sb);
      const row: ProductRow = {
        id: t.nextId(),
        name: b.name,
        sku: b.sku ?? '',
        price: b.price,
        active: b.active ?? true,
        description: b.description ?? '',
        short_description: b.short_description,
        shippable: b.shippable ?? false,
        weight: b.weight ?? 0,
        taxable: b.taxable ?? false,
        subscription_only: b.subscription_only ?? false,
        storefront_hidden: b.storefront_hidden ?? false,
        country_taxable: b.country_taxable ?? false,
        state_taxable: b.state_taxable ?? false,
        city_taxable: b.city_taxable ?? false,
        is_package: b.is_package ?? false,
        needs_digital_delivery: b.needs_digital_delivery ?? false,
        categories: [],
        create_time: now,
        update_time: now,
      };
      if (b.inventory) row.inventory = { ...b.inventory };
      if (b.top_html !== undefined) row.top_html = b.top_html;
      if (b.bottom_html !== undefined) row.bottom_html = b.bottom_html;
      if (b.delivery_description !== undefined) row.delivery_description = b.delivery_description;
      t.insert(row);
      sb.emit('product.add', 'product', row.id);
      return { status: 201, body: renderProduct(sb, row, true) };
    },
  },
  {
    method: 'GET',
    path: '/v2/products/{product_id}',
    handler: (req, sb) => ({ status: 200, body: renderProduct(sb, getProduct(sb, req), true) }),
  },
  { method: 'PATCH', path: '/v2/products/{product_id}', handler: updateProduct },
  {
    method: 'GET',
    path: '/v2/products/{product_id}/subscriptions',
    handler: (req, sb) => {
      const p = getProduct(sb, req);
      return listV2<SubscriptionPlanRow>(req, plansOf(sb, p.id), {
        key: 'subscriptions',
        render: renderPlan,
        filter: {
          active: { get: (s) => s.active, type: 'boolean' },
          cycle_type: {
            get: (s) => s.billing_cycle,
            type: 'enum',
            values: ['DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY'],
          },
        },
        orderBy: { id: (s) => s.id, product_id: (s) => s.product_id },
        defaultOrder: 'id asc',
      });
    },
  },
];

// ---------------------------------------------------------------- seed

const CATALOG: readonly {
  name: string;
  sku: string;
  price: number;
  shippable: boolean;
  plan?: BillingCycle[];
}[] = [
  { name: 'Starter Coaching Session', sku: 'COACH-1', price: 9900, shippable: false },
  { name: 'Business Growth Masterclass', sku: 'CLASS-GROW', price: 49700, shippable: false },
  { name: 'Marketing Playbook (Print)', sku: 'BOOK-PLAY', price: 2999, shippable: true },
  { name: 'Branded Water Bottle', sku: 'MERCH-BTL', price: 1850, shippable: true },
  { name: 'Premium Membership', sku: 'MEM-PREM', price: 4900, shippable: false, plan: ['MONTHLY', 'YEARLY'] },
  { name: 'Basic Membership', sku: 'MEM-BASIC', price: 1900, shippable: false, plan: ['MONTHLY'] },
  { name: 'Weekly Meal Kit', sku: 'KIT-MEAL', price: 6500, shippable: true, plan: ['WEEKLY', 'MONTHLY'] },
  { name: 'Website Audit', sku: 'SVC-AUDIT', price: 25000, shippable: false },
  { name: 'Social Media Management', sku: 'SVC-SOCIAL', price: 79900, shippable: false, plan: ['MONTHLY'] },
  { name: 'Conference Ticket', sku: 'EVT-CONF', price: 34900, shippable: false },
  { name: 'Logo Design Package', sku: 'SVC-LOGO', price: 15000, shippable: false },
  { name: 'Hosting Plan', sku: 'HOST-STD', price: 1299, shippable: false, plan: ['MONTHLY', 'YEARLY'] },
  { name: 'Branded T-Shirt', sku: 'MERCH-TEE', price: 2400, shippable: true },
  { name: 'Daily Tips Newsletter', sku: 'NEWS-DAILY', price: 99, shippable: false, plan: ['DAILY'] },
];

function seed(sb: SandboxApi): void {
  const rnd = (): number => sb.random();
  const products = productsTable(sb);
  const plans = plansTable(sb);
  const base = sb.now().getTime();
  for (const [i, c] of CATALOG.entries()) {
    const created = iso(new Date(base - (400 - i * 7) * 86_400_000));
    const id = products.nextId();
    const taxable = c.shippable || sb.random() < 0.3;
    const row: ProductRow = {
      id,
      name: c.name,
      sku: c.sku,
      price: c.price,
      active: i !== 10,
      description: `${c.name}. ${pick(rnd, ['Our most popular offer.', 'Great value.', 'Limited availability.'])}`,
      short_description: c.name,
      shippable: c.shippable,
      weight: c.shippable ? intBetween(rnd, 1, 40) / 10 : 0,
      taxable,
      subscription_only: c.plan !== undefined && i % 2 === 0,
      storefront_hidden: false,
      country_taxable: taxable,
      state_taxable: taxable,
      city_taxable: false,
      is_package: false,
      needs_digital_delivery: !c.shippable,
      categories: [],
      create_time: created,
      update_time: created,
    };
    if (c.shippable) {
      row.inventory = {
        inventory_limit: 5,
        inventory_count: intBetween(rnd, 10, 500),
        out_of_stock_enabled: false,
        email_for_inventory_notifications: 'inventory@example.com',
      };
    }
    products.insert(row);
    for (const [j, cycle] of (c.plan ?? []).entries()) {
      const yearly = cycle === 'YEARLY';
      plans.insert({
        id: plans.nextId(),
        product_id: id,
        name: `${c.name} (${cycle.toLowerCase()})`,
        active: true,
        prorate: j === 0,
        billing_cycle: cycle,
        billing_frequency: 1,
        number_of_cycles: yearly ? 0 : pick(rnd, [0, 0, 12]),
        price: yearly ? c.price * 10 : c.price,
        order_index: j + 1,
      });
    }
  }
}

export const productsModule: SbModule = { name: 'products', routes, seed };
