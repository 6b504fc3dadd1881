import { z } from 'zod';
import { defineTool } from '../src/registry/define.js';
import {
  contactId,
  fields,
  filter,
  opportunityId,
  orderBy,
  page,
  taskId,
  timeField,
  userId,
} from './shared/params.js';

/** Optional task properties shared by create and update. */
const taskBody = {
  due_time: timeField('Due').optional(),
};

export const taskTools = [
  defineTool({
    name: 'list_tasks',
    title: 'List tasks',
    description: 'Search tasks (to-dos of users).',
    resource: 'tasks',
    access: 'read',
    method: 'GET',
    path: '/v2/tasks',
    input: {
      filter: filter(
        'contact_id==7;is_completed==false',
        'contact_id, user_id, is_completed, priority, task_ids',
      ),
      order_by: orderBy('id, create_time, due_time, update_time'),
      fields: fields('custom_fields'),
      ...page,
    },
    listKey: 'tasks',
  }),
  defineTool({
    name: 'create_task',
    title: 'Create a task',
    description: 'Create a task for a user, optionally about a contact.',
    resource: 'tasks',
    access: 'write',
    method: 'POST',
    path: '/v2/tasks',
    input: {
      assigned_to_user_id: userId('Assignee'),
      title: z.string().describe('Title'),
      ...taskBody,
      description: z.string().optional().describe('Details'),
      type: z.string().optional().describe('e.g. Call, Email'),
      priority: z.enum(['CRITICAL', 'ESSENTIAL', 'NONESSENTIAL']).optional().describe('Priority'),
      contact_id: contactId().optional(),
      opportunity_id: opportunityId().optional(),
    },
    event: 'task.add',
    idempotencyKey: true,
    checkWith: 'list_tasks',
  }),
  defineTool({
    name: 'update_task',
    title: 'Update a task',
    description: "Change a task or mark it completed. Takes create_task's fields.",
    resource: 'tasks',
    access: 'write',
    method: 'PATCH',
    path: '/v2/tasks/{task_id}',
    input: {
      task_id: taskId(),
      title: z.string().optional().describe('Title'),
      completed: z.boolean().optional().describe('Done'),
      ...taskBody,
    },
    findWith: 'list_tasks',
    checkWith: 'list_tasks',
  }),
];
