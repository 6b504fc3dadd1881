/** Companies: GET/POST /v2/companies, GET/PATCH/DELETE /v2/companies/{company_id}. Emits company.add / company.edit / company.delete. */
import { z } from 'zod';
import { badRequest, notFound } from '../core/errors.js';
import { fieldsParam, listV2, selectFields } from '../core/list.js';
import type { SandboxApi, SbModule, SbRequest } from '../core/types.js';
import { FakeGen, idStr, intBetween, iso, pick } from '../core/util.js';
import { parseBody, pathId } from '../core/validate.js';
import {
  applyTagToCompany,
  COMPANIES_TABLE,
  COMPANY_TAGS_TABLE,
  CONTACTS_TABLE,
  type CompanyRow,
  type CompanyTagRow,
  type ContactRow,
  companyTagIds,
  replaceRow,
  TAGS_TABLE,
  type TagRow,
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
  zEmailAddress,
  zFax,
  zIdLike,
  zPhone,
} from './crm-schemas.js';
import { mergeCustomFields, parseCustomFields, renderCustomFields } from './custom-fields.js';
import { activeUserIds, ownerIdOrThrow } from './users.js';

export const COMPANY_FIELDS = [
  'id',
  'address',
  'notes',
  'website',
  'suffix',
  'title',
  'groups',
  'company_name',
  'custom_fields',
  'email_address',
  'fax_number',
  'phone_number',
  'update_time',
  'create_time',
  'anniversary_date',
  'assistant_name',
  'assistant_phone',
  'billing_information',
  'birth_date',
  'contact_type',
  'first_name',
  'job_title',
  'last_name',
  'middle_name',
  'preferred_name',
  'owner_id',
  'referral_code',
  'spouse_name',
  'account_id',
  'created_by',
  'last_updated_by',
] as const;

/** Not returned unless asked for with `fields` (as Keap documents for GET /v2/companies). */
const NOT_DEFAULT = new Set([
  'notes',
  'fax_number',
  'address',
  'email_address',
  'phone_number',
  'update_time',
  'create_time',
  'custom_fields',
]);

/** Keap's update_mask enum for PATCH /v2/companies/{company_id} has the same names as `fields`. */
const UPDATE_MASK = COMPANY_FIELDS;

/**
 * Render a company. `fields` undefined = Keap's default subset for lists; pass 'all' for every property
 * (single GET / create / update answer with the whole object).
 */
export function renderCompany(
  sb: SandboxApi,
  c: CompanyRow,
  fields: Set<string> | 'all' | undefined,
): Record<string, unknown> {
  const full: Record<string, unknown> = {
    id: idStr(c.id),
    company_name: c.company_name,
    groups: companyTagIds(sb, c.id).join(','),
    custom_fields: renderCustomFields(c.custom_fields),
    create_time: c.create_time,
    update_time: c.update_time,
    created_by: idStr(c.created_by),
    last_updated_by: idStr(c.last_updated_by),
    account_id: idStr(c.id),
  };
  const opt: [string, unknown][] = [
    ['website', c.website],
    ['notes', c.notes],
    ['title', c.title],
    ['suffix', c.suffix],
    ['first_name', c.first_name],
    ['last_name', c.last_name],
    ['middle_name', c.middle_name],
    ['preferred_name', c.preferred_name],
    ['job_title', c.job_title],
    ['contact_type', c.contact_type],
    ['birth_date', c.birth_date],
    ['anniversary_date', c.anniversary_date],
    ['spouse_name', c.spouse_name],
    ['referral_code', c.referral_code],
    ['assistant_name', c.assistant_name],
    ['assistant_phone', c.assistant_phone],
    ['billing_information', c.billing_information],
    ['owner_id', c.owner_id === undefined ? undefined : idStr(c.owner_id)],
    ['address', c.address ? renderAddress(c.address) : undefined],
    [
      'email_address',
      c.email
        ? renderEmail(
            c.email_address?.email === c.email
              ? c.email_address
              : {
                  email: c.email,
                  field: 'EMAIL1',
                  is_opt_in: false,
                  email_opt_status: 'UNENGAGED_MARKETABLE',
                },
          )
        : undefined,
    ],
    ['phone_number', c.phone ? renderPhone(c.phone) : undefined],
    ['fax_number', c.fax ? { ...c.fax } : undefined],
  ];
  for (const [k, v] of opt) if (v !== undefined) full[k] = v;
  if (fields === 'all') return full;
  if (fields) return selectFields(full, fields);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(full)) if (!NOT_DEFAULT.has(k)) out[k] = v;
  return out;
}

