/**
 * Rows of the core CRM tables (contacts, companies, tags) and helpers other sandbox modules may use
 * (look up a contact, apply/remove a tag with its event). Rows use numeric ids; v2 rendering turns them into strings.
 */
import type { SandboxApi, SbTable } from '../core/types.js';
import { iso } from '../core/util.js';

export const CONTACTS_TABLE = 'contacts';
export const COMPANIES_TABLE = 'companies';
export const TAGS_TABLE = 'tags';
export const TAG_CATEGORIES_TABLE = 'tag_categories';
export const CONTACT_TAGS_TABLE = 'contact_tags';
export const COMPANY_TAGS_TABLE = 'company_tags';

export interface AddressRow {
  country?: string;
  field: 'BILLING' | 'SHIPPING' | 'OTHER' | 'ADDRESS_FIELD_UNSPECIFIED';
  line1?: string;
  line2?: string;
  locality?: string;
  region?: string;
  region_code?: string;
  country_code?: string;
  postal_code?: string;
  zip_code?: string;
  zip_four?: string;
}

export interface EmailRow {
  email: string;
  field: 'EMAIL1' | 'EMAIL2' | 'EMAIL3' | 'EMAIL_FIELD_UNSPECIFIED';
  opt_in_reason?: string;
  is_opt_in: boolean;
  email_opt_status: string;
}

export interface PhoneRow {
  number: string;
  number_e164?: string;
  field: string;
  type?: string;
  extension?: string;
}

export interface FaxRow {
  number: string;
  field: string;
  type?: string;
}

export interface SocialRow {
  name?: string;
  type: string;
}

export interface CustomFieldRow {
  id: string;
  content: unknown;
}

/** One UTM touch recorded by a contact write (`utm_parameters`), rendered as Keap's ContactUtmResponse. */
export interface UtmRow {
  id: number;
  keap_source_id: string;
  utm_source?: string;
  utm_medium?: string;
  utm_term?: string;
  utm_campaign?: string;
  utm_content?: string;
  first_touch: boolean;
  last_touch: boolean;
  date_created: string;
}

export interface ContactRow {
  id: number;
  given_name?: string;
  family_name?: string;
  middle_name?: string;
  prefix?: string;
  suffix?: string;
  preferred_name?: string;
  job_title?: string;
  website?: string;
  contact_type?: string;
  source_type: string;
  birth_date?: string;
  anniversary_date?: string;
  spouse_name?: string;
  preferred_locale?: string;
  time_zone?: string;
  referral_code?: string;
  leadsource_id?: number;
  owner_id?: number;
  company_id?: number;
  assistant_name?: string;
  assistant_phone?: string;
  billing_information?: string;
  origin_ip?: string;
  score_value: number;
  email_addresses: EmailRow[];
  phone_numbers: PhoneRow[];
  fax_numbers: FaxRow[];
  addresses: AddressRow[];
  social_accounts: SocialRow[];
  custom_fields: CustomFieldRow[];
  utm_parameters?: UtmRow[];
  create_time: string;
  update_time: string;
  created_by: number;
  last_updated_by: number;
}

export interface CompanyRow {
  id: number;
  company_name: string;
  email?: string;
  /** The whole `email_address` as written (field, opt-in reason and status); `email` mirrors its address. */
  email_address?: EmailRow;
  phone?: PhoneRow;
  fax?: FaxRow;
  website?: string;
  notes?: string;
  title?: string;
  suffix?: string;
  first_name?: string;
  last_name?: string;
  middle_name?: string;
  preferred_name?: string;
  job_title?: string;
  contact_type?: string;
  birth_date?: string;
  anniversary_date?: string;
  spouse_name?: string;
  referral_code?: string;
  assistant_name?: string;
  assistant_phone?: string;
  billing_information?: string;
  owner_id?: number;
  address?: AddressRow;
  custom_fields: CustomFieldRow[];
  create_time: string;
  update_time: string;
  created_by: number;
  last_updated_by: number;
}

export interface TagCategoryRow {
  id: number;
  name: string;
  description?: string;
  create_time: string;
  update_time: string;
}

export interface TagRow {
  id: number;
  name: string;
  description?: string;
  category_id?: number;
  create_time: string;
  update_time: string;
}

