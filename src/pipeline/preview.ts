/**
 * Previews a human can judge. Before a person is asked to confirm a call, the records its ids name are read
 * from Keap through the same client (policy-exempt: the human must see what is touched even where the agent
 * may not read it; each read is audited as decision `preview_read`). The preview then says, first, the FACTS
 * built from Keap's data (who, which card, which plan, how much), then the money exactly as it will be sent,
 * and last the free text the model wrote — quoted, escaped (control characters and newlines) and capped, so it
 * can neither pose as the preview's own words nor push the facts out of view.
 *
 * What to read is data on the tool entry (`resolve.records`: input key → kind of record); how to read each
 * kind is here. A target that does not exist fails the call before anyone is asked; nothing is written.
 *
 * Two renderings: the whole preview for the human (elicitation form, operator console), and the one returned
 * to the model, where facts about resources the agent may not read are reduced to their ids.
 */
import { dollars, dollarsProblem } from '../../tools/shared/params.js';
import { ToolError } from '../errors.js';
import { KeapError } from '../keap/types.js';
import type { AnyToolSpec, PreviewRecord, Resource } from '../registry/define.js';
import type { BuiltRequest } from '../registry/request.js';
import type { Call } from './call.js';

/** Caps: one model-written field, one value read from Keap, the summary's strings. */
export const TEXT_CAP = 200;
export const KEAP_CAP = 80;
export const SUMMARY_CAP = 40;
/** Body lines shown for an email (each capped at TEXT_CAP). */
export const BODY_LINES = 3;
/** Names shown when a call names many contacts (the count is always shown). */
export const MAX_NAMES = 10;
const PREVIEW_BODY_CHARS = 300;

/** One line of facts: what it says, and about which resource (for the model's rendering). */
interface Fact {
  readonly text: string;
  readonly resource: Resource;
  /** What the model sees when it may not read `resource`. */
  readonly idsOnly: string;
}

export interface Preview {
  /** For the human: facts, money, quoted text. */
  readonly human: string;
  /** For the model: facts about resources the agent may not read reduced to ids. */
  readonly model: string;
  /** Records read from Keap for this preview. */
  readonly reads: number;
}

// ---- neutralising text ------------------------------------------------------------------------

const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '"': '\\"', '\\': '\\\\' };

/**
 * One line of inert text: control characters, line and paragraph separators, bidirectional and zero-width
 * marks escaped (\n, \u202e …), `"` and `\` escaped, capped at `cap` characters with "…".
 */
export function neutralise(s: string, cap: number): string {
  let out = '';
  let n = 0;
  for (const ch of s) {
    if (n >= cap) return `${out}…`;
    const cp = ch.codePointAt(0) ?? 0;
    const esc = ESCAPES[ch];
    if (esc !== undefined) out += esc;
    else if (
      cp < 0x20 ||
      (cp >= 0x7f && cp <= 0x9f) ||
      (cp >= 0x200b && cp <= 0x200f) ||
      (cp >= 0x2028 && cp <= 0x202e) ||
      (cp >= 0x2060 && cp <= 0x2069) ||
      cp === 0xfeff
    )
      out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += ch;
    n += 1;
  }
  return out;
}

/** Model-written text as a quoted, escaped, capped string. */
export function quoted(s: string, cap = TEXT_CAP): string {
  return `"${neutralise(s, cap)}"`;
}

/** A value read from Keap, for a fact line (escaped and capped; never multi-line). */
function k(v: unknown, cap = KEAP_CAP): string {
  return typeof v === 'string' || typeof v === 'number' ? neutralise(String(v), cap) : '';
}

/** Every string of the arguments escaped and capped (for the tool's one-line summary). */
function neutralArgs(v: unknown): unknown {
  if (typeof v === 'string') return neutralise(v, SUMMARY_CAP);
  if (Array.isArray(v)) {
    const shown = v.slice(0, MAX_NAMES).map(neutralArgs);
    return v.length > MAX_NAMES ? [...shown, `… ${v.length - MAX_NAMES} more`] : shown;
  }
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, x] of Object.entries(v)) out[key] = neutralArgs(x);
    return out;
  }
  return v;
}

