/**
 * Opportunities (v2) and their pipeline stages.
 *
 * Tables: 'opportunity_stages', 'opportunities'. Events: opportunity.add, opportunity.edit,
 * opportunity.stage_move, opportunity.delete.
 */
import { z } from 'zod';
import { badRequest, notFound } from '../core/errors.js';
import { fieldsParam, listV2, namesParam, parseFilter } from '../core/list.js';
import type { SandboxApi, SbModule, SbRequest, SbRoute } from '../core/types.js';
import { idStr, intBetween, iso, pick } from '../core/util.js';
import { parseBody, pathId, zDateTime, zId } from '../core/validate.js';
import { contactIds, contactView, userIds, userView } from './commerce-common.js';
import { mergeCustomFields, parseCustomFields, renderCustomFields, storedValues } from './custom-fields.js';
import { recordStageMove } from './stage-moves.js';

export const STAGES = 'opportunity_stages';
export const OPPORTUNITIES = 'opportunities';

export interface StageRow {
  id: number;
  name: string;
  order: number;
  target_number_days: number;
  probability: number;
  created_time: string;
  updated_time: string;
  checklist_items: { id: number; description: string; required: boolean; order: number }[];
}

export interface OpportunityRow {
  id: number;
  contact_id: number;
  stage_id: number;
  user_id?: number;
  opportunity_title: string;
  next_action_time?: string;
  next_action_notes: string;
  opportunity_notes: string;
  estimated_close_time?: string;
  include_in_forecast: boolean;
  projected_revenue_low: number;
  projected_revenue_high: number;
  custom_fields: { id: string; content: unknown }[];
  affiliate_id?: number;
  lead_source?: string;
  objection?: string;
  created_time: string;
  last_updated_time: string;
  stage_entrance_time: string;
  created_by: number;
  last_updated_by: number;
}

const OPTIONAL_FIELDS = [
  'custom_fields',
  'created_by',
  'last_updated_by',
  'status_id',
  'monthly_revenue',
  'order_revenue',
  'objection',
  'status',
  'stage_entrance_time',
] as const;

const UPDATE_MASK = [
  'opportunity_title',
  'next_action_time',
  'next_action_notes',
  'opportunity_notes',
  'estimated_close_time',
  'include_in_forecast',
  'projected_revenue_low',
  'projected_revenue_high',
  'contact_id',
  'stage_id',
  'user_id',
  'custom_fields',
  'affiliate_id',
] as const;

function stages(sb: SandboxApi) {
  return sb.table<StageRow>(STAGES);
}

function opportunities(sb: SandboxApi) {
  return sb.table<OpportunityRow>(OPPORTUNITIES);
}

function renderStage(s: StageRow): Record<string, unknown> {
  return {
    id: idStr(s.id),
    name: s.name,
    order: s.order,
    target_number_days: s.target_number_days,
    probability: s.probability,
    created_time: s.created_time,
    updated_time: s.updated_time,
    checklist_items: s.checklist_items.map((c) => ({
      id: idStr(c.id),
      description: c.description,
      required: c.required,
      order: c.order,
    })),
  };
}

function stageStatus(s: StageRow | undefined): { status: string; status_id: string } {
  if (!s) return { status: 'Open', status_id: '0' };
  if (s.probability >= 100) return { status: 'Won', status_id: '1' };
  if (s.probability <= 0) return { status: 'Lost', status_id: '2' };
  return { status: 'Open', status_id: '0' };
}