const companyBodyShape = {
  address: zAddress.optional(),
  notes: z.string().optional(),
  website: z.string().max(255).optional(),
  suffix: z.string().optional(),
  title: z.string().optional(),
  company_name: z.string().min(1, 'must not be empty').max(100).optional(),
  custom_fields: z.array(zCustomField).optional(),
  email_address: zEmailAddress.optional(),
  fax_number: zFax.optional(),
  phone_number: zPhone.optional(),
  anniversary_date: zDateOnly.optional(),
  assistant_name: z.string().optional(),
  assistant_phone: z.string().optional(),
  billing_information: z.string().optional(),
  birth_date: zDateOnly.optional(),
  contact_type: z.string().optional(),
  first_name: z.string().optional(),
  job_title: z.string().optional(),
  last_name: z.string().optional(),
  middle_name: z.string().optional(),
  preferred_name: z.string().optional(),
  owner_id: zIdLike.optional(),
  referral_code: z.string().optional(),
  spouse_name: z.string().optional(),
};
const zCompanyBody = z.object(companyBodyShape).strict();
type CompanyBody = z.infer<typeof zCompanyBody>;

const SIMPLE_KEYS = [
  'notes',
  'website',
  'suffix',
  'title',
  'anniversary_date',
  'assistant_name',
  'assistant_phone',
  'billing_information',
  'birth_date',
  'contact_type',
  'first_name',
  'job_title',
  'last_name',
  'middle_name',
  'preferred_name',
  'referral_code',
  'spouse_name',
] as const;

/** Apply a parsed body to a company row (mask: only these keys; a masked key absent from the body is cleared). */
function applyCompanyBody(
  sb: SandboxApi,
  row: CompanyRow,
  b: CompanyBody,
  mask: Set<string> | undefined,
): void {
  const take = (k: string): boolean => (mask ? mask.has(k) : k in b);
  copyKeys(row, b, SIMPLE_KEYS, take);
  if (take('company_name')) {
    if (b.company_name === undefined) throw badRequest('company_name', "'company_name' is required");
    row.company_name = b.company_name;
  }
  if (take('owner_id')) {
    const o = ownerIdOrThrow(sb, b.owner_id);
    if (o === undefined) delete row.owner_id;
    else row.owner_id = o;
  }
  if (take('address')) {
    if (b.address) row.address = toAddressRow(b.address, 0);
    else delete row.address;
  }
  if (take('email_address')) {
    if (b.email_address) {
      const { is_opt_in, email_opt_status, ...req } = b.email_address;
      const e = toEmailRow(req, 0);
      if (is_opt_in !== undefined) e.is_opt_in = is_opt_in;
      if (email_opt_status !== undefined) e.email_opt_status = email_opt_status;
      row.email = e.email;
      row.email_address = e;
    } else {
      delete row.email;
      delete row.email_address;
    }
  }
  if (take('phone_number')) {
    if (b.phone_number) row.phone = toPhoneRow(b.phone_number, 0);
    else delete row.phone;
  }
  if (take('fax_number')) {
    if (b.fax_number) row.fax = toFaxRow(b.fax_number, 0);
    else delete row.fax;
  }
  if (take('custom_fields')) {
    row.custom_fields =
      b.custom_fields === undefined
        ? []
        : mergeCustomFields(row.custom_fields, parseCustomFields(sb, 'companies', b.custom_fields));
  }
}

function companyOr404(req: SbRequest, sb: SandboxApi): CompanyRow {
  const id = pathId(req, 'company_id');
  const c = sb.table<CompanyRow>(COMPANIES_TABLE).get(id);
  if (!c) throw notFound('Company', id);
  return c;
}

