import { z } from 'zod';
import { defineTool } from '../src/registry/define.js';
import { contactId, customFields, fields, filter, orderBy, page, userId } from './shared/params.js';

const CONTACT_FIELDS = 'addresses, company, custom_fields, notes, owner_id, tag_ids, update_time…';

/** Set mostly when a contact is created; update_contact takes them by name (as addresses, job_title… here). */
const createOnly = {
  phone_numbers: z
    .array(
      z.object({
        number: z.string().describe('Number'),
        field: z.enum(['PHONE1', 'PHONE2', 'PHONE3', 'PHONE4', 'PHONE5']).describe('Slot'),
      }),
    )
    .optional()
    .describe('Phones'),
  owner_id: userId('Owner').optional(),
};

/** The contact properties most often written (Keap's other documented ones are accepted by name). */
const contactBody = {
  given_name: z.string().optional().describe('First name'),
  family_name: z.string().optional().describe('Last name'),
  email_addresses: z
    .array(
      z.object({
        email: z.string().describe('Address'),
        field: z.enum(['EMAIL1', 'EMAIL2', 'EMAIL3']).describe('EMAIL1 = primary'),
      }),
    )
    .optional()
    .describe('Emails'),
  custom_fields: customFields(),
};

export const contactTools = [
  defineTool({
    name: 'list_contacts',
    title: 'List contacts',
    description: 'Search contacts by email, name or ids; the way to find contact ids.',
    resource: 'contacts',
    access: 'read',
    method: 'GET',
    path: '/v2/contacts',
    input: {
      filter: filter(
        'email==jo*;ids==1,2',
        'email, given_name, family_name (* suffix ok), company_id, ids, start_/end_update_time',
      ),
      order_by: orderBy('id, create_time, email, update_time'),
      fields: fields(CONTACT_FIELDS),
      ...page,
    },
    listKey: 'contacts',
  }),
  defineTool({
    name: 'get_contact',
    title: 'Get a contact',
    description: 'Get one contact.',
    resource: 'contacts',
    access: 'read',
    method: 'GET',
    path: '/v2/contacts/{contact_id}',
    input: { contact_id: contactId(), fields: fields(CONTACT_FIELDS) },
    findWith: 'list_contacts',
  }),
  defineTool({
    name: 'create_contact',
    title: 'Create a contact',
    description:
      'Create a contact (needs an email, phone or address); with duplicate_option a match is updated.',
    resource: 'contacts',
    access: 'write',
    method: 'POST',
    path: '/v2/contacts',
    input: {
      duplicate_option: z
        .enum(['Email', 'EmailAndName', 'EmailAndNameAndCompany'])
        .optional()
        .describe('Upsert: match on these'),
      ...contactBody,
      ...createOnly,
    },
    query: ['duplicate_option'],
    rules: [{ kind: 'at_least_one', keys: ['email_addresses', 'phone_numbers', 'addresses'] }],
    event: 'contact.add',
    idempotencyKey: true,
    checkWith: 'get_contact',
  }),
  defineTool({
    name: 'update_contact',
    title: 'Update a contact',
    description:
      "Change a contact; only properties sent change (a list replaces the stored one). Takes create_contact's fields.",
    resource: 'contacts',
    access: 'write',
    method: 'PATCH',
    path: '/v2/contacts/{contact_id}',
    input: { contact_id: contactId(), ...contactBody },
    event: 'contact.edit',
    findWith: 'list_contacts',
    checkWith: 'get_contact',
  }),
  defineTool({
    name: 'delete_contact',
    title: 'Delete a contact',
    description: 'Permanently delete a contact and its history. Cannot be undone.',
    resource: 'contacts',
    access: 'write',
    method: 'DELETE',
    path: '/v2/contacts/{contact_id}',
    input: { contact_id: contactId() },
    confirm: true,
    event: 'contact.delete',
    findWith: 'list_contacts',
    checkWith: 'get_contact',
    resolve: { records: { contact_id: 'contact' } },
    preview: (i) => `Permanently delete contact ${String(i.contact_id)}`,
  }),
];
