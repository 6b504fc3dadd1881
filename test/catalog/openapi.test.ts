/**
 * Every catalog entry against Keap's official documents: the operation exists, parameter names are
 * Keap's, enums are a subset of Keap's, Keap's required body properties are required, and every
 * list tool's listKey names the array in the documented response.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { AnyToolSpec } from '../../src/registry/define.js';
import { ALL_TOOLS } from '../../tools/index.js';
import { inputJsonSchema } from './measure.js';

type Json = Record<string, any>;

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dir = process.env.KEAP_OPENAPI_DIR ?? resolve(repoRoot, '../shared/keap-openapi');
const present = existsSync(resolve(dir, 'v2.json')) && existsSync(resolve(dir, 'v1.json'));
if (!present) {
  if (process.env.KEAP_OPENAPI_REQUIRED) {
    throw new Error(`Keap OpenAPI documents not found in ${dir} (KEAP_OPENAPI_REQUIRED is set)`);
  }
  console.warn(`NOTE: Keap OpenAPI documents not found in ${dir}; skipping the document checks.`);
}

const docs = present
  ? {
      v2: JSON.parse(readFileSync(resolve(dir, 'v2.json'), 'utf8')) as Json,
      v1: JSON.parse(readFileSync(resolve(dir, 'v1.json'), 'utf8')) as Json,
    }
  : undefined;

function deref(doc: Json, s: Json | undefined): Json | undefined {
  let cur = s;
  for (let i = 0; cur?.$ref && i < 20; i++) {
    let o: any = doc;
    for (const k of String(cur.$ref).slice(2).split('/')) o = o?.[k];
    cur = o;
  }
  if (cur?.allOf) {
    const merged: Json = { type: 'object', properties: {}, required: [] };
    for (const part of cur.allOf) {
      const d = deref(doc, part) ?? {};
      Object.assign(merged.properties, d.properties ?? {});
      merged.required.push(...(d.required ?? []));
    }
    return { ...cur, ...merged };
  }
  return cur;
}

interface Op {
  doc: Json;
  op: Json;
  params: Json[];
}

function operation(t: Pick<AnyToolSpec, 'method' | 'path'>): Op | undefined {
  if (!docs) return undefined;
  const v1 = t.path.startsWith('/v1/');
  const doc = v1 ? docs.v1 : docs.v2;
  const item = doc.paths[v1 ? t.path : `/rest${t.path}`];
  const op = item?.[t.method.toLowerCase()];
  if (!op) return undefined;
  const params = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p: Json) => deref(doc, p)!);
  return { doc, op, params };
}

function bodySchema({ doc, op }: Op): Json | undefined {
  const rb = deref(doc, op.requestBody);
  return deref(doc, rb?.content?.['application/json']?.schema);
}

function successSchema({ doc, op }: Op): Json | undefined {
  for (const [code, r] of Object.entries<Json>(op.responses ?? {})) {
    if (!code.startsWith('2')) continue;
    const s = deref(doc, deref(doc, r)?.content?.['application/json']?.schema);
    if (s) return s;
  }
  return undefined;
}

/**
 * A tool whose path placeholder is an enum of record types (list_custom_fields: '/v2/{model}/model') stands for
 * one documented operation per value: each expansion is checked as its own operation.
 */
function expansions(t: AnyToolSpec): { placeholder: string; values: string[] } | undefined {
  const ours = inputJsonSchema(t) as Json;
  for (const p of [...t.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!)) {
    const values = ours.properties?.[p]?.enum as string[] | undefined;
    if (values) return { placeholder: p, values };
  }
  return undefined;
}

/** Our ids are digit strings; where Keap types an id as an integer, the tool converts before sending. */
const DIGIT_ID_PATTERN = '^[1-9]\\d*$';

const TYPE_OK: Record<string, string[]> = {
  string: ['string'],
  number: ['number', 'integer'],
  integer: ['integer'],
  boolean: ['boolean'],
  array: ['array'],
  object: ['object'],
};

/** Compare our JSON schema with Keap's, recursively: names, types, enums, required. */
function compare(doc: Json, ours: Json, theirs: Json | undefined, at: string, errors: string[]): void {
  const t = deref(doc, theirs);
  if (!t) {
    errors.push(`${at}: not in Keap's document`);
    return;
  }
  const convertedId = ours.type === 'string' && ours.pattern === DIGIT_ID_PATTERN && t.type === 'integer';
  if (ours.type && t.type && !convertedId && !(TYPE_OK[ours.type] ?? []).includes(t.type)) {
    errors.push(`${at}: type ${ours.type} vs Keap ${t.type}`);
  }
  if (ours.enum) {
    const theirsEnum: unknown[] = t.enum ?? [];
    for (const v of ours.enum) if (!theirsEnum.includes(v)) errors.push(`${at}: enum value ${v} not Keap's`);
    // Complete: every documented value except the proto-style "no value" sentinels (*_UNSPECIFIED).
    for (const v of theirsEnum) {
      if (!ours.enum.includes(v) && !String(v).endsWith('_UNSPECIFIED'))
        errors.push(`${at}: misses Keap's ${v}`);
    }
  }
  if (ours.type === 'object' && ours.properties) {
    for (const [k, v] of Object.entries<Json>(ours.properties)) {
      compare(doc, v, t.properties?.[k], `${at}.${k}`, errors);
    }
    for (const req of t.required ?? []) {
      if (!(ours.required ?? []).includes(req)) errors.push(`${at}: Keap requires ${req}`);
    }
  }
  if (ours.type === 'array' && ours.items) compare(doc, ours.items, t.items, `${at}[]`, errors);
}

