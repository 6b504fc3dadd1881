/**
 * Files (v2 reads): `GET /v2/files` (filters `is_public`, `contact_id`, `user_id`, `category`, `file_box_type`,
 * `file_name`, `created_time`, `updated_time`; keyset paging), `GET /v2/files/{file_id}` (FileMetadata) and
 * `GET /v2/files/{file_id}:data` (the bytes as Keap documents them: an `application/json` string, `format: byte`,
 * i.e. the Base64 of the content).
 *
 * Table 'files' (seeded after every other module, without PRNG draws: small text files on the first contacts).
 */
import { notFound } from '../core/errors.js';
import { listV2 } from '../core/list.js';
import type { SandboxApi, SbModule, SbRequest, SbResponse, SbRoute } from '../core/types.js';
import { idStr, iso } from '../core/util.js';
import { pathId } from '../core/validate.js';
import { userIds } from './notes.js';

export const FILE_CATEGORIES = [
  'ATTACHMENTS',
  'CART',
  'DOCUMENTS',
  'HIDDEN',
  'INVOICE',
  'LOGO',
  'TICKETS',
  'WEB_FORM',
  'FUNNEL',
] as const;

export const FILE_BOX_TYPES = [
  'APPLICATION',
  'IMAGE',
  'FAX',
  'ATTACHMENT',
  'TICKET',
  'CONTACT',
  'DIGITAL_PRODUCT',
  'IMPORT',
  'HIDDEN',
  'WEB_FORM',
  'STYLED_CART',
  'RESAMPLED_IMAGE',
  'TEMPLATE_THUMBNAIL',
  'FUNNEL',
  'LOGO_THUMBNAIL',
  'UNLAYER',
  'BRANDING_CENTER_LOGO',
] as const;

export interface FileRow {
  id: number;
  file_name: string;
  category: (typeof FILE_CATEGORIES)[number];
  file_box_type: (typeof FILE_BOX_TYPES)[number];
  is_public: boolean;
  contact_id?: number;
  created_by_id: number;
  /** Base64 of the bytes. */
  data: string;
  created_time: string;
  updated_time: string;
}

const files = (sb: SandboxApi) => sb.table<FileRow>('files');

function size(f: FileRow): number {
  return Buffer.from(f.data, 'base64').length;
}

function render(f: FileRow): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: idStr(f.id),
    category: f.category,
    file_name: f.file_name,
    is_public: f.is_public,
    created_by_id: idStr(f.created_by_id),
    remote_file_key: `sandbox/files/${f.id}/${f.file_name}`,
    file_box_type: f.file_box_type,
    file_size: size(f),
    created_time: f.created_time,
    updated_time: f.updated_time,
  };
  if (f.contact_id !== undefined) out.contact_id = idStr(f.contact_id);
  return out;
}

function listFiles(req: SbRequest, sb: SandboxApi): SbResponse {
  return listV2(req, files(sb).all(), {
    key: 'files',
    render,
    filter: {
      is_public: { type: 'boolean', get: (f) => f.is_public },
      contact_id: { type: 'string', get: (f) => f.contact_id },
      user_id: { type: 'string', get: (f) => f.created_by_id },
      category: { type: 'enum', get: (f) => f.category, values: FILE_CATEGORIES },
      file_box_type: { type: 'enum', get: (f) => f.file_box_type, values: FILE_BOX_TYPES },
      file_name: { type: 'string', get: (f) => f.file_name },
      created_time: { type: 'string', get: (f) => f.created_time },
      updated_time: { type: 'string', get: (f) => f.updated_time },
    },
    orderBy: {
      id: (f) => f.id,
      file_name: (f) => f.file_name.toLowerCase(),
      created_time: (f) => f.created_time,
      updated_time: (f) => f.updated_time,
    },
    defaultOrder: 'id asc',
  });
}

function fileOr404(req: SbRequest, sb: SandboxApi): FileRow {
  const id = pathId(req, 'file_id');
  const f = files(sb).get(id);
  if (!f) throw notFound('File', id);
  return f;
}

const routes: SbRoute[] = [
  { method: 'GET', path: '/v2/files', handler: listFiles },
  {
    method: 'GET',
    path: '/v2/files/{file_id}',
    handler: (req, sb) => ({ status: 200, body: render(fileOr404(req, sb)) }),
  },
  {
    method: 'GET',
    path: '/v2/files/{file_id}:data',
    handler: (req, sb) => ({ status: 200, body: fileOr404(req, sb).data }),
  },
];

/** [file name, category, box type, public, contact index (-1 = none), text, age in days]. */
const SEEDS: [string, FileRow['category'], FileRow['file_box_type'], boolean, number, string, number][] = [
  [
    'signed-agreement.txt',
    'DOCUMENTS',
    'CONTACT',
    false,
    0,
    'Service agreement signed on the first call.\n',
    60,
  ],
  [
    'meeting-notes.txt',
    'ATTACHMENTS',
    'CONTACT',
    false,
    0,
    'Agenda: goals, budget, timeline.\nNext step: demo.\n',
    30,
  ],
  ['intake-form.txt', 'WEB_FORM', 'WEB_FORM', false, 1, 'Company size: 12\nIndustry: Retail\n', 20],
  ['support-ticket-4411.txt', 'TICKETS', 'TICKET', false, 2, 'Cannot import contacts from CSV.\n', 10],
  ['invoice-notes.txt', 'INVOICE', 'CONTACT', false, 3, 'Net 30. PO number 7781.\n', 5],
  ['price-list.txt', 'DOCUMENTS', 'APPLICATION', true, -1, 'Starter 99\nPro 249\nEnterprise: call us\n', 90],
];

function seed(sb: SandboxApi): void {
  const contacts = sb
    .table('contacts')
    .all()
    .map((c) => c.id);
  const users = userIds(sb);
  const now = sb.now().getTime();
  const t = files(sb);
  for (const [i, [name, category, box, isPublic, ci, text, days]] of SEEDS.entries()) {
    const at = iso(new Date(now - days * 86_400_000));
    const row: FileRow = {
      id: t.nextId(),
      file_name: name,
      category,
      file_box_type: box,
      is_public: isPublic,
      created_by_id: users[i % users.length] ?? 1,
      data: Buffer.from(text, 'utf8').toString('base64'),
      created_time: at,
      updated_time: at,
    };
    const contact = ci >= 0 ? contacts[ci] : undefined;
    if (contact !== undefined) row.contact_id = contact;
    t.insert(row);
  }
}

export const filesModule: SbModule = { name: 'files', routes, seed };
