/**
 * Annotations and `_meta` derived from a spec's data, never hand-set per tool:
 * reads are read-only; whatever needs confirmation by default is destructive; creates/adds/applies are not; updates, removals, cancels, deletes, sends,
 * goal achievements and anything on payments are destructive; idempotentHint only where true.
 */
import type { ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import { operationIdsOf } from '../inputs/plan.js';
import type { AnyToolSpec } from './define.js';

const DESTRUCTIVE_VERBS = /^(delete|remove|cancel|send|achieve|deactivate|charge|update|replace)_/;

/**
 * Safe to retry after an ambiguous failure (timeout, 5xx, reset): GET/PUT/DELETE and calls the catalog marks
 * idempotent. PATCH is not retried by default: the ladder retries only GET/PUT/DELETE.
 */
export function isRetrySafe(spec: AnyToolSpec): boolean {
  return spec.idempotent ?? (spec.method === 'GET' || spec.method === 'PUT' || spec.method === 'DELETE');
}

/** idempotentHint: repeating the call with the same arguments has no additional effect (PATCH included). */
export function isIdempotent(spec: AnyToolSpec): boolean {
  return (
    spec.idempotent ??
    (spec.method === 'GET' || spec.method === 'PUT' || spec.method === 'PATCH' || spec.method === 'DELETE')
  );
}

export function isDestructive(spec: AnyToolSpec): boolean {
  if (spec.access === 'read') return false;
  // Whatever needs a human's confirmation by default (money, sends, subscriptions, sequences, deletes) is destructive.
  if (spec.confirm) return true;
  if (spec.method === 'PATCH' || spec.method === 'PUT' || spec.method === 'DELETE') return true;
  if (spec.resource === 'payments') return true;
  if (DESTRUCTIVE_VERBS.test(spec.name)) return true;
  // Google-style custom methods that take something away (`:removeTags`, `:deactivate`, `:removeContacts`).
  return /:(remove|deactivate|cancel|delete)/i.test(spec.path);
}

export function deriveAnnotations(spec: AnyToolSpec): ToolAnnotations {
  if (spec.access === 'read') {
    return { title: spec.title, readOnlyHint: true, idempotentHint: true, openWorldHint: true };
  }
  return {
    title: spec.title,
    readOnlyHint: false,
    destructiveHint: isDestructive(spec),
    idempotentHint: isIdempotent(spec),
    openWorldHint: true,
  };
}

export const META_KEYS = {
  endpoint: 'keap-mcp/endpoint',
  resource: 'keap-mcp/resource',
  access: 'keap-mcp/access',
  confirm: 'keap-mcp/confirm',
  event: 'keap-mcp/event',
  operation: 'keap-mcp/operation',
} as const;

export function deriveMeta(spec: AnyToolSpec): Record<string, unknown> {
  const meta: Record<string, unknown> = {
    [META_KEYS.endpoint]: `${spec.method} ${spec.path}`,
    [META_KEYS.resource]: spec.resource,
    [META_KEYS.access]: spec.access,
    [META_KEYS.confirm]: spec.confirm === true,
  };
  if (spec.event !== undefined) meta[META_KEYS.event] = spec.event;
  // Keap's operationId: the model may pass any other input Keap documents for it by name.
  const operation = operationIdsOf(spec);
  if (operation !== undefined) meta[META_KEYS.operation] = operation;
  return meta;
}
