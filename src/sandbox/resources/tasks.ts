/**
 * Tasks: `GET/POST /v2/tasks`, `PATCH /v2/tasks/{task_id}`. Emits `task.add`, `task.edit`, `task.complete`,
 * `task.incomplete`. Table 'tasks'.
 */
import { z } from 'zod';
import { badRequest, notFound } from '../core/errors.js';
import { fieldsParam, listV2, namesParam } from '../core/list.js';
import type { SandboxApi, SbModule, SbRequest, SbResponse, SbRoute } from '../core/types.js';
import { idStr, iso, pick } from '../core/util.js';
import { parseBody, pathId, zDateTime, zId } from '../core/validate.js';
import {
  type CustomFieldValueRow,
  mergeCustomFields,
  parseCustomFields,
  renderCustomFields,
} from './custom-fields.js';
import { contactRow, timeMatch, userIds, userRow } from './notes.js';

export const TASK_PRIORITIES = ['CRITICAL', 'ESSENTIAL', 'NONESSENTIAL'] as const;
export type TaskPriority = (typeof TASK_PRIORITIES)[number];
const REMIND_MINS = [5, 10, 15, 30, 60, 120, 240, 480, 1440, 2880] as const;

export interface TaskRow {
  id: number;
  title?: string;
  description?: string;
  type?: string;
  priority?: TaskPriority;
  completed: boolean;
  completion_time?: string;
  due_time?: string;
  remind_time_mins?: number;
  assigned_to_user_id: number;
  created_by_user_id: number;
  last_updated_by_user_id: number;
  contact_id?: number;
  opportunity_id?: number;
  accepted: boolean;
  custom_fields?: CustomFieldValueRow[];
  create_time: string;
  modification_time: string;
}

const tasks = (sb: SandboxApi) => sb.table<TaskRow>('tasks');

/** A task; `custom_fields` only when asked for (`fields=custom_fields`) or on a write's answer. */
function renderTask(t: TaskRow, withCustomFields = false): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: idStr(t.id),
    completed: t.completed,
    create_time: t.create_time,
    modification_time: t.modification_time,
    assigned_to_user_id: idStr(t.assigned_to_user_id),
    created_by_user_id: idStr(t.created_by_user_id),
    last_updated_by_user_id: idStr(t.last_updated_by_user_id),
    accepted: t.accepted,
  };
  if (t.title !== undefined) out.title = t.title;
  if (t.description !== undefined) out.description = t.description;
  if (t.type !== undefined) out.type = t.type;
  if (t.priority !== undefined) out.priority = t.priority;
  if (t.completion_time !== undefined) out.completion_time = t.completion_time;
  if (t.due_time !== undefined) out.due_time = t.due_time;
  // remind_time_mins is not rendered: the official schema declares it an integer whose enum lists strings,
  // so no value can validate against it.
  if (t.contact_id !== undefined) out.contact_id = idStr(t.contact_id);
  if (t.opportunity_id !== undefined) out.opportunity_id = idStr(t.opportunity_id);
  if (withCustomFields) out.custom_fields = renderCustomFields(t.custom_fields);
  return out;
}

const zRemind = z
  .union([z.number().int(), z.string().regex(/^\d+$/)])
  .transform(Number)
  .refine((n) => (REMIND_MINS as readonly number[]).includes(n), {
    message: `must be one of ${REMIND_MINS.join(', ')}`,
  });

const TaskFields = {
  title: z.string().max(255).optional(),
  description: z.string().optional(),
  type: z.string().optional(),
  priority: z.enum(TASK_PRIORITIES).optional(),
  completed: z.boolean().optional(),
  completion_time: zDateTime.optional(),
  due_time: zDateTime.optional(),
  remind_time_mins: zRemind.optional(),
  contact_id: zId.optional(),
  opportunity_id: zId.optional(),
  accepted: z.boolean().optional(),
  custom_fields: z
    .array(z.strictObject({ id: z.string().regex(/^\d+$/, 'must be a numeric id'), content: z.unknown() }))
    .optional(),
};

const CreateTaskBody = z.object({ ...TaskFields, assigned_to_user_id: zId }).strict();
const UpdateTaskBody = z.object({ ...TaskFields, assigned_to_user_id: zId.optional() }).strict();

const UPDATE_MASK = [
  'id',
  'title',
  'description',
  'type',
  'priority',
  'completion_time',
  'due_time',
  'remind_time_mins',
  'assigned_to_user_id',
  'last_updated_by_user_id',
  'contact_id',
  'opportunity_id',
  'accepted',
  'completed',
  'custom_fields',
] as const;

