/**
 * Email address opt-in status: `GET /v2/emailAddresses`, `GET/PATCH /v2/emailAddresses/{email}/status`.
 * The status lives on the contacts' email rows (`is_opt_in`, `opt_in_reason`, `email_opt_status`), so a change is
 * visible through `GET /v2/contacts/{id}` too; an address on several contacts changes on all of them.
 */
import { z } from 'zod';
import { badRequest, notFound } from '../core/errors.js';
import { listV2 } from '../core/list.js';
import type { SandboxApi, SbModule, SbRequest, SbResponse, SbRoute } from '../core/types.js';
import { iso } from '../core/util.js';
import { parseBody } from '../core/validate.js';
import { CONTACTS_TABLE, type ContactRow, type EmailRow, replaceRow } from './crm-model.js';
import { EMAIL_OPT_STATUSES } from './crm-schemas.js';

interface AddressStatus {
  id: number;
  email: string;
  opted_in: boolean;
  status: string;
  create_time: string;
}

/** One entry per distinct address (case-insensitive), from the first contact that holds it. */
function statuses(sb: SandboxApi): AddressStatus[] {
  const seen = new Map<string, AddressStatus>();
  for (const c of sb.table<ContactRow>(CONTACTS_TABLE).all()) {
    for (const e of c.email_addresses) {
      const key = e.email.toLowerCase();
      if (seen.has(key)) continue;
      seen.set(key, {
        id: seen.size + 1,
        email: e.email,
        opted_in: e.is_opt_in,
        status: e.email_opt_status,
        create_time: c.create_time,
      });
    }
  }
  return [...seen.values()];
}

function render(s: AddressStatus): Record<string, unknown> {
  return { email: s.email, opted_in: s.opted_in, status: s.status, create_time: s.create_time };
}

function pathEmail(req: SbRequest): string {
  const email = (req.params.email ?? '').trim();
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) {
    throw badRequest('email', `Invalid 'email': '${email}' is not an email address`);
  }
  return email;
}

function statusOr404(sb: SandboxApi, email: string): AddressStatus {
  const s = statuses(sb).find((x) => x.email.toLowerCase() === email.toLowerCase());
  if (!s) throw notFound('Email address', email);
  return s;
}

function listStatuses(req: SbRequest, sb: SandboxApi): SbResponse {
  return listV2(req, statuses(sb), {
    key: 'email_addresses',
    render,
    filter: {
      emails: {
        type: 'string',
        list: true,
        get: (s) => s.email,
        match: (s, _op, value) =>
          value
            .split(',')
            .map((v) => v.trim().toLowerCase())
            .includes(s.email.toLowerCase()),
      },
      statuses: { type: 'enum', list: true, get: (s) => s.status, values: EMAIL_OPT_STATUSES },
      opted_in: { type: 'boolean', get: (s) => s.opted_in },
    },
    orderBy: {
      email: (s) => s.email.toLowerCase(),
      status: (s) => s.status,
      create_time: (s) => s.create_time,
      last_click_time: () => undefined,
      last_open_time: () => undefined,
      last_sent_time: () => undefined,
    },
    defaultOrder: 'email asc',
  });
}

function getStatus(req: SbRequest, sb: SandboxApi): SbResponse {
  return { status: 200, body: render(statusOr404(sb, pathEmail(req))) };
}

const UpdateBody = z.object({ opted_in: z.boolean(), reason: z.string().min(1).max(255) }).strict();

/** Opt in → SINGLE_OPT_IN with the reason; opt out → MANUAL (opted out through the API). */
function updateStatus(req: SbRequest, sb: SandboxApi): SbResponse {
  const email = pathEmail(req);
  if (req.body === undefined) throw badRequest('body', 'A body with opted_in and reason is required');
  const body = parseBody(UpdateBody, req.body);
  statusOr404(sb, email);
  const t = sb.table<ContactRow>(CONTACTS_TABLE);
  const now = iso(sb.now());
  for (const c of t.all()) {
    if (!c.email_addresses.some((e) => e.email.toLowerCase() === email.toLowerCase())) continue;
    const row = structuredClone(c);
    row.email_addresses = row.email_addresses.map((e): EmailRow => {
      if (e.email.toLowerCase() !== email.toLowerCase()) return e;
      const next: EmailRow = {
        ...e,
        is_opt_in: body.opted_in,
        email_opt_status: body.opted_in ? 'SINGLE_OPT_IN' : 'MANUAL',
        opt_in_reason: body.reason,
      };
      return next;
    });
    row.update_time = now;
    row.last_updated_by = req.auth.userId;
    replaceRow(t, row);
    sb.emit('contact.edit', 'contact', row.id);
  }
  return { status: 200, body: render(statusOr404(sb, email)) };
}

const routes: SbRoute[] = [
  { method: 'GET', path: '/v2/emailAddresses', handler: listStatuses },
  { method: 'GET', path: '/v2/emailAddresses/{email}/status', handler: getStatus },
  { method: 'PATCH', path: '/v2/emailAddresses/{email}/status', handler: updateStatus },
];

/** Seeds a few non-default statuses on existing contacts' addresses (no PRNG draw: other seeds stay unchanged). */
function seed(sb: SandboxApi): void {
  const t = sb.table<ContactRow>(CONTACTS_TABLE);
  const special: [number, string, boolean][] = [
    [3, 'CONFIRMED', true],
    [5, 'DOUBLE_OPT_IN', true],
    [9, 'HARD_BOUNCE', false],
    [13, 'LIST_UNSUBSCRIBE', false],
    [17, 'SPAM', false],
  ];
  for (const [id, status, optedIn] of special) {
    const c = t.get(id);
    const first = c?.email_addresses[0];
    if (!c || !first) continue;
    first.email_opt_status = status;
    first.is_opt_in = optedIn;
  }
}

export const emailAddressesModule: SbModule = { name: 'emailAddresses', routes, seed };
