import { z } from 'zod';
import { defineTool } from '../src/registry/define.js';
import { CUSTOM_FIELD_MODELS } from './shared/params.js';

export const customFieldTools = [
  defineTool({
    name: 'list_custom_fields',
    title: 'List custom fields',
    description:
      'Custom fields of a record type: id, label, field_type, options. Set them with custom_fields [{id, content}] on its create/update tools.',
    // One resource per tool: custom field definitions are read under contacts until the policy can grant
    // per `model` (see the catalog report); the path serves all seven record types.
    resource: 'contacts',
    access: 'read',
    method: 'GET',
    path: '/v2/{model}/model',
    input: { model: z.enum(CUSTOM_FIELD_MODELS).describe('Record type') },
    listKey: 'custom_fields',
  }),
];
