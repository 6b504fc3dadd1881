/**
 * Tags: GET/POST /v2/tags, GET /v2/tags/{tag_id}, POST /v2/tags/{tag_id}/contacts:applyTags and :removeTags,
 * GET /v2/tags/{tag_id}/contacts, GET /v2/tags/{tag_id}/companies, GET /v2/contacts/{contact_id}/tags,
 * GET /v2/tags/categories.
 */
import { z } from 'zod';
import { badRequest, notFound } from '../core/errors.js';
import { type FilterField, listV2, sinceFilter, untilFilter } from '../core/list.js';
import type { SandboxApi, SbModule, SbRequest, SbResponse } from '../core/types.js';
import { idStr, intBetween, iso } from '../core/util.js';
import { parseBody, pathId } from '../core/validate.js';
import { renderCompany } from './companies.js';
import {
  applyTagToCompany,
  applyTagToContact,
  COMPANY_TAGS_TABLE,
  CONTACT_TAGS_TABLE,
  type CompanyRow,
  type CompanyTagRow,
  type ContactRow,
  type ContactTagRow,
  getCompany,
  getContact,
  getTag,
  primaryEmail,
  removeTagFromContact,
  TAG_CATEGORIES_TABLE,
  TAGS_TABLE,
  type TagCategoryRow,
  type TagRow,
} from './crm-model.js';

const SEED_CATEGORIES: readonly { name: string; description: string; tags: readonly string[] }[] = [
  {
    name: 'Lead Source',
    description: 'Where the contact came from',
    tags: ['Lead: Webinar', 'Lead: Referral', 'Lead: Facebook Ad', 'Lead: Google Ad', 'Lead: Trade Show'],
  },
  {
    name: 'Customer Status',
    description: 'Lifecycle stage',
    tags: ['Prospect', 'Customer', 'VIP Customer', 'Past Customer', 'Churn Risk'],
  },
  {
    name: 'Interests',
    description: 'Product interests',
    tags: ['Interest: Coaching', 'Interest: Software', 'Interest: Workshops', 'Interest: Memberships'],
  },
  {
    name: 'Nurture',
    description: 'Campaign membership',
    tags: ['Newsletter', 'Welcome Sequence', 'Abandoned Cart', 'Re-engagement'],
  },
  {
    name: 'Events',
    description: 'Event attendance',
    tags: ['Attended: Summit 2025', 'Registered: Summit 2026'],
  },
];
const UNCATEGORIZED_TAGS = ['Do Not Email', 'Imported', 'Partner', 'Needs Follow-up'] as const;

export function renderTag(t: TagRow): Record<string, unknown> {
  const out: Record<string, unknown> = { id: idStr(t.id), name: t.name };
  if (t.description !== undefined) out.description = t.description;
  if (t.category_id !== undefined) out.category = { id: idStr(t.category_id) };
  out.create_time = t.create_time;
  out.update_time = t.update_time;
  return out;
}

function tagOr404(req: SbRequest, sb: SandboxApi): TagRow {
  const id = pathId(req, 'tag_id');
  const t = getTag(sb, id);
  if (!t) throw notFound('Tag', id);
  return t;
}

const zCreateTag = z
  .object({
    name: z.string().min(1, 'must not be empty').max(255),
    description: z.string().optional(),
    category: z
      .object({ id: z.union([z.string(), z.number()]) })
      .strict()
      .optional(),
  })
  .strict();

const zApplyRemove = z
  .object({
    contact_ids: z
      .array(z.union([z.string().regex(/^\d+$/, 'must be a numeric id'), z.number().int().positive()]))
      .min(1, 'must not be empty')
      .max(1000),
  })
  .strict();

function parseContactIds(body: unknown): number[] {
  const b = parseBody(zApplyRemove, body);
  const ids = b.contact_ids.map((x) => Number(x));
  if (new Set(ids).size !== ids.length) throw badRequest('contact_ids', "'contact_ids' must be unique");
  return ids;
}

