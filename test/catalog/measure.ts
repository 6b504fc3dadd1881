/** Catalog context-budget measurement (shared by the budget test and `npx tsx`-free printing via vitest). */
import type { AnyToolSpec } from '../../src/registry/define.js';
import { listedInputSchema, specInputShape } from '../../src/registry/register.js';

/** The tool's own inputs exactly as tools/list shows them (the server's function; machinery fields excluded). */
export function inputJsonSchema(tool: AnyToolSpec): Record<string, unknown> {
  return listedInputSchema(specInputShape(tool));
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
