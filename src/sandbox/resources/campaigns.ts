/**
 * Campaigns (read-only structure), their sequences and goals, adding/removing contacts to sequences and
 * achieving API goals (`POST /v2/automations/goals/achieve`).
 *
 * Tables: 'campaigns', 'campaign_sequences', 'campaign_goals', 'goal_achievements'.
 */
import { z } from 'zod';
import { badRequest, notFound } from '../core/errors.js';
import { listV2 } from '../core/list.js';
import type { SandboxApi, SbModule, SbRequest, SbResponse, SbRoute } from '../core/types.js';
import { idNum, idStr, iso } from '../core/util.js';
import { parseBody, pathId } from '../core/validate.js';

export interface CampaignRow {
  id: number;
  name: string;
  locked: boolean;
  date_created: string;
  published_date?: string;
  published_status: boolean;
  time_zone: string;
  published_time_zone?: string;
  created_by_global_id: string;
  completed_contact_count: number;
  last_updated: string;
}

export type SequenceItemType = 'Start' | 'Email' | 'DelayTimer' | 'Tag' | 'Task' | 'Note' | 'Http';

export interface SequenceRow {
  id: number;
  campaign_id: number;
  name: string;
  items: { id: number; name: string; type: SequenceItemType }[];
  /** Contacts currently in the sequence, in the order they were added. */
  contact_ids: number[];
  completed_count: number;
}

export type GoalType = 'API' | 'WebForm' | 'Tag' | 'Purchase' | 'EmailOpened' | 'LinkClick';

export interface GoalRow {
  id: number;
  campaign_id: number;
  name: string;
  type: GoalType;
  /** For API goals: the integration name and call name used by goals/achieve. */
  integration?: string;
  call_name?: string;
  next_sequence_ids: number[];
  previous_sequence_ids: number[];
  achieved_count: number;
}

export interface GoalAchievementRow {
  id: number;
  goal_id: number;
  campaign_id: number;
  contact_id: number;
  at: string;
}

const T_CAMPAIGNS = 'campaigns';
const T_SEQUENCES = 'campaign_sequences';
const T_GOALS = 'campaign_goals';
const T_ACHIEVEMENTS = 'goal_achievements';

const campaigns = (sb: SandboxApi) => sb.table<CampaignRow>(T_CAMPAIGNS);
const sequences = (sb: SandboxApi) => sb.table<SequenceRow>(T_SEQUENCES);
const goals = (sb: SandboxApi) => sb.table<GoalRow>(T_GOALS);

function contactExists(sb: SandboxApi, id: number): boolean {
  return Number.isSafeInteger(id) && id > 0 && sb.table('contacts').get(id) !== undefined;
}

function campaignSequences(sb: SandboxApi, campaignId: number): SequenceRow[] {
  return sequences(sb)
    .all()
    .filter((s) => s.campaign_id === campaignId);
}

function activeCount(sb: SandboxApi, c: CampaignRow): number {
  return campaignSequences(sb, c.id).reduce((n, s) => n + s.contact_ids.length, 0);
}

function renderCampaign(sb: SandboxApi, c: CampaignRow): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: idStr(c.id),
    name: c.name,
    locked: c.locked,
    date_created: c.date_created,
    published_status: c.published_status,
    time_zone: c.time_zone,
    created_by_global_id: c.created_by_global_id,
    active_contact_count: activeCount(sb, c),
    completed_contact_count: c.completed_contact_count,
  };
  if (c.published_date !== undefined) out.published_date = c.published_date;
  if (c.published_time_zone !== undefined) out.published_time_zone = c.published_time_zone;
  return out;
}

function renderSequence(s: SequenceRow): Record<string, unknown> {
  const items = s.items.map((it, i) => {
    const o: Record<string, unknown> = { id: idStr(it.id), name: it.name, type: it.type };
    const next = s.items[i + 1];
    const prev = s.items[i - 1];
    if (next) o.next_item_id = idStr(next.id);
    if (prev) o.previous_item_id = idStr(prev.id);
    return o;
  });
  return {
    id: idStr(s.id),
    name: s.name,
    paths: [{ id: idStr(s.id * 100 + 1), items }],
    active_contact_count: s.contact_ids.length,
    active_contact_count_completed: s.completed_count,
    historical_contact_count: { '24_hours': 0, '30_days': s.contact_ids.length + s.completed_count },
  };
}

function renderGoal(g: GoalRow): Record<string, unknown> {
  return {
    id: idStr(g.id),
    name: g.name,
    type: g.type,
    historical_contact_counts: { '24_hours': 0, '30_days': g.achieved_count },
    next_sequence_ids: g.next_sequence_ids.map(idStr),
    previous_sequence_ids: g.previous_sequence_ids.map(idStr),
  };
}

