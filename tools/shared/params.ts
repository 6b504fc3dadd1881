/**
 * Shared, described input fields for the tool catalog. One wording per concept, defined once.
 * Only zod and pure helpers here: tools/ is data.
 */
import { z } from 'zod';

/** Keap ids are positive whole numbers written as digits: no sign, no leading zero (Keap has no id 0). */
export const ID_PATTERN = /^[1-9]\d*$/;
const ID_MESSAGE = 'must be an id: digits without a leading zero, e.g. "42"';

/** Numbers that are safe positive integers become digit strings; any other number is rejected by name. */
function idPreprocess(v: unknown, ctx: z.RefinementCtx): unknown {
  if (typeof v !== 'number') return v;
  if (Number.isSafeInteger(v) && v > 0) return String(v);
  ctx.addIssue({
    code: 'custom',
    message: `${ID_MESSAGE}; ${String(v)} is not a whole number from 1 to 2^53-1 (send large ids as strings)`,
  });
  return z.NEVER;
}

function idString() {
  return z.string({ error: `${ID_MESSAGE} (one id, not a list or object)` }).regex(ID_PATTERN, ID_MESSAGE);
}

/**
 * A Keap v2 id: a string of digits in JSON (schema `pattern` ^[1-9]\d*$). Safe integers are accepted and
 * turned into strings (models often send 42 for "42"); leading zeros, unsafe integers, lists and objects are
 * rejected with a message before Keap sees them.
 */
export function idField(description: string) {
  return z.preprocess(idPreprocess, idString()).describe(description);
}

/** A list of Keap v2 ids (each as idField; nested lists are rejected). */
export function idList(description: string) {
  return z.array(z.preprocess(idPreprocess, idString())).min(1).describe(description);
}

/**
 * An id Keap types as an integer (v2 achieve goal: int64). The model gives the same digit string as
 * everywhere else; it is sent as the number Keap documents.
 */
export function intId(description: string) {
  return z.preprocess(idPreprocess, idString().transform(Number)).describe(description);
}

/** An integer (JSON schema "type": "integer"). */
export function intField(description: string) {
  return z.int().describe(description);
}

/** Plain text the model writes; Keap wants it Base64-encoded, so it is encoded here. */
export function base64Text(description: string) {
  return z
    .string()
    .transform((s) => Buffer.from(s, 'utf8').toString('base64'))
    .describe(description);
}

/** ISO-8601 date-time string. */
export function timeField(description: string) {
  return z.string().describe(`${description}, ISO-8601`);
}

// ---- ids (one wording each; the property name says what the id is, the text says where to find it) ----
export const contactId = () => idField('From list_contacts');
export const tagId = () => idField('From list_tags');
export const companyId = () => idField('From list_companies');
export const opportunityId = () => idField('From list_opportunities');
export const orderId = () => idField('From list_orders');
export const productId = () => idField('From list_products');
export const subscriptionId = () => idField('From list_subscriptions');
export const campaignId = () => idField('From list_campaigns');
export const sequenceId = () => idField('From list_campaign_sequences');
export const taskId = () => idField('From list_tasks');
/** A Keap user (owner, assignee, sender). */
export const userId = (role: string) => idField(`${role}; list_users/get_current_user`);

/** Contact ids in a body list (keeps Keap's property name at the call site). */
export const contactIds = () => idList('From list_contacts');

// ---- custom fields ----
/** The records whose custom fields Keap describes (defined once, in the catalog contract). */
export { CUSTOM_FIELD_MODELS } from '../../src/registry/define.js';

/**
 * Keap's `custom_fields` body property: values by field id. Listed on the contact, company and opportunity
 * writes (where custom fields are everyday data); the other writes Keap documents it for (orders,
 * subscriptions, tasks, notes) take it by name, checked the same way.
 */
export function customFields() {
  return z
    .array(
      z.object({
        id: idField('Field id'),
        content: z.unknown().describe('Value'),
      }),
    )
    .optional()
    .describe('Ids from list_custom_fields');
}

// ---- paging, filtering, ordering (list tools) ----
/** Page size: an integer with Keap's documented bounds as schema keywords. */
export function pageSize(max: number) {
  return z.int().min(1).max(max).optional().describe('Default 25');
}

export const page = {
  page_size: pageSize(1000),
  page_token: z.string().optional().describe('From next_page_token'),
};

/** `filter`: one string, `field==value` clauses joined by `;` (AND). */
export function filter(example: string, fields: string) {
  return z.string().optional().describe(`e.g. ${example}; keys: ${fields}`);
}

/** `order_by`: '<field> asc|desc'. */
export function orderBy(fields: string) {
  return z.string().optional().describe(`<field> asc|desc: ${fields}`);
}

/** `fields`: comma-separated properties to include in the response. */
export function fields(names: string) {
  return z.string().optional().describe(`Comma list: ${names}`);
}

// ---- money ----
/** Money Keap takes in the currency's smallest unit (int64), e.g. product prices. */
export function centsField(description: string) {
  return z.int().min(0).describe(`${description}, in cents (1250 = $12.50)`);
}

/** The largest amount of money a call may carry (anything above is refused as absurd before anyone is asked). */
export const MAX_DOLLARS = 10_000_000;

/** Why a dollars amount cannot be sent as given, or undefined when it can (at most cents, at most MAX_DOLLARS). */
export function dollarsProblem(v: number): string | undefined {
  const s = decimal(v);
  if (s === undefined) return `${String(v)} is not a plain amount of money`;
  if ((s.split('.')[1] ?? '').length > 2)
    return `${s} has more precision than cents; give at most two decimals (nothing is rounded for you)`;
  if (Math.abs(v) > MAX_DOLLARS) return `${s} is more than ${MAX_DOLLARS} dollars; refused as implausible`;
  return undefined;
}

/**
 * Money Keap takes in currency units (double), e.g. payments, order lines, billing amounts. An amount with more
 * precision than cents (0.004, 25.555), or above MAX_DOLLARS (1e21), is an input error: nothing is rounded.
 */
export function dollarsField(description: string) {
  return z
    .number()
    .check((ctx) => {
      const problem = dollarsProblem(ctx.value);
      if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
    })
    .describe(`${description}, in dollars`);
}

/** A plain decimal string of a finite number (no exponent), or undefined. */
function decimal(v: unknown): string | undefined {
  if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
  const s = String(v);
  return /^-?\d+(\.\d+)?$/.test(s) ? s : undefined;
}

/**
 * A dollars amount for previews, exactly as given, at least two decimals: 25 → "$25.00", 10.5 → "$10.50",
 * 25.555 → "$25.555" (never rounded). Anything else is shown as given.
 */
export function dollars(v: unknown): string {
  const s = decimal(v);
  if (s === undefined) return `${String(v)} dollars`;
  const neg = s.startsWith('-');
  const [whole, frac = ''] = (neg ? s.slice(1) : s).split('.');
  return `${neg ? '-' : ''}$${whole}.${frac.padEnd(2, '0')}`;
}

/** A cents amount for previews with its dollar value: 1999 → "1999 cents = $19.99" (exact, by digits). */
export function cents(v: unknown): string {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) return `${String(v)} cents`;
  const digits = String(Math.abs(v)).padStart(3, '0');
  const sign = v < 0 ? '-' : '';
  return `${v} cents = ${sign}$${digits.slice(0, -2)}.${digits.slice(-2)}`;
}
