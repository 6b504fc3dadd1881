/**
 * Spec + validated arguments → the exact Keap request. Path placeholders are filled (and encoded) by
 * src/keap/path.ts; GET/DELETE send every other key as query; POST/PATCH/PUT send keys listed in `spec.query`
 * and the operation's other documented query parameters as query, and the rest as the JSON body (none when
 * the operation takes no body). Arrays in the query are comma-joined (Keap's `explode: false`, also what its
 * descriptions ask for where `explode` is not stated).
 * A PATCH whose operation documents `update_mask` sends the top-level body keys as the mask unless the model
 * gave one, so Keap changes exactly the properties sent.
 * SAFETY_FIELDS never reach Keap.
 */
import { resolveFact } from '../facts/index.js';
import type { ParamFact } from '../facts/types.js';
import { planFor, routeOf } from '../inputs/plan.js';
import { fillPath, pathPlaceholders } from '../keap/path.js';
import type { KeapRequest, QueryValue } from '../keap/types.js';
import { SAFETY_FIELDS } from '../safety/types.js';
import { isRetrySafe } from './annotations.js';
import type { AnyToolSpec } from './define.js';

export interface BuiltRequest {
  readonly method: KeapRequest['method'];
  /** Filled path, e.g. '/v2/contacts/12'. */
  readonly path: string;
  readonly query: Record<string, string | number | boolean>;
  /** A JSON object, or the whole non-object body of an operation that takes one (spec.bodyArg). */
  readonly body: Record<string, unknown> | readonly unknown[] | undefined;
  readonly headers?: Record<string, string>;
}

function queryValue(v: unknown): string | number | boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v))
    return v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(',');
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  return JSON.stringify(v);
}

/** The properties of an object-valued query parameter documented as an object (form, exploded), else undefined. */
function objectParamFields(param: ParamFact | undefined, value: unknown): [string, unknown][] | undefined {
  if (!param || param.explode === false) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  if (resolveFact(param.schema).type !== 'object') return undefined;
  return Object.entries(value);
}

export function buildRequest(spec: AnyToolSpec, args: Readonly<Record<string, unknown>>): BuiltRequest {
  const placeholders = new Set(pathPlaceholders(spec.path));
  const path = fillPath(spec.path, args);
  const plan = planFor(spec, args);
  const safety = new Set<string>(SAFETY_FIELDS);
  const headerKeys = new Set(Object.values(spec.headers ?? {}).filter((k) => k in spec.input));
  const allQuery = spec.method === 'GET' || (spec.method === 'DELETE' && !plan.op?.body);
  const query: Record<string, string | number | boolean> = {};
  let body: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(args)) {
    if (value === undefined || safety.has(key) || headerKeys.has(key) || key === spec.bodyArg) continue;
    const route = routeOf(spec, plan, key, placeholders);
    if (route === 'path' || route === 'header') continue;
    if (route === 'query') {
      const fields = objectParamFields(plan.params.get(key), value);
      if (fields) {
        // An object query parameter (e.g. runReport's runReportRequest): OpenAPI's default style (form,
        // explode) sends each property as its own query parameter, never the object's JSON.
        for (const [k, v] of fields) {
          const q = queryValue(v);
          if (q !== undefined) query[k] = q;
        }
        continue;
      }
      const q = queryValue(value);
      if (q !== undefined) query[key] = q;
    } else {
      body ??= {};
      body[key] = value;
    }
  }
  if (plan.updateMask && body !== undefined && args.update_mask === undefined) {
    // Only names the mask documents (an enum mask leaves out properties that are not updatable by name).
    const allowed = resolveFact(plan.updateMask.schema).items;
    const names = allowed ? resolveFact(allowed).enum : undefined;
    const keys = Object.keys(body).filter((k) => names === undefined || names.includes(k));
    if (keys.length > 0) query.update_mask = keys.join(',');
  }
  // A write whose operation takes a body (or, without facts, whose inputs include body properties) always
  // sends a JSON body (`{}` when all were omitted: Keap requires one); a write without one (e.g.
  // POST /v1/hooks/{key}/verify) sends none.
  const hasBodyInputs = plan.op
    ? plan.op.body !== undefined
    : Object.keys(spec.input).some(
        (k) => !placeholders.has(k) && !(spec.query ?? []).includes(k) && !headerKeys.has(k),
      );
  if (!allQuery && body === undefined && hasBodyInputs) body = {};
  // `spec.headers` maps a header name to the input key that carries its value (or to a literal value).
  let headers: Record<string, string> | undefined;
  for (const [name, source] of Object.entries(spec.headers ?? {})) {
    const v = source in spec.input ? args[source] : source;
    if (v === undefined || v === null) continue;
    headers ??= {};
    headers[name] = String(v);
  }
  const whole = spec.bodyArg !== undefined ? args[spec.bodyArg] : undefined;
  return {
    method: spec.method,
    path,
    query,
    body: Array.isArray(whole) ? whole : body,
    ...(headers ? { headers } : {}),
  };
}

export function toKeapRequest(spec: AnyToolSpec, built: BuiltRequest, signal?: AbortSignal): KeapRequest {
  const query: Record<string, QueryValue> = built.query;
  return {
    method: built.method,
    path: built.path,
    ...(Object.keys(query).length > 0 ? { query } : {}),
    ...(built.body !== undefined ? { body: built.body } : {}),
    ...(built.headers ? { headers: built.headers } : {}),
    idempotent: isRetrySafe(spec),
    priority: spec.access === 'read' ? 'read' : 'write',
    ...(spec.download ? { download: true } : {}),
    ...(signal ? { signal } : {}),
  };
}