function tagFilterFields(): Record<string, FilterField<TagRow>> {
  return {
    name: { get: (t) => t.name, type: 'string', wildcard: true },
    description: { get: (t) => t.description, type: 'string', wildcard: true },
    category_id: {
      get: (t) => (t.category_id === undefined ? undefined : String(t.category_id)),
      type: 'string',
    },
    tag_ids: { get: (t) => String(t.id), type: 'string', list: true },
    since_create_time: sinceFilter((t) => t.create_time),
    until_create_time: untilFilter((t) => t.create_time),
    since_update_time: sinceFilter((t) => t.update_time),
    until_update_time: untilFilter((t) => t.update_time),
  };
}

export const tagsModule: SbModule = {
  name: 'tags',
  seed(sb) {
    const cats = sb.table<TagCategoryRow>(TAG_CATEGORIES_TABLE);
    const tags = sb.table<TagRow>(TAGS_TABLE);
    const base = Date.UTC(2023, 1, 1, 12, 0, 0);
    let n = 0;
    const at = (): string =>
      iso(new Date(base + n++ * 3_600_000 * 29 + intBetween(() => sb.random(), 0, 3_599) * 1000));
    for (const c of SEED_CATEGORIES) {
      const cAt = at();
      const cat = cats.insert({
        id: cats.nextId(),
        name: c.name,
        description: c.description,
        create_time: cAt,
        update_time: cAt,
      });
      for (const name of c.tags) {
        const tAt = at();
        tags.insert({
          id: tags.nextId(),
          name,
          description: `${c.name}: ${name}`,
          category_id: cat.id,
          create_time: tAt,
          update_time: tAt,
        });
      }
    }
    for (const name of UNCATEGORIZED_TAGS) {
      const tAt = at();
      tags.insert({ id: tags.nextId(), name, create_time: tAt, update_time: tAt });
    }
  },
  routes: [
    {
      method: 'GET',
      path: '/v2/tags',
      handler(req, sb) {
        return listV2(req, sb.table<TagRow>(TAGS_TABLE).all(), {
          key: 'tags',
          render: renderTag,
          filter: tagFilterFields(),
          orderBy: {
            id: (t) => t.id,
            name: (t) => t.name.toLowerCase(),
            create_time: (t) => t.create_time,
            update_time: (t) => t.update_time,
          },
          defaultOrder: 'id asc',
        });
      },
    },
    {
      method: 'POST',
      path: '/v2/tags',
      handler(req, sb) {
        const b = parseBody(zCreateTag, req.body);
        let categoryId: number | undefined;
        if (b.category) {
          categoryId = Number(b.category.id);
          if (
            !Number.isInteger(categoryId) ||
            !sb.table<TagCategoryRow>(TAG_CATEGORIES_TABLE).get(categoryId)
          ) {
            throw badRequest(
              'category.id',
              `Tag category '${String(b.category.id)}' in 'category.id' does not exist`,
            );
          }
        }
        const tags = sb.table<TagRow>(TAGS_TABLE);
        const now = iso(sb.now());
        const row = tags.insert({
          id: tags.nextId(),
          name: b.name,
          ...(b.description !== undefined ? { description: b.description } : {}),
          ...(categoryId !== undefined ? { category_id: categoryId } : {}),
          create_time: now,
          update_time: now,
        });
        sb.emit('contactGroup.add', 'contactGroup', row.id);
        return { status: 201, body: renderTag(row) };
      },
    },
    {
      method: 'GET',
      path: '/v2/tags/{tag_id}',
      handler(req, sb) {
        return { status: 200, body: renderTag(tagOr404(req, sb)) };
      },
    },
    {
      method: 'GET',
      path: '/v2/tags/categories',
      handler(req, sb) {
        return listV2(req, sb.table<TagCategoryRow>(TAG_CATEGORIES_TABLE).all(), {
          key: 'tag_categories',
          render: (c) => ({
            id: idStr(c.id),
            name: c.name,
            ...(c.description !== undefined ? { description: c.description } : {}),
            create_time: c.create_time,
            update_time: c.update_time,
          }),
          filter: {
            name: { get: (c) => c.name, type: 'string', wildcard: true },
            description: { get: (c) => c.description, type: 'string', wildcard: true },
            since_create_time: sinceFilter((c) => c.create_time),
            until_create_time: untilFilter((c) => c.create_time),
            since_update_time: sinceFilter((c) => c.update_time),
            until_update_time: untilFilter((c) => c.update_time),
          },
          orderBy: {
            id: (c) => c.id,
            name: (c) => c.name.toLowerCase(),
            create_time: (c) => c.create_time,
            update_time: (c) => c.update_time,
          },
        });
      },
    },
    {
      method: 'POST',
      path: '/v2/tags/{tag_id}/contacts:applyTags',
      handler(req, sb) {
        const tag = tagOr404(req, sb);
        const ids = parseContactIds(req.body);
        const results: Record<string, string> = {};
        for (const cid of ids) {
          if (!getContact(sb, cid)) results[idStr(cid)] = 'NOT_FOUND';
          else results[idStr(cid)] = applyTagToContact(sb, tag.id, cid) ? 'SUCCESS' : 'DUPLICATE';
        }
        return { status: 200, body: { results } };
      },
    },
    {
      method: 'POST',
      path: '/v2/tags/{tag_id}/contacts:removeTags',
      handler(req, sb) {
        const tag = tagOr404(req, sb);
        const ids = parseContactIds(req.body);
        for (const cid of ids) removeTagFromContact(sb, tag.id, cid);
        return { status: 204 };
      },
    },
    {
      method: 'GET',
      path: '/v2/tags/{tag_id}/contacts',
      handler(req, sb) {
        const tag = tagOr404(req, sb);
        const rows: { c: ContactRow; l: ContactTagRow }[] = [];
        for (const l of sb.table<ContactTagRow>(CONTACT_TAGS_TABLE).all()) {
          if (l.tag_id !== tag.id) continue;
          const c = getContact(sb, l.contact_id);
          if (c) rows.push({ c, l });
        }
        return listV2(req, rows, {
          key: 'contacts',
          idOf: (r) => r.c.id,
          render: (r) => {
            const out: Record<string, unknown> = { id: idStr(r.c.id) };
            const email = primaryEmail(r.c);
            if (email !== undefined) out.email = email;
            if (r.c.given_name !== undefined) out.given_name = r.c.given_name;
            if (r.c.family_name !== undefined) out.family_name = r.c.family_name;
            out.applied_time = r.l.applied_time;
            return out;
          },
          filter: {
            given_name: { get: (r) => r.c.given_name, type: 'string', wildcard: true },
            family_name: { get: (r) => r.c.family_name, type: 'string', wildcard: true },
            email: { get: (r) => primaryEmail(r.c), type: 'string', wildcard: true },
            since_applied_time: sinceFilter((r) => r.l.applied_time),
            until_applied_time: untilFilter((r) => r.l.applied_time),
          },
          orderBy: {
            id: (r) => r.c.id,
            given_name: (r) => r.c.given_name?.toLowerCase(),
            family_name: (r) => r.c.family_name?.toLowerCase(),
            email: (r) => primaryEmail(r.c)?.toLowerCase(),
            applied_time: (r) => r.l.applied_time,
          },
        });
      },
    },
    {
      method: 'GET',
      path: '/v2/tags/{tag_id}/companies',
      handler(req, sb) {
        const tag = tagOr404(req, sb);
        const rows: { c: CompanyRow; l: CompanyTagRow }[] = [];
        for (const l of sb.table<CompanyTagRow>(COMPANY_TAGS_TABLE).all()) {
          if (l.tag_id !== tag.id) continue;
          const c = getCompany(sb, l.company_id);
          if (c) rows.push({ c, l });
        }
        return listV2(req, rows, {
          key: 'tagged_companies',
          idOf: (r) => r.c.id,
          render: (r) => ({ company: renderCompany(sb, r.c, undefined), applied_time: r.l.applied_time }),
          filter: {
            company_name: { get: (r) => r.c.company_name, type: 'string', wildcard: true },
            email: { get: (r) => r.c.email, type: 'string', wildcard: true },
            since_applied_time: sinceFilter((r) => r.l.applied_time),
            until_applied_time: untilFilter((r) => r.l.applied_time),
          },
          orderBy: {
            id: (r) => r.c.id,
            company_name: (r) => r.c.company_name.toLowerCase(),
            email: (r) => r.c.email?.toLowerCase(),
            applied_time: (r) => r.l.applied_time,
          },
        });
      },
    },
    {
      method: 'GET',
      path: '/v2/contacts/{contact_id}/tags',
      handler(req, sb) {
        const id = pathId(req, 'contact_id');
        if (!getContact(sb, id)) throw notFound('Contact', id);
        return appliedTags(
          req,
          sb,
          sb
            .table<ContactTagRow>(CONTACT_TAGS_TABLE)
            .all()
            .filter((l) => l.contact_id === id),
        );
      },
    },
    {
      method: 'GET',
      path: '/v2/companies/{company_id}/tags',
      handler(req, sb) {
        const id = pathId(req, 'company_id');
        if (!getCompany(sb, id)) throw notFound('Company', id);
        return appliedTags(
          req,
          sb,
          sb
            .table<CompanyTagRow>(COMPANY_TAGS_TABLE)
            .all()
            .filter((l) => l.company_id === id),
        );
      },
    },
    {
      method: 'POST',
      path: '/v2/companies/{company_id}/tags/{tag_id}',
      handler(req, sb) {
        const [companyId, tagId] = companyAndTag(req, sb);
        if (req.body !== undefined) throw badRequest('body', 'This operation takes no body');
        applyTagToCompany(sb, tagId, companyId);
        return { status: 204 };
      },
    },
    {
      method: 'DELETE',
      path: '/v2/companies/{company_id}/tags/{tag_id}',
      handler(req, sb) {
        const [companyId, tagId] = companyAndTag(req, sb);
        const links = sb.table<CompanyTagRow>(COMPANY_TAGS_TABLE);
        const link = links.all().find((l) => l.company_id === companyId && l.tag_id === tagId);
        if (!link) throw notFound('Tag applied to company', `${tagId}/${companyId}`);
        links.delete(link.id);
        return { status: 204 };
      },
    },
  ],
};

