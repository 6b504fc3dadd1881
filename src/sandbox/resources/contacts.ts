/**
 * Contacts: GET/POST /v2/contacts (POST with `duplicate_option` = upsert), GET/PATCH/DELETE /v2/contacts/{contact_id}.
 * Emits contact.add / contact.edit / contact.delete.
 */
import { z } from 'zod';
import { badRequest, notFound } from '../core/errors.js';
import { type FilterField, fieldsParam, listV2, parseFilter, selectFields } from '../core/list.js';
import type { SandboxApi, SbModule, SbRequest } from '../core/types.js';
import { FakeGen, idStr, intBetween, iso, pick } from '../core/util.js';
import { enumParam, parseBody, pathId } from '../core/validate.js';
import {
  type AddressRow,
  applyTagToContact,
  COMPANIES_TABLE,
  CONTACTS_TABLE,
  type CompanyRow,
  type ContactRow,
  contactTagIds,
  dropContactLinks,
  getCompany,
  primaryEmail,
  replaceRow,
  TAGS_TABLE,
  type TagRow,
  type UtmRow,
} from './crm-model.js';
import {
  copyKeys,
  parseUpdateMask,
  renderAddress,
  renderEmail,
  renderPhone,
  toAddressRow,
  toEmailRow,
  toFaxRow,
  toPhoneRow,
  zAddress,
  zCustomField,
  zDateOnly,
  zEmailRequest,
  zFax,
  zIdLike,
  zPhone,
  zSocial,
} from './crm-schemas.js';
import { mergeCustomFields, parseCustomFields, renderCustomFields } from './custom-fields.js';
import { activeUserIds, ownerIdOrThrow } from './users.js';

export const LEAD_SOURCES: readonly { id: number; name: string }[] = [
  { id: 1, name: 'Google Ads' },
  { id: 2, name: 'Facebook' },
  { id: 3, name: 'Referral' },
  { id: 4, name: 'Trade Show' },
  { id: 5, name: 'Website' },
];

export const CONTACT_FIELDS = [
  'addresses',
  'anniversary_date',
  'birth_date',
  'company',
  'contact_type',
  'create_time',
  'custom_fields',
  'email_addresses',
  'family_name',
  'fax_numbers',
  'given_name',
  'id',
  'job_title',
  'leadsource_id',
  'links',
  'middle_name',
  'notes',
  'origin',
  'owner_id',
  'phone_numbers',
  'preferred_locale',
  'preferred_name',
  'prefix',
  'referral_code',
  'score_value',
  'social_accounts',
  'source_type',
  'spouse_name',
  'suffix',
  'tag_ids',
  'time_zone',
  'update_time',
  'utm_parameters',
  'website',
  'account_id',
  'assistant_name',
  'assistant_phone',
  'billing_information',
  'created_by',
  'groups',
  'last_updated_by',
] as const;

/** What GET /v2/contacts returns when `fields` is not given. */
const LIST_DEFAULT_FIELDS = new Set([
  'id',
  'given_name',
  'family_name',
  'middle_name',
  'email_addresses',
  'phone_numbers',
  'addresses',
  'company',
  'owner_id',
  'tag_ids',
  'create_time',
  'update_time',
]);

const SOURCE_TYPES = [
  'SOURCE_TYPE_UNSPECIFIED',
  'API',
  'APPOINTMENT',
  'FORM_API_HOSTED',
  'FORM_API_INTERNAL',
  'IMPORT',
  'INTERNAL_FORM',
  'LANDING_PAGE',
  'MANUAL',
  'OTHER',
  'UNKNOWN',
  'WEBFORM',
] as const;