function getCampaign(sb: SandboxApi, req: SbRequest): CampaignRow {
  const id = pathId(req, 'campaign_id');
  const c = campaigns(sb).get(id);
  if (!c) throw notFound('Campaign', id);
  return c;
}

function getSequence(sb: SandboxApi, req: SbRequest): { campaign: CampaignRow; sequence: SequenceRow } {
  const campaign = getCampaign(sb, req);
  const sid = pathId(req, 'sequence_id');
  const sequence = sequences(sb).get(sid);
  if (!sequence || sequence.campaign_id !== campaign.id) throw notFound('Sequence', sid);
  return { campaign, sequence };
}

const ContactIdsBody = z
  .object({
    contact_ids: z
      .array(z.union([z.string(), z.number().int()]))
      .min(1, 'must list at least one contact id')
      .max(1000),
  })
  .strict();

function addContacts(req: SbRequest, sb: SandboxApi): SbResponse {
  const { sequence } = getSequence(sb, req);
  const body = parseBody(ContactIdsBody, req.body);
  const results: Record<string, string> = {};
  const ids = [...sequence.contact_ids];
  for (const raw of body.contact_ids) {
    const id = idNum(raw);
    const key = String(raw);
    if (!contactExists(sb, id)) results[key] = 'CONTACT_DOES_NOT_EXIST';
    else if (ids.includes(id)) results[key] = 'ALREADY_IN_SEQUENCE';
    else {
      ids.push(id);
      results[key] = 'SUCCESS';
    }
  }
  sequences(sb).update(sequence.id, { contact_ids: ids });
  return { status: 200, body: { add_to_sequence_results: results } };
}

function removeContacts(req: SbRequest, sb: SandboxApi): SbResponse {
  const { sequence } = getSequence(sb, req);
  const body = parseBody(ContactIdsBody, req.body);
  const results: Record<string, string> = {};
  let ids = [...sequence.contact_ids];
  for (const raw of body.contact_ids) {
    const id = idNum(raw);
    const key = String(raw);
    if (!contactExists(sb, id)) results[key] = 'CONTACT_DOES_NOT_EXIST';
    else {
      ids = ids.filter((x) => x !== id);
      results[key] = 'SUCCESS';
    }
  }
  sequences(sb).update(sequence.id, { contact_ids: ids });
  return { status: 200, body: { remove_from_sequence_results: results } };
}

const zInt64 = z
  .union([z.number().int().positive(), z.string().regex(/^\d+$/, 'must be an integer id')])
  .transform(Number);

const AchieveBody = z
  .object({
    contact_id: zInt64,
    integration: z.string().min(1).optional(),
    call_name: z.string().min(1).optional(),
    automation_id: zInt64.optional(),
    goal_id: zInt64.optional(),
  })
  .strict();

function achieveGoal(req: SbRequest, sb: SandboxApi): SbResponse {
  const body = parseBody(AchieveBody, req.body);
  const byName = body.integration !== undefined || body.call_name !== undefined;
  const byId = body.automation_id !== undefined || body.goal_id !== undefined;
  if (byName && byId) {
    throw badRequest(
      'integration',
      "Give either 'integration' + 'call_name' or 'automation_id' + 'goal_id', not both",
    );
  }
  if (!byName && !byId) {
    throw badRequest(
      'integration',
      "One of 'integration' + 'call_name' or 'automation_id' + 'goal_id' is required",
    );
  }
  if (byName) {
    if (body.integration === undefined)
      throw badRequest('integration', "'integration' is required with 'call_name'");
    if (body.call_name === undefined)
      throw badRequest('call_name', "'call_name' is required with 'integration'");
  } else {
    if (body.automation_id === undefined)
      throw badRequest('automation_id', "'automation_id' is required with 'goal_id'");
    if (body.goal_id === undefined) throw badRequest('goal_id', "'goal_id' is required with 'automation_id'");
  }
  if (!contactExists(sb, body.contact_id)) throw notFound('Contact', body.contact_id);

  let matched: GoalRow[];
  if (byName) {
    const integ = (body.integration ?? '').toLowerCase();
    const call = (body.call_name ?? '').toLowerCase();
    matched = goals(sb)
      .all()
      .filter(
        (g) =>
          g.type === 'API' && g.integration?.toLowerCase() === integ && g.call_name?.toLowerCase() === call,
      );
  } else {
    const g = goals(sb).get(body.goal_id ?? 0);
    if (!g || g.campaign_id !== body.automation_id) throw notFound('Goal', body.goal_id ?? 0);
    matched = [g];
  }

  const results = matched.map((g) => {
    const campaign = campaigns(sb).get(g.campaign_id);
    const published = campaign?.published_status === true;
    const flowStarts = published
      ? g.next_sequence_ids.map((sid) => {
          const s = sequences(sb).get(sid);
          if (!s) return { success: false, message: 'Sequence not found', flow_id: sid };
          if (!s.contact_ids.includes(body.contact_id)) {
            sequences(sb).update(sid, { contact_ids: [...s.contact_ids, body.contact_id] });
          }
          return { success: true, message: 'Contact started in sequence', flow_id: sid };
        })
      : [];
    if (published) {
      goals(sb).update(g.id, { achieved_count: g.achieved_count + 1 });
      const t = sb.table<GoalAchievementRow>(T_ACHIEVEMENTS);
      t.insert({
        id: t.nextId(),
        goal_id: g.id,
        campaign_id: g.campaign_id,
        contact_id: body.contact_id,
        at: iso(sb.now()),
      });
    }
    return {
      success: published,
      message: published ? 'Goal achieved' : 'Campaign is not published',
      automation_id: g.campaign_id,
      goal_id: g.id,
      flow_start_results: flowStarts,
      flow_stop_results: [],
    };
  });
  return { status: 200, body: { results } };
}