function genericSummary(spec: AnyToolSpec, req: BuiltRequest): string {
  let body = '';
  if (req.body !== undefined && Object.keys(req.body).length > 0) {
    const json = neutralise(JSON.stringify(req.body), PREVIEW_BODY_CHARS);
    body = ` with ${json}`;
  }
  return `${spec.title}: ${req.method} ${neutralise(req.path, 200)}${body}`;
}

/** The one-line summary (ids and amounts), from the tool's preview with neutralised arguments. */
export function summaryOf(
  spec: AnyToolSpec,
  args: Readonly<Record<string, unknown>>,
  req: BuiltRequest,
): string {
  if (spec.preview === undefined) return genericSummary(spec, req);
  return spec.preview(neutralArgs(args) as Record<string, unknown>);
}

// ---- money --------------------------------------------------------------------------------------

/** Values at a path like 'payment_amount' or 'order_items[].price_per_unit'. */
function valuesAt(args: Readonly<Record<string, unknown>>, path: string): { at: string; value: unknown }[] {
  const [head = '', ...rest] = path.split('[].');
  const v = args[head];
  if (rest.length === 0) return v === undefined ? [] : [{ at: head, value: v }];
  if (!Array.isArray(v)) return [];
  return v.flatMap((item, i) =>
    item !== null && typeof item === 'object'
      ? valuesAt(item as Record<string, unknown>, rest.join('[].')).map((x) => ({
          at: `${head}[${i}].${x.at}`,
          value: x.value,
        }))
      : [],
  );
}

/** Refuses (input error) an amount with more precision than cents or an absurd one, before anyone is asked. */
export function checkAmounts(spec: AnyToolSpec, args: Readonly<Record<string, unknown>>): void {
  for (const path of spec.resolve?.amounts ?? []) {
    for (const { at, value } of valuesAt(args, path)) {
      const problem = typeof value === 'number' ? dollarsProblem(value) : `${String(value)} is not a number`;
      if (problem !== undefined) {
        throw new ToolError({
          category: 'input',
          message: `${spec.name}: ${at}: ${problem}`,
          nextStep:
            'Nothing was sent and nobody was asked. Give the amount in dollars with at most two decimals',
        });
      }
    }
  }
}

/** Keap's Money object ({amount in minor units, currency_code}) exactly: "19.99 USD". */
function money(m: unknown): string | undefined {
  if (m === null || typeof m !== 'object') return typeof m === 'number' ? dollars(m) : undefined;
  const { amount, currency_code: code } = m as { amount?: unknown; currency_code?: unknown };
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount)) return undefined;
  const digits = String(Math.abs(amount)).padStart(3, '0');
  return `${amount < 0 ? '-' : ''}${digits.slice(0, -2)}.${digits.slice(-2)}${typeof code === 'string' ? ` ${k(code, 3)}` : ''}`;
}

/** Exact cents of a dollars amount already checked to have at most two decimals. */
function toCents(v: number): number {
  return Math.round(v * 100);
}

// ---- reading ----------------------------------------------------------------------------------

type Rec = Record<string, unknown>;

function obj(v: unknown): Rec {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : {};
}

function arr(v: unknown): Rec[] {
  return Array.isArray(v) ? v.map(obj) : [];
}

function nameOf(r: Rec): string {
  const n = [r.given_name ?? r.first_name, r.family_name ?? r.last_name]
    .filter((x) => typeof x === 'string' && x !== '')
    .join(' ');
  return k(n) || '(no name)';
}

function emailOf(r: Rec): string {
  const list = arr(r.email_addresses);
  const primary = list.find((e) => e.field === 'EMAIL1') ?? list[0];
  const e = primary?.email ?? r.email;
  return typeof e === 'string' && e !== '' ? `<${k(e)}>` : '(no email)';
}

function person(r: Rec, kind: string): string {
  return `${nameOf(r)} ${emailOf(r)} (${kind} ${k(r.id)})`;
}