function renderOpportunity(
  sb: SandboxApi,
  o: OpportunityRow,
  fields: Set<string> | undefined,
): Record<string, unknown> {
  const c = contactView(sb, o.contact_id);
  const contact: Record<string, unknown> = { id: idStr(o.contact_id) };
  if (c) {
    if (c.email) contact.email = c.email;
    if (c.city) contact.city = c.city;
    if (c.state) contact.state = c.state;
    if (c.given_name) contact.first_name = c.given_name;
    if (c.family_name) contact.last_name = c.family_name;
    if (c.company_name) contact.company_name = c.company_name;
    if (c.job_title) contact.job_title = c.job_title;
    if (c.phone) contact.phone_number = c.phone;
  }
  const s = stages(sb).get(o.stage_id);
  const stage: Record<string, unknown> = { id: idStr(o.stage_id), reasons: [] };
  if (s) {
    stage.name = s.name;
    stage.details = {
      probability: s.probability,
      stage_order: s.order,
      target_num_days: s.target_number_days,
      checklist_items: s.checklist_items.map((ci) => ({
        id: ci.id,
        description: ci.description,
        required: ci.required,
        item_order: ci.order,
      })),
    };
  }
  const out: Record<string, unknown> = {
    id: idStr(o.id),
    contact,
    stage,
    opportunity_title: o.opportunity_title,
    next_action_notes: o.next_action_notes,
    opportunity_notes: o.opportunity_notes,
    include_in_forecast: o.include_in_forecast,
    projected_revenue_low: o.projected_revenue_low,
    projected_revenue_high: o.projected_revenue_high,
    created_time: o.created_time,
    last_updated_time: o.last_updated_time,
  };
  if (o.user_id !== undefined) {
    const u = userView(sb, o.user_id);
    out.user = {
      id: idStr(o.user_id),
      ...(u?.first_name ? { first_name: u.first_name } : {}),
      ...(u?.last_name ? { last_name: u.last_name } : {}),
    };
  }
  if (o.next_action_time) out.next_action_time = o.next_action_time;
  if (o.estimated_close_time) out.estimated_close_time = o.estimated_close_time;
  if (o.affiliate_id !== undefined) out.affiliate_id = idStr(o.affiliate_id);
  if (o.lead_source) out.lead_source = o.lead_source;
  if (fields) {
    const st = stageStatus(s);
    if (fields.has('custom_fields')) out.custom_fields = renderCustomFields(o.custom_fields);
    if (fields.has('created_by')) out.created_by = idStr(o.created_by);
    if (fields.has('last_updated_by')) out.last_updated_by = idStr(o.last_updated_by);
    if (fields.has('status_id')) out.status_id = st.status_id;
    if (fields.has('status')) out.status = st.status;
    if (fields.has('monthly_revenue')) out.monthly_revenue = 0;
    if (fields.has('order_revenue')) out.order_revenue = o.projected_revenue_high;
    if (fields.has('objection')) out.objection = o.objection ?? '';
    if (fields.has('stage_entrance_time')) out.stage_entrance_time = o.stage_entrance_time;
  }
  return out;
}

function getOpportunity(sb: SandboxApi, req: SbRequest): OpportunityRow {
  const id = pathId(req, 'opportunity_id');
  const o = opportunities(sb).get(id);
  if (!o) throw notFound('Opportunity', id);
  return o;
}

const zCustomFields = z.array(
  z.strictObject({ id: z.string().regex(/^\d+$/, 'must be a numeric id'), content: z.unknown() }),
);
const nonBlank = z.string().refine((s) => s.trim() !== '', { message: 'must not be blank' });

const OpportunityFields = {
  opportunity_title: nonBlank,
  next_action_time: zDateTime.optional(),
  next_action_notes: z.string().optional(),
  opportunity_notes: z.string().optional(),
  estimated_close_time: zDateTime.optional(),
  include_in_forecast: z.boolean().optional(),
  projected_revenue_low: z.number().min(0).optional(),
  projected_revenue_high: z.number().min(0).optional(),
  contact_id: zId,
  stage_id: zId,
  user_id: zId.optional(),
  custom_fields: zCustomFields.optional(),
  affiliate_id: zId.optional(),
};

const CreateOpportunity = z.strictObject(OpportunityFields);
const UpdateOpportunity = z.strictObject({
  ...OpportunityFields,
  opportunity_title: nonBlank.optional(),
  contact_id: zId.optional(),
  stage_id: zId.optional(),
});

type UpdateBody = z.infer<typeof UpdateOpportunity>;

function checkRefs(
  sb: SandboxApi,
  b: { contact_id?: number; stage_id?: number; user_id?: number | undefined },
): void {
  if (b.contact_id !== undefined && !contactView(sb, b.contact_id)) {
    throw badRequest('contact_id', `Contact with id ${b.contact_id} not found`);
  }
  if (b.stage_id !== undefined && !stages(sb).get(b.stage_id)) {
    throw badRequest('stage_id', `Opportunity stage with id ${b.stage_id} not found`);
  }
  if (b.user_id !== undefined && !userView(sb, b.user_id)) {
    throw badRequest('user_id', `User with id ${b.user_id} not found`);
  }
}

