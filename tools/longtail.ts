/**
 * The long tail: every operation Keap documents, found, described and called through the same gate as the
 * catalog (the machinery is src/longtail). Each call is granted, confirmed and audited as its operation's own
 * resource and risk; resource '*' only says which resource applies is decided per call.
 */
import { z } from 'zod';
import { defineTool } from '../src/registry/define.js';

const operationId = z.string().min(1).max(100).describe('From find_keap_operations');
const args = z
  .record(z.string(), z.unknown())
  .optional()
  .describe("The operation's inputs by Keap name, path/query/body all at top level");

export const longtailTools = [
  defineTool({
    name: 'find_keap_operations',
    title: 'Find Keap operations',
    description:
      "Search all of Keap's API (464 operations) for what no other tool does. Up to 20 matches: operationId, method, path, resource, access, ✋, covering tool.",
    resource: '*',
    access: 'read',
    method: 'GET',
    path: '/*',
    input: {
      query: z
        .string()
        .min(1)
        .max(200)
        .describe('Words or a path fragment, e.g. "lead source", "/v2/discounts"'),
      resource: z.string().max(40).optional().describe('Only this policy resource, e.g. affiliates'),
      access: z.enum(['read', 'write']).optional().describe('Only reads (GET) or writes'),
    },
    longtail: 'find',
  }),
  defineTool({
    name: 'describe_keap_operation',
    title: 'Describe a Keap operation',
    description:
      "An operation's inputs (path, query, body; types, enums, required), paging, resource, access and whether it needs confirmation.",
    resource: '*',
    access: 'read',
    method: 'GET',
    path: '/*',
    input: { operationId },
    longtail: 'describe',
  }),
  defineTool({
    name: 'call_keap_read',
    title: 'Call a Keap read operation',
    description: 'Run a GET operation found with find_keap_operations.',
    resource: '*',
    access: 'read',
    method: 'GET',
    path: '/*',
    input: { operationId, arguments: args },
    longtail: 'read',
  }),
  defineTool({
    name: 'call_keap_write',
    title: 'Call a Keap write operation',
    description:
      'Run a non-GET operation found with find_keap_operations. Deletes, money, sends, billing, merges, commissions, settings need a human yes.',
    resource: '*',
    access: 'write',
    method: 'POST',
    path: '/*',
    input: { operationId, arguments: args },
    confirm: true,
    idempotent: false,
    idempotencyKey: true,
    longtail: 'write',
  }),
];
