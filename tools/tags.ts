import { z } from 'zod';
import { defineTool } from '../src/registry/define.js';
import { contactId, contactIds, filter, idField, orderBy, page, tagId } from './shared/params.js';

const ids = (i: Readonly<Record<string, unknown>>) =>
  Array.isArray(i.contact_ids) ? i.contact_ids.join(', ') : String(i.contact_ids);

export const tagTools = [
  defineTool({
    name: 'list_contact_tags',
    title: "List a contact's tags",
    description: "List a contact's tags.",
    resource: 'tags',
    access: 'read',
    method: 'GET',
    path: '/v2/contacts/{contact_id}/tags',
    input: {
      contact_id: contactId(),
      filter: filter('name==VIP', 'name, category_id, since_/until_applied_time'),
      ...page,
    },
    listKey: 'tags',
    findWith: 'list_contacts',
  }),
  defineTool({
    name: 'list_tags',
    title: 'List tags',
    description: 'Search tags; the way to find tag ids.',
    resource: 'tags',
    access: 'read',
    method: 'GET',
    path: '/v2/tags',
    input: {
      filter: filter('name==Lead', 'name, description, category_id, tag_ids'),
      order_by: orderBy('name, create_time'),
      ...page,
    },
    listKey: 'tags',
  }),
  defineTool({
    name: 'create_tag',
    title: 'Create a tag',
    description: 'Create a tag (check list_tags first).',
    resource: 'tags',
    access: 'write',
    method: 'POST',
    path: '/v2/tags',
    input: {
      name: z.string().describe('Name'),
      description: z.string().optional().describe('Description'),
      category: z
        .object({ id: idField('Category id (digits)') })
        .optional()
        .describe('Category'),
    },
    checkWith: 'list_tags',
  }),
  defineTool({
    name: 'apply_tag',
    title: 'Apply a tag to contacts',
    description: 'Apply a tag to contacts. Can start automations and emails.',
    resource: 'tags',
    access: 'write',
    method: 'POST',
    path: '/v2/tags/{tag_id}/contacts:applyTags',
    input: { tag_id: tagId(), contact_ids: contactIds() },
    event: 'contactGroup.applied',
    idempotent: true,
    findWith: 'list_tags',
    checkWith: 'list_tagged_contacts',
    preview: (i) => `Apply tag ${String(i.tag_id)} to contacts ${ids(i)} (may start automations)`,
  }),
  defineTool({
    name: 'remove_tag',
    title: 'Remove a tag from contacts',
    description: 'Remove a tag from contacts. Can start automations.',
    resource: 'tags',
    access: 'write',
    method: 'POST',
    path: '/v2/tags/{tag_id}/contacts:removeTags',
    input: { tag_id: tagId(), contact_ids: contactIds() },
    event: 'contactGroup.removed',
    idempotent: true,
    findWith: 'list_tags',
    checkWith: 'list_tagged_contacts',
  }),
  defineTool({
    name: 'list_tagged_contacts',
    title: 'List contacts with a tag',
    description: 'List contacts having a tag.',
    resource: 'tags',
    access: 'read',
    method: 'GET',
    path: '/v2/tags/{tag_id}/contacts',
    input: {
      tag_id: tagId(),
      filter: filter('email==jo*', 'given_name, family_name, email, since_/until_applied_time'),
      ...page,
    },
    listKey: 'contacts',
    findWith: 'list_tags',
  }),
  defineTool({
    name: 'list_tagged_companies',
    title: 'List companies with a tag',
    description: 'List companies having a tag.',
    resource: 'tags',
    access: 'read',
    method: 'GET',
    path: '/v2/tags/{tag_id}/companies',
    input: {
      tag_id: tagId(),
      filter: filter('company_name==Acme', 'company_name, email, since_/until_applied_time'),
      ...page,
    },
    listKey: 'tagged_companies',
    findWith: 'list_tags',
  }),
];