function checkRevenue(low: number, high: number): void {
  if (high < low)
    throw badRequest('projected_revenue_high', `'projected_revenue_high' must be >= 'projected_revenue_low'`);
}

function updateMask(req: SbRequest): Set<string> | undefined {
  return namesParam(req.query, 'update_mask', UPDATE_MASK);
}

function checkFilterCombo(req: SbRequest): void {
  const raw = req.query.get('filter');
  if (!raw) return;
  const clauses = parseFilter(raw);
  const names = new Set(clauses.map((c) => c.field));
  if (names.has('opportunity_id') && names.has('ids')) {
    throw badRequest('filter', `'opportunity_id' and 'ids' cannot be used together in 'filter'`);
  }
  for (const c of clauses) {
    if (c.field === 'ids' && c.value.split(',').length > 100) {
      throw badRequest('filter', `'ids' in 'filter' accepts at most 100 ids`);
    }
  }
}

const REVENUE_OPS = ['==', '>', '<', '>=', '<='] as const;

const routes: SbRoute[] = [
  {
    method: 'GET',
    path: '/v2/opportunities',
    handler: (req, sb) => {
      const fields = fieldsParam(req, OPTIONAL_FIELDS);
      checkFilterCombo(req);
      const contactOf = (o: OpportunityRow) => contactView(sb, o.contact_id);
      return listV2<OpportunityRow>(req, opportunities(sb).all(), {
        key: 'opportunities',
        render: (o) => renderOpportunity(sb, o, fields),
        filter: {
          stage_id: { get: (o) => o.stage_id, type: 'string' },
          user_id: { get: (o) => o.user_id, type: 'string' },
          contact_id: { get: (o) => o.contact_id, type: 'string' },
          opportunity_title: { get: (o) => o.opportunity_title, type: 'string', wildcard: true },
          lead_source_name: { get: (o) => o.lead_source, type: 'string', wildcard: true },
          affiliate_id: { get: (o) => o.affiliate_id, type: 'string' },
          opportunity_id: { get: (o) => o.id, type: 'number', ops: REVENUE_OPS },
          ids: { get: (o) => o.id, type: 'number', list: true },
          contact_phone: { get: (o) => contactOf(o)?.phone, type: 'string', wildcard: true },
          contact_city: { get: (o) => contactOf(o)?.city, type: 'string', wildcard: true },
          contact_state: { get: (o) => contactOf(o)?.state, type: 'string', wildcard: true },
          projected_revenue_high: { get: (o) => o.projected_revenue_high, type: 'number', ops: REVENUE_OPS },
          projected_revenue_low: { get: (o) => o.projected_revenue_low, type: 'number', ops: REVENUE_OPS },
        },
        orderBy: {
          next_action_time: (o) => o.next_action_time,
          contact_name: (o) => {
            const c = contactOf(o);
            return c ? `${c.given_name ?? ''} ${c.family_name ?? ''}`.trim().toLowerCase() : undefined;
          },
          opportunity_title: (o) => o.opportunity_title.toLowerCase(),
          created_time: (o) => o.created_time,
          update_time: (o) => o.last_updated_time,
        },
        defaultOrder: 'created_time asc',
      });
    },
  },
  {
    method: 'POST',
    path: '/v2/opportunities',
    handler: (req, sb) => {
      const fields = fieldsParam(req, OPTIONAL_FIELDS);
      const b = parseBody(CreateOpportunity, req.body);
      checkRefs(sb, b);
      const low = b.projected_revenue_low ?? 0;
      const high = b.projected_revenue_high ?? 0;
      checkRevenue(low, high);
      const now = iso(sb.now());
      const t = opportunities(sb);
      const row: OpportunityRow = {
        id: t.nextId(),
        contact_id: b.contact_id,
        stage_id: b.stage_id,
        opportunity_title: b.opportunity_title,
        next_action_notes: b.next_action_notes ?? '',
        opportunity_notes: b.opportunity_notes ?? '',
        include_in_forecast: b.include_in_forecast ?? true,
        projected_revenue_low: low,
        projected_revenue_high: high,
        custom_fields: storedValues(parseCustomFields(sb, 'opportunities', b.custom_fields ?? [])),
        created_time: now,
        last_updated_time: now,
        stage_entrance_time: now,
        created_by: req.auth.userId,
        last_updated_by: req.auth.userId,
      };
      if (b.user_id !== undefined) row.user_id = b.user_id;
      if (b.next_action_time !== undefined) row.next_action_time = b.next_action_time;
      if (b.estimated_close_time !== undefined) row.estimated_close_time = b.estimated_close_time;
      if (b.affiliate_id !== undefined) row.affiliate_id = b.affiliate_id;
      t.insert(row);
      sb.emit('opportunity.add', 'opportunity', row.id);
      return { status: 201, body: renderOpportunity(sb, row, fields) };
    },
  },
  {
    method: 'GET',
    path: '/v2/opportunities/stages',
    handler: (req, sb) =>
      listV2<StageRow>(req, stages(sb).all(), {
        key: 'stages',
        render: renderStage,
        filter: {
          opportunity_stage_name: { get: (s) => s.name, type: 'string', wildcard: true },
          opportunity_stage_id: { get: (s) => s.id, type: 'number', ops: REVENUE_OPS },
        },
        orderBy: { stage_order: (s) => s.order },
        defaultOrder: 'stage_order asc',
      }),
  },
  {
    method: 'GET',
    path: '/v2/opportunities/{opportunity_id}',
    handler: (req, sb) => {
      const o = getOpportunity(sb, req);
      const fields = fieldsParam(req, OPTIONAL_FIELDS);
      return { status: 200, body: renderOpportunity(sb, o, fields) };
    },
  },
  {
    method: 'PATCH',
    path: '/v2/opportunities/{opportunity_id}',
    handler: (req, sb) => {
      const o = getOpportunity(sb, req);
      const fields = fieldsParam(req, OPTIONAL_FIELDS);
      const mask = updateMask(req);
      const parsed = parseBody(UpdateOpportunity, req.body);
      const b: UpdateBody = {};
      for (const [k, v] of Object.entries(parsed)) {
        if (v !== undefined && (!mask || mask.has(k))) (b as Record<string, unknown>)[k] = v;
      }
      checkRefs(sb, b);
      checkRevenue(
        b.projected_revenue_low ?? o.projected_revenue_low,
        b.projected_revenue_high ?? o.projected_revenue_high,
      );
      const now = iso(sb.now());
      const patch: Partial<OpportunityRow> = { last_updated_time: now, last_updated_by: req.auth.userId };
      if (b.opportunity_title !== undefined) patch.opportunity_title = b.opportunity_title;
      if (b.next_action_time !== undefined) patch.next_action_time = b.next_action_time;
      if (b.next_action_notes !== undefined) patch.next_action_notes = b.next_action_notes;
      if (b.opportunity_notes !== undefined) patch.opportunity_notes = b.opportunity_notes;
      if (b.estimated_close_time !== undefined) patch.estimated_close_time = b.estimated_close_time;
      if (b.include_in_forecast !== undefined) patch.include_in_forecast = b.include_in_forecast;
      if (b.projected_revenue_low !== undefined) patch.projected_revenue_low = b.projected_revenue_low;
      if (b.projected_revenue_high !== undefined) patch.projected_revenue_high = b.projected_revenue_high;
      if (b.contact_id !== undefined) patch.contact_id = b.contact_id;
      if (b.user_id !== undefined) patch.user_id = b.user_id;
      if (b.affiliate_id !== undefined) patch.affiliate_id = b.affiliate_id;
      if (b.custom_fields !== undefined) {
        patch.custom_fields = mergeCustomFields(
          o.custom_fields,
          parseCustomFields(sb, 'opportunities', b.custom_fields),
        );
      }
      const stageMoved = b.stage_id !== undefined && b.stage_id !== o.stage_id;
      if (b.stage_id !== undefined) patch.stage_id = b.stage_id;
      if (stageMoved) patch.stage_entrance_time = now;
      const updated = opportunities(sb).update(o.id, patch) ?? o;
      sb.emit('opportunity.edit', 'opportunity', o.id);
      if (stageMoved && b.stage_id !== undefined) {
        recordStageMove(sb, {
          opportunityId: o.id,
          from: o.stage_id,
          to: b.stage_id,
          prevTime: o.stage_entrance_time,
          userId: req.auth.userId,
        });
        sb.emit('opportunity.stage_move', 'opportunity', o.id);
      }
      return { status: 200, body: renderOpportunity(sb, updated, fields) };
    },
  },
  {
    method: 'DELETE',
    path: '/v2/opportunities/{opportunity_id}',
    handler: (req, sb) => {
      const o = getOpportunity(sb, req);
      opportunities(sb).delete(o.id);
      sb.emit('opportunity.delete', 'opportunity', o.id);
      return { status: 204 };
    },
  },
];

