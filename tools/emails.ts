import { z } from 'zod';
import { defineTool } from '../src/registry/define.js';
import { base64Text, filter, idList, orderBy, page, userId } from './shared/params.js';

export const emailTools = [
  defineTool({
    name: 'send_email',
    title: 'Send an email',
    description: 'Email contacts now (real people, no recall). Give exactly one of user_id/from_address.',
    resource: 'emails',
    access: 'write',
    method: 'POST',
    path: '/v2/emails:send',
    input: {
      contacts: idList('Recipient ids from list_contacts'),
      subject: z.string().describe('Subject'),
      plain_content: base64Text('Text body (we Base64 it)').optional(),
      html_content: base64Text('HTML body (we Base64 it)').optional(),
      user_id: userId('Sender').optional(),
      from_address: z.string().optional().describe('Or: verified sender email'),
    },
    aliases: { contact_ids: 'contacts' },
    rules: [{ kind: 'exactly_one', keys: ['user_id', 'from_address'] }],
    confirm: true,
    idempotencyKey: true,
    checkWith: 'list_emails',
    resolve: {
      records: { contacts: 'contacts', user_id: 'user' },
      texts: { subject: 'text', plain_content: 'base64', html_content: 'base64' },
    },
    preview: (i) =>
      `Email contacts ${Array.isArray(i.contacts) ? i.contacts.join(', ') : String(i.contacts)} from ${
        i.user_id !== undefined ? `user ${String(i.user_id)}` : String(i.from_address)
      }`,
  }),
  defineTool({
    name: 'list_emails',
    title: 'List sent emails',
    description: 'List sent emails.',
    resource: 'emails',
    access: 'read',
    method: 'GET',
    path: '/v2/emails',
    input: {
      filter: filter('contact_id==7', 'contact_id, email, start_/end_created_time'),
      order_by: orderBy('created_time'),
      ...page,
    },
    listKey: 'emails',
  }),
];
