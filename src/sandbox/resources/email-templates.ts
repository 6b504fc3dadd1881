/**
 * Email templates: `GET /v2/emails/templates`, `GET /v2/emails/templates/{email_template_id}` and the templated
 * send `POST /v2/emails/templates:send` (202, no body). A templated send is recorded like `POST /v2/emails:send`:
 * one row per addressed contact in the sent-email log (table 'emails', readable through `GET /v2/emails/{id}`, with
 * the template's merge fields filled in) and ONE 'email_sent' ledger entry (with `template_id`).
 * Merge fields: `~Contact.FirstName~`, `~Contact.LastName~`, `~Contact.Email~`, `~User.FirstName~`.
 *
 * Table 'email_templates' (seeded after every other module, without PRNG draws).
 */
import { z } from 'zod';
import { badRequest, notFound } from '../core/errors.js';
import { listV2 } from '../core/list.js';
import type { SandboxApi, SbModule, SbRequest, SbResponse, SbRoute } from '../core/types.js';
import { iso } from '../core/util.js';
import { parseBody, pathId } from '../core/validate.js';
import { emails } from './emails.js';
import { contactEmail, contactRow, userEmail, userRow } from './notes.js';

export interface EmailTemplateRow {
  id: number;
  piece_title: string;
  categories: string[];
  from_address: string;
  to_address: string;
  subject: string;
  text_body?: string;
  html_body?: string;
  content_type: 'TEXT' | 'HTML' | 'MULTIPART';
  merge_context: string;
}

const templates = (sb: SandboxApi) => sb.table<EmailTemplateRow>('email_templates');

function summary(t: EmailTemplateRow): Record<string, unknown> {
  return {
    id: t.id,
    piece_title: t.piece_title,
    categories: [...t.categories],
    from_address: t.from_address,
    to_address: t.to_address,
    subject: t.subject,
    content_type: t.content_type,
    merge_context: t.merge_context,
  };
}

function detail(t: EmailTemplateRow): Record<string, unknown> {
  const out = summary(t);
  if (t.text_body !== undefined) out.text_body = t.text_body;
  if (t.html_body !== undefined) out.html_body = t.html_body;
  return out;
}

function listTemplates(req: SbRequest, sb: SandboxApi): SbResponse {
  return listV2(req, templates(sb).all(), {
    key: 'email_templates',
    render: summary,
    filter: {
      piece_title: { type: 'string', get: (t) => t.piece_title, wildcard: true },
      content_type: { type: 'enum', get: (t) => t.content_type, values: ['TEXT', 'HTML', 'MULTIPART'] },
    },
    orderBy: { id: (t) => t.id },
    defaultOrder: 'id asc',
  });
}

function templateOr404(sb: SandboxApi, id: number): EmailTemplateRow {
  const t = templates(sb).get(id);
  if (!t) throw notFound('Email template', id);
  return t;
}

const zNumericId = z.union([z.string().regex(/^\d+$/, 'must be a numeric id'), z.number().int().positive()]);

const SendTemplateBody = z.strictObject({
  template_id: zNumericId,
  contact_ids: z.array(zNumericId).min(1, 'must list at least one contact id').max(1000),
  user_id: zNumericId,
  address_field: z.string().optional(),
});

/** Keap's contact email field names (case-sensitive) → the sandbox's address slots. */
const ADDRESS_FIELDS: Record<string, 'EMAIL1' | 'EMAIL2' | 'EMAIL3'> = {
  Email: 'EMAIL1',
  EmailAddress2: 'EMAIL2',
  EmailAddress3: 'EMAIL3',
};

type Loose = Record<string, unknown>;