/** Render a contact (all properties unless `fields` selects some). */
export function renderContact(sb: SandboxApi, c: ContactRow, fields?: Set<string>): Record<string, unknown> {
  const tagIds = contactTagIds(sb, c.id).map(idStr);
  const full: Record<string, unknown> = { id: idStr(c.id) };
  const simple = [
    'given_name',
    'family_name',
    'middle_name',
    'prefix',
    'suffix',
    'preferred_name',
    'job_title',
    'website',
    'contact_type',
    'birth_date',
    'anniversary_date',
    'spouse_name',
    'preferred_locale',
    'time_zone',
    'referral_code',
    'assistant_name',
    'assistant_phone',
    'billing_information',
  ] as const;
  for (const k of simple) {
    const v = c[k];
    if (v !== undefined) full[k] = v;
  }
  full.source_type = c.source_type;
  if (c.leadsource_id !== undefined) full.leadsource_id = idStr(c.leadsource_id);
  if (c.owner_id !== undefined) full.owner_id = idStr(c.owner_id);
  if (c.company_id !== undefined) {
    const co = getCompany(sb, c.company_id);
    full.company = { id: idStr(c.company_id), ...(co ? { company_name: co.company_name } : {}) };
  }
  full.email_addresses = c.email_addresses.map(renderEmail);
  full.phone_numbers = c.phone_numbers.map(renderPhone);
  full.fax_numbers = c.fax_numbers.map((f) => ({ ...f }));
  full.addresses = c.addresses.map(renderAddress);
  full.social_accounts = c.social_accounts.map((s) => ({ ...s }));
  full.custom_fields = renderCustomFields(c.custom_fields);
  full.links = [];
  full.utm_parameters = (c.utm_parameters ?? []).map((u) => {
    const out: Record<string, unknown> = { id: u.id, keapSourceId: u.keap_source_id };
    if (u.utm_source !== undefined) out.utmSource = u.utm_source;
    if (u.utm_medium !== undefined) out.utmMedium = u.utm_medium;
    if (u.utm_term !== undefined) out.utmTerm = u.utm_term;
    if (u.utm_campaign !== undefined) out.utmCampaign = u.utm_campaign;
    if (u.utm_content !== undefined) out.utmContent = u.utm_content;
    out.firstTouch = u.first_touch;
    out.lastTouch = u.last_touch;
    out.dateCreated = u.date_created;
    return out;
  });
  full.origin = { date: c.create_time, ...(c.origin_ip !== undefined ? { ip_address: c.origin_ip } : {}) };
  full.score_value = String(c.score_value);
  full.tag_ids = tagIds;
  full.groups = tagIds.join(',');
  full.create_time = c.create_time;
  full.update_time = c.update_time;
  full.created_by = idStr(c.created_by);
  full.last_updated_by = idStr(c.last_updated_by);
  return selectFields(full, fields);
}

const zContactBody = z
  .object({
    addresses: z.array(zAddress).max(3).optional(),
    company: z.object({ id: zIdLike.optional(), company_name: z.string().optional() }).strict().optional(),
    origin: z.object({ ip_address: z.string() }).strict().optional(),
    prefix: z.string().max(10).optional(),
    suffix: z.string().max(10).optional(),
    website: z.string().max(100).optional(),
    anniversary_date: zDateOnly.optional(),
    birth_date: zDateOnly.optional(),
    contact_type: z.string().optional(),
    custom_fields: z.array(zCustomField).optional(),
    email_addresses: z.array(zEmailRequest).max(3).optional(),
    family_name: z.string().max(40).optional(),
    fax_numbers: z.array(zFax).max(2).optional(),
    given_name: z.string().max(40).optional(),
    job_title: z.string().max(255).optional(),
    leadsource_id: zIdLike.optional(),
    middle_name: z.string().max(100).optional(),
    owner_id: zIdLike.optional(),
    phone_numbers: z.array(zPhone).max(5).optional(),
    preferred_locale: z.string().optional(),
    preferred_name: z.string().max(100).optional(),
    referral_code: z.string().optional(),
    social_accounts: z.array(zSocial).optional(),
    source_type: z.enum(SOURCE_TYPES).optional(),
    spouse_name: z.string().max(100).optional(),
    time_zone: z.string().optional(),
    utm_parameters: z
      .object({
        keap_source_id: z.string(),
        utm_source: z.string().optional(),
        utm_medium: z.string().optional(),
        utm_term: z.string().optional(),
        utm_campaign: z.string().optional(),
        utm_content: z.string().optional(),
      })
      .strict()
      .optional(),
    assistant_name: z.string().max(20).optional(),
    assistant_phone: z.string().max(15).optional(),
    billing_information: z.string().max(100).optional(),
  })
  .strict();
