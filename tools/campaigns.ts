import { z } from 'zod';
import { defineTool } from '../src/registry/define.js';
import { campaignId, contactIds, filter, intId, orderBy, page, sequenceId } from './shared/params.js';

const ids = (i: Readonly<Record<string, unknown>>) =>
  Array.isArray(i.contact_ids) ? i.contact_ids.join(', ') : String(i.contact_ids);

export const campaignTools = [
  defineTool({
    name: 'list_campaigns',
    title: 'List campaigns',
    description: 'Search campaigns (automations).',
    resource: 'campaigns',
    access: 'read',
    method: 'GET',
    path: '/v2/campaigns',
    input: {
      filter: filter('name==Welcome', 'name (contains)'),
      order_by: orderBy('name, id, datecreated, lastupdated'),
      ...page,
    },
    listKey: 'campaigns',
  }),
  defineTool({
    name: 'get_campaign',
    title: 'Get a campaign',
    description: 'Get one campaign.',
    resource: 'campaigns',
    access: 'read',
    method: 'GET',
    path: '/v2/campaigns/{campaign_id}',
    input: { campaign_id: campaignId() },
    findWith: 'list_campaigns',
  }),
  defineTool({
    name: 'list_campaign_sequences',
    title: "List a campaign's sequences",
    description: "List a campaign's sequences; gives sequence_id.",
    resource: 'campaigns',
    access: 'read',
    method: 'GET',
    path: '/v2/campaigns/{campaign_id}/sequences',
    input: { campaign_id: campaignId() },
    listKey: 'sequences',
    findWith: 'list_campaigns',
  }),
  defineTool({
    name: 'list_campaign_goals',
    title: "List a campaign's goals",
    description: "List a campaign's goals; gives goal_id.",
    resource: 'campaigns',
    access: 'read',
    method: 'GET',
    path: '/v2/campaigns/{campaign_id}/goals',
    input: { campaign_id: campaignId() },
    listKey: 'goals',
    findWith: 'list_campaigns',
  }),
  defineTool({
    name: 'add_contacts_to_sequence',
    title: 'Add contacts to a campaign sequence',
    description: 'Add contacts to a campaign sequence; it can send them emails at once.',
    resource: 'campaigns',
    access: 'write',
    method: 'POST',
    path: '/v2/campaigns/{campaign_id}/sequences/{sequence_id}:addContacts',
    input: { campaign_id: campaignId(), sequence_id: sequenceId(), contact_ids: contactIds() },
    confirm: true,
    findWith: 'list_campaign_sequences',
    checkWith: 'get_campaign',
    preview: (i) =>
      `Add contacts ${ids(i)} to sequence ${String(i.sequence_id)} of campaign ${String(
        i.campaign_id,
      )} (its emails may start sending)`,
  }),
  defineTool({
    name: 'remove_contacts_from_sequence',
    title: 'Remove contacts from a campaign sequence',
    description: 'Remove contacts from a campaign sequence.',
    resource: 'campaigns',
    access: 'write',
    method: 'POST',
    path: '/v2/campaigns/{campaign_id}/sequences/{sequence_id}:removeContacts',
    input: { campaign_id: campaignId(), sequence_id: sequenceId(), contact_ids: contactIds() },
    idempotent: true,
    findWith: 'list_campaign_sequences',
    checkWith: 'get_campaign',
  }),
  defineTool({
    name: 'achieve_goal',
    title: 'Achieve a campaign goal',
    description:
      'Achieve a goal for a contact: automation_id+goal_id OR integration+call_name. Can start automations and emails.',
    resource: 'campaigns',
    access: 'write',
    method: 'POST',
    path: '/v2/automations/goals/achieve',
    input: {
      contact_id: intId('Contact id (integer) from list_contacts'),
      automation_id: intId('Campaign id (integer)').optional(),
      goal_id: intId('Goal id (integer) from list_campaign_goals').optional(),
      integration: z.string().optional().describe('API goal integration'),
      call_name: z.string().optional().describe('API goal call_name'),
    },
    findWith: 'list_campaign_goals',
    checkWith: 'get_campaign',
  }),
];