export interface ContactTagRow {
  id: number;
  contact_id: number;
  tag_id: number;
  applied_time: string;
}

export interface CompanyTagRow {
  id: number;
  company_id: number;
  tag_id: number;
  applied_time: string;
}

export function getContact(sb: SandboxApi, id: number): ContactRow | undefined {
  return sb.table<ContactRow>(CONTACTS_TABLE).get(id);
}

export function getCompany(sb: SandboxApi, id: number): CompanyRow | undefined {
  return sb.table<CompanyRow>(COMPANIES_TABLE).get(id);
}

export function getTag(sb: SandboxApi, id: number): TagRow | undefined {
  return sb.table<TagRow>(TAGS_TABLE).get(id);
}

/** The contact's first email (EMAIL1 preferred). */
export function primaryEmail(c: ContactRow): string | undefined {
  return (c.email_addresses.find((e) => e.field === 'EMAIL1') ?? c.email_addresses[0])?.email;
}

export function contactTagLinks(sb: SandboxApi, contactId: number): ContactTagRow[] {
  return sb
    .table<ContactTagRow>(CONTACT_TAGS_TABLE)
    .all()
    .filter((l) => l.contact_id === contactId);
}

export function contactTagIds(sb: SandboxApi, contactId: number): number[] {
  return contactTagLinks(sb, contactId).map((l) => l.tag_id);
}

export function companyTagIds(sb: SandboxApi, companyId: number): number[] {
  return sb
    .table<CompanyTagRow>(COMPANY_TAGS_TABLE)
    .all()
    .filter((l) => l.company_id === companyId)
    .map((l) => l.tag_id);
}

/**
 * Apply a tag to a contact. Returns false if it was already applied. Emits `contactGroup.applied`
 * (object type 'contact', id = the contact id, so the hook's apiUrl points at the contact) unless `silent`.
 */
export function applyTagToContact(
  sb: SandboxApi,
  tagId: number,
  contactId: number,
  opts: { at?: string; silent?: boolean } = {},
): boolean {
  const links = sb.table<ContactTagRow>(CONTACT_TAGS_TABLE);
  if (links.all().some((l) => l.contact_id === contactId && l.tag_id === tagId)) return false;
  links.insert({
    id: links.nextId(),
    contact_id: contactId,
    tag_id: tagId,
    applied_time: opts.at ?? iso(sb.now()),
  });
  if (!opts.silent) sb.emit('contactGroup.applied', 'contact', contactId);
  return true;
}

/** Remove a tag from a contact. Returns false if it was not applied. Emits `contactGroup.removed`. */
export function removeTagFromContact(sb: SandboxApi, tagId: number, contactId: number): boolean {
  const links = sb.table<ContactTagRow>(CONTACT_TAGS_TABLE);
  const l = links.all().find((x) => x.contact_id === contactId && x.tag_id === tagId);
  if (!l) return false;
  links.delete(l.id);
  sb.emit('contactGroup.removed', 'contact', contactId);
  return true;
}

/** Remove every tag link of a deleted contact (no events). */
export function dropContactLinks(sb: SandboxApi, contactId: number): void {
  const links = sb.table<ContactTagRow>(CONTACT_TAGS_TABLE);
  for (const l of links.all()) if (l.contact_id === contactId) links.delete(l.id);
}

export function applyTagToCompany(sb: SandboxApi, tagId: number, companyId: number, at?: string): boolean {
  const links = sb.table<CompanyTagRow>(COMPANY_TAGS_TABLE);
  if (links.all().some((l) => l.company_id === companyId && l.tag_id === tagId)) return false;
  links.insert({
    id: links.nextId(),
    company_id: companyId,
    tag_id: tagId,
    applied_time: at ?? iso(sb.now()),
  });
  return true;
}

/** Replace a row wholesale through SbTable.update (keys missing from `next` are removed). */
export function replaceRow<T extends { id: number }>(table: SbTable<T>, next: T): T | undefined {
  const cur = table.get(next.id);
  if (!cur) return undefined;
  const patch: Record<string, unknown> = { ...next };
  for (const k of Object.keys(cur)) if (!(k in patch)) patch[k] = undefined;
  return table.update(next.id, patch as Partial<T>);
}
