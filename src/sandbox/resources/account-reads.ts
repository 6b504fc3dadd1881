/**
 * Seeded, read-mostly account data: lead sources (`GET /v2/leadSources`, `GET /v2/leadSources/{lead_source_id}`),
 * affiliates (`GET /v2/affiliates`, `GET /v2/affiliates/{id}`) and saved reports (`GET /v2/reporting/reports`,
 * `GET /v2/reporting/reports/{report_id}`, `POST /v2/reporting/reports/{report_id}:run` — computed from the live
 * tables, so a change to contacts/opportunities/tags shows in the next run). Seeded without PRNG draws.
 */
import { badRequest, notFound } from '../core/errors.js';
import { listV2, sinceFilter, untilFilter } from '../core/list.js';
import type { SandboxApi, SbModule, SbRequest, SbResponse, SbRoute } from '../core/types.js';
import { idStr, iso } from '../core/util.js';
import { intParam, pathId } from '../core/validate.js';
import { LEAD_SOURCES } from './contacts.js';
import {
  CONTACT_TAGS_TABLE,
  CONTACTS_TABLE,
  type ContactRow,
  type ContactTagRow,
  TAGS_TABLE,
  type TagRow,
} from './crm-model.js';

const SEEDED_AT = iso(new Date(Date.UTC(2024, 0, 1, 9, 0, 0)));

// ---- lead sources ----

interface LeadSourceRow {
  id: number;
  name: string;
  vendor?: string;
  medium?: string;
  message?: string;
  status: 'ACTIVE' | 'INACTIVE';
  lead_source_category_id?: number;
  start_time?: string;
  end_time?: string;
  create_time: string;
  update_time: string;
}

const MEDIA: Record<string, [string, string]> = {
  'Google Ads': ['Google', 'Paid search'],
  Facebook: ['Meta', 'Social'],
  Referral: ['Customers', 'Word of mouth'],
  'Trade Show': ['Expo Inc.', 'Event'],
  Website: ['Own site', 'Organic'],
};

function renderLeadSource(l: LeadSourceRow): Record<string, unknown> {
  const out: Record<string, unknown> = { ...l, id: idStr(l.id) };
  if (l.lead_source_category_id !== undefined) out.lead_source_category_id = idStr(l.lead_source_category_id);
  return out;
}

const wild = (get: (l: LeadSourceRow) => string | undefined) =>
  ({ type: 'string', get, wildcard: true }) as const;

function listLeadSources(req: SbRequest, sb: SandboxApi): SbResponse {
  return listV2(req, sb.table<LeadSourceRow>('lead_sources').all(), {
    key: 'lead_sources',
    render: renderLeadSource,
    filter: {
      id: { type: 'number', get: (l) => l.id, ops: ['==', '!=', '>', '<', '>=', '<='] },
      name: wild((l) => l.name),
      status: { type: 'enum', get: (l) => l.status, values: ['ACTIVE', 'INACTIVE'] },
      lead_source_category_id: { type: 'number', get: (l) => l.lead_source_category_id },
      vendor: wild((l) => l.vendor),
      medium: wild((l) => l.medium),
      message: wild((l) => l.message),
      description: wild((l) => l.message),
      start_time: { type: 'date', get: (l) => l.start_time, ops: ['==', '>', '<', '>=', '<='] },
      end_time: { type: 'date', get: (l) => l.end_time, ops: ['==', '>', '<', '>=', '<='] },
    },
    orderBy: {
      id: (l) => l.id,
      name: (l) => l.name,
      status: (l) => l.status,
      vendor: (l) => l.vendor,
      medium: (l) => l.medium,
      start_time: (l) => l.start_time,
      end_time: (l) => l.end_time,
      create_time: (l) => l.create_time,
      update_time: (l) => l.update_time,
    },
    defaultOrder: 'id asc',
  });
}

function getLeadSource(req: SbRequest, sb: SandboxApi): SbResponse {
  const id = pathId(req, 'lead_source_id');
  const l = sb.table<LeadSourceRow>('lead_sources').get(id);
  if (!l) throw notFound('Lead source', id);
  return { status: 200, body: renderLeadSource(l) };
}

// ---- affiliates ----

interface AffiliateRow {
  id: number;
  code: string;
  name: string;
  status: 'ACTIVE' | 'INACTIVE';
  contact_id: number;
  date_created: string;
  parent_affiliate_id?: number;
  notify_on_sale: boolean;
  notify_on_lead: boolean;
  track_leads_days: number;
}

function renderAffiliate(a: AffiliateRow): Record<string, unknown> {
  return {
    id: idStr(a.id),
    code: a.code,
    name: a.name,
    status: a.status,
    contact_id: idStr(a.contact_id),
    date_created: a.date_created,
    ...(a.parent_affiliate_id !== undefined ? { parent_affiliate_id: idStr(a.parent_affiliate_id) } : {}),
    notify_on_sale: a.notify_on_sale,
    notify_on_lead: a.notify_on_lead,
    track_leads_days: a.track_leads_days,
    custom_fields: [],
  };
}

