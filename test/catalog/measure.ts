/** Catalog context-budget measurement (shared by the budget test and `npx tsx`-free printing via vitest). */
import { z } from 'zod';
import type { AnyToolSpec } from '../../src/registry/define.js';

/**
 * zod's integers carry ±(2^53-1) bounds; tools/list leaves them out (they say nothing to a model), so they are
 * left out here as well: `minimum: -MAX_SAFE_INTEGER` and `maximum: MAX_SAFE_INTEGER`, at any depth.
 */
function withoutSafeIntegerBounds(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutSafeIntegerBounds);
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === 'minimum' && x === Number.MIN_SAFE_INTEGER) continue;
    if (k === 'maximum' && x === Number.MAX_SAFE_INTEGER) continue;
    out[k] = withoutSafeIntegerBounds(x);
  }
  return out;
}

export function inputJsonSchema(tool: AnyToolSpec): Record<string, unknown> {
  const schema = z.toJSONSchema(z.object(tool.input), { target: 'draft-7', io: 'input' }) as Record<
    string,
    unknown
  >;
  const { $schema: _drop, ...rest } = withoutSafeIntegerBounds(schema) as Record<string, unknown>;
  return rest;
}

export function toolSize(tool: AnyToolSpec): number {
  return JSON.stringify({
    name: tool.name,
    description: tool.description,
    inputSchema: inputJsonSchema(tool),
  }).length;
}

export interface Budget {
  total: number;
  read: number;
  perTool: { name: string; access: string; size: number }[];
}

export function measure(tools: readonly AnyToolSpec[]): Budget {
  const perTool = tools.map((t) => ({ name: t.name, access: t.access, size: toolSize(t) }));
  return {
    total: perTool.reduce((s, t) => s + t.size, 0),
    read: perTool.filter((t) => t.access === 'read').reduce((s, t) => s + t.size, 0),
    perTool,
  };
}
