/** Registry meta-tests over the real tools/list of a full-write agent (every catalog tool). */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pathPlaceholders } from '../../src/keap/path.js';
import { META_KEYS } from '../../src/registry/annotations.js';
import { ALL_TOOLS } from '../../tools/index.js';
import { FULL_WRITE_POLICY, type Harness, startHarness } from './harness.js';

const ROOT = join(import.meta.dirname, '..', '..');
const specByName = new Map(ALL_TOOLS.map((t) => [t.name, t]));

function budget(tools: readonly Tool[]): number {
  return tools.reduce(
    (n, t) =>
      n + JSON.stringify({ name: t.name, description: t.description, inputSchema: t.inputSchema }).length,
    0,
  );
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

describe('tools/list for a full-write agent', () => {
  let h: Harness;
  let tools: Tool[];
  beforeAll(async () => {
    h = await startHarness({ policy: FULL_WRITE_POLICY });
    tools = (await h.client.listTools()).tools;
  });
  afterAll(async () => {
    await h?.close();
  });

  it('lists every catalog tool, names unique', () => {
    const names = tools.map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual(ALL_TOOLS.map((t) => t.name).sort());
    expect(names.length).toBeGreaterThanOrEqual(58);
  });

  it('applies the annotations rule', () => {
    for (const t of tools) {
      const spec = specByName.get(t.name);
      if (!spec) throw new Error(t.name);
      const a = t.annotations ?? {};
      expect(a.openWorldHint, t.name).toBe(true);
      if (spec.access === 'read') {
        expect(a.readOnlyHint, t.name).toBe(true);
        continue;
      }
      expect(a.readOnlyHint, t.name).toBe(false);
      const destructive =
        ['PATCH', 'PUT', 'DELETE'].includes(spec.method) ||
        spec.resource === 'payments' ||
        /^(delete|remove|cancel|send|achieve)_/.test(spec.name);
      expect(a.destructiveHint, t.name).toBe(destructive);
      if (/^(create|add|apply)_/.test(spec.name) && spec.resource !== 'payments') {
        expect(a.destructiveHint, t.name).toBe(false);
      }
      const idem = spec.idempotent ?? ['GET', 'PUT', 'PATCH', 'DELETE'].includes(spec.method);
      expect(a.idempotentHint, t.name).toBe(idem);
    }
  });

  it('carries complete _meta', () => {
    for (const t of tools) {
      const spec = specByName.get(t.name);
      if (!spec) throw new Error(t.name);
      const m = t._meta ?? {};
      expect(m[META_KEYS.endpoint], t.name).toBe(`${spec.method} ${spec.path}`);
      expect(m[META_KEYS.resource], t.name).toBe(spec.resource);
      expect(m[META_KEYS.access], t.name).toBe(spec.access);
      expect(m[META_KEYS.confirm], t.name).toBe(spec.confirm === true);
      if (spec.event) expect(m[META_KEYS.event], t.name).toBe(spec.event);
      else expect(m[META_KEYS.event], t.name).toBeUndefined();
    }
  });

  it('has descriptions ≤ 1000 chars, every input field described, no top-level union', () => {
    for (const t of tools) {
      expect(t.description?.length ?? 0, t.name).toBeGreaterThan(10);
      expect(t.description?.length ?? 0, t.name).toBeLessThanOrEqual(1000);
      const s = t.inputSchema as Record<string, unknown>;
      expect(s.type, t.name).toBe('object');
      for (const k of ['anyOf', 'oneOf', 'allOf']) expect(s[k], `${t.name} ${k}`).toBeUndefined();
      expect(s.$schema, t.name).toBeUndefined();
      const props = (s.properties ?? {}) as Record<string, { description?: string }>;
      for (const [field, p] of Object.entries(props)) {
        expect(typeof p.description === 'string' && p.description.length > 0, `${t.name}.${field}`).toBe(
          true,
        );
      }
    }
  });

  it('has every path placeholder as a required input; machinery fields where they belong', () => {
    for (const t of tools) {
      const spec = specByName.get(t.name);
      if (!spec) throw new Error(t.name);
      const s = t.inputSchema as { properties?: Record<string, unknown>; required?: string[] };
      for (const p of pathPlaceholders(spec.path)) {
        expect(Object.keys(s.properties ?? {}), `${t.name} {${p}}`).toContain(p);
        expect(s.required ?? [], `${t.name} {${p}} required`).toContain(p);
      }
      const props = Object.keys(s.properties ?? {});
      expect(props.includes('dry_run'), `${t.name} dry_run`).toBe(spec.access === 'write');
      expect(props.includes('idempotency_key'), `${t.name} idempotency_key`).toBe(
        spec.idempotencyKey === true,
      );
      if (spec.confirm) expect(props, `${t.name} confirmation_token`).toContain('confirmation_token');
    }
  });

  it('fits the context budget (all ≤ 36,000 chars, read-only ≤ 16,000)', () => {
    const all = budget(tools);
    const reads = budget(tools.filter((t) => t.annotations?.readOnlyHint === true));
    process.stderr.write(`context budget: all ${all} chars (${tools.length} tools), read-only ${reads}\n`);
    expect(all).toBeLessThanOrEqual(36_000);
    expect(reads).toBeLessThanOrEqual(16_000);
  });

  it('matches the committed snapshot', async () => {
    const snapshot = tools.map((t) => ({
      name: t.name,
      title: t.title,
      description: t.description,
      inputSchema: t.inputSchema,
      annotations: t.annotations,
      _meta: t._meta,
    }));
    await expect(`${JSON.stringify(snapshot, null, 2)}\n`).toMatchFileSnapshot(
      '__snapshots__/tools-list.json',
    );
  });
});

describe('the registration seam', () => {
  it('registerTool is called only in src/registry/register.ts', () => {
    const offenders = [...filesUnder(join(ROOT, 'src')), ...filesUnder(join(ROOT, 'tools'))]
      .filter((f) => /\.registerTool\s*\(|\bregisterTool\s*\(/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(ROOT, f));
    expect(offenders).toEqual(['src/registry/register.ts']);
  });
});
