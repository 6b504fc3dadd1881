/**
 * Generates src/facts/operations.json — FACTS about Keap's operations (paths, parameter and body names, types,
 * formats, enums, bounds, required-ness, documented filter/order_by/fields keys, list keys, paging style) — from
 * Keap's OpenAPI documents. Never Keap's prose: descriptions, summaries, titles, examples and x-* extensions are
 * not emitted.
 *
 * Which operations:
 *   - every operation of the v2 document (paths `/rest/v2/...`, stored as `/v2/...`);
 *   - every v1 operation that v2 lacks. Rule: normalise both paths (strip `/rest`, strip the `/v1`|`/v2` prefix,
 *     replace every `{...}` by `{}`, lowercase); a v1 operation is kept when no v2 operation has the same method
 *     and normalised path.
 *
 * With it, src/facts/routes.json: the route → operationId index of the same facts (what the server needs at start,
 * for tools/list's `_meta` and the policy's operationId entries, without parsing operations.json).
 *
 *   node dist/src/facts/generate.js --write   rewrites src/facts/operations.json and routes.json (npm run facts)
 *   node dist/src/facts/generate.js --check   exits 1 when a committed file differs from a fresh generation
 * The documents are read from KEAP_OPENAPI_DIR (default: ../shared/keap-openapi from the project root).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FactMethod, FactType, FieldFact, OperationFact, OperationFacts, ParamFact } from './types.js';

type Json = { readonly [key: string]: unknown };
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const METHODS: readonly FactMethod[] = ['GET', 'POST', 'PATCH', 'PUT', 'DELETE'];
const FACT_TYPES: readonly FactType[] = ['string', 'integer', 'number', 'boolean', 'object', 'array'];
/** Response properties that carry paging state next to a list's array. */
const PAGING_PROPS = new Set(['next_page_token', 'page_token', 'count', 'next', 'previous', 'sync_token']);
/** Longest string a fact may hold (names, enum values, patterns); longer text would be prose. */
export const MAX_FACT_STRING = 200;

// ---------------------------------------------------------------------------------------------------------------
// Known defects of Keap's documents, corrected here and only here. Each entry names the property (and, when it is
// not every schema that has it, the component schemas), what is done, and why. Generation fails when an entry no
// longer applies to anything, so the table cannot silently rot when Keap fixes the document. Only schemas reachable
// from parameters and request bodies are emitted, so response-only defects (e.g. TransactionV2.transaction_method,
// whose example 'ONLINE' is outside its enum) need no entry.
// ---------------------------------------------------------------------------------------------------------------
type Fix = 'enum-to-declared-type' | 'format-from-example';
interface Correction {
  readonly property: string;
  /** Component schema names; absent = every schema (component or inline) with the property. */
  readonly schemas?: readonly string[];
  readonly fix: Fix;
}
export const CORRECTIONS: readonly Correction[] = [
  // `type: integer` with the string enum '5'…'2880' (Task schemas): no value can satisfy it → numeric enum.
  { property: 'remind_time_mins', fix: 'enum-to-declared-type' },
  // Plain strings whose examples are YYYY-MM-DD dates (contact/company birth and anniversary dates) → format date.
  { property: 'birth_date', fix: 'format-from-example' },
  { property: 'anniversary_date', fix: 'format-from-example' },
  // Plain strings whose examples are ISO-8601 date-times (task and opportunity times) → format date-time.
  { property: 'due_time', fix: 'format-from-example' },
  { property: 'completion_time', fix: 'format-from-example' },
  { property: 'estimated_close_time', fix: 'format-from-example' },
  { property: 'next_action_time', fix: 'format-from-example' },
];

