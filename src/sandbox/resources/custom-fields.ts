/**
 * Custom fields: the definitions of each record model (`GET /v2/{contacts|companies|opportunities|orders|
 * subscriptions|tasks|notes}/model` → `{custom_fields: [CustomFieldMetaData], optional_properties}`), the
 * validation of `custom_fields: [{id, content}]` in request bodies against the field's type, and the seeded values
 * of the demo account.
 *
 * Tasks and notes share Keap's TASK_NOTE_APPOINTMENT record type, so their models list the same fields.
 * Content by field type (what a write accepts → what is stored and returned):
 *   TEXT, TEXT_AREA, EMAIL, PHONE_NUMBER, WEBSITE, NAME, STATE, SOCIAL_SECURITY_NUMBER → string;
 *   WHOLE_NUMBER, YEAR → integer (JSON number or digit string); DECIMAL_NUMBER, CURRENCY, PERCENT → number;
 *   DATE → 'YYYY-MM-DD'; DATE_TIME → RFC 3339; YES_NO → boolean; DROPDOWN, RADIO → one option's label;
 *   LIST_BOX → array of option labels; USER → a user id; `null` clears the value.
 * Unknown ids (or an id of another record type) → 400 naming `custom_fields[i].id`.
 */
import { badRequest } from '../core/errors.js';
import type { SandboxApi, SbModule, SbRoute } from '../core/types.js';
import { idStr, mulberry32 } from '../core/util.js';
import { isDate, isDateTime } from '../core/validate.js';

export type CustomFieldKind =
  | 'contacts'
  | 'companies'
  | 'opportunities'
  | 'orders'
  | 'subscriptions'
  | 'tasks'
  | 'notes';

export type CustomFieldType =
  | 'CURRENCY'
  | 'DATE'
  | 'DATE_TIME'
  | 'DECIMAL_NUMBER'
  | 'DROPDOWN'
  | 'EMAIL'
  | 'LIST_BOX'
  | 'NAME'
  | 'PERCENT'
  | 'PHONE_NUMBER'
  | 'RADIO'
  | 'SOCIAL_SECURITY_NUMBER'
  | 'STATE'
  | 'TEXT'
  | 'TEXT_AREA'
  | 'USER'
  | 'WEBSITE'
  | 'WHOLE_NUMBER'
  | 'YEAR'
  | 'YES_NO';

type RecordType = 'CONTACT' | 'COMPANY' | 'OPPORTUNITY' | 'ORDER' | 'SUBSCRIPTION' | 'TASK_NOTE_APPOINTMENT';

const RECORD_TYPE: Record<CustomFieldKind, RecordType> = {
  contacts: 'CONTACT',
  companies: 'COMPANY',
  opportunities: 'OPPORTUNITY',
  orders: 'ORDER',
  subscriptions: 'SUBSCRIPTION',
  tasks: 'TASK_NOTE_APPOINTMENT',
  notes: 'TASK_NOTE_APPOINTMENT',
};

export interface CustomFieldDefRow {
  id: number;
  record_type: RecordType;
  label: string;
  field_name: string;
  field_type: CustomFieldType;
  options: { id: string; label: string }[];
  group_id: number;
  group_name: string;
  default_value?: string;
}

/** A stored value: `content` already normalised to the field's type. */
export interface CustomFieldValueRow {
  id: string;
  content: unknown;
}

export const CUSTOM_FIELD_DEFS = 'custom_field_defs';

/** Properties each model's `optional_properties` lists (what `fields` can add on reads). */
const OPTIONAL_PROPERTIES: Record<CustomFieldKind, readonly string[]> = {
  contacts: [
    'anniversary_date',
    'birth_date',
    'custom_fields',
    'fax_numbers',
    'links',
    'notes',
    'origin',
    'preferred_locale',
    'preferred_name',
    'prefix',
    'referral_code',
    'social_accounts',
    'source_type',
    'spouse_name',
    'suffix',
    'time_zone',
    'utm_parameters',
    'website',
  ],
  companies: ['address', 'custom_fields', 'email_address', 'fax_number', 'notes', 'phone_number'],
  opportunities: [
    'custom_fields',
    'created_by',
    'last_updated_by',
    'monthly_revenue',
    'objection',
    'order_revenue',
    'stage_entrance_time',
    'status',
    'status_id',
  ],
  orders: ['custom_fields'],
  subscriptions: ['custom_fields'],
  tasks: ['custom_fields'],
  notes: ['custom_fields'],
};