const KIND_WORD: Record<PreviewRecord, string> = {
  contact: 'contact',
  contacts: 'contacts',
  user: 'user',
  order: 'order',
  order_items: 'product',
  payment_method: 'payment method',
  subscription: 'subscription',
  subscription_plan: 'subscription plan',
  campaign: 'campaign',
  sequence: 'sequence',
  tag: 'tag',
  company: 'company',
  opportunity: 'opportunity',
  hook: 'hook',
};

/** Reads one record for the preview: audited, and a missing target ends the call before anyone is asked. */
class Reader {
  reads = 0;
  constructor(private readonly call: Call) {}

  async get(
    what: { kind: PreviewRecord; id: string; resource: Resource; template: string },
    path: string,
    query?: Record<string, string | number>,
  ): Promise<unknown> {
    const { ctx, spec, extra } = this.call;
    const started = Date.now();
    this.reads += 1;
    let status: number | undefined;
    try {
      const res = await ctx.client.request({
        method: 'GET',
        path,
        ...(query ? { query } : {}),
        idempotent: true,
        priority: 'read',
        ...(extra.signal ? { signal: extra.signal } : {}),
      });
      status = res.status;
      return res.body;
    } catch (err) {
      status = err instanceof KeapError ? err.status : undefined;
      const word = `${KIND_WORD[what.kind]} ${neutralise(what.id, 40)}`;
      if (err instanceof KeapError && (status === 404 || status === 400)) {
        throw new ToolError({
          category: status === 404 ? 'not_found' : 'input',
          message: `${spec.name}: ${word} does not exist in Keap (${status} when reading it for the confirmation preview); nothing was done and nobody was asked`,
          nextStep: `Check the id${spec.findWith !== undefined ? ` with ${spec.findWith}` : ''}; do not retry with the same id`,
          status,
        });
      }
      if (err instanceof ToolError) throw err;
      const retryable = err instanceof KeapError ? err.category !== 'permission' : true;
      throw new ToolError({
        category: err instanceof KeapError && err.category === 'cancelled' ? 'cancelled' : 'unavailable',
        message: `${spec.name}: could not read ${word} from Keap to show the person what this call does (${
          err instanceof KeapError ? err.category : 'error'
        }); nothing was done and nobody was asked`,
        nextStep: retryable ? 'Retry in a moment' : 'Tell the user the preview could not be read',
        retryable,
      });
    } finally {
      try {
        ctx.safety.audit.write({
          agent: ctx.agent,
          session: extra.sessionId,
          tool: spec.name,
          resource: what.resource,
          access: 'read',
          decision: 'preview_read',
          method: 'GET',
          path: what.template,
          ...(status !== undefined ? { status } : {}),
          duration_ms: Date.now() - started,
          args: { [what.kind]: what.id },
        });
      } catch (e) {
        ctx.logger.error({ err: String(e), tool: spec.name }, 'audit write failed');
      }
    }
  }
}

/** What the readers learned that later records need (the order's contact for its card, …). */
interface State {
  contactId?: string;
  campaignId?: string;
  currency?: string;
}

function idsOf(v: unknown): string[] {
  return (Array.isArray(v) ? v : [v]).filter((x) => x !== undefined && x !== null).map(String);
}

function card(pm: Rec): string {
  const c = obj(pm.card_info);
  const brand = k(c.brand) || k(pm.payment_method_type) || 'card';
  const type = k(c.card_type);
  const exp =
    typeof c.expiration_month === 'string' && typeof c.expiration_year === 'string'
      ? `, expires ${k(c.expiration_month, 2)}/${k(c.expiration_year, 4)}`
      : '';
  const status = pm.status === 'EXPIRED' ? ' (EXPIRED)' : '';
  return `${brand}${type ? ` ${type}` : ''} ending ${k(c.last_four, 4) || '????'}${exp}${status} (payment method ${k(pm.payment_method_id)})`;
}

type Resolver = (r: Reader, value: unknown, args: Readonly<Rec>, st: State, key: string) => Promise<Fact[]>;