function companyAndTag(req: SbRequest, sb: SandboxApi): [number, number] {
  const companyId = pathId(req, 'company_id');
  const tagId = pathId(req, 'tag_id');
  if (!getCompany(sb, companyId)) throw notFound('Company', companyId);
  if (!getTag(sb, tagId)) throw notFound('Tag', tagId);
  return [companyId, tagId];
}

/** A list of applied tags (`AppliedTag`: the tag and when it was applied) with Keap's filters and orders. */
function appliedTags(
  req: SbRequest,
  sb: SandboxApi,
  links: readonly { tag_id: number; applied_time: string }[],
): SbResponse {
  type L = { tag_id: number; applied_time: string };
  const rows: { t: TagRow; l: L }[] = [];
  for (const l of links) {
    const t = getTag(sb, l.tag_id);
    if (t) rows.push({ t, l });
  }
  const tf = tagFilterFields();
  const lift = (f: FilterField<TagRow> | undefined): FilterField<{ t: TagRow; l: L }> => {
    if (!f) throw new Error('missing filter');
    const m = f.match;
    return {
      get: (r) => f.get(r.t),
      type: f.type,
      ...(f.wildcard ? { wildcard: true } : {}),
      ...(m ? { match: (r, op, v) => m(r.t, op, v) } : {}),
    };
  };
  return listV2(req, rows, {
    key: 'tags',
    idOf: (r) => r.t.id,
    render: (r) => ({ tag: renderTag(r.t), applied_time: r.l.applied_time }),
    filter: {
      name: lift(tf.name),
      description: lift(tf.description),
      category_id: lift(tf.category_id),
      since_create_time: lift(tf.since_create_time),
      until_create_time: lift(tf.until_create_time),
      since_update_time: lift(tf.since_update_time),
      until_update_time: lift(tf.until_update_time),
      since_applied_time: sinceFilter((r) => r.l.applied_time),
      until_applied_time: untilFilter((r) => r.l.applied_time),
    },
    orderBy: {
      id: (r) => r.t.id,
      name: (r) => r.t.name.toLowerCase(),
      create_time: (r) => r.t.create_time,
      update_time: (r) => r.t.update_time,
      applied_time: (r) => r.l.applied_time,
      category_id: (r) => r.t.category_id,
    },
  });
}