const routes: SbRoute[] = [
  {
    method: 'GET',
    path: '/v2/campaigns',
    handler: (req, sb) =>
      listV2(req, campaigns(sb).all(), {
        key: 'campaigns',
        render: (c) => renderCampaign(sb, c),
        filter: {
          name: {
            type: 'string',
            get: (c) => c.name,
            // Keap: "The search will look for the text anywhere in the campaign name."
            match: (c, _op, value) => c.name.toLowerCase().includes(value.replace(/\*$/, '').toLowerCase()),
          },
        },
        orderBy: {
          id: (c) => c.id,
          name: (c) => c.name.toLowerCase(),
          publisheddate: (c) => c.published_date,
          completedContactCount: (c) => c.completed_contact_count,
          activeContacts: (c) => activeCount(sb, c),
          datecreated: (c) => c.date_created,
          lastupdated: (c) => c.last_updated,
        },
        defaultOrder: 'id asc',
      }),
  },
  {
    method: 'GET',
    path: '/v2/campaigns/{campaign_id}',
    handler: (req, sb) => ({ status: 200, body: renderCampaign(sb, getCampaign(sb, req)) }),
  },
  {
    method: 'GET',
    path: '/v2/campaigns/{campaign_id}/sequences',
    handler: (req, sb) => {
      const c = getCampaign(sb, req);
      return {
        status: 200,
        body: {
          sequences: campaignSequences(sb, c.id).map(renderSequence),
          next_page_token: '',
          campaign_id: idStr(c.id),
        },
      };
    },
  },
  {
    method: 'GET',
    path: '/v2/campaigns/{campaign_id}/goals',
    handler: (req, sb) => {
      const c = getCampaign(sb, req);
      return {
        status: 200,
        body: {
          goals: goals(sb)
            .all()
            .filter((g) => g.campaign_id === c.id)
            .map(renderGoal),
          next_page_token: '',
          campaign_id: idStr(c.id),
        },
      };
    },
  },
  {
    method: 'POST',
    path: '/v2/campaigns/{campaign_id}/sequences/{sequence_id}:addContacts',
    handler: addContacts,
  },
  {
    method: 'POST',
    path: '/v2/campaigns/{campaign_id}/sequences/{sequence_id}:removeContacts',
    handler: removeContacts,
  },
  { method: 'POST', path: '/v2/automations/goals/achieve', handler: achieveGoal },
];

interface SeedCampaign {
  name: string;
  published: boolean;
  sequences: { name: string; items: [string, SequenceItemType][] }[];
  /** Goals: [name, type, integration?, call_name?, index of next sequence]. */
  goals: {
    name: string;
    type: GoalType;
    integration?: string;
    call_name?: string;
    next: number[];
    prev: number[];
  }[];
}