interface DefSeed {
  record: RecordType;
  label: string;
  name: string;
  type: CustomFieldType;
  options?: string[];
  group: [number, string];
  default?: string;
}

/** The demo account's custom fields (ids 1..n in this order). */
const DEF_SEED: readonly DefSeed[] = [
  {
    record: 'CONTACT',
    label: 'Favorite Color',
    name: 'FavoriteColor',
    type: 'TEXT',
    group: [1, 'Personal Info'],
  },
  { record: 'CONTACT', label: 'Employees', name: 'Employees', type: 'WHOLE_NUMBER', group: [2, 'Business'] },
  { record: 'CONTACT', label: 'Renewal Date', name: 'RenewalDate', type: 'DATE', group: [2, 'Business'] },
  {
    record: 'CONTACT',
    label: 'Membership Level',
    name: 'MembershipLevel',
    type: 'DROPDOWN',
    options: ['Bronze', 'Silver', 'Gold', 'Platinum'],
    group: [2, 'Business'],
    default: 'Bronze',
  },
  {
    record: 'CONTACT',
    label: 'Newsletter Subscriber',
    name: 'NewsletterSubscriber',
    type: 'YES_NO',
    group: [1, 'Personal Info'],
  },
  {
    record: 'CONTACT',
    label: 'Lifetime Value',
    name: 'LifetimeValue',
    type: 'CURRENCY',
    group: [2, 'Business'],
  },
  {
    record: 'COMPANY',
    label: 'Industry',
    name: 'Industry',
    type: 'DROPDOWN',
    options: ['Retail', 'Health', 'Finance', 'Education', 'Professional Services'],
    group: [3, 'Company Profile'],
  },
  {
    record: 'COMPANY',
    label: 'Annual Revenue',
    name: 'AnnualRevenue',
    type: 'DECIMAL_NUMBER',
    group: [3, 'Company Profile'],
  },
  { record: 'COMPANY', label: 'Founded', name: 'Founded', type: 'YEAR', group: [3, 'Company Profile'] },
  {
    record: 'OPPORTUNITY',
    label: 'Deal Source',
    name: 'DealSource',
    type: 'DROPDOWN',
    options: ['Inbound', 'Outbound', 'Partner', 'Event'],
    group: [4, 'Deal Details'],
  },
  {
    record: 'OPPORTUNITY',
    label: 'Competitor',
    name: 'Competitor',
    type: 'TEXT',
    group: [4, 'Deal Details'],
  },
  {
    record: 'OPPORTUNITY',
    label: 'Decision Date',
    name: 'DecisionDate',
    type: 'DATE',
    group: [4, 'Deal Details'],
  },
  { record: 'ORDER', label: 'PO Number', name: 'PONumber', type: 'TEXT', group: [5, 'Order Details'] },
  {
    record: 'ORDER',
    label: 'Gift Order',
    name: 'GiftOrder',
    type: 'YES_NO',
    group: [5, 'Order Details'],
  },
  {
    record: 'SUBSCRIPTION',
    label: 'Contract Months',
    name: 'ContractMonths',
    type: 'WHOLE_NUMBER',
    group: [6, 'Subscription Details'],
  },
  {
    record: 'TASK_NOTE_APPOINTMENT',
    label: 'Call Outcome',
    name: 'CallOutcome',
    type: 'DROPDOWN',
    options: ['Connected', 'Left Voicemail', 'No Answer'],
    group: [7, 'Activity'],
  },
  {
    record: 'TASK_NOTE_APPOINTMENT',
    label: 'Follow-up Needed',
    name: 'FollowUpNeeded',
    type: 'YES_NO',
    group: [7, 'Activity'],
  },
];

export function customFieldDefs(sb: SandboxApi, kind: CustomFieldKind): CustomFieldDefRow[] {
  const rt = RECORD_TYPE[kind];
  return sb
    .table<CustomFieldDefRow>(CUSTOM_FIELD_DEFS)
    .all()
    .filter((d) => d.record_type === rt);
}

function renderDef(d: CustomFieldDefRow): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: idStr(d.id),
    label: d.label,
    options: d.options.map((o) => ({ ...o })),
    record_type: d.record_type,
    field_type: d.field_type,
    group_id: idStr(d.group_id),
    group_name: d.group_name,
    field_name: d.field_name,
  };
  if (d.default_value !== undefined) out.default_value = d.default_value;
  return out;
}

function typeError(field: string, d: CustomFieldDefRow, want: string): never {
  throw badRequest(
    field,
    `Invalid '${field}' for custom field ${d.id} ('${d.label}', ${d.field_type}): must be ${want}`,
  );
}

