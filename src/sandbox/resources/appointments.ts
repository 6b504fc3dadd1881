/**
 * Appointments (v1): `GET/POST /v1/appointments`, `GET/PATCH /v1/appointments/{appointmentId}`.
 * v1 bodies: integer ids, `start_date`/`end_date` date-times. PATCH changes only the sent properties
 * (a reschedule is a PATCH of start_date/end_date). List: `limit`/`offset` paging, `contact_id`, and
 * `since`/`until` bounds on the start time.
 *
 * Table: 'appointments'. Events: appointment.add, appointment.edit.
 */
import { z } from 'zod';
import { badRequest, notFound } from '../core/errors.js';
import { listV1 } from '../core/list.js';
import type { SandboxApi, SbModule, SbRequest, SbResponse, SbRoute } from '../core/types.js';
import { iso } from '../core/util.js';
import { intParam, parseBody, pathId, zDateTime } from '../core/validate.js';
import { contactRow, userIds, userRow } from './notes.js';

export const REMIND_TIMES = [5, 10, 15, 30, 60, 120, 240, 480, 1440, 2880] as const;

export interface AppointmentRow {
  id: number;
  title: string;
  description?: string;
  location?: string;
  start_date: string;
  end_date: string;
  remind_time?: number;
  contact_id?: number;
  user?: number;
}

const appointments = (sb: SandboxApi) => sb.table<AppointmentRow>('appointments');

function render(a: AppointmentRow): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: a.id,
    title: a.title,
    start_date: a.start_date,
    end_date: a.end_date,
  };
  if (a.description !== undefined) out.description = a.description;
  if (a.location !== undefined) out.location = a.location;
  if (a.remind_time !== undefined) out.remind_time = a.remind_time;
  if (a.contact_id !== undefined) out.contact_id = a.contact_id;
  if (a.user !== undefined) out.user = a.user;
  return out;
}

const zInt64 = z.number().int().positive();

const AppointmentBody = z.strictObject({
  title: z.string().refine((s) => s.trim() !== '', { message: 'must not be blank' }),
  description: z.string().optional(),
  location: z.string().optional(),
  start_date: zDateTime,
  end_date: zDateTime,
  remind_time: z
    .number()
    .int()
    .refine((n) => (REMIND_TIMES as readonly number[]).includes(n), {
      message: `must be one of ${REMIND_TIMES.join(', ')}`,
    })
    .optional(),
  contact_id: zInt64.optional(),
  user: zInt64.optional(),
});

const PatchBody = AppointmentBody.partial();

/** Normalised UTC form of a date-time (the reads show one format whatever offset was sent). */
const utc = (s: string): string => iso(new Date(s));

function checkRefs(sb: SandboxApi, b: z.infer<typeof PatchBody>): void {
  if (b.contact_id !== undefined && !contactRow(sb, b.contact_id)) {
    throw badRequest('contact_id', `Invalid 'contact_id': contact ${b.contact_id} not found`);
  }
  if (b.user !== undefined && !userRow(sb, b.user)) {
    throw badRequest('user', `Invalid 'user': user ${b.user} not found`);
  }
}

function checkRow(a: AppointmentRow): void {
  if (Date.parse(a.end_date) < Date.parse(a.start_date)) {
    throw badRequest('end_date', `'end_date' (${a.end_date}) is before 'start_date' (${a.start_date})`);
  }
  if (a.remind_time !== undefined && a.contact_id === undefined) {
    throw badRequest('contact_id', "'contact_id' is required for a pop-up reminder ('remind_time')");
  }
}

function appointmentOr404(req: SbRequest, sb: SandboxApi): AppointmentRow {
  const id = pathId(req, 'appointmentId');
  const a = appointments(sb).get(id);
  if (!a) throw notFound('Appointment', id);
  return a;
}

function dateQuery(req: SbRequest, name: 'since' | 'until'): number | undefined {
  const raw = req.query.get(name);
  if (raw === null || raw === '') return undefined;
  const n = Date.parse(raw);
  if (!/^\d{4}-\d{2}-\d{2}(T|$)/.test(raw) || Number.isNaN(n)) {
    throw badRequest(name, `Invalid '${name}': '${raw}' is not a date-time (e.g. 2017-01-01T22:17:59.039Z)`);
  }
  return n;
}