const SEED: SeedCampaign[] = [
  {
    name: 'Welcome New Leads',
    published: true,
    sequences: [
      {
        name: 'Welcome series',
        items: [
          ['Start', 'Start'],
          ['Welcome email', 'Email'],
          ['Wait 2 days', 'DelayTimer'],
          ['Getting started tips', 'Email'],
        ],
      },
      {
        name: 'Nurture follow-up',
        items: [
          ['Start', 'Start'],
          ['Apply Nurtured tag', 'Tag'],
          ['Case study email', 'Email'],
        ],
      },
    ],
    goals: [
      {
        name: 'Lead signed up (API)',
        type: 'API',
        integration: 'sandbox',
        call_name: 'lead_signup',
        next: [0],
        prev: [],
      },
      { name: 'Clicked getting-started link', type: 'LinkClick', next: [1], prev: [0] },
    ],
  },
  {
    name: 'Abandoned Cart Recovery',
    published: true,
    sequences: [
      {
        name: 'Cart reminder emails',
        items: [
          ['Start', 'Start'],
          ['Wait 1 hour', 'DelayTimer'],
          ['You left something behind', 'Email'],
        ],
      },
      {
        name: 'Discount offer',
        items: [
          ['Start', 'Start'],
          ['10% off coupon', 'Email'],
          ['Follow-up call task', 'Task'],
        ],
      },
    ],
    goals: [
      {
        name: 'Cart abandoned (API)',
        type: 'API',
        integration: 'sandbox',
        call_name: 'cart_abandoned',
        next: [0],
        prev: [],
      },
      { name: 'Purchased', type: 'Purchase', next: [], prev: [0, 1] },
    ],
  },
  {
    name: 'Webinar Registration',
    published: true,
    sequences: [
      {
        name: 'Pre-webinar reminders',
        items: [
          ['Start', 'Start'],
          ['Registration confirmation', 'Email'],
          ['Day-before reminder', 'Email'],
        ],
      },
      {
        name: 'Replay follow-up',
        items: [
          ['Start', 'Start'],
          ['Replay link', 'Email'],
          ['Add note', 'Note'],
        ],
      },
    ],
    goals: [
      {
        name: 'Registered (API)',
        type: 'API',
        integration: 'webinar',
        call_name: 'registered',
        next: [0],
        prev: [],
      },
      {
        name: 'Attended (API)',
        type: 'API',
        integration: 'webinar',
        call_name: 'attended',
        next: [1],
        prev: [0],
      },
    ],
  },
  {
    name: 'Customer Onboarding',
    published: true,
    sequences: [
      {
        name: 'Onboarding',
        items: [
          ['Start', 'Start'],
          ['Welcome aboard', 'Email'],
          ['Kickoff call task', 'Task'],
        ],
      },
      {
        name: '30-day check-in',
        items: [
          ['Start', 'Start'],
          ['Wait 30 days', 'DelayTimer'],
          ['How is it going?', 'Email'],
        ],
      },
    ],
    goals: [
      {
        name: 'Purchase completed (API)',
        type: 'API',
        integration: 'sandbox',
        call_name: 'purchase_completed',
        next: [0],
        prev: [],
      },
      { name: 'Customer tag applied', type: 'Tag', next: [1], prev: [0] },
    ],
  },
  {
    name: 'Re-engagement (draft)',
    published: false,
    sequences: [
      {
        name: 'Win-back',
        items: [
          ['Start', 'Start'],
          ['We miss you', 'Email'],
        ],
      },
    ],
    goals: [
      {
        name: 'Win-back (API)',
        type: 'API',
        integration: 'sandbox',
        call_name: 'win_back',
        next: [0],
        prev: [],
      },
    ],
  },
];

function seed(sb: SandboxApi): void {
  const now = sb.now().getTime();
  const day = 86_400_000;
  const contactIds = sb
    .table('contacts')
    .all()
    .map((c) => c.id);
  let itemId = 1;
  SEED.forEach((sc, ci) => {
    const created = new Date(now - (400 - ci * 40) * day);
    const c = campaigns(sb).insert({
      id: campaigns(sb).nextId(),
      name: sc.name,
      locked: false,
      date_created: iso(created),
      ...(sc.published
        ? {
            published_date: iso(new Date(created.getTime() + 2 * day)),
            published_time_zone: 'America/Phoenix',
          }
        : {}),
      published_status: sc.published,
      time_zone: 'America/Phoenix',
      created_by_global_id: 'sandbox-user-1',
      completed_contact_count: Math.floor(sb.random() * 80),
      last_updated: iso(new Date(created.getTime() + 10 * day)),
    });
    const seqIds: number[] = [];
    for (const ss of sc.sequences) {
      const members = sc.published ? contactIds.filter(() => sb.random() < 0.06) : [];
      const s = sequences(sb).insert({
        id: sequences(sb).nextId(),
        campaign_id: c.id,
        name: ss.name,
        items: ss.items.map(([name, type]) => ({ id: itemId++, name, type })),
        contact_ids: members,
        completed_count: Math.floor(sb.random() * 40),
      });
      seqIds.push(s.id);
    }
    const seqId = (i: number): number => seqIds[i] ?? 0;
    for (const sg of sc.goals) {
      goals(sb).insert({
        id: goals(sb).nextId(),
        campaign_id: c.id,
        name: sg.name,
        type: sg.type,
        ...(sg.integration !== undefined ? { integration: sg.integration } : {}),
        ...(sg.call_name !== undefined ? { call_name: sg.call_name } : {}),
        next_sequence_ids: sg.next.map(seqId),
        previous_sequence_ids: sg.prev.map(seqId),
        achieved_count: Math.floor(sb.random() * 30),
      });
    }
  });
}

export const campaignsModule: SbModule = { name: 'campaigns', routes, seed };