type ContactBody = z.infer<typeof zContactBody>;

const UPDATE_MASK = CONTACT_FIELDS;
const READ_ONLY = new Set([
  'id',
  'create_time',
  'update_time',
  'links',
  'notes',
  'score_value',
  'tag_ids',
  'account_id',
  'created_by',
  'groups',
  'last_updated_by',
]);

const SIMPLE_KEYS = [
  'prefix',
  'suffix',
  'website',
  'anniversary_date',
  'birth_date',
  'contact_type',
  'family_name',
  'given_name',
  'job_title',
  'middle_name',
  'preferred_locale',
  'preferred_name',
  'referral_code',
  'spouse_name',
  'time_zone',
  'assistant_name',
  'assistant_phone',
  'billing_information',
] as const;

function uniqueSlots<T extends { field: string }>(rows: T[], name: string): T[] {
  const seen = new Set<string>();
  for (const r of rows) {
    if (seen.has(r.field)) throw badRequest(name, `Duplicate field '${r.field}' in '${name}'`);
    seen.add(r.field);
  }
  return rows;
}

/** Write a parsed body into a row (mask: only these keys; a masked key absent from the body is cleared). */
function applyContactBody(
  sb: SandboxApi,
  row: ContactRow,
  b: ContactBody,
  mask: Set<string> | undefined,
): void {
  const take = (k: string): boolean => (mask ? mask.has(k) && !READ_ONLY.has(k) : k in b);
  copyKeys(row, b, SIMPLE_KEYS, take);
  if (take('source_type')) row.source_type = b.source_type ?? 'UNKNOWN';
  if (take('email_addresses')) {
    row.email_addresses = uniqueSlots((b.email_addresses ?? []).map(toEmailRow), 'email_addresses');
  }
  if (take('phone_numbers'))
    row.phone_numbers = uniqueSlots((b.phone_numbers ?? []).map(toPhoneRow), 'phone_numbers');
  if (take('fax_numbers')) row.fax_numbers = uniqueSlots((b.fax_numbers ?? []).map(toFaxRow), 'fax_numbers');
  if (take('addresses')) row.addresses = uniqueSlots((b.addresses ?? []).map(toAddressRow), 'addresses');
  if (take('social_accounts')) row.social_accounts = (b.social_accounts ?? []).map((s) => ({ ...s }));
  if (take('custom_fields')) {
    row.custom_fields =
      b.custom_fields === undefined
        ? []
        : mergeCustomFields(row.custom_fields, parseCustomFields(sb, 'contacts', b.custom_fields));
  }
  if (take('utm_parameters')) {
    if (b.utm_parameters === undefined) row.utm_parameters = [];
    else {
      const list = (row.utm_parameters ?? []).map((u) => ({ ...u, last_touch: false }));
      const u = b.utm_parameters;
      const utm: UtmRow = {
        id: (list.at(-1)?.id ?? 0) + 1,
        keap_source_id: u.keap_source_id,
        first_touch: list.length === 0,
        last_touch: true,
        date_created: iso(sb.now()),
      };
      if (u.utm_source !== undefined) utm.utm_source = u.utm_source;
      if (u.utm_medium !== undefined) utm.utm_medium = u.utm_medium;
      if (u.utm_term !== undefined) utm.utm_term = u.utm_term;
      if (u.utm_campaign !== undefined) utm.utm_campaign = u.utm_campaign;
      if (u.utm_content !== undefined) utm.utm_content = u.utm_content;
      row.utm_parameters = [...list, utm];
    }
  }
  if (take('origin')) {
    if (b.origin) row.origin_ip = b.origin.ip_address;
    else delete row.origin_ip;
  }
  if (take('owner_id')) {
    const o = ownerIdOrThrow(sb, b.owner_id);
    if (o === undefined) delete row.owner_id;
    else row.owner_id = o;
  }
  if (take('leadsource_id')) {
    if (b.leadsource_id === undefined) delete row.leadsource_id;
    else {
      const id = Number(b.leadsource_id);
      if (!LEAD_SOURCES.some((l) => l.id === id)) {
        throw badRequest(
          'leadsource_id',
          `Lead source '${b.leadsource_id}' in 'leadsource_id' does not exist`,
        );
      }
      row.leadsource_id = id;
    }
  }
  if (take('company')) {
    if (!b.company) delete row.company_id;
    else if (b.company.id !== undefined) {
      const id = Number(b.company.id);
      if (!getCompany(sb, id))
        throw badRequest('company.id', `Company '${b.company.id}' in 'company.id' does not exist`);
      row.company_id = id;
    } else if (b.company.company_name !== undefined) {
      const name = b.company.company_name.toLowerCase();
      const co = sb
        .table<CompanyRow>(COMPANIES_TABLE)
        .all()
        .find((x) => x.company_name.toLowerCase() === name);
      if (!co)
        throw badRequest(
          'company.company_name',
          `Company '${b.company.company_name}' in 'company.company_name' does not exist`,
        );
      row.company_id = co.id;
    } else delete row.company_id;
  }
}