function optionLabel(field: string, d: CustomFieldDefRow, v: unknown): string {
  const s = typeof v === 'string' ? v : undefined;
  const hit = s === undefined ? undefined : d.options.find((o) => o.label === s);
  if (!hit) typeError(field, d, `one of ${d.options.map((o) => `'${o.label}'`).join(', ')}`);
  return hit.label;
}

/** Normalise one content value for a definition; throws 400 naming `field`. */
function normaliseContent(sb: SandboxApi, field: string, d: CustomFieldDefRow, v: unknown): unknown {
  if (v === null) return null;
  switch (d.field_type) {
    case 'WHOLE_NUMBER':
    case 'YEAR': {
      const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isSafeInteger(n)) typeError(field, d, 'a whole number');
      if (d.field_type === 'YEAR' && (n < 1 || n > 9999)) typeError(field, d, 'a year (1-9999)');
      return n;
    }
    case 'DECIMAL_NUMBER':
    case 'CURRENCY':
    case 'PERCENT': {
      const n = typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isFinite(n)) typeError(field, d, 'a number');
      return n;
    }
    case 'DATE':
      if (typeof v !== 'string' || !isDate(v)) typeError(field, d, 'a date YYYY-MM-DD');
      return v;
    case 'DATE_TIME':
      if (typeof v !== 'string' || !isDateTime(v)) typeError(field, d, 'an RFC 3339 date-time');
      return v;
    case 'YES_NO':
      if (typeof v !== 'boolean') typeError(field, d, 'true or false');
      return v;
    case 'DROPDOWN':
    case 'RADIO':
      return optionLabel(field, d, v);
    case 'LIST_BOX':
      if (!Array.isArray(v)) typeError(field, d, 'an array of option labels');
      return v.map((x, i) => optionLabel(`${field}[${i}]`, d, x));
    case 'USER': {
      const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
      if (typeof n !== 'number' || !sb.table('users').get(n)) typeError(field, d, 'the id of a user');
      return idStr(n);
    }
    case 'EMAIL':
      if (typeof v !== 'string' || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v))
        typeError(field, d, 'an email address');
      return v;
    default:
      if (typeof v !== 'string') typeError(field, d, 'a string');
      return v;
  }
}

/**
 * Validate `custom_fields` of a request body against the model of `kind`. Returns the normalised values
 * (400 naming `custom_fields[i].id` / `custom_fields[i].content` on an unknown field or a wrong content).
 */
export function parseCustomFields(
  sb: SandboxApi,
  kind: CustomFieldKind,
  list: readonly { id: string | number; content?: unknown }[],
  prefix = 'custom_fields',
): CustomFieldValueRow[] {
  const defs = new Map(customFieldDefs(sb, kind).map((d) => [String(d.id), d]));
  const seen = new Set<string>();
  return list.map((f, i) => {
    const id = String(f.id);
    const d = defs.get(id);
    if (!d) {
      throw badRequest(
        `${prefix}[${i}].id`,
        `Custom field '${id}' in '${prefix}[${i}].id' does not exist on the ${RECORD_TYPE[kind]} model`,
      );
    }
    if (seen.has(id)) throw badRequest(`${prefix}[${i}].id`, `Custom field '${id}' is given twice`);
    seen.add(id);
    return { id, content: normaliseContent(sb, `${prefix}[${i}].content`, d, f.content ?? null) };
  });
}

/** PATCH semantics: the sent fields replace their values, the others keep theirs; `null` clears one. */
export function mergeCustomFields(
  current: readonly CustomFieldValueRow[],
  incoming: readonly CustomFieldValueRow[],
): CustomFieldValueRow[] {
  const byId = new Map(current.map((f) => [f.id, { ...f }]));
  for (const f of incoming) {
    if (f.content === null) byId.delete(f.id);
    else byId.set(f.id, { ...f });
  }
  return [...byId.values()];
}

/** Values without cleared ones (a create with `content: null` stores nothing for that field). */
export function storedValues(list: readonly CustomFieldValueRow[]): CustomFieldValueRow[] {
  return list.filter((f) => f.content !== null).map((f) => ({ ...f }));
}

/** Render stored values as Keap's `CustomFieldValue` list. */
export function renderCustomFields(
  list: readonly CustomFieldValueRow[] | undefined,
): Record<string, unknown>[] {
  return (list ?? []).map((f) => ({
    id: f.id,
    content: Array.isArray(f.content) ? [...f.content] : f.content,
  }));
}

// ---------------------------------------------------------------- seed