const contactFacts = async (r: Reader, id: string, label: string): Promise<Fact> => {
  const c = obj(
    await r.get(
      { kind: 'contact', id, resource: 'contacts', template: '/v2/contacts/{contact_id}' },
      `/v2/contacts/${encodeURIComponent(id)}`,
    ),
  );
  return {
    text: `${label}: ${person(c, 'contact')}`,
    resource: 'contacts',
    idsOnly: `${label}: contact ${id}`,
  };
};

const RESOLVERS: Record<PreviewRecord, Resolver> = {
  async contact(r, v, _a, st) {
    const id = String(v);
    st.contactId = id;
    return [await contactFacts(r, id, 'Contact')];
  },

  async contacts(r, v) {
    const ids = idsOf(v);
    const found = new Map<string, Rec>();
    for (let i = 0; i < ids.length; i += 100) {
      const chunk = ids.slice(i, i + 100);
      const body = obj(
        await r.get(
          { kind: 'contacts', id: chunk.join(','), resource: 'contacts', template: '/v2/contacts' },
          '/v2/contacts',
          {
            filter: `ids==${chunk.join(',')}`,
            fields: 'given_name,family_name,email_addresses',
            page_size: 100,
          },
        ),
      );
      for (const c of arr(body.contacts)) found.set(String(c.id), c);
    }
    const missing = [...new Set(ids)].filter((id) => !found.has(id));
    if (missing.length > 0) {
      throw new ToolError({
        category: 'not_found',
        message: `contact${missing.length > 1 ? 's' : ''} ${missing.slice(0, MAX_NAMES).join(', ')}${
          missing.length > MAX_NAMES ? ` and ${missing.length - MAX_NAMES} more` : ''
        } do${missing.length > 1 ? '' : 'es'} not exist in Keap; nothing was done and nobody was asked`,
        nextStep: 'Find the right ids with list_contacts; do not retry with the same ids',
      });
    }
    const unique = [...new Set(ids)];
    const names = unique.slice(0, MAX_NAMES).map((id) => `  - ${person(found.get(id) ?? {}, 'contact')}`);
    const more = unique.length > MAX_NAMES ? [`  … and ${unique.length - MAX_NAMES} more`] : [];
    return [
      {
        text: [`${unique.length} contact${unique.length === 1 ? '' : 's'}:`, ...names, ...more].join('\n'),
        resource: 'contacts',
        idsOnly: `${unique.length} contact${unique.length === 1 ? '' : 's'}: ${unique.slice(0, MAX_NAMES).join(', ')}${
          unique.length > MAX_NAMES ? ` … and ${unique.length - MAX_NAMES} more` : ''
        }`,
      },
    ];
  },

  async user(r, v) {
    const id = String(v);
    const u = obj(
      await r.get(
        { kind: 'user', id, resource: 'users', template: '/v2/users/{user_id}' },
        `/v2/users/${encodeURIComponent(id)}`,
      ),
    );
    return [
      { text: `From: ${person({ ...u, id }, 'user')}`, resource: 'users', idsOnly: `From: user ${id}` },
    ];
  },

  async order(r, v, _a, st) {
    const id = String(v);
    const o = obj(
      await r.get(
        { kind: 'order', id, resource: 'orders', template: '/v2/orders/{order_id}' },
        `/v2/orders/${encodeURIComponent(id)}`,
      ),
    );
    const contact = obj(o.contact);
    if (contact.id !== undefined) st.contactId = String(contact.id);
    const total = obj(o.total);
    if (typeof total.currency_code === 'string') st.currency = k(total.currency_code, 3);
    const items = arr(o.order_items);
    const lines = items
      .slice(0, MAX_NAMES)
      .map(
        (it) =>
          `  - ${k(it.quantity)} × ${k(it.name ?? obj(it.product).name)} at ${money(it.price_per_unit) ?? '?'} each`,
      );
    if (items.length > MAX_NAMES) lines.push(`  … and ${items.length - MAX_NAMES} more`);
    const facts: Fact[] = [
      {
        text: [
          `Order ${k(o.id) || id} "${k(o.title)}" (${k(o.status)}): total ${money(o.total) ?? '?'}, paid ${
            money(o.total_paid) ?? '?'
          }, due ${money(o.total_due) ?? '?'}; ${items.length} line item${items.length === 1 ? '' : 's'}:`,
          ...lines,
        ].join('\n'),
        resource: 'orders',
        idsOnly: `Order ${id}`,
      },
    ];
    if (contact.id !== undefined) {
      facts.push({
        text: `Customer: ${person(contact, 'contact')}`,
        resource: 'contacts',
        idsOnly: `Customer: contact ${k(contact.id)}`,
      });
    }
    return facts;
  },

  async order_items(r, v) {
    const items = arr(v);
    const products = new Map<string, Rec>();
    for (const pid of [
      ...new Set(
        items
          .map((i) => i.product_id)
          .filter((x) => x !== undefined)
          .map(String),
      ),
    ].slice(0, MAX_NAMES)) {
      products.set(
        pid,
        obj(
          await r.get(
            { kind: 'order_items', id: pid, resource: 'products', template: '/v2/products/{product_id}' },
            `/v2/products/${encodeURIComponent(pid)}`,
          ),
        ),
      );
    }
    let totalCents = 0;
    let exact = true;
    const lines = items.map((it) => {
      const p = it.product_id !== undefined ? products.get(String(it.product_id)) : undefined;
      const qty = typeof it.quantity === 'number' ? it.quantity : 1;
      const what = p
        ? `${k(p.name)} (product ${k(String(it.product_id))})`
        : it.product_id !== undefined
          ? `product ${k(String(it.product_id))}`
          : `line ${quoted(String(it.name ?? ''), 60)}`;
      let price: string;
      if (typeof it.price_per_unit === 'number') {
        price = `${dollars(it.price_per_unit)} each (as sent)`;
        totalCents += qty * toCents(it.price_per_unit);
      } else if (p && typeof obj(p.price).amount === 'number') {
        price = `${money(p.price)} each (the product's price)`;
        totalCents += qty * (obj(p.price).amount as number);
      } else {
        price = 'price set by Keap';
        exact = false;
      }
      return `  - ${qty} × ${what} at ${price}`;
    });
    const shown = lines.slice(0, MAX_NAMES);
    if (lines.length > MAX_NAMES) shown.push(`  … and ${lines.length - MAX_NAMES} more`);
    const sum = `${totalCents < 0 ? '-' : ''}$${Math.floor(Math.abs(totalCents) / 100)}.${String(
      Math.abs(totalCents) % 100,
    ).padStart(2, '0')}`;
    return [
      {
        text: [
          `${items.length} line item${items.length === 1 ? '' : 's'}${
            items.length > 0 ? `, items total ${exact ? '' : 'at least '}${sum} before tax and shipping` : ''
          }:`,
          ...shown,
        ].join('\n'),
        resource: 'products',
        idsOnly: `${items.length} line item${items.length === 1 ? '' : 's'}`,
      },
    ];
  },

  async payment_method(r, v, args, st) {
    const contactId = st.contactId ?? (args.contact_id !== undefined ? String(args.contact_id) : undefined);
    if (v === undefined) {
      // create_subscription without payment_method_id: Keap charges the contact's latest card.
      if (args.auto_charge === false || contactId === undefined) return [];
    }
    if (contactId === undefined) return [];
    const body = obj(
      await r.get(
        {
          kind: 'payment_method',
          id: v === undefined ? `latest of contact ${contactId}` : String(v),
          resource: 'payments',
          template: '/v2/contacts/{contact_id}/paymentMethods',
        },
        `/v2/contacts/${encodeURIComponent(contactId)}/paymentMethods`,
        { page_size: 1000 },
      ),
    );
    const cards = arr(body.records);
    if (v === undefined) {
      const latest = [...cards].sort((a, b) =>
        String(b.created_time ?? '').localeCompare(String(a.created_time ?? '')),
      )[0];
      return [
        {
          text: latest
            ? `Card (the contact's latest, charged by default): ${card(latest)}`
            : 'Card: the contact has no saved card',
          resource: 'payments',
          idsOnly: "Card: the contact's latest card",
        },
      ];
    }
    const id = String(v);
    const pm = cards.find((c) => String(c.payment_method_id) === id);
    if (pm === undefined) {
      throw new ToolError({
        category: 'not_found',
        message: `payment method ${neutralise(id, 40)} is not a saved card of contact ${contactId}; nothing was done and nobody was asked`,
        nextStep: `Find the contact's cards with list_payment_methods (contact_id ${contactId}); do not retry with the same id`,
      });
    }
    return [{ text: `Card: ${card(pm)}`, resource: 'payments', idsOnly: `Card: payment method ${id}` }];
  },

  async subscription(r, v, _a, st) {
    const id = String(v);
    const s = obj(
      await r.get(
        {
          kind: 'subscription',
          id,
          resource: 'subscriptions',
          template: '/v2/subscriptions/{subscription_id}',
        },
        `/v2/subscriptions/${encodeURIComponent(id)}`,
      ),
    );
    const facts: Fact[] = [];
    let plan = `plan ${k(s.subscription_plan_id)}`;
    if (s.product_id !== undefined && s.subscription_plan_id !== undefined) {
      const pid = String(s.product_id);
      const plans = obj(
        await r.get(
          {
            kind: 'subscription_plan',
            id: String(s.subscription_plan_id),
            resource: 'subscriptions',
            template: '/v2/products/{product_id}/subscriptions',
          },
          `/v2/products/${encodeURIComponent(pid)}/subscriptions`,
          { page_size: 1000 },
        ),
      );
      const p = arr(plans.subscriptions).find((x) => String(x.id) === String(s.subscription_plan_id));
      if (p) plan = `"${k(p.subscription_plan_name)}" (plan ${k(p.id)})`;
    }
    facts.push({
      text: `Subscription ${k(s.id) || id} (${s.active === false ? 'inactive' : 'active'}): ${plan}, bills ${
        typeof s.billing_amount === 'number' ? dollars(s.billing_amount) : '?'
      } every ${k(s.billing_frequency)} ${k(s.billing_cycle)}${
        s.next_bill_date !== undefined ? `, next bill ${k(s.next_bill_date)}` : ''
      }`,
      resource: 'subscriptions',
      idsOnly: `Subscription ${id}`,
    });
    if (s.contact_id !== undefined) {
      st.contactId = String(s.contact_id);
      facts.push(await contactFacts(r, String(s.contact_id), 'Subscriber'));
    }
    return facts;
  },

  async subscription_plan(r, v, _a, st) {
    const id = String(v);
    let token: string | undefined;
    for (let page = 0; page < 10; page++) {
      const body = obj(
        await r.get(
          { kind: 'subscription_plan', id, resource: 'subscriptions', template: '/v2/products' },
          '/v2/products',
          { page_size: 1000, ...(token ? { page_token: token } : {}) },
        ),
      );
      for (const p of arr(body.products)) {
        const embedded = arr(p.subscription_plans).find((x) => String(x.id) === id);
        if (embedded === undefined) continue;
        const plans = obj(
          await r.get(
            {
              kind: 'subscription_plan',
              id,
              resource: 'subscriptions',
              template: '/v2/products/{product_id}/subscriptions',
            },
            `/v2/products/${encodeURIComponent(String(p.id))}/subscriptions`,
            { page_size: 1000 },
          ),
        );
        const plan = arr(plans.subscriptions).find((x) => String(x.id) === id) ?? {};
        const price = money(plan.plan_price ?? embedded.plan_price);
        const cur = obj(plan.plan_price ?? embedded.plan_price).currency_code;
        if (typeof cur === 'string') st.currency = k(cur, 3);
        const cycles = plan.total_cycles ?? embedded.number_of_cycles;
        return [
          {
            text: `Plan: "${k(plan.subscription_plan_name) || k(p.name)}" (plan ${id} of product ${k(p.name)}): ${
              price ?? '?'
            } every ${k(plan.frequency ?? embedded.billing_frequency)} ${k(
              plan.cycle_type ?? embedded.billing_cycle,
            )}${typeof cycles === 'number' && cycles > 0 ? `, ${cycles} cycles` : ', until cancelled'}${
              (plan.active ?? embedded.active) === false ? ' (INACTIVE plan)' : ''
            }`,
            resource: 'subscriptions',
            idsOnly: `Plan: subscription plan ${id}`,
          },
        ];
      }
      token =
        typeof body.next_page_token === 'string' && body.next_page_token !== ''
          ? body.next_page_token
          : undefined;
      if (token === undefined) break;
    }
    throw new ToolError({
      category: 'not_found',
      message: `subscription plan ${neutralise(id, 40)} does not exist in Keap; nothing was done and nobody was asked`,
      nextStep: 'Find plan ids with list_subscription_plans; do not retry with the same id',
    });
  },

  async campaign(r, v, _a, st) {
    const id = String(v);
    st.campaignId = id;
    const c = obj(
      await r.get(
        { kind: 'campaign', id, resource: 'campaigns', template: '/v2/campaigns/{campaign_id}' },
        `/v2/campaigns/${encodeURIComponent(id)}`,
      ),
    );
    return [
      {
        text: `Campaign: "${k(c.name)}" (campaign ${id}${c.published_status === false ? ', unpublished' : ''})`,
        resource: 'campaigns',
        idsOnly: `Campaign: campaign ${id}`,
      },
    ];
  },

  async sequence(r, v, args, st) {
    const id = String(v);
    const cid = st.campaignId ?? String(args.campaign_id);
    const body = obj(
      await r.get(
        { kind: 'sequence', id, resource: 'campaigns', template: '/v2/campaigns/{campaign_id}/sequences' },
        `/v2/campaigns/${encodeURIComponent(cid)}/sequences`,
      ),
    );
    const s = arr(body.sequences).find((x) => String(x.id) === id);
    if (s === undefined) {
      throw new ToolError({
        category: 'not_found',
        message: `sequence ${neutralise(id, 40)} is not a sequence of campaign ${cid}; nothing was done and nobody was asked`,
        nextStep: `Find the campaign's sequences with list_campaign_sequences (campaign_id ${cid})`,
      });
    }
    const emails = arr(s.paths)
      .flatMap((p) => arr(p.items))
      .filter((i) => i.type === 'Email').length;
    return [
      {
        text: `Sequence: "${k(s.name)}" (sequence ${id}; ${emails} email step${emails === 1 ? '' : 's'})`,
        resource: 'campaigns',
        idsOnly: `Sequence: sequence ${id}`,
      },
    ];
  },

  async tag(r, v) {
    const id = String(v);
    const t = obj(
      await r.get(
        { kind: 'tag', id, resource: 'tags', template: '/v2/tags/{tag_id}' },
        `/v2/tags/${encodeURIComponent(id)}`,
      ),
    );
    return [{ text: `Tag: "${k(t.name)}" (tag ${id})`, resource: 'tags', idsOnly: `Tag: tag ${id}` }];
  },

  async company(r, v) {
    const id = String(v);
    const c = obj(
      await r.get(
        { kind: 'company', id, resource: 'companies', template: '/v2/companies/{company_id}' },
        `/v2/companies/${encodeURIComponent(id)}`,
      ),
    );
    return [
      {
        text: `Company: "${k(c.company_name)}" (company ${id})`,
        resource: 'companies',
        idsOnly: `Company: company ${id}`,
      },
    ];
  },

  async opportunity(r, v) {
    const id = String(v);
    const o = obj(
      await r.get(
        {
          kind: 'opportunity',
          id,
          resource: 'opportunities',
          template: '/v2/opportunities/{opportunity_id}',
        },
        `/v2/opportunities/${encodeURIComponent(id)}`,
      ),
    );
    const facts: Fact[] = [
      {
        text: `Opportunity: "${k(o.opportunity_title)}" (opportunity ${id}), stage "${k(obj(o.stage).name)}"${
          typeof o.projected_revenue_high === 'number'
            ? `, projected revenue up to ${dollars(o.projected_revenue_high)}`
            : ''
        }`,
        resource: 'opportunities',
        idsOnly: `Opportunity: opportunity ${id}`,
      },
    ];
    const c = obj(o.contact);
    if (c.id !== undefined)
      facts.push({
        text: `Contact: ${person(c, 'contact')}`,
        resource: 'contacts',
        idsOnly: `Contact: contact ${k(c.id)}`,
      });
    return facts;
  },

  async hook(r, v) {
    const id = String(v);
    const h = obj(
      await r.get(
        { kind: 'hook', id, resource: 'hooks', template: '/v1/hooks/{key}' },
        `/v1/hooks/${encodeURIComponent(id)}`,
      ),
    );
    return [
      {
        text: `Hook ${id}: event ${k(h.eventKey)} → ${k(h.hookUrl, 200)} (${k(h.status)})`,
        resource: 'hooks',
        idsOnly: `Hook ${id}`,
      },
    ];
  },
};

