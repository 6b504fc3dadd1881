/**
 * Contact notes: `GET/POST /v2/contacts/{contact_id}/notes` (emits `note.add`). Table 'notes'.
 * Also exports small lookups of users/contacts shared by the engagement modules (emails, tasks).
 */
import { z } from 'zod';
import { badRequest, notFound } from '../core/errors.js';
import { fieldsParam, listV2, namesParam } from '../core/list.js';
import type { SandboxApi, SbModule, SbRequest, SbResponse, SbRoute } from '../core/types.js';
import { idStr, iso, pick } from '../core/util.js';
import { parseBody, pathId, zId } from '../core/validate.js';
import { replaceRow } from './crm-model.js';
import {
  type CustomFieldValueRow,
  mergeCustomFields,
  parseCustomFields,
  renderCustomFields,
  storedValues,
} from './custom-fields.js';

/** A row of another module's table, read defensively (its exact shape is owned elsewhere). */
type LooseRow = { id: number } & Record<string, unknown>;

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export function contactRow(sb: SandboxApi, id: number): LooseRow | undefined {
  if (!Number.isSafeInteger(id) || id <= 0) return undefined;
  return sb.table<LooseRow>('contacts').get(id);
}

/** A contact's email address for `field` (EMAIL1..EMAIL3; default the first one). */
export function contactEmail(row: LooseRow, field?: string): string | undefined {
  const list = row.email_addresses;
  if (Array.isArray(list)) {
    const entries = list.filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null);
    const match = field ? entries.find((e) => e.field === field) : entries[0];
    const email = str(match?.email);
    if (email) return email;
    if (field) return undefined;
  }
  return str(row.email) ?? str(row.email_address);
}

export interface UserSummary {
  id: string;
  given_name?: string;
  family_name?: string;
  email_address?: string;
}

export function userRow(sb: SandboxApi, id: number): LooseRow | undefined {
  if (!Number.isSafeInteger(id) || id <= 0) return undefined;
  return sb.table<LooseRow>('users').get(id);
}

export function userSummary(sb: SandboxApi, id: number): UserSummary {
  const u = userRow(sb, id);
  const out: UserSummary = { id: idStr(id) };
  if (!u) return out;
  const given = str(u.given_name) ?? str(u.first_name);
  const family = str(u.family_name) ?? str(u.last_name);
  const email = userEmail(u);
  if (given) out.given_name = given;
  if (family) out.family_name = family;
  if (email) out.email_address = email;
  return out;
}

export function userEmail(u: LooseRow): string | undefined {
  const direct = str(u.email_address) ?? str(u.email);
  if (direct) return direct;
  const list = u.email_addresses;
  if (Array.isArray(list)) {
    const first: unknown = list[0];
    if (typeof first === 'object' && first !== null) return str((first as Record<string, unknown>).email);
  }
  return undefined;
}

export function userIds(sb: SandboxApi): number[] {
  const ids = sb
    .table<LooseRow>('users')
    .all()
    .map((u) => u.id);
  return ids.length > 0 ? ids : [1];
}

export interface NoteRow {
  id: number;
  contact_id: number;
  title?: string;
  text?: string;
  type?: string;
  user_id: number;
  created_by_user_id: number;
  last_updated_by_user_id: number;
  pinned_at?: string;
  custom_fields?: CustomFieldValueRow[];
  create_time: string;
  update_time: string;
}

const notes = (sb: SandboxApi) => sb.table<NoteRow>('notes');

export const NOTE_TYPES = [
  'Call',
  'Email',
  'Fax',
  'Letter',
  'Meeting',
  'Other',
  'Appointment',
  'SMS',
] as const;

