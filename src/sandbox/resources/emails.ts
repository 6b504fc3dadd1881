/**
 * Emails: `POST /v2/emails:send` (202, no body; nothing is sent — each recipient gets a row in the sent-email log
 * and the ledger gets one 'email_sent' entry), `GET /v2/emails` (the sent-email log) and `GET /v2/emails/{id}` (one
 * sent email with its Base64 content). Table 'emails'. Templated sends: `email-templates.ts`.
 */
import { z } from 'zod';
import { badRequest, notFound } from '../core/errors.js';
import { listV2 } from '../core/list.js';
import type { SandboxApi, SbModule, SbRequest, SbResponse, SbRoute } from '../core/types.js';
import { idNum, idStr, iso, pick } from '../core/util.js';
import { parseBody, pathId } from '../core/validate.js';
import { contactEmail, contactRow, userEmail, userIds, userRow } from './notes.js';

export interface EmailRow {
  id: number;
  contact_id: number;
  subject: string;
  sent_to_address: string;
  sent_from_address: string;
  sent_from_reply_address: string;
  sent_time: string;
  opened_time?: string;
  clicked_time?: string;
  created_time: string;
  user_id?: number;
  html_content?: string;
  plain_content?: string;
  attachment_names: string[];
}

export const emails = (sb: SandboxApi) => sb.table<EmailRow>('emails');

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict standard Base64 (line breaks tolerated, as MIME encoders add them). */
export function isBase64(s: string): boolean {
  return BASE64_RE.test(s.replace(/\r?\n/g, ''));
}

function decodedSize(s: string): number {
  return Buffer.from(s.replace(/\r?\n/g, ''), 'base64').length;
}

const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const ADDRESS_FIELDS = ['EMAIL1', 'EMAIL2', 'EMAIL3'] as const;
const MAX_ATTACHMENT_BYTES = 1024 * 1024;

const SendBody = z
  .object({
    contacts: z
      .array(z.union([z.string(), z.number().int()]))
      .min(1, 'must list at least one contact id')
      .max(1000),
    subject: z.string().min(1, 'must not be empty'),
    attachments: z
      .array(z.object({ file_name: z.string().min(1), file_data: z.string() }).strict())
      .max(10, 'at most 10 attachments')
      .optional(),
    user_id: z.union([z.string(), z.number().int()]).optional(),
    from_address: z.string().optional(),
    html_content: z.string().optional(),
    plain_content: z.string().optional(),
    address_field: z.enum(ADDRESS_FIELDS).optional(),
  })
  .strict();

function sendEmail(req: SbRequest, sb: SandboxApi): SbResponse {
  const body = parseBody(SendBody, req.body);
  if (body.user_id !== undefined && body.from_address !== undefined) {
    throw badRequest('from_address', "Exactly one of 'user_id' or 'from_address' is allowed, not both");
  }
  if (body.user_id === undefined && body.from_address === undefined) {
    throw badRequest('user_id', "Exactly one of 'user_id' or 'from_address' is required");
  }
  for (const field of ['html_content', 'plain_content'] as const) {
    const v = body[field];
    if (v !== undefined && !isBase64(v)) throw badRequest(field, `'${field}' must be Base64-encoded`);
  }
  (body.attachments ?? []).forEach((a, i) => {
    const field = `attachments[${i}].file_data`;
    if (!isBase64(a.file_data)) throw badRequest(field, `'${field}' must be Base64-encoded`);
    if (decodedSize(a.file_data) > MAX_ATTACHMENT_BYTES) throw badRequest(field, `'${field}' exceeds 1 MB`);
  });
  const names = (body.attachments ?? []).map((a) => a.file_name);
  if (new Set(names).size !== names.length) throw badRequest('attachments', "'attachments' must be unique");

  let from: string;
  let userId: number | undefined;
  if (body.user_id !== undefined) {
    userId = idNum(body.user_id);
    const u = userRow(sb, userId);
    if (!u) throw badRequest('user_id', `Invalid 'user_id': user ${String(body.user_id)} not found`);
    from = userEmail(u) ?? `user${userId}@sandbox.keap.test`;
  } else {
    from = (body.from_address ?? '').trim();
    if (!EMAIL_RE.test(from))
      throw badRequest('from_address', `Invalid 'from_address': not an email address`);
  }

  const recipients: { contactId: number; address: string }[] = [];
  const skipped: number[] = [];
  body.contacts.forEach((raw, i) => {
    const id = idNum(raw);
    const c = contactRow(sb, id);
    if (!c) throw badRequest(`contacts[${i}]`, `Invalid 'contacts[${i}]': contact ${String(raw)} not found`);
    const address = contactEmail(c, body.address_field);
    if (address === undefined) skipped.push(id);
    else recipients.push({ contactId: id, address });
  });

  const now = iso(sb.now());
  const t = emails(sb);
  const ids: number[] = [];
  for (const r of recipients) {
    const row = t.insert({
      id: t.nextId(),
      contact_id: r.contactId,
      subject: body.subject,
      sent_to_address: r.address,
      sent_from_address: from,
      sent_from_reply_address: from,
      sent_time: now,
      created_time: now,
      ...(userId !== undefined ? { user_id: userId } : {}),
      ...(body.html_content !== undefined ? { html_content: body.html_content } : {}),
      ...(body.plain_content !== undefined ? { plain_content: body.plain_content } : {}),
      attachment_names: names,
    });
    ids.push(row.id);
  }
  sb.record('email_sent', {
    email_ids: ids,
    contact_ids: recipients.map((r) => r.contactId),
    recipients: recipients.map((r) => r.address),
    skipped_contact_ids: skipped,
    subject: body.subject,
    from_address: from,
    ...(userId !== undefined ? { user_id: userId } : {}),
    attachments: names,
  });
  return { status: 202 };
}

