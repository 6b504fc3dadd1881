/**
 * Annotations and `_meta` derived from a spec's data, never hand-set per tool:
 * reads are read-only; whatever needs confirmation by default is destructive; creates/adds/applies are not; updates, removals, cancels, deletes, sends,
 * goal achievements and anything on payments are destructive; idempotentHint only where true. Written compactly:
 * tools/list carries them for every tool, and some clients pass the whole definition to the model.
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

/**
 * The hints, each only where it differs from MCP's default (readOnlyHint false, destructiveHint true,
 * idempotentHint false, openWorldHint true: every Keap tool reaches an open world) — except destructiveHint,
 * always stated on a write. The title is the tool's own `title`, not repeated here. A read is `readOnlyHint`
 * only (MCP: destructive and idempotent hints mean something only when readOnlyHint is false).
 */
export function deriveAnnotations(spec: AnyToolSpec): ToolAnnotations {
  if (spec.access === 'read') return { readOnlyHint: true };
  return isIdempotent(spec)
    ? { destructiveHint: isDestructive(spec), idempotentHint: true }
    : { destructiveHint: isDestructive(spec) };
}

/** The hints with MCP's defaults applied (what a client reads from deriveAnnotations' compact form). */
export function effectiveHints(
  a: ToolAnnotations | undefined,
): Required<Pick<ToolAnnotations, 'readOnlyHint' | 'destructiveHint' | 'idempotentHint' | 'openWorldHint'>> {
  return {
    readOnlyHint: a?.readOnlyHint ?? false,
    destructiveHint: a?.destructiveHint ?? true,
    idempotentHint: a?.idempotentHint ?? false,
    openWorldHint: a?.openWorldHint ?? true,
  };
}

/**
 * The `_meta` keys of a tool in tools/list, kept to what nothing else in the listing says: Keap's operationId
 * (the model may pass any other input Keap documents for it, by name) and the REST Hook event the call fires.
 * The endpoint, resource and default confirmation are in the README's tool table (and describe_keap_operation);
 * access is readOnlyHint; the confirmation an agent's policy asks for shows as its `confirmation_token` input.
 */
export const META_KEYS = {
  operation: 'keap-mcp/operation',
  event: 'keap-mcp/event',
} as const;

/** The tool's `_meta`, or undefined when it has none (the long-tail tools stand for no one operation). */
export function deriveMeta(spec: AnyToolSpec): Record<string, unknown> | undefined {
  const meta: Record<string, unknown> = {};
  const operation = operationIdsOf(spec);
  if (operation !== undefined) meta[META_KEYS.operation] = operation;
  if (spec.event !== undefined) meta[META_KEYS.event] = spec.event;
  return Object.keys(meta).length > 0 ? meta : undefined;
}
