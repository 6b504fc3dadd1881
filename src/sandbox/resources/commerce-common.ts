/**
 * Helpers shared by the commerce modules (products, orders, payments, subscriptions, opportunities):
 * money rendering and read-only views of contacts and users owned by other modules.
 */
import type { SandboxApi } from '../core/types.js';

export const CURRENCY = 'USD';

export interface CurrencyValue {
  amount: number;
  currency_code: string;
  formatted_amount: string;
}

/** Cents → v2 `CurrencyValue` (amount in the smallest unit). */
export function currency(cents: number): CurrencyValue {
  const c = Math.round(cents);
  const abs = Math.abs(c);
  const whole = Math.floor(abs / 100).toLocaleString('en-US');
  const frac = String(abs % 100).padStart(2, '0');
  return { amount: c, currency_code: CURRENCY, formatted_amount: `${c < 0 ? '-' : ''}$${whole}.${frac}` };
}

/** A decimal amount in major units (v2's `double` money fields, e.g. 12.5) → cents. */
export function toCents(amount: number): number {
  return Math.round(amount * 100);
}

/** Cents → a decimal amount in major units. */
export function fromCents(cents: number): number {
  return Math.round(cents) / 100;
}

/** yyyy-mm-dd of a date (UTC). */
export function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

type Row = Record<string, unknown> & { id: number };

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function firstOf(v: unknown): Record<string, unknown> | undefined {
  if (!Array.isArray(v)) return undefined;
  const first = v[0] as unknown;
  return first && typeof first === 'object' ? (first as Record<string, unknown>) : undefined;
}

/** What the commerce modules need of a contact (the contacts module owns the table). */
export interface ContactView {
  id: number;
  email?: string;
  given_name?: string;
  family_name?: string;
  phone?: string;
  city?: string;
  state?: string;
  company_name?: string;
  job_title?: string;
  address?: {
    line1?: string;
    line2?: string;
    locality?: string;
    region?: string;
    postal_code?: string;
    country_code?: string;
  };
}

export function contactExists(sb: SandboxApi, id: number): boolean {
  return sb.table<Row>('contacts').get(id) !== undefined;
}

export function contactView(sb: SandboxApi, id: number): ContactView | undefined {
  const c = sb.table<Row>('contacts').get(id);
  if (!c) return undefined;
  const emailRow = firstOf(c.email_addresses);
  const phoneRow = firstOf(c.phone_numbers);
  const addr = firstOf(c.addresses);
  const companyId = typeof c.company_id === 'number' ? c.company_id : undefined;
  const company =
    companyId !== undefined
      ? sb.table<Row>('companies').get(companyId)
      : c.company && typeof c.company === 'object'
        ? (c.company as Record<string, unknown>)
        : undefined;
  const out: ContactView = { id: c.id };
  const email = str(emailRow?.email) ?? str(c.email);
  if (email) out.email = email;
  const given = str(c.given_name);
  if (given) out.given_name = given;
  const family = str(c.family_name);
  if (family) out.family_name = family;
  const phone = str(phoneRow?.number);
  if (phone) out.phone = phone;
  const job = str(c.job_title);
  if (job) out.job_title = job;
  const companyName = str(company?.company_name) ?? str(company?.name) ?? str(c.company_name);
  if (companyName) out.company_name = companyName;
  if (addr) {
    const a: NonNullable<ContactView['address']> = {};
    const set = (k: keyof typeof a, v: unknown): void => {
      const s = str(v);
      if (s) a[k] = s;
    };
    set('line1', addr.line1);
    set('line2', addr.line2);
    set('locality', addr.locality);
    set('region', addr.region ?? addr.region_code);
    set('postal_code', addr.postal_code ?? addr.zip_code);
    set('country_code', addr.country_code);
    out.address = a;
    if (a.locality) out.city = a.locality;
    const region = str(addr.region_code) ?? str(addr.region);
    if (region) out.state = region;
  }
  return out;
}

/** All contact ids, in table order (for seeding). */
export function contactIds(sb: SandboxApi): number[] {
  return sb
    .table<Row>('contacts')
    .all()
    .map((c) => c.id);
}

export interface UserView {
  id: number;
  first_name?: string;
  last_name?: string;
}

export function userView(sb: SandboxApi, id: number): UserView | undefined {
  const u = sb.table<Row>('users').get(id);
  if (!u) return undefined;
  const out: UserView = { id: u.id };
  const first = str(u.given_name) ?? str(u.first_name);
  if (first) out.first_name = first;
  const last = str(u.family_name) ?? str(u.last_name);
  if (last) out.last_name = last;
  return out;
}

export function userIds(sb: SandboxApi): number[] {
  return sb
    .table<Row>('users')
    .all()
    .map((u) => u.id);
}
