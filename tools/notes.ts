import { z } from 'zod';
import { defineTool } from '../src/registry/define.js';
import { contactId, fields, filter, orderBy, page, userId } from './shared/params.js';

export const noteTools = [
  defineTool({
    name: 'list_notes',
    title: "List a contact's notes",
    description: "List a contact's notes.",
    resource: 'notes',
    access: 'read',
    method: 'GET',
    path: '/v2/contacts/{contact_id}/notes',
    input: {
      contact_id: contactId(),
      filter: filter('title==Call*', 'ids, title, assigned_to_user_id, since_time, until_time'),
      order_by: orderBy('id, create_time, update_time'),
      fields: fields('custom_fields'),
      ...page,
    },
    listKey: 'notes',
    findWith: 'list_contacts',
  }),
  defineTool({
    name: 'create_note',
    title: 'Add a note to a contact',
    description: 'Add a note to a contact, e.g. to log a call.',
    resource: 'notes',
    access: 'write',
    method: 'POST',
    path: '/v2/contacts/{contact_id}/notes',
    input: {
      contact_id: contactId(),
      user_id: userId('Author'),
      title: z.string().optional().describe('Title (or type)'),
      type: z.string().optional().describe('Call, Email, Other…'),
      text: z.string().optional().describe('Text'),
    },
    rules: [{ kind: 'at_least_one', keys: ['title', 'type'] }],
    event: 'note.add',
    idempotencyKey: true,
    findWith: 'list_contacts',
    checkWith: 'list_notes',
  }),
];
