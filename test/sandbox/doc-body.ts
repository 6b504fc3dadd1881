/**
 * Request/response bodies as Keap's documents describe them, walked property by property, so tests can ask:
 * does a fixture carry every documented request-body property (at any depth)? which properties are date /
 * date-time / integer / enum? where are the objects a stray key could be slipped into? does a read echo a value?
 *
 * Paths: `a`, `a.b`, `a[].b` (abstract, from the document) and `a`, `a.b`, `a[0].b` (concrete, in a value).
 */
import { docPath, loadSpec } from './openapi-helper.js';

type AnyObj = Record<string, any>;
type Version = 'v1' | 'v2';

export interface DocProp {
  /** Abstract path (`email_addresses[].field`). */
  path: string;
  type?: string;
  format?: string;
  enum?: unknown[];
  /** The property is an object with documented properties (a place for a stray key). */
  object: boolean;
}

function resolve(doc: AnyObj, node: AnyObj | undefined): AnyObj | undefined {
  let n = node;
  for (let i = 0; i < 20 && n?.$ref; i++) {
    n = String(n.$ref)
      .replace(/^#\//, '')
      .split('/')
      .reduce<any>((acc, p) => acc?.[p.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
  }
  return n;
}

function merged(doc: AnyObj, node: AnyObj | undefined): AnyObj | undefined {
  const n = resolve(doc, node);
  if (!n?.allOf) return n;
  const out: AnyObj = { ...n, properties: { ...(n.properties ?? {}) } };
  delete out.allOf;
  for (const part of n.allOf) {
    const p = merged(doc, part);
    Object.assign(out.properties, p?.properties ?? {});
    if (p?.type && !out.type) out.type = p.type;
  }
  return out;
}

function walk(
  doc: AnyObj,
  node: AnyObj | undefined,
  prefix: string,
  out: DocProp[],
  skipReadOnly: boolean,
  depth: number,
): void {
  const s = merged(doc, node);
  if (!s || depth > 8) return;
  if (s.type === 'array') {
    walk(doc, s.items, `${prefix}[]`, out, skipReadOnly, depth + 1);
    return;
  }
  for (const [k, raw] of Object.entries<AnyObj>(s.properties ?? {})) {
    const p = merged(doc, raw);
    if (!p || (skipReadOnly && p.readOnly)) continue;
    const path = prefix === '' ? k : `${prefix}.${k}`;
    const items = p.type === 'array' ? merged(doc, p.items) : undefined;
    const isObj = !!p.properties && Object.keys(p.properties).length > 0;
    out.push({
      path,
      ...(p.type ? { type: p.type } : {}),
      ...(p.format ? { format: p.format } : {}),
      ...(p.enum ? { enum: p.enum } : {}),
      object: isObj,
    });
    if (items) {
      const itemObj = !!items.properties && Object.keys(items.properties).length > 0;
      out.push({
        path: `${path}[]`,
        ...(items.type ? { type: items.type } : {}),
        ...(items.format ? { format: items.format } : {}),
        ...(items.enum ? { enum: items.enum } : {}),
        object: itemObj,
      });
      if (itemObj) walk(doc, items, `${path}[]`, out, skipReadOnly, depth + 1);
    } else if (isObj) walk(doc, p, path, out, skipReadOnly, depth + 1);
  }
}

function operation(version: Version, method: string, template: string): AnyObj | undefined {
  const doc = loadSpec(version);
  return doc?.paths?.[docPath(version, template)]?.[method.toLowerCase()];
}

/** Every documented (non-readOnly) request-body property of the operation, recursively. */
export function requestProps(version: Version, method: string, template: string): DocProp[] {
  const doc = loadSpec(version);
  const op = operation(version, method, template);
  if (!doc || !op) return [];
  const rb = resolve(doc, op.requestBody);
  const content = rb?.content?.['application/json'] ?? rb?.content?.[Object.keys(rb?.content ?? {})[0] ?? ''];
  const out: DocProp[] = [];
  walk(doc, content?.schema, '', out, true, 0);
  return out;
}

/** Every documented property of a response body (status), recursively. */
export function responseProps(version: Version, method: string, template: string, status: number): DocProp[] {
  const doc = loadSpec(version);
  const op = operation(version, method, template);
  if (!doc || !op) return [];
  const resp = resolve(doc, op.responses?.[String(status)]);
  const content = resp?.content?.['application/json'] ?? resp?.content?.['*/*'];
  const out: DocProp[] = [];
  walk(doc, content?.schema, '', out, false, 0);
  return out;
}

/** Concrete leaf and object paths present in a JSON value, with their values. */
export function concretePaths(value: unknown, prefix = ''): { path: string; value: unknown }[] {
  const out: { path: string; value: unknown }[] = [];
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      const p = `${prefix}[${i}]`;
      out.push({ path: p, value: v });
      out.push(...concretePaths(v, p));
    });
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const p = prefix === '' ? k : `${prefix}.${k}`;
      out.push({ path: p, value: v });
      out.push(...concretePaths(v, p));
    }
  }
  return out;
}

/** `addresses[0].field` → `addresses[].field`. */
export function abstractPath(concrete: string): string {
  return concrete.replace(/\[\d+\]/g, '[]');
}

function tokens(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (m[2] !== undefined) out.push(Number(m[2]));
    else out.push(m[1] as string);
  }
  return out;
}

export function getAt(value: unknown, path: string): unknown {
  let cur: any = value;
  for (const t of tokens(path)) {
    if (cur === null || cur === undefined) return undefined;
    cur = cur[t];
  }
  return cur;
}

/** A deep copy of `value` with `path` set (the root when path is ''). */
export function setAt<T>(value: T, path: string, v: unknown): T {
  const copy: any = structuredClone(value);
  const ts = tokens(path);
  if (ts.length === 0) return v as T;
  let cur = copy;
  for (const t of ts.slice(0, -1)) cur = cur[t];
  cur[ts[ts.length - 1] as string | number] = v;
  return copy;
}

/** Documented request properties the fixture does not carry (abstract paths). */
export function missingProps(props: readonly DocProp[], fixture: unknown): string[] {
  const have = new Set(concretePaths(fixture).map((p) => abstractPath(p.path)));
  return props.map((p) => p.path).filter((p) => !have.has(p));
}