function contactOr404(req: SbRequest, sb: SandboxApi): ContactRow {
  const id = pathId(req, 'contact_id');
  const c = sb.table<ContactRow>(CONTACTS_TABLE).get(id);
  if (!c) throw notFound('Contact', id);
  return c;
}

function addr(c: ContactRow, field: AddressRow['field']): AddressRow | undefined {
  return c.addresses.find((a) => a.field === field);
}

function digits(s: string): string {
  return s.replace(/\D/g, '');
}

function contactFilters(req: SbRequest): Record<string, FilterField<ContactRow>> {
  const raw = req.query.get('filter');
  const clauses = raw ? parseFilter(raw) : [];
  const phoneFieldsClause = clauses.find((c) => c.field === 'phone_fields');
  const hasPhone = clauses.some((c) => c.field === 'phone_number');
  if (hasPhone && !phoneFieldsClause) {
    throw badRequest('filter', "Filter 'phone_number' requires 'phone_fields' in 'filter'");
  }
  const phoneFields = phoneFieldsClause
    ? phoneFieldsClause.value.split(',').map((s) => s.trim().toUpperCase())
    : ['PHONE1', 'PHONE2', 'PHONE3', 'PHONE4', 'PHONE5'];
  for (const p of phoneFields) {
    if (!/^PHONE[1-5]$/.test(p))
      throw badRequest('filter', `Invalid phone field '${p}' for 'phone_fields' in 'filter'`);
  }
  const s = (get: (c: ContactRow) => string | undefined, wildcard = false): FilterField<ContactRow> => ({
    get,
    type: 'string',
    ...(wildcard ? { wildcard: true } : {}),
  });
  const dateBound = (lower: boolean): FilterField<ContactRow> => ({
    get: (c) => c.update_time,
    type: 'date',
    match: (c, _op, v) => {
      const n = Date.parse(v);
      if (Number.isNaN(n) || !/^\d{4}-\d{2}-\d{2}T/.test(v)) {
        throw badRequest('filter', `Invalid date-time '${v}' in 'filter'`);
      }
      const t = Date.parse(c.update_time);
      return lower ? t >= n : t <= n;
    },
  });
  const fields: Record<string, FilterField<ContactRow>> = {
    email: { get: (c) => c.email_addresses.map((e) => e.email), type: 'string', wildcard: true },
    given_name: s((c) => c.given_name, true),
    family_name: s((c) => c.family_name, true),
    middle_name: s((c) => c.middle_name, true),
    company_id: s((c) => (c.company_id === undefined ? undefined : String(c.company_id))),
    contact_ids: { get: (c) => String(c.id), type: 'string', list: true },
    ids: { get: (c) => String(c.id), type: 'string', list: true },
    start_update_time: dateBound(true),
    end_update_time: dateBound(false),
    phone_fields: { get: () => true, type: 'string', match: () => true },
    phone_number: {
      get: (c) => c.phone_numbers,
      type: 'string',
      match: (c, _op, v) => {
        const want = digits(v);
        return c.phone_numbers.some((p) => phoneFields.includes(p.field) && digits(p.number) === want);
      },
    },
    city: s((c) => c.addresses[0]?.locality, true),
    state: s((c) => c.addresses[0]?.region, true),
    website: s((c) => c.website, true),
    lead_source_name: s((c) => LEAD_SOURCES.find((l) => l.id === c.leadsource_id)?.name, true),
    contact_id: { get: (c) => c.id, type: 'number', ops: ['==', '>', '<', '>=', '<='] },
  };
  for (const [prefix, field] of [
    ['billing', 'BILLING'],
    ['shipping', 'SHIPPING'],
    ['other', 'OTHER'],
  ] as const) {
    fields[`${prefix}_address_line1`] = s((c) => addr(c, field)?.line1);
    fields[`${prefix}_address_locality`] = s((c) => addr(c, field)?.locality);
    fields[`${prefix}_address_region`] = s((c) => addr(c, field)?.region);
    fields[`${prefix}_address_postal_code`] = s((c) => addr(c, field)?.postal_code);
    fields[`${prefix}_address_country_code`] = s((c) => addr(c, field)?.country_code);
  }
  return fields;
}