/** A value for a definition from a per-record PRNG (the sandbox's own sequence is not consumed). */
function sampleValue(d: CustomFieldDefRow, rnd: () => number): unknown {
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const pad = (n: number): string => String(n).padStart(2, '0');
  switch (d.field_type) {
    case 'WHOLE_NUMBER':
      return d.label === 'Contract Months' ? [1, 6, 12, 24][int(0, 3)] : int(1, 250);
    case 'YEAR':
      return int(1975, 2022);
    case 'DECIMAL_NUMBER':
      return int(50, 5000) * 1000 + int(0, 99) / 100;
    case 'CURRENCY':
      return int(100, 250_000) / 10;
    case 'PERCENT':
      return int(0, 100);
    case 'DATE':
      return `${int(2025, 2027)}-${pad(int(1, 12))}-${pad(int(1, 28))}`;
    case 'DATE_TIME':
      return `${int(2025, 2027)}-${pad(int(1, 12))}-${pad(int(1, 28))}T${pad(int(8, 17))}:00:00Z`;
    case 'YES_NO':
      return rnd() < 0.5;
    case 'DROPDOWN':
    case 'RADIO':
      return d.options[int(0, d.options.length - 1)]?.label ?? null;
    case 'LIST_BOX':
      return d.options.filter(() => rnd() < 0.5).map((o) => o.label);
    default: {
      const words: Record<string, readonly string[]> = {
        'Favorite Color': ['Blue', 'Green', 'Red', 'Purple', 'Orange', 'Teal'],
        Competitor: ['Acme CRM', 'BigSuite', 'In-house spreadsheet', 'None'],
        'PO Number': ['PO-1001', 'PO-2040', 'PO-3310', 'PO-4525'],
      };
      const list = words[d.label] ?? ['Value'];
      return list[int(0, list.length - 1)] ?? 'Value';
    }
  }
}

interface Seedable {
  id: number;
  custom_fields?: CustomFieldValueRow[];
}

const SEED_TABLES: readonly [CustomFieldKind, string, number][] = [
  // kind, table, share of records that get values
  ['contacts', 'contacts', 0.6],
  ['companies', 'companies', 0.8],
  ['opportunities', 'opportunities', 0.75],
  ['orders', 'orders', 0.4],
  ['subscriptions', 'subscriptions', 0.4],
  ['tasks', 'tasks', 0.3],
  ['notes', 'notes', 0.3],
];

function seed(sb: SandboxApi): void {
  const defs = sb.table<CustomFieldDefRow>(CUSTOM_FIELD_DEFS);
  for (const s of DEF_SEED) {
    const id = defs.nextId();
    const row: CustomFieldDefRow = {
      id,
      record_type: s.record,
      label: s.label,
      field_name: s.name,
      field_type: s.type,
      options: (s.options ?? []).map((label, i) => ({ id: String(id * 100 + i + 1), label })),
      group_id: s.group[0],
      group_name: s.group[1],
    };
    if (s.default !== undefined) row.default_value = s.default;
    defs.insert(row);
  }
  const base = sb.config().seed;
  for (const [kind, table, share] of SEED_TABLES) {
    const kindDefs = customFieldDefs(sb, kind);
    const t = sb.table<Seedable>(table);
    for (const r of t.all()) {
      const rnd = mulberry32((base * 7919 + r.id * 104_729 + table.length * 31) >>> 0);
      if (rnd() >= share) continue;
      const values: CustomFieldValueRow[] = [];
      for (const d of kindDefs) {
        if (rnd() < 0.75) values.push({ id: idStr(d.id), content: sampleValue(d, rnd) });
      }
      if (values.length === 0 && kindDefs[0]) {
        values.push({ id: idStr(kindDefs[0].id), content: sampleValue(kindDefs[0], rnd) });
      }
      t.update(r.id, { custom_fields: values } as Partial<Seedable>);
    }
  }
}

const KINDS: readonly CustomFieldKind[] = [
  'contacts',
  'companies',
  'opportunities',
  'orders',
  'subscriptions',
  'tasks',
  'notes',
];

const routes: SbRoute[] = KINDS.map((kind) => ({
  method: 'GET',
  path: `/v2/${kind}/model`,
  handler: (_req, sb) => ({
    status: 200,
    body: {
      custom_fields: customFieldDefs(sb, kind).map(renderDef),
      optional_properties: [...OPTIONAL_PROPERTIES[kind]],
    },
  }),
}));

/** Seeded after every record table (values are attached to the rows those modules seeded). */
export const customFieldsModule: SbModule = { name: 'custom_fields', routes, seed };