type TaskInput = z.infer<typeof UpdateTaskBody>;

function checkRefs(sb: SandboxApi, body: TaskInput): void {
  if (body.assigned_to_user_id !== undefined && !userRow(sb, body.assigned_to_user_id)) {
    throw badRequest(
      'assigned_to_user_id',
      `Invalid 'assigned_to_user_id': user ${body.assigned_to_user_id} not found`,
    );
  }
  if (body.contact_id !== undefined && !contactRow(sb, body.contact_id)) {
    throw badRequest('contact_id', `Invalid 'contact_id': contact ${body.contact_id} not found`);
  }
  if (body.opportunity_id !== undefined && sb.table('opportunities').size() > 0) {
    if (!sb.table('opportunities').get(body.opportunity_id)) {
      throw badRequest(
        'opportunity_id',
        `Invalid 'opportunity_id': opportunity ${body.opportunity_id} not found`,
      );
    }
  }
}

function patchFrom(
  sb: SandboxApi,
  body: TaskInput,
  mask: Set<string> | undefined,
  current: readonly CustomFieldValueRow[],
): Partial<TaskRow> {
  const p: Partial<TaskRow> = {};
  const take = (k: string): boolean => mask === undefined || mask.has(k);
  if (body.custom_fields !== undefined && take('custom_fields')) {
    p.custom_fields = mergeCustomFields(current, parseCustomFields(sb, 'tasks', body.custom_fields));
  }
  if (body.title !== undefined && take('title')) p.title = body.title;
  if (body.description !== undefined && take('description')) p.description = body.description;
  if (body.type !== undefined && take('type')) p.type = body.type;
  if (body.priority !== undefined && take('priority')) p.priority = body.priority;
  if (body.completed !== undefined && take('completed')) p.completed = body.completed;
  if (body.completion_time !== undefined && take('completion_time')) p.completion_time = body.completion_time;
  if (body.due_time !== undefined && take('due_time')) p.due_time = body.due_time;
  if (body.remind_time_mins !== undefined && take('remind_time_mins'))
    p.remind_time_mins = body.remind_time_mins;
  if (body.assigned_to_user_id !== undefined && take('assigned_to_user_id')) {
    p.assigned_to_user_id = body.assigned_to_user_id;
  }
  if (body.contact_id !== undefined && take('contact_id')) p.contact_id = body.contact_id;
  if (body.opportunity_id !== undefined && take('opportunity_id')) p.opportunity_id = body.opportunity_id;
  if (body.accepted !== undefined && take('accepted')) p.accepted = body.accepted;
  return p;
}

function createTask(req: SbRequest, sb: SandboxApi): SbResponse {
  fieldsParam(req, ['custom_fields']);
  const body = parseBody(CreateTaskBody, req.body);
  checkRefs(sb, body);
  const now = iso(sb.now());
  const t = tasks(sb);
  const p = patchFrom(sb, body, undefined, []);
  const completed = p.completed ?? false;
  const row = t.insert({
    ...p,
    id: t.nextId(),
    completed,
    ...(completed && p.completion_time === undefined ? { completion_time: now } : {}),
    assigned_to_user_id: body.assigned_to_user_id,
    created_by_user_id: req.auth.userId,
    last_updated_by_user_id: req.auth.userId,
    accepted: p.accepted ?? false,
    create_time: now,
    modification_time: now,
  });
  sb.emit('task.add', 'task', row.id);
  return { status: 201, body: renderTask(row, true) };
}

function updateTask(req: SbRequest, sb: SandboxApi): SbResponse {
  const id = pathId(req, 'task_id');
  fieldsParam(req, ['custom_fields']);
  const existing = tasks(sb).get(id);
  if (!existing) throw notFound('Task', id);
  const mask = namesParam(req.query, 'update_mask', UPDATE_MASK);
  const body = parseBody(UpdateTaskBody, req.body ?? {});
  checkRefs(sb, body);
  const p = patchFrom(sb, body, mask, existing.custom_fields ?? []);
  const now = iso(sb.now());
  if (p.completed === true && !existing.completed && p.completion_time === undefined) p.completion_time = now;
  const row = tasks(sb).update(id, {
    ...p,
    last_updated_by_user_id: req.auth.userId,
    modification_time: now,
  });
  if (!row) throw notFound('Task', id);
  sb.emit('task.edit', 'task', id);
  if (p.completed !== undefined && p.completed !== existing.completed) {
    sb.emit(p.completed ? 'task.complete' : 'task.incomplete', 'task', id);
  }
  return { status: 200, body: renderTask(row, true) };
}