function merge(text: string, contact: Loose, user: Loose | undefined, to: string): string {
  const s = (v: unknown): string => (typeof v === 'string' ? v : '');
  return text
    .replaceAll('~Contact.FirstName~', s(contact.given_name))
    .replaceAll('~Contact.LastName~', s(contact.family_name))
    .replaceAll('~Contact.Email~', to)
    .replaceAll('~User.FirstName~', s(user?.given_name ?? user?.first_name));
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

function sendTemplate(req: SbRequest, sb: SandboxApi): SbResponse {
  const body = parseBody(SendTemplateBody, req.body);
  const tpl = templates(sb).get(Number(body.template_id));
  if (!tpl) throw badRequest('template_id', `Invalid 'template_id': template ${body.template_id} not found`);
  const userId = Number(body.user_id);
  const user = userRow(sb, userId);
  if (!user) throw badRequest('user_id', `Invalid 'user_id': user ${body.user_id} not found`);
  let slot: 'EMAIL1' | 'EMAIL2' | 'EMAIL3' | undefined;
  if (body.address_field !== undefined) {
    slot = ADDRESS_FIELDS[body.address_field];
    if (!slot) {
      throw badRequest(
        'address_field',
        `Invalid 'address_field': '${body.address_field}' (the sandbox knows Email, EmailAddress2, EmailAddress3)`,
      );
    }
  }
  const from = userEmail(user) ?? tpl.from_address;
  const recipients: { contactId: number; address: string; contact: Loose }[] = [];
  const skipped: number[] = [];
  body.contact_ids.forEach((raw, i) => {
    const id = Number(raw);
    const c = contactRow(sb, id);
    if (!c) throw badRequest(`contact_ids[${i}]`, `Invalid 'contact_ids[${i}]': contact ${raw} not found`);
    const address = contactEmail(c, slot);
    if (address === undefined) skipped.push(id);
    else recipients.push({ contactId: id, address, contact: c });
  });
  const now = iso(sb.now());
  const t = emails(sb);
  const ids: number[] = [];
  for (const r of recipients) {
    const row = t.insert({
      id: t.nextId(),
      contact_id: r.contactId,
      subject: merge(tpl.subject, r.contact, user, r.address),
      sent_to_address: r.address,
      sent_from_address: from,
      sent_from_reply_address: from,
      sent_time: now,
      created_time: now,
      user_id: userId,
      ...(tpl.text_body !== undefined
        ? { plain_content: b64(merge(tpl.text_body, r.contact, user, r.address)) }
        : {}),
      ...(tpl.html_body !== undefined
        ? { html_content: b64(merge(tpl.html_body, r.contact, user, r.address)) }
        : {}),
      attachment_names: [],
    });
    ids.push(row.id);
  }
  sb.record('email_sent', {
    email_ids: ids,
    contact_ids: recipients.map((r) => r.contactId),
    recipients: recipients.map((r) => r.address),
    skipped_contact_ids: skipped,
    subject: tpl.subject,
    from_address: from,
    user_id: userId,
    template_id: String(tpl.id),
    attachments: [],
  });
  return { status: 202 };
}

const routes: SbRoute[] = [
  { method: 'GET', path: '/v2/emails/templates', handler: listTemplates },
  {
    method: 'GET',
    path: '/v2/emails/templates/{email_template_id}',
    handler: (req, sb) => ({
      status: 200,
      body: detail(templateOr404(sb, pathId(req, 'email_template_id'))),
    }),
  },
  { method: 'POST', path: '/v2/emails/templates:send', handler: sendTemplate },
];

const SEEDS: Omit<EmailTemplateRow, 'id' | 'from_address' | 'to_address' | 'merge_context'>[] = [
  {
    piece_title: 'Welcome email',
    categories: ['Onboarding'],
    subject: 'Welcome aboard, ~Contact.FirstName~!',
    text_body:
      'Hi ~Contact.FirstName~,\n\nThanks for joining us. Reply to this email with any question.\n\n~User.FirstName~',
    html_body: '<p>Hi ~Contact.FirstName~,</p><p>Thanks for joining us.</p><p>~User.FirstName~</p>',
    content_type: 'MULTIPART',
  },
  {
    piece_title: 'Appointment reminder',
    categories: ['Appointments'],
    subject: 'Reminder: your appointment tomorrow',
    text_body: 'Hi ~Contact.FirstName~, this is a reminder of your appointment tomorrow.',
    content_type: 'TEXT',
  },
  {
    piece_title: 'Invoice follow-up',
    categories: ['Billing', 'Follow-up'],
    subject: 'A friendly reminder about your invoice',
    html_body: '<p>Hello ~Contact.FirstName~ ~Contact.LastName~,</p><p>Your invoice is still open.</p>',
    content_type: 'HTML',
  },
  {
    piece_title: 'Re-engagement offer',
    categories: ['Marketing'],
    subject: 'We miss you, ~Contact.FirstName~ — 10% off',
    text_body: 'Come back this week and save 10% on your next order.',
    html_body: '<p>Come back this week and save <b>10%</b> on your next order.</p>',
    content_type: 'MULTIPART',
  },
];

function seed(sb: SandboxApi): void {
  const t = templates(sb);
  for (const s of SEEDS) {
    t.insert({
      id: t.nextId(),
      ...s,
      categories: [...s.categories],
      from_address: '~User.Email~',
      to_address: '~Contact.Email~',
      merge_context: 'CONTACT',
    });
  }
}

export const emailTemplatesModule: SbModule = { name: 'emailTemplates', routes, seed };