function listAffiliates(req: SbRequest, sb: SandboxApi): SbResponse {
  return listV2(req, sb.table<AffiliateRow>('affiliates').all(), {
    key: 'affiliates',
    render: renderAffiliate,
    filter: {
      id: { type: 'number', get: (a) => a.id, ops: ['==', '!=', '>', '<', '>=', '<='] },
      name: { type: 'string', get: (a) => a.name, wildcard: true },
      contact_id: { type: 'number', get: (a) => a.contact_id },
      referral_contact_id: { type: 'number', get: () => undefined },
      status: { type: 'enum', get: (a) => a.status, values: ['ACTIVE', 'INACTIVE'] },
      code: { type: 'string', get: (a) => a.code },
    },
    orderBy: {
      id: (a) => a.id,
      date_created: (a) => a.date_created,
      name: (a) => a.name,
      status: (a) => a.status,
      code: (a) => a.code,
    },
    defaultOrder: 'id asc',
  });
}

function getAffiliate(req: SbRequest, sb: SandboxApi): SbResponse {
  const id = pathId(req, 'id');
  const a = sb.table<AffiliateRow>('affiliates').get(id);
  if (!a) throw notFound('Affiliate', id);
  return { status: 200, body: renderAffiliate(a) };
}

// ---- reports ----

interface ReportRow {
  id: number;
  name: string;
  created_time: string;
  updated_time: string;
  user_ids: number[];
}

type ReportRecord = Record<string, string>;

