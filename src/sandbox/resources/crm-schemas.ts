/** zod schemas for the shared v2 sub-objects (written from v2.json's components), plus converters to rows. */
import { z } from 'zod';
import { namesParam } from '../core/list.js';
import { zDate } from '../core/validate.js';
import type { AddressRow, EmailRow, FaxRow, PhoneRow } from './crm-model.js';

const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export const zAddress = z
  .object({
    country: z.string().max(100).optional(),
    line1: z.string().max(100).optional(),
    line2: z.string().max(100).optional(),
    locality: z.string().max(100).optional(),
    region: z.string().max(50).optional(),
    field: z.enum(['ADDRESS_FIELD_UNSPECIFIED', 'BILLING', 'SHIPPING', 'OTHER']).optional(),
    country_code: z.string().max(3).optional(),
    postal_code: z.string().max(20).optional(),
    region_code: z.string().max(10).optional(),
    zip_code: z.string().max(20).optional(),
    zip_four: z.string().max(10).optional(),
  })
  .strict();

export const zEmailRequest = z
  .object({
    email: z.string().max(100).regex(EMAIL_RE, 'must be a valid email address'),
    field: z.enum(['EMAIL_FIELD_UNSPECIFIED', 'EMAIL1', 'EMAIL2', 'EMAIL3']).optional(),
    opt_in_reason: z.string().optional(),
  })
  .strict();

/** EmailAddress as the Company body carries it (response shape; opt status fields tolerated). */
export const EMAIL_OPT_STATUSES = [
  'UNENGAGED_MARKETABLE',
  'SINGLE_OPT_IN',
  'DOUBLE_OPT_IN',
  'CONFIRMED',
  'UNENGAGED_NON_MARKETABLE',
  'NON_MARKETABLE',
  'LOCKDOWN',
  'BOUNCE',
  'HARD_BOUNCE',
  'MANUAL',
  'ADMIN',
  'SYSTEM',
  'LIST_UNSUBSCRIBE',
  'FEEDBACK',
  'SPAM',
  'INVALID',
  'DEACTIVATED',
] as const;

export const zEmailAddress = zEmailRequest
  .extend({
    is_opt_in: z.boolean().optional(),
    email_opt_status: z.enum(EMAIL_OPT_STATUSES).optional(),
  })
  .strict();

export const zPhone = z
  .object({
    extension: z.string().max(20).optional(),
    number: z.string().min(1).max(40),
    type: z.string().optional(),
    field: z
      .enum(['PHONE_NUMBER_FIELD_UNSPECIFIED', 'PHONE1', 'PHONE2', 'PHONE3', 'PHONE4', 'PHONE5'])
      .optional(),
    number_e164: z.string().optional(),
  })
  .strict();

export const zFax = z
  .object({
    number: z.string().min(1).max(40),
    type: z.string().optional(),
    field: z.enum(['FAX_NUMBER_FIELD_UNSPECIFIED', 'FAX1', 'FAX2']).optional(),
  })
  .strict();

export const zSocial = z
  .object({
    name: z.string().max(255).optional(),
    type: z.enum([
      'SOCIAL_ACCOUNT_TYPE_UNSPECIFIED',
      'FACEBOOK',
      'LINKED_IN',
      'TWITTER',
      'INSTAGRAM',
      'SNAPCHAT',
      'YOUTUBE',
      'PINTEREST',
    ]),
  })
  .strict();

export const zCustomField = z
  .object({ id: z.string().regex(/^\d+$/, 'must be a numeric id'), content: z.unknown() })
  .strict();

/** A date (YYYY-MM-DD, a real date). */
export const zDateOnly = zDate;

/** A v2 string id (a JSON integer is tolerated). */
export const zIdLike = z.union([
  z.string().regex(/^\d+$/, 'must be a numeric id'),
  z.number().int().positive(),
]);

const ADDRESS_SLOTS = ['BILLING', 'SHIPPING', 'OTHER'] as const;

export function toAddressRow(a: z.infer<typeof zAddress>, index: number): AddressRow {
  const field =
    a.field && a.field !== 'ADDRESS_FIELD_UNSPECIFIED' ? a.field : (ADDRESS_SLOTS[index] ?? 'OTHER');
  const row: AddressRow = { field };
  if (a.country !== undefined) row.country = a.country;
  if (a.line1 !== undefined) row.line1 = a.line1;
  if (a.line2 !== undefined) row.line2 = a.line2;
  if (a.locality !== undefined) row.locality = a.locality;
  if (a.region !== undefined) row.region = a.region;
  if (a.region_code !== undefined) row.region_code = a.region_code;
  if (a.country_code !== undefined) row.country_code = a.country_code;
  const postal = a.postal_code ?? a.zip_code;
  if (postal !== undefined) row.postal_code = postal;
  if (a.zip_code !== undefined) row.zip_code = a.zip_code;
  if (a.zip_four !== undefined) row.zip_four = a.zip_four;
  return row;
}

