import { z } from 'zod';
import { defineTool } from '../src/registry/define.js';
import {
  contactId,
  filter,
  idField,
  opportunityId,
  orderBy,
  page,
  timeField,
  userId,
} from './shared/params.js';

const stageId = () => idField('Stage id from list_opportunity_stages');

/** Optional opportunity properties shared by create and update. */
const opportunityBody = {
  user_id: userId('Assigned').optional(),
  estimated_close_time: timeField('Expected close').optional(),
  projected_revenue_high: z.number().optional().describe('Expected revenue, currency units'),
  opportunity_notes: z.string().optional().describe('Notes'),
  next_action_time: timeField('Next step due').optional(),
  next_action_notes: z.string().optional().describe('Next step'),
};

export const opportunityTools = [
  defineTool({
    name: 'list_opportunities',
    title: 'List opportunities',
    description: 'Search sales opportunities (deals).',
    resource: 'opportunities',
    access: 'read',
    method: 'GET',
    path: '/v2/opportunities',
    input: {
      filter: filter(
        'stage_id==3;user_id==1',
        'stage_id, user_id, contact_id, opportunity_title (* suffix ok), ids',
      ),
      order_by: orderBy('opportunity_title, created_time, update_time, next_action_time'),
      ...page,
    },
    listKey: 'opportunities',
  }),
  defineTool({
    name: 'get_opportunity',
    title: 'Get an opportunity',
    description: 'Get one opportunity.',
    resource: 'opportunities',
    access: 'read',
    method: 'GET',
    path: '/v2/opportunities/{opportunity_id}',
    input: { opportunity_id: opportunityId() },
    findWith: 'list_opportunities',
  }),
  defineTool({
    name: 'create_opportunity',
    title: 'Create an opportunity',
    description: 'Create a sales opportunity for a contact.',
    resource: 'opportunities',
    access: 'write',
    method: 'POST',
    path: '/v2/opportunities',
    input: {
      opportunity_title: z.string().describe('Title'),
      contact_id: contactId(),
      stage_id: stageId(),
      ...opportunityBody,
    },
    event: 'opportunity.add',
    checkWith: 'get_opportunity',
  }),
  defineTool({
    name: 'update_opportunity',
    title: 'Update an opportunity',
    description: 'Change an opportunity; set stage_id to move its stage.',
    resource: 'opportunities',
    access: 'write',
    method: 'PATCH',
    path: '/v2/opportunities/{opportunity_id}',
    input: {
      opportunity_id: opportunityId(),
      opportunity_title: z.string().optional().describe('Title'),
      stage_id: stageId().optional(),
      ...opportunityBody,
    },
    event: 'opportunity.edit',
    findWith: 'list_opportunities',
    checkWith: 'get_opportunity',
  }),
  defineTool({
    name: 'delete_opportunity',
    title: 'Delete an opportunity',
    description: 'Permanently delete an opportunity. Cannot be undone.',
    resource: 'opportunities',
    access: 'write',
    method: 'DELETE',
    path: '/v2/opportunities/{opportunity_id}',
    input: { opportunity_id: opportunityId() },
    confirm: true,
    findWith: 'list_opportunities',
    checkWith: 'get_opportunity',
    preview: (i) => `Permanently delete opportunity ${String(i.opportunity_id)}`,
  }),
  defineTool({
    name: 'list_opportunity_stages',
    title: 'List opportunity stages',
    description: 'List pipeline stages; gives stage_id.',
    resource: 'opportunities',
    access: 'read',
    method: 'GET',
    path: '/v2/opportunities/stages',
    input: {
      filter: filter('opportunity_stage_name==Won', 'opportunity_stage_name, opportunity_stage_id'),
      ...page,
    },
    listKey: 'stages',
  }),
];