export const companiesModule: SbModule = {
  name: 'companies',
  seed(sb) {
    const rnd = (): number => sb.random();
    const gen = new FakeGen(rnd);
    const t = sb.table<CompanyRow>(COMPANIES_TABLE);
    const owners = activeUserIds(sb);
    const tags = sb.table<TagRow>(TAGS_TABLE).all();
    const base = Date.UTC(2023, 3, 1, 9, 0, 0);
    for (let i = 0; i < 18; i++) {
      const name = gen.company(i);
      const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '');
      const city = gen.city();
      const created = iso(new Date(base + i * 86_400_000 * 11 + intBetween(rnd, 0, 86_399) * 1000));
      const row: CompanyRow = {
        id: t.nextId(),
        company_name: name,
        email: `info@${slug}.example.com`,
        phone: { number: gen.phone(), field: 'PHONE1', type: 'Work' },
        website: `https://www.${slug}.example.com`,
        notes: `Demo account company #${i + 1}`,
        address: {
          field: 'BILLING',
          line1: `${intBetween(rnd, 100, 9999)} Commerce Pkwy`,
          locality: city.locality,
          region: city.region,
          postal_code: city.postal,
          country_code: 'USA',
        },
        owner_id: owners.length > 0 ? pick(rnd, owners) : 1,
        custom_fields: [],
        create_time: created,
        update_time: created,
        created_by: 1,
        last_updated_by: 1,
      };
      t.insert(row);
      if (tags.length > 0 && rnd() < 0.6) {
        const tag = pick(rnd, tags);
        applyTagToCompany(sb, tag.id, row.id, iso(new Date(Date.parse(created) + 3_600_000)));
      }
    }
  },
  routes: [
    {
      method: 'GET',
      path: '/v2/companies',
      handler(req, sb) {
        const fields = fieldsParam(req, COMPANY_FIELDS);
        const city = (c: CompanyRow): string | undefined => c.address?.locality;
        const state = (c: CompanyRow): string | undefined => c.address?.region;
        return listV2(req, sb.table<CompanyRow>(COMPANIES_TABLE).all(), {
          key: 'companies',
          render: (c) => renderCompany(sb, c, fields),
          filter: {
            company_name: { get: (c) => c.company_name, type: 'string' },
            name: { get: (c) => c.company_name, type: 'string', wildcard: true },
            email: { get: (c) => c.email, type: 'string' },
            city: { get: city, type: 'string', wildcard: true },
            state: { get: state, type: 'string', wildcard: true },
            since_time: {
              get: (c) => c.update_time,
              type: 'date',
              match: (c, _op, v) => Date.parse(c.update_time) >= dateOr400(v),
            },
            until_time: {
              get: (c) => c.update_time,
              type: 'date',
              match: (c, _op, v) => Date.parse(c.update_time) <= dateOr400(v),
            },
            company_id: { get: (c) => c.id, type: 'number', ops: ['==', '>', '<', '>=', '<='] },
          },
          orderBy: {
            id: (c) => c.id,
            create_time: (c) => c.create_time,
            name: (c) => c.company_name.toLowerCase(),
            email: (c) => c.email?.toLowerCase(),
          },
          defaultOrder: 'id asc',
        });
      },
    },
    {
      method: 'POST',
      path: '/v2/companies',
      handler(req, sb) {
        const b = parseBody(zCompanyBody, req.body);
        if (b.company_name === undefined) throw badRequest('company_name', "'company_name' is required");
        const t = sb.table<CompanyRow>(COMPANIES_TABLE);
        const now = iso(sb.now());
        const row: CompanyRow = {
          id: t.nextId(),
          company_name: b.company_name,
          custom_fields: [],
          create_time: now,
          update_time: now,
          created_by: req.auth.userId,
          last_updated_by: req.auth.userId,
        };
        applyCompanyBody(sb, row, b, undefined);
        t.insert(row);
        sb.emit('company.add', 'company', row.id);
        return { status: 201, body: renderCompany(sb, row, 'all') };
      },
    },
    {
      method: 'GET',
      path: '/v2/companies/{company_id}',
      handler(req, sb) {
        const fields = fieldsParam(req, COMPANY_FIELDS);
        const c = companyOr404(req, sb);
        return { status: 200, body: renderCompany(sb, c, fields ?? 'all') };
      },
    },
    {
      method: 'PATCH',
      path: '/v2/companies/{company_id}',
      handler(req, sb) {
        const c = companyOr404(req, sb);
        const mask = parseUpdateMask(req.query, UPDATE_MASK);
        const b = parseBody(zCompanyBody, req.body);
        const row: CompanyRow = structuredClone(c);
        applyCompanyBody(sb, row, b, mask);
        row.update_time = iso(sb.now());
        row.last_updated_by = req.auth.userId;
        replaceRow(sb.table<CompanyRow>(COMPANIES_TABLE), row);
        sb.emit('company.edit', 'company', c.id);
        return { status: 200, body: renderCompany(sb, row, 'all') };
      },
    },
    {
      method: 'DELETE',
      path: '/v2/companies/{company_id}',
      handler(req, sb) {
        const c = companyOr404(req, sb);
        sb.table<CompanyRow>(COMPANIES_TABLE).delete(c.id);
        const links = sb.table<CompanyTagRow>(COMPANY_TAGS_TABLE);
        for (const l of links.all()) if (l.company_id === c.id) links.delete(l.id);
        const contacts = sb.table<ContactRow>(CONTACTS_TABLE);
        for (const ct of contacts.all()) {
          if (ct.company_id === c.id) contacts.update(ct.id, { company_id: undefined });
        }
        sb.emit('company.delete', 'company', c.id);
        return { status: 204 };
      },
    },
  ],
};

function dateOr400(v: string): number {
  const n = Date.parse(v);
  if (Number.isNaN(n) || !/^\d{4}-\d{2}-\d{2}T/.test(v))
    throw badRequest('filter', `Invalid date-time '${v}' in 'filter'`);
  return n;
}