function renderNote(sb: SandboxApi, n: NoteRow): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: idStr(n.id),
    contact_id: idStr(n.contact_id),
    assigned_to_user: userSummary(sb, n.user_id),
    create_time: n.create_time,
    update_time: n.update_time,
    created_by_user_id: idStr(n.created_by_user_id),
    last_updated_by_user_id: idStr(n.last_updated_by_user_id),
  };
  if (n.title !== undefined) out.title = n.title;
  if (n.text !== undefined) out.text = n.text;
  if (n.type !== undefined) out.type = n.type;
  if (n.pinned_at !== undefined) out.pinned_at = n.pinned_at;
  return out;
}

function requireContact(sb: SandboxApi, req: SbRequest): number {
  const id = pathId(req, 'contact_id');
  if (!contactRow(sb, id)) throw notFound('Contact', id);
  return id;
}

function renderWith(sb: SandboxApi, n: NoteRow, fields: Set<string> | undefined): Record<string, unknown> {
  const r = renderNote(sb, n);
  return fields?.has('custom_fields') ? { ...r, custom_fields: renderCustomFields(n.custom_fields) } : r;
}

function listNoteRows(req: SbRequest, sb: SandboxApi, rows: readonly NoteRow[]): SbResponse {
  const fields = fieldsParam(req, ['custom_fields']);
  const filter = req.query.get('filter') ?? '';
  if (/(^|;)\s*id\s*(==|!=|>=|<=|>|<)/.test(filter) && /(^|;)\s*ids\s*==/.test(filter)) {
    throw badRequest('filter', "'id' and 'ids' cannot be combined in 'filter'");
  }
  return listV2(req, rows, {
    key: 'notes',
    render: (n) => renderWith(sb, n, fields),
    filter: {
      id: { type: 'number', get: (n) => n.id, ops: ['==', '!=', '>', '<', '>=', '<='] },
      ids: { type: 'number', get: (n) => n.id, list: true },
      title: {
        type: 'string',
        get: (n) => n.title,
        match: (n, _op, value) => {
          const t = (n.title ?? '').toLowerCase();
          if (value.startsWith('*'))
            throw badRequest('filter', "Leading wildcards are not allowed in 'filter'");
          return value.endsWith('*')
            ? t.startsWith(value.slice(0, -1).toLowerCase())
            : t.includes(value.toLowerCase());
        },
      },
      contact_id: { type: 'number', get: (n) => n.contact_id },
      assigned_to_user_id: { type: 'number', get: (n) => n.user_id },
      since_time: {
        type: 'date',
        get: (n) => n.create_time,
        match: timeMatch((n) => n.create_time, 'since'),
      },
      until_time: {
        type: 'date',
        get: (n) => n.create_time,
        match: timeMatch((n) => n.create_time, 'until'),
      },
    },
    orderBy: { id: (n) => n.id, create_time: (n) => n.create_time, update_time: (n) => n.update_time },
    defaultOrder: 'id asc',
  });
}

function listNotes(req: SbRequest, sb: SandboxApi): SbResponse {
  const contactId = requireContact(sb, req);
  return listNoteRows(
    req,
    sb,
    notes(sb)
      .all()
      .filter((n) => n.contact_id === contactId),
  );
}

/** `GET /v2/notes`: the notes of every contact. */
function listAllNotes(req: SbRequest, sb: SandboxApi): SbResponse {
  return listNoteRows(req, sb, notes(sb).all());
}

/** The note of the path, 404 unless it exists and belongs to the path's contact. */
function noteOr404(req: SbRequest, sb: SandboxApi): NoteRow {
  const contactId = requireContact(sb, req);
  const id = pathId(req, 'note_id');
  const n = notes(sb).get(id);
  if (!n || n.contact_id !== contactId) throw notFound('Note', id);
  return n;
}

function getNote(req: SbRequest, sb: SandboxApi): SbResponse {
  const fields = fieldsParam(req, ['custom_fields']);
  return { status: 200, body: renderWith(sb, noteOr404(req, sb), fields) };
}

