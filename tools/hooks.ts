import { z } from 'zod';
import { defineTool } from '../src/registry/define.js';

const hookKey = () => z.string().min(1).describe('Hook key from list_hooks');

export const hookTools = [
  defineTool({
    name: 'list_hooks',
    title: 'List REST hook subscriptions',
    description: 'List REST hook subscriptions.',
    resource: 'hooks',
    access: 'read',
    method: 'GET',
    path: '/v1/hooks',
    input: {},
    listKey: '',
  }),
  defineTool({
    name: 'list_hook_event_keys',
    title: 'List hook event keys',
    description: 'List event keys hooks can subscribe to.',
    resource: 'hooks',
    access: 'read',
    method: 'GET',
    path: '/v1/hooks/event_keys',
    input: {},
    listKey: '',
  }),
  defineTool({
    name: 'create_hook',
    title: 'Create a REST hook subscription',
    description:
      'Subscribe a URL to an event; it must echo the X-Hook-Secret header Keap POSTs to verify.',
    resource: 'hooks',
    access: 'write',
    method: 'POST',
    path: '/v1/hooks',
    input: {
      eventKey: z.string().min(1).describe('From list_hook_event_keys'),
      hookUrl: z.string().url().describe('Public HTTPS URL'),
    },
    checkWith: 'list_hooks',
  }),
  defineTool({
    name: 'verify_hook',
    title: 'Verify a REST hook subscription',
    description: 'Verify or reactivate a hook (Keap re-sends the X-Hook-Secret).',
    resource: 'hooks',
    access: 'write',
    method: 'POST',
    path: '/v1/hooks/{key}/verify',
    input: { key: hookKey() },
    idempotent: true,
    findWith: 'list_hooks',
    checkWith: 'list_hooks',
  }),
  defineTool({
    name: 'delete_hook',
    title: 'Delete a REST hook subscription',
    description: 'Delete a hook subscription. Cannot be undone.',
    resource: 'hooks',
    access: 'write',
    method: 'DELETE',
    path: '/v1/hooks/{key}',
    input: { key: hookKey() },
    confirm: true,
    findWith: 'list_hooks',
    checkWith: 'list_hooks',
    preview: (i) => `Delete hook subscription ${String(i.key)}; its URL stops receiving events`,
  }),
];