/** Model-written free text, quoted ('base64' inputs decoded; a body shows its first lines). */
function textLines(spec: AnyToolSpec, args: Readonly<Rec>): string[] {
  const out: string[] = [];
  for (const [key, how] of Object.entries(spec.resolve?.texts ?? {})) {
    const v = args[key];
    if (typeof v !== 'string') continue;
    const text = how === 'base64' ? Buffer.from(v, 'base64').toString('utf8') : v;
    if (how === 'base64') {
      const lines = text.split(/\r\n|\r|\n/).filter((l) => l.trim() !== '');
      const shown = lines.slice(0, BODY_LINES).map((l) => `    ${quoted(l)}`);
      const more = lines.length > BODY_LINES ? [`    … ${lines.length - BODY_LINES} more line(s)`] : [];
      out.push(`  ${key} (first lines):`, ...shown, ...more);
    } else {
      out.push(`  ${key}: ${quoted(text)}`);
    }
  }
  return out;
}

function amountLines(spec: AnyToolSpec, args: Readonly<Rec>, st: State): string[] {
  const out: string[] = [];
  for (const path of spec.resolve?.amounts ?? []) {
    if (path.includes('[].')) continue; // shown with the line items
    for (const { at, value } of valuesAt(args, path)) {
      out.push(
        `Amount: ${dollars(value)} exactly (${at} ${String(value)}, in ${
          st.currency !== undefined ? `${st.currency}, the record's currency` : "the Keap account's currency"
        })`,
      );
    }
  }
  return out;
}

/**
 * The preview of a call about to be confirmed: reads the records named by `spec.resolve.records` and renders
 * the human's and the model's versions. Throws ToolError when an amount is refused or a target is missing.
 */
export async function resolvePreview(call: Call, canRead: (resource: Resource) => boolean): Promise<Preview> {
  const { spec, args } = call;
  checkAmounts(spec, args);
  if (!call.request) throw new Error('preview without a built request');
  const summary = summaryOf(spec, args, call.request);
  const reader = new Reader(call);
  const st: State = {};
  const facts: Fact[] = [];
  for (const [key, kind] of Object.entries(spec.resolve?.records ?? {})) {
    if (kind === undefined) continue;
    const v = args[key];
    if (v === undefined && kind !== 'payment_method') continue;
    facts.push(...(await RESOLVERS[kind](reader, v, args, st, key)));
  }
  const money = amountLines(spec, args, st);
  const texts = textLines(spec, args);
  const render = (full: boolean) =>
    [
      summary,
      ...facts.map((f) => (full || canRead(f.resource) ? f.text : f.idsOnly)),
      ...money,
      ...(texts.length > 0 ? ['Written by the agent (quoted as given, not checked):', ...texts] : []),
    ].join('\n');
  return { human: render(true), model: render(false), reads: reader.reads };
}

/** The preview without reading anything (dry runs, tools without a resolve spec): summary and quoted text. */
export function staticPreview(call: Call): string {
  const { spec, args } = call;
  if (!call.request) return spec.title;
  const texts = textLines(spec, args);
  return [
    summaryOf(spec, args, call.request),
    ...(texts.length > 0 ? ['Written by the agent (quoted as given, not checked):', ...texts] : []),
  ].join('\n');
}