function list(req: SbRequest, sb: SandboxApi): SbResponse {
  const contactId = intParam(req, 'contact_id', { min: 1 });
  const since = dateQuery(req, 'since');
  const until = dateQuery(req, 'until');
  const rows = appointments(sb)
    .all()
    .filter((a) => contactId === undefined || a.contact_id === contactId)
    .filter((a) => since === undefined || Date.parse(a.start_date) >= since)
    .filter((a) => until === undefined || Date.parse(a.start_date) <= until)
    .sort((a, b) => a.id - b.id);
  return listV1(req, rows, { key: 'appointments', render });
}

function create(req: SbRequest, sb: SandboxApi): SbResponse {
  const b = parseBody(AppointmentBody, req.body);
  checkRefs(sb, b);
  const t = appointments(sb);
  const row: AppointmentRow = {
    id: t.nextId(),
    title: b.title,
    start_date: utc(b.start_date),
    end_date: utc(b.end_date),
    // "Creates a new appointment as the authenticated user".
    user: b.user ?? req.auth.userId,
  };
  if (b.description !== undefined) row.description = b.description;
  if (b.location !== undefined) row.location = b.location;
  if (b.remind_time !== undefined) row.remind_time = b.remind_time;
  if (b.contact_id !== undefined) row.contact_id = b.contact_id;
  checkRow(row);
  t.insert(row);
  sb.emit('appointment.add', 'appointment', row.id);
  return { status: 201, body: render(row) };
}

function update(req: SbRequest, sb: SandboxApi): SbResponse {
  const a = appointmentOr404(req, sb);
  if (req.body === undefined) throw badRequest('body', 'A request body is required');
  const b = parseBody(PatchBody, req.body);
  checkRefs(sb, b);
  const row: AppointmentRow = { ...a };
  if (b.title !== undefined) row.title = b.title;
  if (b.description !== undefined) row.description = b.description;
  if (b.location !== undefined) row.location = b.location;
  if (b.start_date !== undefined) row.start_date = utc(b.start_date);
  if (b.end_date !== undefined) row.end_date = utc(b.end_date);
  if (b.remind_time !== undefined) row.remind_time = b.remind_time;
  if (b.contact_id !== undefined) row.contact_id = b.contact_id;
  if (b.user !== undefined) row.user = b.user;
  checkRow(row);
  appointments(sb).update(a.id, row);
  sb.emit('appointment.edit', 'appointment', row.id);
  return { status: 200, body: render(row) };
}

const routes: SbRoute[] = [
  { method: 'GET', path: '/v1/appointments', handler: list },
  { method: 'POST', path: '/v1/appointments', handler: create },
  {
    method: 'GET',
    path: '/v1/appointments/{appointmentId}',
    handler: (req, sb) => ({
      status: 200,
      body: render(appointmentOr404(req, sb)),
    }),
  },
  { method: 'PATCH', path: '/v1/appointments/{appointmentId}', handler: update },
];

const SEEDS: [string, string, string, number, number][] = [
  ['Discovery call', 'First call about goals and budget', 'Phone', -20, 30],
  ['Product demo', 'Walk through reporting and automation', 'Zoom', -6, 60],
  ['Quarterly review', 'Review results and next quarter plan', 'Main office', 2, 90],
  ['Contract signing', 'Bring two printed copies', 'Client office', 5, 45],
  ['Onboarding session', 'Set up the account and import contacts', 'Zoom', 9, 120],
  ['Follow-up call', 'Answer open questions from the demo', 'Phone', 14, 30],
];

/** Seeded without PRNG draws (after every other module), at fixed offsets from now at 15:00 UTC. */
function seed(sb: SandboxApi): void {
  const contacts = sb
    .table('contacts')
    .all()
    .map((c) => c.id)
    .slice(0, SEEDS.length);
  const users = userIds(sb);
  const day = new Date(sb.now());
  day.setUTCHours(15, 0, 0, 0);
  const t = appointments(sb);
  for (const [i, [title, description, location, days, minutes]] of SEEDS.entries()) {
    const start = day.getTime() + days * 86_400_000;
    const contact = contacts[i % Math.max(1, contacts.length)];
    const row: AppointmentRow = {
      id: t.nextId(),
      title,
      description,
      location,
      start_date: iso(new Date(start)),
      end_date: iso(new Date(start + minutes * 60_000)),
      user: users[i % users.length] ?? 1,
    };
    if (contact !== undefined) {
      row.contact_id = contact;
      if (days > 0) row.remind_time = 30;
    }
    t.insert(row);
  }
}

export const appointmentsModule: SbModule = { name: 'appointments', routes, seed };