const DATE_EXAMPLE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME_EXAMPLE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/** Applies a correction to the raw document node of a property; returns the corrected node or undefined. */
function applyFix(fix: Fix, raw: Json): Json | undefined {
  switch (fix) {
    case 'enum-to-declared-type': {
      const values = Array.isArray(raw.enum) ? raw.enum : undefined;
      if (!values || (raw.type !== 'integer' && raw.type !== 'number')) return undefined;
      if (values.every((v) => typeof v === 'number')) return undefined;
      const numeric = values.every((v) => typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v));
      if (!numeric) {
        const { enum: _dropped, ...rest } = raw;
        return rest;
      }
      return { ...raw, enum: values.map((v) => Number(v)) };
    }
    case 'format-from-example': {
      if (raw.type !== 'string' || raw.format !== undefined || typeof raw.example !== 'string')
        return undefined;
      if (DATE_EXAMPLE.test(raw.example)) return { ...raw, format: 'date' };
      if (DATE_TIME_EXAMPLE.test(raw.example)) return { ...raw, format: 'date-time' };
      return undefined;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Small JSON helpers
// ---------------------------------------------------------------------------------------------------------------
function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function obj(v: unknown): Json | undefined {
  return isObj(v) ? v : undefined;
}
function arr(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : [];
}
function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
function pointer(doc: Json, ref: string): unknown {
  if (!ref.startsWith('#/')) throw new Error(`unsupported $ref ${ref}`);
  let cur: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    cur = obj(cur)?.[key];
  }
  if (cur === undefined) throw new Error(`unresolved $ref ${ref}`);
  return cur;
}
/** Follows `$ref`s (parameters, request bodies, responses) until a non-reference node. */
function deref(doc: Json, v: unknown): Json | undefined {
  let cur = obj(v);
  for (let i = 0; cur && typeof cur.$ref === 'string' && i < 32; i++) cur = obj(pointer(doc, cur.$ref));
  return cur;
}

const SCHEMA_REF = '#/components/schemas/';

// ---------------------------------------------------------------------------------------------------------------
// Schema conversion
// ---------------------------------------------------------------------------------------------------------------
interface Ctx {
  readonly doc: Json;
  readonly version: 'v1' | 'v2';
  /** Keap component name → our schema name (v1 names that clash with v2 names get a `V1` suffix). */
  readonly names: ReadonlyMap<string, string>;
  readonly schemas: Map<string, FieldFact>;
  /** Component names waiting to be converted (converted once, after the operations). */
  readonly pending: { version: 'v1' | 'v2'; component: string }[];
  readonly applied: Map<Correction, number>;
}

function schemaName(ctx: Ctx, component: string): string {
  const name = ctx.names.get(component);
  if (!name) throw new Error(`${ctx.version}: unknown component schema ${component}`);
  return name;
}

function refFact(ctx: Ctx, ref: string): FieldFact {
  const component = ref.slice(SCHEMA_REF.length);
  const name = schemaName(ctx, component);
  if (
    !ctx.schemas.has(name) &&
    !ctx.pending.some((p) => p.version === ctx.version && p.component === component)
  ) {
    ctx.pending.push({ version: ctx.version, component });
  }
  return { ref: name };
}

function correctedProperty(ctx: Ctx, component: string | undefined, property: string, raw: Json): Json {
  let node = raw;
  for (const c of CORRECTIONS) {
    if (c.property !== property) continue;
    if (c.schemas && (component === undefined || !c.schemas.includes(component))) continue;
    const fixed = applyFix(c.fix, node);
    if (fixed) {
      node = fixed;
      ctx.applied.set(c, (ctx.applied.get(c) ?? 0) + 1);
    }
  }
  return node;
}

function factType(t: unknown): { type?: FactType; nullable?: boolean } {
  if (typeof t === 'string') {
    if (t === 'null') return { nullable: true };
    return (FACT_TYPES as readonly string[]).includes(t) ? { type: t as FactType } : { type: 'any' };
  }
  if (Array.isArray(t)) {
    const nonNull = t.filter((x) => x !== 'null');
    const nullable = nonNull.length < t.length ? true : undefined;
    if (nonNull.length === 1) return { ...factType(nonNull[0]), ...(nullable ? { nullable } : {}) };
    return { type: 'any', ...(nullable ? { nullable } : {}) };
  }
  return {};
}

function inferType(s: Json): FactType | undefined {
  if (isObj(s.properties) || s.additionalProperties !== undefined) return 'object';
  if (s.items !== undefined) return 'array';
  const values = arr(s.enum);
  if (values.length > 0) {
    if (values.every((v) => typeof v === 'string')) return 'string';
    if (values.every((v) => Number.isInteger(v))) return 'integer';
    if (values.every((v) => typeof v === 'number')) return 'number';
    if (values.every((v) => typeof v === 'boolean')) return 'boolean';
  }
  return undefined;
}

/** Converts a document schema node to a FieldFact. `component` names the enclosing component, if any. */
function convert(ctx: Ctx, node: unknown, component: string | undefined): FieldFact {
  const s = obj(node);
  if (!s) return { type: 'any' };
  if (typeof s.$ref === 'string') {
    if (s.$ref.startsWith(SCHEMA_REF)) return refFact(ctx, s.$ref);
    return convert(ctx, pointer(ctx.doc, s.$ref), component);
  }
  if (Array.isArray(s.allOf)) {
    const merged = mergeAllOf(ctx, s);
    return convert(ctx, merged, component);
  }
  const out: Mutable<FieldFact> = {};
  const alternatives = [...arr(s.oneOf), ...arr(s.anyOf)];
  const t = factType(s.type);
  const type = t.type ?? inferType(s) ?? (alternatives.length > 0 ? undefined : 'any');
  if (type) out.type = type;
  if (typeof s.format === 'string') out.format = s.format;
  if (Array.isArray(s.enum)) {
    const values = s.enum.filter(
      (v): v is string | number | boolean =>
        typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean',
    );
    if (s.enum.includes(null)) out.nullable = true;
    out.enum = values;
  }
  const minimum = num(s.minimum);
  const maximum = num(s.maximum);
  // OpenAPI 3.0: boolean exclusiveMinimum/exclusiveMaximum modify minimum/maximum; 3.1: they are numbers.
  if (s.exclusiveMinimum === true && minimum !== undefined) out.exclusiveMinimum = minimum;
  else if (minimum !== undefined) out.minimum = minimum;
  if (s.exclusiveMaximum === true && maximum !== undefined) out.exclusiveMaximum = maximum;
  else if (maximum !== undefined) out.maximum = maximum;
  const exMin = num(s.exclusiveMinimum);
  const exMax = num(s.exclusiveMaximum);
  if (exMin !== undefined) out.exclusiveMinimum = exMin;
  if (exMax !== undefined) out.exclusiveMaximum = exMax;
  const minLength = num(s.minLength);
  const maxLength = num(s.maxLength);
  if (minLength !== undefined) out.minLength = minLength;
  if (maxLength !== undefined) out.maxLength = maxLength;
  if (typeof s.pattern === 'string') out.pattern = s.pattern;
  const minItems = num(s.minItems);
  const maxItems = num(s.maxItems);
  if (minItems !== undefined) out.minItems = minItems;
  if (maxItems !== undefined) out.maxItems = maxItems;
  if (s.uniqueItems === true) out.uniqueItems = true;
  if (t.nullable || s.nullable === true) out.nullable = true;
  if (s.readOnly === true) out.readOnly = true;
  if (s.deprecated === true) out.deprecated = true;
  if (s.items !== undefined) out.items = convert(ctx, s.items, component);
  const props = obj(s.properties);
  if (props) {
    const properties: Record<string, FieldFact> = {};
    for (const [name, raw] of Object.entries(props)) {
      const p = obj(raw);
      properties[name] = convert(ctx, p ? correctedProperty(ctx, component, name, p) : raw, component);
    }
    out.properties = properties;
  }
  const required = arr(s.required).filter((r): r is string => typeof r === 'string');
  if (required.length > 0) out.required = required;
  if (s.additionalProperties === true) out.additionalProperties = true;
  else if (isObj(s.additionalProperties)) {
    out.additionalProperties =
      Object.keys(s.additionalProperties).length === 0
        ? true
        : convert(ctx, s.additionalProperties, component);
  }
  if (alternatives.length > 0) out.oneOf = alternatives.map((a) => convert(ctx, a, component));
  return out;
}

/** allOf → one object schema: properties and required of every part (and of the node itself) merged. */
function mergeAllOf(ctx: Ctx, s: Json): Json {
  const properties: Record<string, unknown> = {};
  const required: unknown[] = [];
  const { allOf, ...rest } = s;
  for (const part of [...arr(allOf), rest]) {
    let p = obj(part);
    for (let i = 0; p && typeof p.$ref === 'string' && i < 32; i++) p = obj(pointer(ctx.doc, p.$ref));
    if (!p) continue;
    const flat = Array.isArray(p.allOf) ? mergeAllOf(ctx, p) : p;
    Object.assign(properties, obj(flat.properties) ?? {});
    required.push(...arr(flat.required));
  }
  return {
    ...rest,
    type: 'object',
    properties,
    ...(required.length > 0 ? { required: [...new Set(required)] } : {}),
  };
}

/**
 * Fails generation on facts no value could satisfy (an enum value of another type than the declared one: add a
 * CORRECTIONS entry) and on strings too long to be names (prose must never reach the facts).
 */
function checkField(f: FieldFact, at: string): void {
  const ok: Record<string, (v: unknown) => boolean> = {
    string: (v) => typeof v === 'string',
    integer: (v) => Number.isInteger(v),
    number: (v) => typeof v === 'number',
    boolean: (v) => typeof v === 'boolean',
  };
  const check = f.type ? ok[f.type] : undefined;
  for (const v of f.enum ?? []) {
    if (check && !check(v)) throw new Error(`${at}: enum value ${JSON.stringify(v)} is not a ${f.type}`);
    if (typeof v === 'string' && v.length > MAX_FACT_STRING) throw new Error(`${at}: enum value too long`);
  }
  if (f.pattern !== undefined && f.pattern.length > MAX_FACT_STRING)
    throw new Error(`${at}: pattern too long`);
  if (f.items) checkField(f.items, `${at}[]`);
  for (const [name, p] of Object.entries(f.properties ?? {})) {
    if (name.length > MAX_FACT_STRING) throw new Error(`${at}: property name too long`);
    checkField(p, `${at}.${name}`);
  }
  if (typeof f.additionalProperties === 'object') checkField(f.additionalProperties, `${at}{}`);
  for (const [i, alt] of (f.oneOf ?? []).entries()) checkField(alt, `${at}|${i}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Parameter text parsing (names only; the text itself is never emitted)
// ---------------------------------------------------------------------------------------------------------------
const IDENT = '[A-Za-z_][A-Za-z0-9_]*';
const FILTER_BULLETS: readonly RegExp[] = [
  // - (String) `email` — …      - (Set[String]) `ids`      - (String)   `id`     — …
  new RegExp(`^\\s*-\\s*\\([^)]*\\)\\s*\`(${IDENT})\``),
  // - `name` (String): …   (automations)
  new RegExp(`^\\s*-\\s*\`(${IDENT})\`\\s*\\(`),
  // - (String) contact_id   (emails: no backticks, nothing after the name)
  new RegExp(`^\\s*-\\s*\\([^)]*\\)\\s*(${IDENT})\\s*$`),
];