function listTasks(req: SbRequest, sb: SandboxApi): SbResponse {
  const withCf = fieldsParam(req, ['custom_fields'])?.has('custom_fields') ?? false;
  return listV2(req, tasks(sb).all(), {
    key: 'tasks',
    render: (t) => renderTask(t, withCf),
    filter: {
      id: { type: 'number', get: (t) => t.id, ops: ['==', '>', '<', '>=', '<='] },
      task_ids: { type: 'number', get: (t) => t.id, list: true },
      contact_id: { type: 'number', get: (t) => t.contact_id },
      user_id: { type: 'number', get: (t) => t.assigned_to_user_id },
      opportunity_id: { type: 'number', get: (t) => t.opportunity_id },
      has_due_date: { type: 'boolean', get: (t) => t.due_time !== undefined },
      is_completed: { type: 'boolean', get: (t) => t.completed },
      priority: { type: 'enum', get: (t) => t.priority, values: TASK_PRIORITIES },
      title: { type: 'string', get: (t) => t.title, wildcard: true },
      since_time: {
        type: 'date',
        get: (t) => t.create_time,
        match: timeMatch((t) => t.create_time, 'since'),
      },
      until_time: {
        type: 'date',
        get: (t) => t.create_time,
        match: timeMatch((t) => t.create_time, 'until'),
      },
    },
    orderBy: {
      id: (t) => t.id,
      create_time: (t) => t.create_time,
      due_time: (t) => t.due_time,
      update_time: (t) => t.modification_time,
    },
    defaultOrder: 'id asc',
  });
}

function getTask(req: SbRequest, sb: SandboxApi): SbResponse {
  const id = pathId(req, 'task_id');
  const withCf = fieldsParam(req, ['custom_fields'])?.has('custom_fields') ?? false;
  const row = tasks(sb).get(id);
  if (!row) throw notFound('Task', id);
  return { status: 200, body: renderTask(row, withCf) };
}

function deleteTask(req: SbRequest, sb: SandboxApi): SbResponse {
  const id = pathId(req, 'task_id');
  if (!tasks(sb).delete(id)) throw notFound('Task', id);
  sb.emit('task.delete', 'task', id);
  return { status: 204 };
}

const routes: SbRoute[] = [
  { method: 'GET', path: '/v2/tasks', handler: listTasks },
  { method: 'GET', path: '/v2/tasks/{task_id}', handler: getTask },
  { method: 'DELETE', path: '/v2/tasks/{task_id}', handler: deleteTask },
  { method: 'POST', path: '/v2/tasks', handler: createTask },
  { method: 'PATCH', path: '/v2/tasks/{task_id}', handler: updateTask },
];

const TASK_SEEDS: [string, string][] = [
  ['Call about renewal', 'Call'],
  ['Send proposal', 'Email'],
  ['Schedule demo', 'Appointment'],
  ['Follow up on invoice', 'Call'],
  ['Prepare onboarding packet', 'Other'],
  ['Check in after first month', 'Call'],
  ['Review contract redlines', 'Other'],
  ['Send thank-you card', 'Letter'],
];

function seed(sb: SandboxApi): void {
  const contacts = sb
    .table('contacts')
    .all()
    .map((c) => c.id);
  const users = userIds(sb);
  const rnd = (): number => sb.random();
  const now = sb.now().getTime();
  const day = 86_400_000;
  const t = tasks(sb);
  for (let i = 0; i < 50; i++) {
    const [title, type] = pick(rnd, TASK_SEEDS);
    const created = now - Math.floor(rnd() * 90 * day);
    const due = created + Math.floor(rnd() * 30 * day);
    const completed = due < now && rnd() < 0.6;
    const user = pick(rnd, users);
    const modified = iso(new Date(completed ? Math.min(now, due) : created));
    t.insert({
      id: t.nextId(),
      title,
      type,
      priority: pick(rnd, TASK_PRIORITIES),
      completed,
      ...(completed ? { completion_time: modified } : {}),
      ...(rnd() < 0.85 ? { due_time: iso(new Date(due)) } : {}),
      assigned_to_user_id: user,
      created_by_user_id: user,
      last_updated_by_user_id: user,
      ...(contacts.length > 0 && rnd() < 0.9 ? { contact_id: pick(rnd, contacts) } : {}),
      accepted: rnd() < 0.5,
      create_time: iso(new Date(created)),
      modification_time: modified,
    });
  }
}

export const tasksModule: SbModule = { name: 'tasks', routes, seed };