// ---------------------------------------------------------------- seed

const STAGE_SEED: readonly { name: string; probability: number; days: number; checklist: string[] }[] = [
  { name: 'New Lead', probability: 10, days: 3, checklist: ['Make first contact'] },
  { name: 'Qualified', probability: 25, days: 7, checklist: ['Confirm budget', 'Confirm decision maker'] },
  { name: 'Proposal Sent', probability: 50, days: 10, checklist: ['Send proposal'] },
  { name: 'Negotiation', probability: 75, days: 14, checklist: [] },
  { name: 'Closed Won', probability: 100, days: 0, checklist: [] },
  { name: 'Closed Lost', probability: 0, days: 0, checklist: [] },
];

const DEAL_WORDS = [
  'Website Redesign',
  'Annual Coaching',
  'Marketing Retainer',
  'Consulting Package',
  'Event Sponsorship',
  'Software Rollout',
  'Team Training',
  'SEO Project',
] as const;
const LEAD_SOURCES = [
  'Website',
  'Webinar',
  'Referral',
  'Trade Show',
  'Facebook Ads',
  'Cold Outreach',
] as const;

function seed(sb: SandboxApi): void {
  const rnd = (): number => sb.random();
  const st = stages(sb);
  const base = sb.now().getTime();
  const day = 86_400_000;
  let checklistId = 1;
  for (const [i, s] of STAGE_SEED.entries()) {
    const t = iso(new Date(base - (500 - i) * day));
    st.insert({
      id: st.nextId(),
      name: s.name,
      order: i + 1,
      target_number_days: s.days,
      probability: s.probability,
      created_time: t,
      updated_time: t,
      checklist_items: s.checklist.map((d, j) => ({
        id: checklistId++,
        description: d,
        required: j === 0,
        order: j + 1,
      })),
    });
  }
  const contacts = contactIds(sb);
  const users = userIds(sb);
  const stageIds = st.all().map((s) => s.id);
  if (contacts.length === 0 || stageIds.length === 0) return;
  const ops = opportunities(sb);
  for (let i = 0; i < 48; i++) {
    const contactId = pick(rnd, contacts);
    const c = contactView(sb, contactId);
    const created = base - (300 - i * 5) * day - intBetween(rnd, 0, day - 1);
    const updated = created + intBetween(rnd, 0, 20) * day;
    const low = intBetween(rnd, 5, 100) * 100;
    const userId = users.length > 0 ? pick(rnd, users) : undefined;
    const row: OpportunityRow = {
      id: ops.nextId(),
      contact_id: contactId,
      stage_id: stageIds[i % stageIds.length] ?? 1,
      opportunity_title: `${c?.family_name ?? 'Client'} - ${pick(rnd, DEAL_WORDS)}`,
      next_action_notes: pick(rnd, ['Follow up call', 'Send pricing', 'Schedule demo', '']),
      opportunity_notes: pick(rnd, [
        'Warm lead.',
        'Asked for a discount.',
        'Needs approval from partner.',
        '',
      ]),
      include_in_forecast: rnd() < 0.8,
      projected_revenue_low: low,
      projected_revenue_high: low + intBetween(rnd, 0, 50) * 100,
      custom_fields: [],
      lead_source: pick(rnd, LEAD_SOURCES),
      created_time: iso(new Date(created)),
      last_updated_time: iso(new Date(Math.min(updated, base))),
      stage_entrance_time: iso(new Date(Math.min(updated, base))),
      created_by: userId ?? 1,
      last_updated_by: userId ?? 1,
    };
    if (userId !== undefined) row.user_id = userId;
    if (rnd() < 0.7) row.next_action_time = iso(new Date(base + intBetween(rnd, 1, 30) * day));
    if (rnd() < 0.6) row.estimated_close_time = iso(new Date(base + intBetween(rnd, 10, 90) * day));
    ops.insert(row);
  }
}

export const opportunitiesModule: SbModule = { name: 'opportunities', routes, seed };