const NOTE_UPDATE_MASK = [
  'contact_id',
  'title',
  'text',
  'type',
  'user_id',
  'is_pinned',
  'custom_fields',
] as const;

/** Keap's UpdateNoteRequest (no `title`: the document's update body has none, though update_mask names it). */
const UpdateNoteBody = z
  .object({
    user_id: zId,
    text: z.string().optional(),
    type: z.enum(NOTE_TYPES).optional(),
    is_pinned: z.boolean().optional(),
    custom_fields: z
      .array(z.strictObject({ id: z.string().regex(/^\d+$/, 'must be a numeric id'), content: z.unknown() }))
      .optional(),
    contact_id: zId.optional(),
  })
  .strict();

function updateNote(req: SbRequest, sb: SandboxApi): SbResponse {
  const n = noteOr404(req, sb);
  fieldsParam(req, ['custom_fields']);
  const mask = namesParam(req.query, 'update_mask', NOTE_UPDATE_MASK);
  const body = parseBody(UpdateNoteBody, req.body);
  const take = (k: (typeof NOTE_UPDATE_MASK)[number]): boolean =>
    mask ? mask.has(k) : (body as Record<string, unknown>)[k] !== undefined;
  if (!userRow(sb, body.user_id))
    throw badRequest('user_id', `Invalid 'user_id': user ${body.user_id} not found`);
  if (body.contact_id !== undefined && take('contact_id') && !contactRow(sb, body.contact_id)) {
    throw badRequest('contact_id', `Invalid 'contact_id': contact ${body.contact_id} not found`);
  }
  const now = iso(sb.now());
  const row: NoteRow = {
    ...n,
    user_id: body.user_id,
    last_updated_by_user_id: req.auth.userId,
    update_time: now,
  };
  if (take('text')) {
    if (body.text === undefined) delete row.text;
    else row.text = body.text;
  }
  if (take('type')) {
    if (body.type === undefined) delete row.type;
    else row.type = body.type;
  }
  if (take('is_pinned')) {
    if (body.is_pinned) row.pinned_at ??= now;
    else delete row.pinned_at;
  }
  if (take('contact_id') && body.contact_id !== undefined) row.contact_id = body.contact_id;
  if (take('custom_fields')) {
    const incoming = storedValues(parseCustomFields(sb, 'notes', body.custom_fields ?? []));
    row.custom_fields = mergeCustomFields(n.custom_fields ?? [], incoming);
  }
  replaceRow(notes(sb), row);
  sb.emit('note.edit', 'note', n.id);
  return {
    status: 200,
    body: { ...renderNote(sb, row), custom_fields: renderCustomFields(row.custom_fields) },
  };
}

function deleteNote(req: SbRequest, sb: SandboxApi): SbResponse {
  const n = noteOr404(req, sb);
  notes(sb).delete(n.id);
  sb.emit('note.delete', 'note', n.id);
  return { status: 204 };
}

/** `since_time==X` / `until_time==X` pseudo-fields. */
export function timeMatch<T>(get: (t: T) => string | undefined, kind: 'since' | 'until') {
  return (t: T, _op: string, value: string): boolean => {
    const at = Date.parse(value);
    if (Number.isNaN(at) || !/^\d{4}-\d{2}-\d{2}T/.test(value)) {
      throw badRequest('filter', `Invalid date-time '${value}' in 'filter'`);
    }
    const v = get(t);
    if (v === undefined) return false;
    const x = Date.parse(v);
    return kind === 'since' ? x >= at : x <= at;
  };
}

const CreateNoteBody = z
  .object({
    user_id: zId,
    title: z.string().max(1000).optional(),
    text: z.string().optional(),
    type: z.enum(NOTE_TYPES).optional(),
    is_pinned: z.boolean().optional(),
    custom_fields: z
      .array(z.strictObject({ id: z.string().regex(/^\d+$/, 'must be a numeric id'), content: z.unknown() }))
      .optional(),
  })
  .strict();