describe.skipIf(!docs)("catalog against Keap's OpenAPI documents", () => {
  it.each(ALL_TOOLS.map((t) => [t.name, t] as const))('%s', (_name, tool) => {
    const exp = expansions(tool);
    const cases = exp
      ? exp.values.map((v) => ({
          ...tool,
          path: tool.path.replace(`{${exp.placeholder}}`, v),
          input: Object.fromEntries(Object.entries(tool.input).filter(([k]) => k !== exp.placeholder)),
        }))
      : [tool];
    for (const t of cases) checkAgainstDocument(t);
  });
});

function checkAgainstDocument(t: AnyToolSpec): void {
  {
    const o = operation(t);
    expect(o, `${t.method} ${t.path} is not in the documents`).toBeDefined();
    if (!o) return;
    const ours = inputJsonSchema(t) as Json;
    const props = (ours.properties ?? {}) as Record<string, Json>;
    const errors: string[] = [];

    const docPath = o.params.filter((p) => p.in === 'path').map((p) => p.name);
    const ourPath = [...t.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
    expect(ourPath.sort()).toEqual(docPath.sort());

    const queryParams = new Map(o.params.filter((p) => p.in === 'query').map((p) => [p.name, p]));
    const sendsBody = ['POST', 'PATCH', 'PUT'].includes(t.method);
    const body = bodySchema(o);
    const bodyKeys: string[] = [];

    for (const [key, schema] of Object.entries(props)) {
      if (ourPath.includes(key)) continue;
      const inQuery = !sendsBody || (t.query ?? []).includes(key);
      if (inQuery) {
        const p = queryParams.get(key);
        if (!p) {
          errors.push(`${key}: not a documented query parameter`);
          continue;
        }
        const ps = deref(o.doc, p.schema) ?? {};
        // Keap's comma-list array parameters (fields, update_mask) are taken as one comma-separated string.
        const theirs = ps.type === 'array' && schema.type === 'string' ? { type: 'string' } : ps;
        compare(o.doc, schema, theirs, key, errors);
      } else {
        bodyKeys.push(key);
        if (!body?.properties?.[key]) {
          errors.push(`${key}: not a documented request-body property`);
          continue;
        }
        compare(o.doc, schema, body.properties[key], key, errors);
      }
    }
    // required query parameters and body properties are required in the input
    for (const p of queryParams.values()) {
      if (p.required) expect(ours.required ?? [], `query ${p.name}`).toContain(p.name);
    }
    if (sendsBody && body) {
      for (const req of body.required ?? []) {
        expect(ours.required ?? [], `body property ${req}`).toContain(req);
      }
    }
    if (sendsBody && !body) expect(bodyKeys, 'this operation takes no body').toEqual([]);
    // rules and alias targets name inputs Keap documents for the operation (listed or taken by name)
    const documented = new Set([
      ...o.params.map((p) => p.name as string),
      ...Object.keys(body?.properties ?? {}),
    ]);
    for (const rule of t.rules ?? []) {
      for (const k of rule.keys) if (!documented.has(k)) errors.push(`rule key ${k}: not documented`);
    }
    for (const target of Object.values(t.aliases ?? {})) {
      if (!documented.has(target)) errors.push(`alias target ${target}: not documented`);
    }
    expect(errors).toEqual([]);

    // listKey names the documented array of items
    if (t.listKey !== undefined) {
      const resp = successSchema(o);
      expect(resp, 'documented JSON response').toBeDefined();
      if (t.listKey === '') expect(resp!.type).toBe('array');
      else expect(deref(o.doc, resp!.properties?.[t.listKey])?.type).toBe('array');
    }
  }
}

describe.skipIf(!docs)('the document checks can fail', () => {
  it('flags unknown names, wrong and incomplete enums, wrong types and missing required properties', () => {
    const o = operation({ method: 'POST', path: '/v2/orders' } as AnyToolSpec)!;
    const body = bodySchema(o)!;
    const errors: string[] = [];
    compare(
      o.doc,
      {
        type: 'object',
        properties: {
          bogus: { type: 'string' },
          order_type: { type: 'string', enum: ['ONLINE', 'WHOLESALE'] },
          order_title: { type: 'number' },
          order_items: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } } } },
        },
        required: ['contact_id', 'order_time', 'order_type'],
      },
      body,
      'create_order',
      errors,
    );
    expect(errors).toEqual([
      "create_order.bogus: not in Keap's document",
      "create_order.order_type: enum value WHOLESALE not Keap's",
      "create_order.order_type: misses Keap's OFFLINE",
      'create_order.order_title: type number vs Keap string',
      'create_order.order_items[]: Keap requires quantity',
      'create_order: Keap requires order_title',
    ]);
  });

  it('finds v1 and v2 operations and rejects unknown ones', () => {
    expect(operation({ method: 'GET', path: '/v1/hooks' } as AnyToolSpec)).toBeDefined();
    expect(operation({ method: 'GET', path: '/v2/contacts' } as AnyToolSpec)).toBeDefined();
    expect(operation({ method: 'PUT', path: '/v2/contacts' } as AnyToolSpec)).toBeUndefined();
    expect(operation({ method: 'GET', path: '/v2/pipelines' } as AnyToolSpec)).toBeUndefined();
  });

  it('takes digit-string ids for integer ids only with the id pattern', () => {
    const o = operation({ method: 'POST', path: '/v2/automations/goals/achieve' })!;
    const body = bodySchema(o)!;
    const errors: string[] = [];
    compare(o.doc, { type: 'string', pattern: DIGIT_ID_PATTERN }, body.properties.goal_id, 'goal_id', errors);
    expect(errors).toEqual([]);
    compare(o.doc, { type: 'string' }, body.properties.goal_id, 'goal_id', errors);
    expect(errors).toEqual(['goal_id: type string vs Keap integer']);
  });
});
