/**
 * `POST /v2/contacts:merge` — merges `duplicate_contact_id` into `contact_id`: the kept contact's values win, its
 * empty fields are filled from the duplicate, email addresses / phones / faxes / addresses fill free slots, custom
 * field values the kept contact lacks are copied; tags, notes, tasks, opportunities, orders, subscriptions, payment
 * methods, sent emails and sequence memberships move to the kept contact; the duplicate is deleted.
 * Emits contact.edit (kept) and contact.delete (duplicate).
 */
import { z } from 'zod';
import { badRequest, notFound } from '../core/errors.js';
import { fieldsParam } from '../core/list.js';
import type { SandboxApi, SbModule, SbRequest, SbResponse, SbRoute } from '../core/types.js';
import { iso } from '../core/util.js';
import { parseBody, zId } from '../core/validate.js';
import { CONTACT_FIELDS, renderContact } from './contacts.js';
import {
  applyTagToContact,
  CONTACTS_TABLE,
  type ContactRow,
  contactTagIds,
  dropContactLinks,
  replaceRow,
} from './crm-model.js';

const MergeBody = z.object({ contact_id: zId, duplicate_contact_id: zId }).strict();

/** Tables whose rows carry a `contact_id` that follows the merge. */
const CONTACT_REF_TABLES = [
  'notes',
  'tasks',
  'opportunities',
  'orders',
  'subscriptions',
  'payment_methods',
  'emails',
  'appointments',
  'files',
] as const;

const SCALARS = [
  'given_name',
  'family_name',
  'middle_name',
  'prefix',
  'suffix',
  'preferred_name',
  'job_title',
  'website',
  'contact_type',
  'birth_date',
  'anniversary_date',
  'spouse_name',
  'preferred_locale',
  'time_zone',
  'referral_code',
  'leadsource_id',
  'owner_id',
  'company_id',
  'assistant_name',
  'assistant_phone',
  'billing_information',
] as const;

/** Fill free slots (`field`) of `into` with the duplicate's entries, skipping values already present. */
function fillSlots<T extends { field: string }>(
  into: T[],
  from: readonly T[],
  slots: readonly string[],
  same: (a: T, b: T) => boolean,
): T[] {
  const out = [...into];
  for (const e of from) {
    if (out.some((x) => same(x, e))) continue;
    const free = slots.find((s) => !out.some((x) => x.field === s));
    if (free === undefined) continue;
    out.push({ ...e, field: free });
  }
  return out;
}

function merge(req: SbRequest, sb: SandboxApi): SbResponse {
  const fields = fieldsParam(req, CONTACT_FIELDS);
  if (req.body === undefined)
    throw badRequest('body', 'A body with contact_id and duplicate_contact_id is required');
  const body = parseBody(MergeBody, req.body);
  if (body.contact_id === body.duplicate_contact_id) {
    throw badRequest('duplicate_contact_id', "'duplicate_contact_id' must differ from 'contact_id'");
  }
  const t = sb.table<ContactRow>(CONTACTS_TABLE);
  const kept = t.get(body.contact_id);
  if (!kept) throw notFound('Contact', body.contact_id);
  const dup = t.get(body.duplicate_contact_id);
  if (!dup) throw notFound('Contact', body.duplicate_contact_id);

  const row = structuredClone(kept);
  const r = row as unknown as Record<string, unknown>;
  const d = dup as unknown as Record<string, unknown>;
  for (const k of SCALARS) if ((r[k] === undefined || r[k] === '') && d[k] !== undefined) r[k] = d[k];
  row.email_addresses = fillSlots(
    row.email_addresses,
    dup.email_addresses,
    ['EMAIL1', 'EMAIL2', 'EMAIL3'],
    (a, b) => a.email.toLowerCase() === b.email.toLowerCase(),
  );
  row.phone_numbers = fillSlots(
    row.phone_numbers,
    dup.phone_numbers,
    ['PHONE1', 'PHONE2', 'PHONE3', 'PHONE4', 'PHONE5'],
    (a, b) => a.number.replace(/\D/g, '') === b.number.replace(/\D/g, ''),
  );
  row.fax_numbers = fillSlots(
    row.fax_numbers,
    dup.fax_numbers,
    ['FAX1', 'FAX2'],
    (a, b) => a.number === b.number,
  );
  row.addresses = fillSlots(
    row.addresses,
    dup.addresses,
    ['BILLING', 'SHIPPING', 'OTHER'],
    (a, b) => a.field === b.field,
  );
  for (const s of dup.social_accounts) {
    if (!row.social_accounts.some((x) => x.type === s.type)) row.social_accounts.push({ ...s });
  }
  for (const cf of dup.custom_fields) {
    if (!row.custom_fields.some((x) => x.id === cf.id)) row.custom_fields.push({ ...cf });
  }
  row.score_value = Math.max(row.score_value, dup.score_value);
  row.update_time = iso(sb.now());
  row.last_updated_by = req.auth.userId;

  for (const tagId of contactTagIds(sb, dup.id)) applyTagToContact(sb, tagId, row.id, { silent: true });
  for (const name of CONTACT_REF_TABLES) {
    const tab = sb.table<{ id: number; contact_id?: unknown }>(name);
    for (const x of tab.all()) if (x.contact_id === dup.id) tab.update(x.id, { contact_id: row.id });
  }
  const sequences = sb.table<{ id: number; contact_ids?: number[] }>('campaign_sequences');
  for (const s of sequences.all()) {
    if (!Array.isArray(s.contact_ids) || !s.contact_ids.includes(dup.id)) continue;
    const ids = s.contact_ids.filter((id) => id !== dup.id);
    if (!ids.includes(row.id)) ids.push(row.id);
    sequences.update(s.id, { contact_ids: ids });
  }

  replaceRow(t, row);
  t.delete(dup.id);
  dropContactLinks(sb, dup.id);
  sb.emit('contact.edit', 'contact', row.id);
  sb.emit('contact.delete', 'contact', dup.id);
  return { status: 200, body: renderContact(sb, row, fields) };
}

const routes: SbRoute[] = [{ method: 'POST', path: '/v2/contacts:merge', handler: merge }];

export const contactMergeModule: SbModule = { name: 'contactMerge', routes };