/** Find the contact a `duplicate_option` upsert should update. */
function findDuplicate(
  sb: SandboxApi,
  opt: 'Email' | 'EmailAndName' | 'EmailAndNameAndCompany',
  b: ContactBody,
): ContactRow | undefined {
  const emails = (b.email_addresses ?? []).map((e) => e.email.toLowerCase());
  if (emails.length === 0) {
    throw badRequest('email_addresses', `'email_addresses' is required when 'duplicate_option' is ${opt}`);
  }
  const eq = (a: string | undefined, x: string | undefined): boolean =>
    (a ?? '').toLowerCase() === (x ?? '').toLowerCase();
  const wantCompany = b.company?.id !== undefined ? Number(b.company.id) : undefined;
  return sb
    .table<ContactRow>(CONTACTS_TABLE)
    .all()
    .find((c) => {
      if (!c.email_addresses.some((e) => emails.includes(e.email.toLowerCase()))) return false;
      if (opt === 'Email') return true;
      if (!eq(c.given_name, b.given_name) || !eq(c.family_name, b.family_name)) return false;
      if (opt === 'EmailAndName') return true;
      return c.company_id === wantCompany;
    });
}

const CONTACT_TYPES = ['Lead', 'Customer', 'Prospect', 'Other'] as const;
const SEED_SOURCE_TYPES = ['API', 'IMPORT', 'LANDING_PAGE', 'MANUAL', 'WEBFORM'] as const;
const JOBS = [
  'Owner',
  'Marketing Manager',
  'Consultant',
  'Office Manager',
  'Coach',
  'Designer',
  'Accountant',
] as const;
const ZONES = [
  'America/Phoenix',
  'America/Chicago',
  'America/Denver',
  'America/Los_Angeles',
  'America/New_York',
] as const;