export function renderAddress(a: AddressRow): Record<string, unknown> {
  const out: Record<string, unknown> = { field: a.field };
  for (const k of [
    'line1',
    'line2',
    'locality',
    'region',
    'region_code',
    'country_code',
    'postal_code',
    'zip_code',
    'zip_four',
  ] as const) {
    const v = a[k];
    if (v !== undefined) out[k] = v;
  }
  if (a.country !== undefined) out.country = a.country;
  else if (a.country_code === 'USA') out.country = 'United States';
  return out;
}

const EMAIL_SLOTS = ['EMAIL1', 'EMAIL2', 'EMAIL3'] as const;

export function toEmailRow(e: z.infer<typeof zEmailRequest>, index: number): EmailRow {
  const field = e.field && e.field !== 'EMAIL_FIELD_UNSPECIFIED' ? e.field : (EMAIL_SLOTS[index] ?? 'EMAIL3');
  const row: EmailRow = {
    email: e.email,
    field,
    is_opt_in: e.opt_in_reason !== undefined,
    email_opt_status: e.opt_in_reason !== undefined ? 'SINGLE_OPT_IN' : 'UNENGAGED_MARKETABLE',
  };
  if (e.opt_in_reason !== undefined) row.opt_in_reason = e.opt_in_reason;
  return row;
}

const PHONE_SLOTS = ['PHONE1', 'PHONE2', 'PHONE3', 'PHONE4', 'PHONE5'] as const;

export function toPhoneRow(p: z.infer<typeof zPhone>, index: number): PhoneRow {
  const field =
    p.field && p.field !== 'PHONE_NUMBER_FIELD_UNSPECIFIED' ? p.field : (PHONE_SLOTS[index] ?? 'PHONE5');
  const row: PhoneRow = { number: p.number, field };
  if (p.type !== undefined) row.type = p.type;
  if (p.extension !== undefined) row.extension = p.extension;
  if (p.number_e164 !== undefined) row.number_e164 = p.number_e164;
  return row;
}

export function toFaxRow(f: z.infer<typeof zFax>, index: number): FaxRow {
  const field =
    f.field && f.field !== 'FAX_NUMBER_FIELD_UNSPECIFIED' ? f.field : index === 0 ? 'FAX1' : 'FAX2';
  const row: FaxRow = { number: f.number, field };
  if (f.type !== undefined) row.type = f.type;
  return row;
}

export function renderPhone(p: PhoneRow): Record<string, unknown> {
  const out: Record<string, unknown> = { number: p.number, field: p.field };
  if (p.type !== undefined) out.type = p.type;
  if (p.extension !== undefined) out.extension = p.extension;
  const digits = p.number.replace(/\D/g, '');
  if (p.number_e164 !== undefined) out.number_e164 = p.number_e164;
  else if (digits.length === 10) out.number_e164 = `+1${digits}`;
  return out;
}

export function renderEmail(e: EmailRow): Record<string, unknown> {
  const out: Record<string, unknown> = {
    email: e.email,
    field: e.field,
    is_opt_in: e.is_opt_in,
    email_opt_status: e.email_opt_status,
  };
  if (e.opt_in_reason !== undefined) out.opt_in_reason = e.opt_in_reason;
  return out;
}

/** Parse a PATCH `update_mask` (comma-separated and/or repeated) against the allowed names; 400 naming it. */
export function parseUpdateMask(query: URLSearchParams, allowed: readonly string[]): Set<string> | undefined {
  return namesParam(query, 'update_mask', allowed);
}

/**
 * Copy plain keys of a parsed body into a row: only the keys `take` accepts; an accepted key missing from the body
 * is removed from the row (PATCH with update_mask clears it).
 */
export function copyKeys<B extends object>(
  row: object,
  body: B,
  keys: readonly (keyof B & string)[],
  take: (k: string) => boolean,
): void {
  const r = row as Record<string, unknown>;
  for (const k of keys) {
    if (!take(k)) continue;
    const v = body[k];
    if (v === undefined) delete r[k];
    else r[k] = v;
  }
}