function createNote(req: SbRequest, sb: SandboxApi): SbResponse {
  const contactId = requireContact(sb, req);
  fieldsParam(req, ['custom_fields']);
  const body = parseBody(CreateNoteBody, req.body);
  if (body.title === undefined && body.type === undefined) {
    throw badRequest('title', "One of 'title' or 'type' is required");
  }
  if (!userRow(sb, body.user_id))
    throw badRequest('user_id', `Invalid 'user_id': user ${body.user_id} not found`);
  const custom = storedValues(parseCustomFields(sb, 'notes', body.custom_fields ?? []));
  const now = iso(sb.now());
  const t = notes(sb);
  const row = t.insert({
    custom_fields: custom,
    id: t.nextId(),
    contact_id: contactId,
    ...(body.title !== undefined ? { title: body.title } : {}),
    ...(body.text !== undefined ? { text: body.text } : {}),
    ...(body.type !== undefined ? { type: body.type } : {}),
    ...(body.is_pinned ? { pinned_at: now } : {}),
    user_id: body.user_id,
    created_by_user_id: req.auth.userId,
    last_updated_by_user_id: req.auth.userId,
    create_time: now,
    update_time: now,
  });
  sb.emit('note.add', 'note', row.id);
  return {
    status: 201,
    body: { ...renderNote(sb, row), custom_fields: renderCustomFields(row.custom_fields) },
  };
}

const routes: SbRoute[] = [
  { method: 'GET', path: '/v2/contacts/{contact_id}/notes', handler: listNotes },
  { method: 'POST', path: '/v2/contacts/{contact_id}/notes', handler: createNote },
  { method: 'GET', path: '/v2/contacts/{contact_id}/notes/{note_id}', handler: getNote },
  { method: 'PATCH', path: '/v2/contacts/{contact_id}/notes/{note_id}', handler: updateNote },
  { method: 'DELETE', path: '/v2/contacts/{contact_id}/notes/{note_id}', handler: deleteNote },
  { method: 'GET', path: '/v2/notes', handler: listAllNotes },
];

const NOTE_SEEDS: [string, string, (typeof NOTE_TYPES)[number]][] = [
  ['Intro call', 'Discussed goals for next quarter; interested in the Pro plan.', 'Call'],
  ['Follow-up email sent', 'Sent pricing sheet and case study.', 'Email'],
  ['Demo meeting', 'Walked through reporting features. Asked about integrations.', 'Meeting'],
  ['Left voicemail', 'No answer; will try again Thursday.', 'Call'],
  ['Renewal discussion', 'Wants a multi-year discount. Loop in sales manager.', 'Meeting'],
  ['Support question', 'Asked how to import contacts from a spreadsheet.', 'Other'],
  ['Texted appointment reminder', 'Confirmed for 2pm tomorrow.', 'SMS'],
  ['Thank-you letter mailed', 'Handwritten card after first purchase.', 'Letter'],
];

function seed(sb: SandboxApi): void {
  const contacts = sb
    .table('contacts')
    .all()
    .map((c) => c.id);
  if (contacts.length === 0) return;
  const users = userIds(sb);
  const now = sb.now().getTime();
  const t = notes(sb);
  const rnd = (): number => sb.random();
  for (let i = 0; i < 80; i++) {
    const [title, text, type] = pick(rnd, NOTE_SEEDS);
    const created = iso(new Date(now - Math.floor(sb.random() * 180 * 86_400_000)));
    const user = pick(rnd, users);
    t.insert({
      id: t.nextId(),
      contact_id: pick(rnd, contacts),
      title,
      text,
      type,
      user_id: user,
      created_by_user_id: user,
      last_updated_by_user_id: user,
      ...(sb.random() < 0.1 ? { pinned_at: created } : {}),
      create_time: created,
      update_time: created,
    });
  }
}

export const notesModule: SbModule = { name: 'notes', routes, seed };
