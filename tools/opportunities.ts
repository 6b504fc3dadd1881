import { z } from 'zod';
import { defineTool } from '../src/registry/define.js';
import {
  contactId,
  customFields,
  dollarsField,
  fields,
  filter,
  idField,
  opportunityId,
  orderBy,
  page,
  userId,
} from './shared/params.js';

const stageId = () => idField('From list_opportunity_stages');
const OPPORTUNITY_FIELDS = 'custom_fields, created_by, last_updated_by, status_id';

/** Optional opportunity properties shared by create and update (the rest is accepted by name). */
const opportunityBody = {
  custom_fields: customFields(),
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
      order_by: orderBy('opportunity_title, contact_name, created_time, update_time, next_action_time'),
      fields: fields(OPPORTUNITY_FIELDS),
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
    input: { opportunity_id: opportunityId(), fields: fields(OPPORTUNITY_FIELDS) },
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
      user_id: userId('Assigned').optional(),
      projected_revenue_high: dollarsField('Expected revenue').optional(),
      ...opportunityBody,
    },
    event: 'opportunity.add',
    checkWith: 'get_opportunity',
  }),
  defineTool({
    name: 'update_opportunity',
    title: 'Update an opportunity',
    description: "Change an opportunity; set stage_id to move its stage. Takes create_opportunity's fields.",
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
    resolve: { records: { opportunity_id: 'opportunity' } },
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
      order_by: orderBy('stage_order'),
      ...page,
    },
    listKey: 'stages',
  }),
];