function renderEmail(e: EmailRow): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: idStr(e.id),
    subject: e.subject,
    contact_id: idStr(e.contact_id),
    sent_to_address: e.sent_to_address,
    sent_to_cc_address_list: [],
    sent_to_bcc_address_list: [],
    sent_from_address: e.sent_from_address,
    sent_from_reply_address: e.sent_from_reply_address,
    sent_time: e.sent_time,
    received_time: e.sent_time,
    original_provider: 'INFUSIONSOFT',
  };
  if (e.opened_time !== undefined) out.opened_time = e.opened_time;
  if (e.clicked_time !== undefined) out.clicked_time = e.clicked_time;
  return out;
}

function timeBound(kind: 'start' | 'end') {
  return (e: EmailRow, _op: string, value: string): boolean => {
    const at = Date.parse(value);
    if (Number.isNaN(at) || !/^\d{4}-\d{2}-\d{2}T/.test(value)) {
      throw badRequest('filter', `Invalid date-time '${value}' for '${kind}_created_time' in 'filter'`);
    }
    const x = Date.parse(e.created_time);
    return kind === 'start' ? x >= at : x <= at;
  };
}

function listEmails(req: SbRequest, sb: SandboxApi): SbResponse {
  return listV2(req, emails(sb).all(), {
    key: 'emails',
    render: renderEmail,
    filter: {
      contact_id: { type: 'number', get: (e) => e.contact_id },
      email: { type: 'string', get: (e) => e.sent_to_address },
      start_created_time: { type: 'date', get: (e) => e.created_time, match: timeBound('start') },
      end_created_time: { type: 'date', get: (e) => e.created_time, match: timeBound('end') },
    },
    orderBy: { created_time: (e) => e.created_time },
    defaultOrder: 'created_time asc',
  });
}

/** `GET /v2/emails/{id}`: EmailSentWithContent (the content stays Base64, as sent). */
function getEmail(req: SbRequest, sb: SandboxApi): SbResponse {
  const id = pathId(req, 'id');
  const e = emails(sb).get(id);
  if (!e) throw notFound('Email', id);
  const out = renderEmail(e);
  out.headers = `From: ${e.sent_from_address}\r\nTo: ${e.sent_to_address}\r\nSubject: ${e.subject}`;
  if (e.plain_content !== undefined) out.plain_content = e.plain_content;
  if (e.html_content !== undefined) out.html_content = e.html_content;
  return { status: 200, body: out };
}

const routes: SbRoute[] = [
  { method: 'POST', path: '/v2/emails:send', handler: sendEmail },
  { method: 'GET', path: '/v2/emails', handler: listEmails },
  { method: 'GET', path: '/v2/emails/{id}', handler: getEmail },
];

const SUBJECTS = [
  'Welcome to our community!',
  'Your invoice is ready',
  'Quick question about your account',
  'Webinar replay inside',
  'Thanks for your purchase',
  'We miss you — 10% off',
];

function seed(sb: SandboxApi): void {
  const contacts = sb.table('contacts').all();
  if (contacts.length === 0) return;
  const rnd = (): number => sb.random();
  const users = userIds(sb);
  const now = sb.now().getTime();
  const t = emails(sb);
  const rows: Omit<EmailRow, 'id'>[] = [];
  for (let i = 0; i < 40; i++) {
    const c = contactRow(sb, pick(rnd, contacts).id);
    const to = c ? contactEmail(c) : undefined;
    if (!c || to === undefined) continue;
    const user = pick(rnd, users);
    const u = userRow(sb, user);
    const from = (u ? userEmail(u) : undefined) ?? `user${user}@sandbox.keap.test`;
    const sent = now - Math.floor(rnd() * 120 * 86_400_000);
    const opened = rnd() < 0.5 ? sent + Math.floor(rnd() * 86_400_000) : undefined;
    const subject = pick(rnd, SUBJECTS);
    rows.push({
      contact_id: c.id,
      subject,
      sent_to_address: to,
      sent_from_address: from,
      sent_from_reply_address: from,
      sent_time: iso(new Date(sent)),
      created_time: iso(new Date(sent)),
      ...(opened !== undefined ? { opened_time: iso(new Date(opened)) } : {}),
      user_id: user,
      plain_content: Buffer.from(`Hello,\n\n${subject}\n\nThe team`).toString('base64'),
      attachment_names: [],
    });
  }
  rows.sort((a, b) => a.created_time.localeCompare(b.created_time));
  for (const r of rows) t.insert({ id: t.nextId(), ...r });
}

export const emailsModule: SbModule = { name: 'emails', routes, seed };
