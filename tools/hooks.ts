import { z } from 'zod';
import { defineTool } from '../src/registry/define.js';

const hookKey = () => z.string().min(1).describe('Hook key from list_hooks');

export const hookTools = [
  defineTool({
    name: 'list_hooks',
    title: 'List REST hooks',
    description: "List REST hook subscriptions; this server's own show last delivery and events stored.",
    resource: 'hooks',
    access: 'read',
    method: 'GET',
    path: '/v1/hooks',
    input: {},
    listKey: '',
    hooks: 'health',
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
    title: 'Create a REST hook',
    description: 'Subscribe a URL to an event; it must echo the X-Hook-Secret header Keap POSTs to verify.',
    resource: 'hooks',
    access: 'write',
    method: 'POST',
    path: '/v1/hooks',
    input: {
      eventKey: z.string().min(1).describe('From list_hook_event_keys'),
      hookUrl: z.string().url().describe('Public HTTPS URL'),
    },
    aliases: { event_key: 'eventKey', hook_url: 'hookUrl' },
    checkWith: 'list_hooks',
  }),
  defineTool({
    name: 'verify_hook',
    title: 'Verify a REST hook',
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
    title: 'Delete a REST hook',
    description: 'Delete a hook subscription. Cannot be undone.',
    resource: 'hooks',
    access: 'write',
    method: 'DELETE',
    path: '/v1/hooks/{key}',
    input: { key: hookKey() },
    confirm: true,
    findWith: 'list_hooks',
    checkWith: 'list_hooks',
    resolve: { records: { key: 'hook' } },
    preview: (i) => `Delete hook subscription ${String(i.key)}; its URL stops receiving events`,
  }),
];

/**
 * Events Keap pushes to this server's receiver (src/hooks): subscribe, unsubscribe, read the inbox. Server
 * tools (not one Keap endpoint each): their Keap calls run through the chokepoint as the tool called.
 */
export const eventTools = [
  defineTool({
    name: 'subscribe_events',
    title: 'Subscribe to Keap events',
    description:
      "Have Keap push events (e.g. contact.add) to this server for list_events. Returns each key's hook status.",
    resource: 'hooks',
    access: 'write',
    method: 'POST',
    path: '/events',
    input: {
      event_keys: z.array(z.string().min(1).max(100)).min(1).max(20).describe('From list_hook_event_keys'),
    },
    checkWith: 'list_hooks',
    hooks: 'subscribe',
  }),
  defineTool({
    name: 'unsubscribe_events',
    title: 'Unsubscribe from a Keap event',
    description: "Delete this server's hook for an event key.",
    resource: 'hooks',
    access: 'write',
    method: 'DELETE',
    path: '/events/{event_key}',
    input: { event_key: z.string().min(1).max(100).describe('e.g. contact.add') },
    confirm: true,
    checkWith: 'list_hooks',
    findWith: 'list_hooks',
    preview: (i) => `Delete this server's Keap hook for ${String(i.event_key)}; those events stop arriving`,
    hooks: 'unsubscribe',
  }),
  defineTool({
    name: 'list_events',
    title: 'List events Keap pushed',
    description: 'Events Keap pushed (ids), oldest first. expand: true adds each object you may read.',
    resource: 'hooks',
    access: 'read',
    method: 'GET',
    path: '/events',
    input: {
      event_key: z.string().min(1).max(100).optional().describe('e.g. contact.add'),
      object_type: z.string().min(1).max(50).optional().describe('e.g. contact'),
      since: z.string().max(40).optional().describe('Received since (ISO date-time)'),
      expand: z.boolean().optional().describe('page_size ≤ 25'),
      page_size: z.number().int().min(1).max(100).optional().describe('Default 25'),
      page_token: z.string().max(40).optional().describe('From next_page_token'),
    },
    listKey: 'events',
    hooks: 'events',
  }),
];
