/**
 * Shared, described input fields for the tool catalog. One wording per concept, defined once.
 * Only zod and pure helpers here: tools/ is data.
 */
import { z } from 'zod';

const DIGITS = /^\d+$/;

/**
 * A Keap v2 id: a string of digits in JSON. Numbers are accepted and turned into strings
 * (models often send 42 for "42"); anything else is rejected before Keap sees it.
 */
export function idField(description: string) {
  return z.coerce
    .string()
    .refine((s) => DIGITS.test(s), 'must be an id: a string of digits, e.g. "42"')
    .describe(description);
}

/** A list of Keap v2 ids (strings of digits). */
export function idList(description: string) {
  return z
    .array(z.coerce.string().refine((s) => DIGITS.test(s), 'must be an id: a string of digits'))
    .min(1)
    .describe(description);
}

/** An integer without the noisy ±2^53 bounds zod would print into the JSON schema. */
export function intField(description: string) {
  return z.number().refine(Number.isInteger, 'must be an integer').describe(description);
}

/** An id Keap types as an integer (v2 achieve goal); a string of digits is accepted and converted. */
export function intId(description: string) {
  return z
    .preprocess(
      (v) => (typeof v === 'string' && DIGITS.test(v) ? Number(v) : v),
      z.number().refine((n) => Number.isSafeInteger(n) && n >= 0, 'must be an integer id'),
    )
    .describe(description);
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

// ---- path ids (one wording each) ----
export const contactId = () => idField('Contact id from list_contacts');
export const tagId = () => idField('Tag id from list_tags');
export const companyId = () => idField('Company id from list_companies');
export const opportunityId = () => idField('Opportunity id from list_opportunities');
export const orderId = () => idField('Order id from list_orders');
export const productId = () => idField('Product id from list_products');
export const subscriptionId = () => idField('Subscription id from list_subscriptions');
export const campaignId = () => idField('Campaign id from list_campaigns');
export const sequenceId = () => idField('Sequence id from list_campaign_sequences');
export const taskId = () => idField('Task id from list_tasks');
/** A Keap user (owner, assignee, sender). */
export const userId = (role: string) => idField(`${role} user id; see list_users/get_current_user`);

/** Contact ids in a body list (keeps Keap's property name at the call site). */
export const contactIds = () => idList('Contact ids from list_contacts');

// ---- paging, filtering, ordering (list tools) ----
/** Page size 1..max; the bounds are checked here and stated in words (cheaper than schema keywords). */
export function pageSize(max: number) {
  return z
    .number()
    .refine((n) => Number.isInteger(n) && n >= 1 && n <= max, `must be an integer from 1 to ${max}`)
    .optional()
    .describe(`1–${max} items (default 25)`);
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
  return z.string().optional().describe(`Also return (comma list): ${names}`);
}

// ---- addresses (Keap's Address object; contacts and companies) ----
/** Address lines, writable part of Keap's Address (region_code, not the deprecated region). */
export const addressFields = {
  line1: z.string().optional().describe('Street'),
  line2: z.string().optional().describe('Line 2'),
  locality: z.string().optional().describe('City'),
  region_code: z.string().optional().describe('ISO 3166-2 e.g. US-AZ; needs country_code'),
  postal_code: z.string().optional().describe('ZIP/postal'),
  country_code: z.string().optional().describe('ISO alpha-3 e.g. USA'),
};

/** Money in currency units for previews: 25 → "$25.00"; anything else as given. */
export const money = (v: unknown): string => (typeof v === 'number' ? `$${v.toFixed(2)}` : String(v));