export const contactsModule: SbModule = {
  name: 'contacts',
  seed(sb) {
    const rnd = (): number => sb.random();
    const gen = new FakeGen(rnd);
    const t = sb.table<ContactRow>(CONTACTS_TABLE);
    const owners = activeUserIds(sb);
    const companies = sb.table<CompanyRow>(COMPANIES_TABLE).all();
    const tags = sb.table<TagRow>(TAGS_TABLE).all();
    const start = Date.UTC(2024, 0, 2, 8, 0, 0);
    for (let i = 0; i < 220; i++) {
      const p = gen.person(
        rnd() < 0.5 ? 'example.com' : pick(rnd, ['mail.example.org', 'example.net'] as const),
      );
      const created = start + i * 3 * 86_400_000 + intBetween(rnd, 0, 86_399) * 1000;
      const updated = created + intBetween(rnd, 0, 60) * 86_400_000 + intBetween(rnd, 0, 86_399) * 1000;
      const company = companies.length > 0 && rnd() < 0.45 ? pick(rnd, companies) : undefined;
      const emails: ContactRow['email_addresses'] =
        i % 23 === 7
          ? []
          : [
              {
                email: p.email,
                field: 'EMAIL1',
                is_opt_in: rnd() < 0.6,
                email_opt_status: 'UNENGAGED_MARKETABLE',
              },
            ];
      const first = emails[0];
      if (first?.is_opt_in) {
        first.email_opt_status = 'SINGLE_OPT_IN';
        first.opt_in_reason = 'Signed up on the website';
      }
      if (emails.length > 0 && rnd() < 0.15) {
        emails.push({
          email: `${p.given.toLowerCase()}${i}@work.example.com`,
          field: 'EMAIL2',
          is_opt_in: false,
          email_opt_status: 'UNENGAGED_MARKETABLE',
        });
      }
      const addresses: AddressRow[] = [
        {
          field: 'BILLING',
          line1: p.address.line1,
          locality: p.address.locality,
          region: p.address.region,
          postal_code: p.address.postal,
          country_code: 'USA',
        },
      ];
      if (rnd() < 0.25) addresses.push({ ...addresses[0], field: 'SHIPPING' } as AddressRow);
      const row: ContactRow = {
        id: t.nextId(),
        given_name: p.given,
        family_name: p.family,
        source_type: pick(rnd, SEED_SOURCE_TYPES),
        contact_type: pick(rnd, CONTACT_TYPES),
        job_title: pick(rnd, JOBS),
        time_zone: pick(rnd, ZONES),
        preferred_locale: 'en_US',
        score_value: intBetween(rnd, 0, 100),
        email_addresses: emails,
        phone_numbers: [{ number: p.phone, field: 'PHONE1', type: rnd() < 0.5 ? 'Mobile' : 'Work' }],
        fax_numbers: [],
        addresses,
        social_accounts: [],
        custom_fields: [],
        create_time: iso(new Date(created)),
        update_time: iso(new Date(updated)),
        created_by: 1,
        last_updated_by: 1,
      };
      if (owners.length > 0) row.owner_id = pick(rnd, owners);
      if (company) row.company_id = company.id;
      if (rnd() < 0.5) row.leadsource_id = pick(rnd, LEAD_SOURCES).id;
      if (rnd() < 0.2)
        row.birth_date = `19${intBetween(rnd, 55, 99)}-0${intBetween(rnd, 1, 9)}-1${intBetween(rnd, 0, 9)}`;
      if (rnd() < 0.2) row.website = `https://${p.family.toLowerCase()}${i}.example.com`;
      t.insert(row);
      const nTags = intBetween(rnd, 0, 4);
      for (let k = 0; k < nTags && tags.length > 0; k++) {
        const tag = pick(rnd, tags);
        applyTagToContact(sb, tag.id, row.id, {
          at: iso(new Date(created + intBetween(rnd, 1, 30 * 86_400) * 1000)),
          silent: true,
        });
      }
    }
  },
  routes: [
    {
      method: 'GET',
      path: '/v2/contacts',
      handler(req, sb) {
        const fields = fieldsParam(req, CONTACT_FIELDS) ?? LIST_DEFAULT_FIELDS;
        return listV2(req, sb.table<ContactRow>(CONTACTS_TABLE).all(), {
          key: 'contacts',
          render: (c) => renderContact(sb, c, fields),
          filter: contactFilters(req),
          orderBy: {
            id: (c) => c.id,
            create_time: (c) => c.create_time,
            update_time: (c) => c.update_time,
            email: (c) => primaryEmail(c)?.toLowerCase(),
          },
          defaultOrder: 'id asc',
        });
      },
    },
    {
      method: 'POST',
      path: '/v2/contacts',
      handler(req, sb) {
        const fields = fieldsParam(req, CONTACT_FIELDS);
        const dup = enumParam(req, 'duplicate_option', [
          'Email',
          'EmailAndName',
          'EmailAndNameAndCompany',
        ] as const);
        if (req.body === undefined) throw badRequest('body', 'A contact body is required');
        const b = parseBody(zContactBody, req.body);
        const t = sb.table<ContactRow>(CONTACTS_TABLE);
        const now = iso(sb.now());
        if (dup) {
          const existing = findDuplicate(sb, dup, b);
          if (existing) {
            const row = structuredClone(existing);
            applyContactBody(sb, row, b, undefined);
            row.update_time = now;
            row.last_updated_by = req.auth.userId;
            replaceRow(t, row);
            sb.emit('contact.edit', 'contact', row.id);
            return { status: 200, body: renderContact(sb, row, fields) };
          }
        }
        const row: ContactRow = {
          id: t.nextId(),
          source_type: 'API',
          score_value: 0,
          email_addresses: [],
          phone_numbers: [],
          fax_numbers: [],
          addresses: [],
          social_accounts: [],
          custom_fields: [],
          owner_id: req.auth.userId,
          create_time: now,
          update_time: now,
          created_by: req.auth.userId,
          last_updated_by: req.auth.userId,
        };
        applyContactBody(sb, row, b, undefined);
        // Keap's document: a new contact "must contain at least one item in email_addresses, phone_numbers, or addresses".
        const hasIdentity =
          row.email_addresses.length > 0 || row.phone_numbers.length > 0 || row.addresses.length > 0;
        if (!hasIdentity) {
          throw badRequest(
            'email_addresses',
            "A contact needs at least one item in 'email_addresses', 'phone_numbers' or 'addresses'",
          );
        }
        t.insert(row);
        sb.emit('contact.add', 'contact', row.id);
        return { status: 201, body: renderContact(sb, row, fields) };
      },
    },
    {
      method: 'GET',
      path: '/v2/contacts/{contact_id}',
      handler(req, sb) {
        const fields = fieldsParam(req, CONTACT_FIELDS);
        return { status: 200, body: renderContact(sb, contactOr404(req, sb), fields) };
      },
    },
    {
      method: 'PATCH',
      path: '/v2/contacts/{contact_id}',
      handler(req, sb) {
        const c = contactOr404(req, sb);
        const fields = fieldsParam(req, CONTACT_FIELDS);
        const mask = parseUpdateMask(req.query, UPDATE_MASK);
        const b = parseBody(zContactBody, req.body);
        const row = structuredClone(c);
        applyContactBody(sb, row, b, mask);
        row.update_time = iso(sb.now());
        row.last_updated_by = req.auth.userId;
        replaceRow(sb.table<ContactRow>(CONTACTS_TABLE), row);
        sb.emit('contact.edit', 'contact', row.id);
        return { status: 200, body: renderContact(sb, row, fields) };
      },
    },
    {
      method: 'DELETE',
      path: '/v2/contacts/{contact_id}',
      handler(req, sb) {
        const c = contactOr404(req, sb);
        sb.table<ContactRow>(CONTACTS_TABLE).delete(c.id);
        dropContactLinks(sb, c.id);
        sb.emit('contact.delete', 'contact', c.id);
        return { status: 204 };
      },
    },
  ],
};