/** The saved reports and how each one is computed (rows of named string columns). */
const REPORTS: readonly {
  name: string;
  columns: readonly string[];
  run: (sb: SandboxApi) => ReportRecord[];
}[] = [
  {
    name: 'Contacts by lead source',
    columns: ['lead_source', 'contact_count'],
    run: (sb) => {
      const contacts = sb.table<ContactRow>(CONTACTS_TABLE).all();
      const names = new Map(
        sb
          .table<LeadSourceRow>('lead_sources')
          .all()
          .map((l) => [l.id, l.name]),
      );
      const counts = new Map<string, number>();
      for (const c of contacts) {
        const k = c.leadsource_id !== undefined ? (names.get(c.leadsource_id) ?? 'Unknown') : 'None';
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
      return [...counts].map(([lead_source, n]) => ({ lead_source, contact_count: String(n) }));
    },
  },
  {
    name: 'Open opportunities by stage',
    columns: ['stage', 'opportunity_count'],
    run: (sb) => {
      const stages = sb.table<{ id: number; name: string }>('opportunity_stages').all();
      const opps = sb.table<{ id: number; stage_id: number }>('opportunities').all();
      return stages.map((s) => ({
        stage: s.name,
        opportunity_count: String(opps.filter((o) => o.stage_id === s.id).length),
      }));
    },
  },
  {
    name: 'Tag usage',
    columns: ['tag_id', 'tag_name', 'contact_count'],
    run: (sb) => {
      const links = sb.table<ContactTagRow>(CONTACT_TAGS_TABLE).all();
      return sb
        .table<TagRow>(TAGS_TABLE)
        .all()
        .map((t) => ({
          tag_id: idStr(t.id),
          tag_name: t.name,
          contact_count: String(links.filter((l) => l.tag_id === t.id).length),
        }));
    },
  },
];

function renderReport(r: ReportRow): Record<string, unknown> {
  return {
    id: idStr(r.id),
    name: r.name,
    created_time: r.created_time,
    updated_time: r.updated_time,
    user_ids: r.user_ids.map(idStr),
  };
}

function listReports(req: SbRequest, sb: SandboxApi): SbResponse {
  return listV2(req, sb.table<ReportRow>('reports').all(), {
    key: 'reports',
    render: renderReport,
    filter: {
      name: { type: 'string', get: (r) => r.name },
      since_created_time: sinceFilter((r) => r.created_time),
      until_created_time: untilFilter((r) => r.created_time),
    },
    orderBy: { id: (r) => r.id, name: (r) => r.name, created_time: (r) => r.created_time },
    defaultOrder: 'id asc',
  });
}

function reportOr404(req: SbRequest, sb: SandboxApi): ReportRow {
  const id = pathId(req, 'report_id');
  const r = sb.table<ReportRow>('reports').get(id);
  if (!r) throw notFound('Report', id);
  return r;
}

function getReport(req: SbRequest, sb: SandboxApi): SbResponse {
  return { status: 200, body: renderReport(reportOr404(req, sb)) };
}

/**
 * Runs a report. Keap documents the options as the query object `runReportRequest` (page_size, page_token,
 * order_by "column asc|desc", fields = comma-separated column names); `page_token` continues where the previous
 * page ended (empty on the last page).
 */
function runReport(req: SbRequest, sb: SandboxApi): SbResponse {
  const r = reportOr404(req, sb);
  const def = REPORTS[r.id - 1];
  if (!def) throw notFound('Report', r.id);
  for (const k of req.query.keys()) {
    if (!['page_size', 'page_token', 'order_by', 'fields'].includes(k)) {
      throw badRequest(k, `Unknown query parameter '${k}'`);
    }
  }
  const size = intParam(req, 'page_size', { min: 0, max: 1000 }) || 100;
  const tokenRaw = req.query.get('page_token') ?? '';
  let start = 0;
  if (tokenRaw !== '') {
    if (!/^\d+$/.test(tokenRaw)) throw badRequest('page_token', `Invalid 'page_token'`);
    start = Number(tokenRaw);
  }
  const fieldsRaw = req.query.get('fields');
  const columns = fieldsRaw ? fieldsRaw.split(',').map((f) => f.trim()) : [...def.columns];
  for (const c of columns) {
    if (!def.columns.includes(c)) {
      throw badRequest('fields', `Unknown column '${c}' in 'fields' (columns: ${def.columns.join(', ')})`);
    }
  }
  let rows = def.run(sb);
  const orderRaw = req.query.get('order_by');
  if (orderRaw) {
    const m = /^\s*([A-Za-z_]+)(?:\s+(asc|desc))?\s*$/i.exec(orderRaw);
    if (!m || !def.columns.includes(m[1] as string)) {
      throw badRequest('order_by', `Invalid 'order_by' (columns: ${def.columns.join(', ')})`);
    }
    const col = m[1] as string;
    const mul = (m[2] ?? 'asc').toLowerCase() === 'desc' ? -1 : 1;
    const num = rows.every((x) => /^-?\d+(\.\d+)?$/.test(x[col] ?? ''));
    rows = [...rows].sort((a, b) => {
      const x = a[col] ?? '';
      const y = b[col] ?? '';
      return (num ? Number(x) - Number(y) : x < y ? -1 : x > y ? 1 : 0) * mul;
    });
  }
  const page = rows.slice(start, start + size);
  return {
    status: 200,
    body: {
      results: page.map((row) => ({ columns: columns.map((c) => ({ field_name: c, value: row[c] ?? '' })) })),
      page_token: start + size < rows.length ? String(start + size) : '',
    },
  };
}

const routes: SbRoute[] = [
  { method: 'GET', path: '/v2/leadSources', handler: listLeadSources },
  { method: 'GET', path: '/v2/leadSources/{lead_source_id}', handler: getLeadSource },
  { method: 'GET', path: '/v2/affiliates', handler: listAffiliates },
  { method: 'GET', path: '/v2/affiliates/{id}', handler: getAffiliate },
  { method: 'GET', path: '/v2/reporting/reports', handler: listReports },
  { method: 'GET', path: '/v2/reporting/reports/{report_id}', handler: getReport },
  { method: 'POST', path: '/v2/reporting/reports/{report_id}:run', handler: runReport },
];

function seed(sb: SandboxApi): void {
  const ls = sb.table<LeadSourceRow>('lead_sources');
  for (const l of LEAD_SOURCES) {
    const [vendor, medium] = MEDIA[l.name] ?? ['Other', 'Other'];
    ls.insert({
      id: l.id,
      name: l.name,
      vendor,
      medium,
      status: 'ACTIVE',
      start_time: SEEDED_AT,
      create_time: SEEDED_AT,
      update_time: SEEDED_AT,
    });
  }
  ls.insert({
    id: ls.nextId(),
    name: 'Spring Expo 2023',
    vendor: 'Expo Inc.',
    medium: 'Event',
    message: 'Booth 12',
    status: 'INACTIVE',
    start_time: iso(new Date(Date.UTC(2023, 3, 1))),
    end_time: iso(new Date(Date.UTC(2023, 3, 3))),
    create_time: SEEDED_AT,
    update_time: SEEDED_AT,
  });
  const aff = sb.table<AffiliateRow>('affiliates');
  const contacts = sb.table<ContactRow>(CONTACTS_TABLE);
  for (const [i, contactId] of [4, 8, 12].entries()) {
    const c = contacts.get(contactId);
    if (!c) continue;
    const name = [c.given_name, c.family_name].filter(Boolean).join(' ') || `Affiliate ${i + 1}`;
    aff.insert({
      id: aff.nextId(),
      code: `AFF${100 + i}`,
      name,
      status: i === 2 ? 'INACTIVE' : 'ACTIVE',
      contact_id: contactId,
      date_created: SEEDED_AT,
      ...(i === 1 ? { parent_affiliate_id: 1 } : {}),
      notify_on_sale: true,
      notify_on_lead: i === 0,
      track_leads_days: 30,
    });
  }
  const reports = sb.table<ReportRow>('reports');
  REPORTS.forEach((r, i) => {
    const at = iso(new Date(Date.UTC(2024, 1 + i, 1, 12, 0, 0)));
    reports.insert({ id: i + 1, name: r.name, created_time: at, updated_time: at, user_ids: [1] });
  });
}

export const accountReadsModule: SbModule = { name: 'accountReads', routes, seed };