/** Field names the `filter` parameter's text lists as bullets ("- (String) `email` — …"). */
export function parseFilterKeys(text: string): string[] {
  const keys: string[] = [];
  for (const line of text.split('\n')) {
    for (const re of FILTER_BULLETS) {
      const m = re.exec(line);
      if (m?.[1] && !keys.includes(m[1])) {
        keys.push(m[1]);
        break;
      }
    }
  }
  return keys;
}

/** Field names the `order_by` parameter's text lists between "…fields…" and "…directions…". */
export function parseOrderByFields(text: string): string[] {
  const start = /(one of the following fields|supported fields|allowed fields)/i.exec(text);
  if (!start) return [];
  const rest = text.slice(start.index + start[0].length);
  const end = /direction/i.exec(rest);
  const section = end ? rest.slice(0, end.index) : rest;
  const keys: string[] = [];
  for (const m of section.matchAll(new RegExp(`\`(${IDENT})\``, 'g'))) {
    if (m[1] && !keys.includes(m[1])) keys.push(m[1]);
  }
  return keys;
}

/** Values the `fields` parameter's text lists: "(Available fields are: a,b,c)", "Allowed values: a,b". */
export function parseFieldsValues(text: string): string[] {
  const values: string[] = [];
  const re =
    /(?:available fields are|allowed(?: legacy)?(?: optional)? values)\s*:\s*([^)]*?)(?:\)|\.(?:\s|$)|$)/gi;
  for (const m of text.matchAll(re)) {
    for (const raw of (m[1] ?? '').split(',')) {
      const v = raw.replace(/`/g, '').trim();
      if (new RegExp(`^${IDENT}$`).test(v) && !values.includes(v)) values.push(v);
    }
  }
  return values;
}

// ---------------------------------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------------------------------
/** '/rest/v2/contacts/{contact_id}' → '/contacts/{}'; '/v1/contacts/{contactId}' → '/contacts/{}'. */
export function normalisePath(path: string): string {
  return path
    .replace(/^\/rest(?=\/)/, '')
    .replace(/^\/v[12](?=\/|$)/, '')
    .replace(/\{[^}]*\}/g, '{}')
    .toLowerCase();
}

function catalogPath(version: 'v1' | 'v2', docPath: string): string {
  return version === 'v2' ? docPath.replace(/^\/rest(?=\/v2\/)/, '') : docPath;
}

function camel(parts: readonly string[]): string {
  return parts
    .flatMap((p) => p.split(/[^A-Za-z0-9]+/))
    .filter((p) => p.length > 0)
    .map((p, i) => (i === 0 ? p.toLowerCase() : p[0]?.toUpperCase() + p.slice(1)))
    .join('');
}

interface RawOp {
  readonly version: 'v1' | 'v2';
  readonly doc: Json;
  readonly method: FactMethod;
  readonly docPath: string;
  readonly item: Json;
  readonly op: Json;
}

function rawOperations(version: 'v1' | 'v2', doc: Json): RawOp[] {
  const out: RawOp[] = [];
  for (const [docPath, itemRaw] of Object.entries(obj(doc.paths) ?? {})) {
    const item = obj(itemRaw);
    if (!item) continue;
    for (const method of METHODS) {
      const op = obj(item[method.toLowerCase()]);
      if (op) out.push({ version, doc, method, docPath, item, op });
    }
  }
  return out;
}

function parameters(ctx: Ctx, raw: RawOp): ParamFact[] {
  const merged = new Map<string, Json>();
  for (const p of [...arr(raw.item.parameters), ...arr(raw.op.parameters)]) {
    const d = deref(raw.doc, p);
    if (!d || typeof d.name !== 'string' || typeof d.in !== 'string') continue;
    merged.set(`${d.in} ${d.name}`, d);
  }
  const out: ParamFact[] = [];
  for (const d of merged.values()) {
    const where = d.in;
    if (where !== 'path' && where !== 'query' && where !== 'header') continue;
    const name = String(d.name);
    if (where === 'header' && /^(authorization|x-keap-api-key)$/i.test(name)) continue;
    const schema = convert(ctx, d.schema ?? {}, undefined);
    const fact: Mutable<ParamFact> = {
      name,
      in: where,
      required: d.required === true || where === 'path',
      schema: d.deprecated === true && !schema.ref ? { ...schema, deprecated: true } : schema,
    };
    if (typeof d.explode === 'boolean') fact.explode = d.explode;
    out.push(fact);
  }
  return out;
}

function paramText(raw: RawOp, name: string): string | undefined {
  for (const p of [...arr(raw.item.parameters), ...arr(raw.op.parameters)]) {
    const d = deref(raw.doc, p);
    if (d?.name === name && d.in === 'query' && typeof d.description === 'string') return d.description;
  }
  return undefined;
}

function requestBody(ctx: Ctx, raw: RawOp): OperationFact['body'] {
  const rb = deref(raw.doc, raw.op.requestBody);
  const content = obj(rb?.content);
  if (!rb || !content) return undefined;
  const types = Object.keys(content);
  const contentType =
    types.find((t) => t === 'application/json') ?? types.find((t) => t === 'multipart/form-data') ?? types[0];
  if (contentType === undefined) return undefined;
  const media = obj(content[contentType]);
  return {
    contentType,
    required: rb.required === true,
    schema: convert(ctx, media?.schema ?? {}, undefined),
  };
}

/**
 * The array property holding a GET's items ('' when the body itself is an array), if it is a list: the response
 * object's only array property, when its other properties are paging state (next_page_token, count, …) or the
 * operation pages (then totals such as automation_count may sit next to it). Two arrays: ambiguous, no key.
 */
function listKey(raw: RawOp, paged: boolean): string | undefined {
  if (raw.method !== 'GET') return undefined;
  const responses = obj(raw.op.responses) ?? {};
  for (const code of Object.keys(responses).sort()) {
    if (!code.startsWith('2')) continue;
    const media = obj(obj(deref(raw.doc, responses[code])?.content)?.['application/json']);
    let schema = deref(raw.doc, media?.schema);
    if (!schema) continue;
    if (Array.isArray(schema.allOf)) schema = mergeAllOfRaw(raw.doc, schema);
    if (schema.type === 'array') return '';
    const props = Object.entries(obj(schema.properties) ?? {});
    const arrays = props.filter(([, v]) => deref(raw.doc, v)?.type === 'array').map(([k]) => k);
    const others = props.filter(([k]) => !arrays.includes(k)).map(([k]) => k);
    if (arrays.length === 1 && (paged || others.every((k) => PAGING_PROPS.has(k)))) return arrays[0];
    return undefined;
  }
  return undefined;
}

function mergeAllOfRaw(doc: Json, s: Json): Json {
  const properties: Record<string, unknown> = {};
  for (const part of arr(s.allOf)) Object.assign(properties, obj(deref(doc, part)?.properties) ?? {});
  return { type: 'object', properties };
}

function operationFact(ctx: Ctx, raw: RawOp, operationId: string): OperationFact {
  const params = parameters(ctx, raw);
  const fact: Mutable<OperationFact> = {
    operationId,
    version: raw.version,
    method: raw.method,
    path: catalogPath(raw.version, raw.docPath),
    params,
    paging: params.some((p) => p.in === 'query' && p.name === 'page_token')
      ? 'token'
      : params.some((p) => p.in === 'query' && (p.name === 'offset' || p.name === 'limit'))
        ? 'offset'
        : 'none',
  };
  const tag = arr(raw.op.tags)[0];
  if (typeof tag === 'string') fact.tag = tag;
  if (raw.op.deprecated === true) fact.deprecated = true;
  const body = requestBody(ctx, raw);
  if (body) fact.body = body;
  // Absent (not []) when the text names no keys: unknown, not "none allowed".
  const filterKeys = parseFilterKeys(paramText(raw, 'filter') ?? '');
  if (filterKeys.length > 0) fact.filterKeys = filterKeys;
  const orderByFields = parseOrderByFields(paramText(raw, 'order_by') ?? '');
  if (orderByFields.length > 0) fact.orderByFields = orderByFields;
  const fieldsValues = parseFieldsValues(paramText(raw, 'fields') ?? '');
  if (fieldsValues.length > 0) fact.fieldsValues = fieldsValues;
  const key = listKey(raw, fact.paging !== 'none');
  if (key !== undefined) fact.listKey = key;
  return fact;
}

/**
 * The facts of every v2 operation and of every v1 operation v2 lacks. Pure: no clock, no environment, no files.
 * `sources` is recorded as given (e.g. the documents' versions and hashes).
 */
export function generateFacts(
  v2Doc: unknown,
  v1Doc: unknown,
  sources: Readonly<Record<string, string>>,
): OperationFacts {
  const v2 = obj(v2Doc);
  const v1 = obj(v1Doc);
  if (!v2 || !obj(v2.paths)) throw new Error('the v2 document has no paths');
  if (!v1 || !obj(v1.paths)) throw new Error('the v1 document has no paths');

  const v2Components = Object.keys(obj(obj(v2.components)?.schemas) ?? {});
  const v1Components = Object.keys(obj(obj(v1.components)?.schemas) ?? {});
  const v2Names = new Map(v2Components.map((c) => [c, c]));
  const taken = new Set(v2Components);
  const v1Names = new Map<string, string>();
  for (const c of v1Components) {
    let name = c;
    while (taken.has(name)) name = `${name}V1`;
    taken.add(name);
    v1Names.set(c, name);
  }

  const schemas = new Map<string, FieldFact>();
  const pending: Ctx['pending'] = [];
  const applied = new Map<Correction, number>();
  const ctxs = {
    v2: { doc: v2, version: 'v2', names: v2Names, schemas, pending, applied } satisfies Ctx,
    v1: { doc: v1, version: 'v1', names: v1Names, schemas, pending, applied } satisfies Ctx,
  } as const;

  const v2Ops = rawOperations('v2', v2);
  const v2Keys = new Set(v2Ops.map((o) => `${o.method} ${normalisePath(o.docPath)}`));
  const v1Ops = rawOperations('v1', v1).filter((o) => !v2Keys.has(`${o.method} ${normalisePath(o.docPath)}`));

  const ids = new Set<string>();
  const operations: OperationFact[] = [];
  for (const raw of [...v2Ops, ...v1Ops]) {
    let id =
      typeof raw.op.operationId === 'string' && raw.op.operationId.length > 0
        ? raw.op.operationId
        : camel([raw.method, catalogPath(raw.version, raw.docPath)]);
    if (ids.has(id) && raw.version === 'v1') id = `${id}V1`;
    if (ids.has(id)) throw new Error(`duplicate operationId ${id} (${raw.method} ${raw.docPath})`);
    ids.add(id);
    operations.push(operationFact(ctxs[raw.version], raw, id));
  }

  // Convert the referenced component schemas (and those they reference), each once.
  for (let next = pending.shift(); next; next = pending.shift()) {
    const ctx = ctxs[next.version];
    const name = schemaName(ctx, next.component);
    if (schemas.has(name)) continue;
    schemas.set(name, { type: 'any' }); // placeholder: breaks reference cycles
    const raw = obj(obj(obj(ctx.doc.components)?.schemas)?.[next.component]);
    schemas.set(name, convert(ctx, raw, next.component));
  }

  for (const c of CORRECTIONS) {
    if (!applied.get(c)) {
      throw new Error(`correction for ${c.property} (${c.fix}) no longer applies: review CORRECTIONS`);
    }
  }

  for (const op of operations) {
    const at = `${op.method} ${op.path}`;
    for (const p of op.params) checkField(p.schema, `${at} ${p.in} ${p.name}`);
    if (op.body) checkField(op.body.schema, `${at} body`);
  }
  for (const [name, schema] of schemas) checkField(schema, `schema ${name}`);

  const order = (o: OperationFact): string =>
    `${o.version === 'v2' ? 0 : 1} ${o.path} ${METHODS.indexOf(o.method)}`;
  operations.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));

  const sortedSchemas: Record<string, FieldFact> = {};
  for (const name of [...schemas.keys()].sort()) {
    const s = schemas.get(name);
    if (s) sortedSchemas[name] = s;
  }
  const sortedSources: Record<string, string> = {};
  for (const k of Object.keys(sources).sort()) {
    const v = sources[k];
    if (v !== undefined) sortedSources[k] = v;
  }
  return { source: sortedSources, operations, schemas: sortedSchemas };
}

// ---------------------------------------------------------------------------------------------------------------
// Serialisation: one operation / one schema per line, keys in a fixed order. Deterministic.
// ---------------------------------------------------------------------------------------------------------------
const KEY_ORDER: readonly string[] = [
  'operationId',
  'version',
  'method',
  'path',
  'tag',
  'deprecated',
  'paging',
  'listKey',
  'filterKeys',
  'orderByFields',
  'fieldsValues',
  'params',
  'body',
  'contentType',
  'name',
  'in',
  'explode',
  'ref',
  'type',
  'format',
  'enum',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'uniqueItems',
  'nullable',
  'readOnly',
  'items',
  'properties',
  'required',
  'additionalProperties',
  'oneOf',
  'schema',
];
/** Maps whose keys are names (kept in their given order), not FieldFact/OperationFact keywords. */
const NAME_MAPS = new Set(['properties']);

function canonical(value: unknown, mapOfNames = false): unknown {
  if (Array.isArray(value)) return value.map((v) => canonical(v));
  if (!isObj(value)) return value;
  const out: Record<string, unknown> = {};
  if (mapOfNames) {
    for (const [k, v] of Object.entries(value)) out[k] = canonical(v);
    return out;
  }
  const rank = (k: string): number => {
    const i = KEY_ORDER.indexOf(k);
    return i < 0 ? KEY_ORDER.length : i;
  };
  const keys = Object.keys(value).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  for (const k of keys) {
    const v = value[k];
    if (v !== undefined) out[k] = canonical(v, NAME_MAPS.has(k));
  }
  return out;
}

/** The committed file's text: stable key order, one operation and one schema per line. */
export function serializeFacts(facts: OperationFacts): string {
  const lines: string[] = ['{'];
  lines.push(`"source":${JSON.stringify(canonical(facts.source, true))},`);
  lines.push('"operations":[');
  facts.operations.forEach((o, i) => {
    lines.push(`${JSON.stringify(canonical(o))}${i < facts.operations.length - 1 ? ',' : ''}`);
  });
  lines.push('],');
  lines.push('"schemas":{');
  const names = Object.keys(facts.schemas);
  names.forEach((name, i) => {
    lines.push(
      `${JSON.stringify(name)}:${JSON.stringify(canonical(facts.schemas[name]))}${i < names.length - 1 ? ',' : ''}`,
    );
  });
  lines.push('}');
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/**
 * The committed route index (src/facts/routes.json): "METHOD /path" → operationId for every operation of the
 * facts, one per line, in the facts' order — the same lookup as findOperation() in src/facts/index.ts.
 */
export function serializeRouteIndex(facts: OperationFacts): string {
  const byRoute = new Map<string, string>();
  for (const o of facts.operations) byRoute.set(`${o.method.toUpperCase()} ${o.path}`, o.operationId);
  const entries = [...byRoute].map(([route, id]) => `${JSON.stringify(route)}:${JSON.stringify(id)}`);
  return `{\n${entries.join(',\n')}\n}\n`;
}

// ---------------------------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------------------------
/** The project root (works from src/facts and from dist/src/facts). */
function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'keap-mcp') return dir;
    } catch {
      // not here; go up
    }
    dir = dirname(dir);
  }
  throw new Error('keap-mcp project root not found');
}

/** Reads the documents and returns them with their `sources` record (info.version and SHA-256 per file). */
export function readDocuments(dir: string): { v2: unknown; v1: unknown; sources: Record<string, string> } {
  const sources: Record<string, string> = {};
  const load = (file: string): unknown => {
    const text = readFileSync(join(dir, file), 'utf8');
    const doc: unknown = JSON.parse(text);
    const version = obj(obj(doc)?.info)?.version;
    sources[file] =
      `${typeof version === 'string' ? version : '?'} sha256:${createHash('sha256').update(text).digest('hex')}`;
    return doc;
  };
  return { v2: load('v2.json'), v1: load('v1.json'), sources };
}

export function openApiDir(root: string = projectRoot()): string {
  return process.env.KEAP_OPENAPI_DIR ?? resolve(root, '../shared/keap-openapi');
}

export function factsFile(root: string = projectRoot()): string {
  return join(root, 'src', 'facts', 'operations.json');
}

export function routesFile(root: string = projectRoot()): string {
  return join(root, 'src', 'facts', 'routes.json');
}

function summary(facts: OperationFacts, text: string): string {
  const v2 = facts.operations.filter((o) => o.version === 'v2').length;
  const v1 = facts.operations.length - v2;
  const withParam = (name: string): OperationFact[] =>
    facts.operations.filter((o) => o.params.some((p) => p.in === 'query' && p.name === name));
  const missing = (ops: OperationFact[], has: (o: OperationFact) => boolean): string =>
    ops
      .filter((o) => !has(o))
      .map((o) => o.operationId)
      .join(', ') || 'none';
  const filters = withParam('filter');
  const orderBys = withParam('order_by');
  const fields = withParam('fields');
  return [
    `operations: ${v2} v2 + ${v1} v1-only; schemas: ${Object.keys(facts.schemas).length}; ${Buffer.byteLength(text)} bytes`,
    `filter params: ${filters.length}, keys found for all but: ${missing(filters, (o) => o.filterKeys !== undefined)}`,
    `order_by params: ${orderBys.length}, fields found for all but: ${missing(orderBys, (o) => o.orderByFields !== undefined)}`,
    `fields params: ${fields.length}, values found for all but: ${missing(fields, (o) => o.fieldsValues !== undefined)}`,
  ].join('\n');
}

function main(argv: readonly string[]): number {
  const root = projectRoot();
  const dir = openApiDir(root);
  const file = factsFile(root);
  if (!existsSync(join(dir, 'v2.json')) || !existsSync(join(dir, 'v1.json'))) {
    const msg = `Keap OpenAPI documents not found in ${dir} (set KEAP_OPENAPI_DIR)`;
    if (argv.includes('--check') && !process.env.KEAP_OPENAPI_REQUIRED) {
      process.stderr.write(`NOTE: ${msg}; operation facts drift check skipped.\n`);
      return 0;
    }
    process.stderr.write(`${msg}\n`);
    return 1;
  }
  const { v2, v1, sources } = readDocuments(dir);
  const facts = generateFacts(v2, v1, sources);
  const outputs = [
    { name: 'src/facts/operations.json', file, text: serializeFacts(facts) },
    { name: 'src/facts/routes.json', file: routesFile(root), text: serializeRouteIndex(facts) },
  ].map((o) => ({ ...o, current: existsSync(o.file) ? readFileSync(o.file, 'utf8') : '' }));
  if (argv.includes('--write')) {
    const [ops] = outputs;
    if (ops) process.stderr.write(`${summary(JSON.parse(ops.text) as OperationFacts, ops.text)}\n`);
    for (const o of outputs) {
      if (o.text !== o.current) writeFileSync(o.file, o.text);
      process.stderr.write(`${o.name} ${o.text !== o.current ? 'updated' : 'unchanged'}\n`);
    }
    return 0;
  }
  if (argv.includes('--check')) {
    const drifted = outputs.filter((o) => o.text !== o.current);
    for (const o of drifted) {
      process.stderr.write(
        `${o.name} differs from a fresh generation from ${dir}: run \`npm run facts\` and commit the result\n`,
      );
    }
    if (drifted.length > 0) return 1;
    process.stderr.write('src/facts/operations.json and src/facts/routes.json are up to date\n');
    return 0;
  }
  process.stderr.write('usage: node dist/src/facts/generate.js --write | --check\n');
  return 2;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`operation facts: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
