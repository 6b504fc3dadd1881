/**
 * A tool's input plan, computed once per tool from Keap's operation facts: which top-level names the operation
 * documents (path/query parameters, writable body properties), where each is sent, which body properties are
 * required, whether the operation takes `update_mask`, and its filter keys. Tools whose template has enum path
 * parameters (`/v2/{model}/model`) are looked up at the filled path (cached per path).
 */
import { findOperation, operationIdAt, resolveFact } from '../facts/index.js';
import type { FieldFact, OperationFact, ParamFact } from '../facts/types.js';
import { pathPlaceholders } from '../keap/path.js';
import type { AnyToolSpec } from '../registry/define.js';

export type Route = 'path' | 'query' | 'header' | 'body';

export interface ToolPlan {
  readonly op: OperationFact | undefined;
  /** Path and query parameters by name. */
  readonly params: ReadonlyMap<string, ParamFact>;
  /** Writable body properties by name. */
  readonly body: ReadonlyMap<string, FieldFact>;
  /** Body properties Keap documents as read-only (named in errors). */
  readonly readOnly: ReadonlySet<string>;
  /** The body accepts any other property (map-like body). */
  readonly bodyOpen: boolean;
  readonly requiredBody: readonly string[];
  readonly requiredQuery: readonly string[];
  /** The operation's update_mask parameter (PATCH operations that document one). */
  readonly updateMask: ParamFact | undefined;
  readonly filterKeys: ReadonlySet<string>;
  /** Every top-level name the operation documents as input (document order: params, then body). */
  readonly documented: readonly string[];
}

const EMPTY_PLAN: ToolPlan = {
  op: undefined,
  params: new Map(),
  body: new Map(),
  readOnly: new Set(),
  bodyOpen: false,
  requiredBody: [],
  requiredQuery: [],
  updateMask: undefined,
  filterKeys: new Set(),
  documented: [],
};

function planOf(op: OperationFact): ToolPlan {
  const params = new Map<string, ParamFact>();
  for (const p of op.params) if (p.in === 'path' || p.in === 'query') params.set(p.name, p);
  const body = new Map<string, FieldFact>();
  const readOnly = new Set<string>();
  let bodyOpen = false;
  let requiredBody: readonly string[] = [];
  if (op.body) {
    const schema = resolveFact(op.body.schema);
    for (const [k, f] of Object.entries(schema.properties ?? {})) {
      if (f.readOnly ?? resolveFact(f).readOnly) readOnly.add(k);
      else body.set(k, f);
    }
    bodyOpen =
      schema.additionalProperties !== undefined ||
      (schema.properties === undefined && (schema.type === 'object' || schema.type === undefined));
    requiredBody = (schema.required ?? []).filter((k) => !readOnly.has(k));
  }
  const updateMask = op.method === 'PATCH' ? params.get('update_mask') : undefined;
  return {
    op,
    params,
    body,
    readOnly,
    bodyOpen,
    requiredBody,
    requiredQuery: op.params.filter((p) => p.in === 'query' && p.required).map((p) => p.name),
    updateMask: updateMask?.in === 'query' ? updateMask : undefined,
    filterKeys: new Set(op.filterKeys ?? []),
    documented: [...new Set([...params.keys(), ...body.keys()])],
  };
}

const plans = new WeakMap<AnyToolSpec, ToolPlan>();
const filledPlans = new WeakMap<AnyToolSpec, Map<string, ToolPlan>>();

/** The operation behind a tool's template, when the facts document it as written. */
export function staticPlan(spec: AnyToolSpec): ToolPlan | undefined {
  let plan = plans.get(spec);
  if (plan === undefined) {
    const op = findOperation(spec.method, spec.path);
    plan = op ? planOf(op) : EMPTY_PLAN;
    plans.set(spec, plan);
  }
  return plan.op ? plan : undefined;
}

/** True when the template's operation can only be found once its path parameters are filled. */
export function needsFilledPath(spec: AnyToolSpec): boolean {
  return staticPlan(spec) === undefined && pathPlaceholders(spec.path).length > 0;
}

/**
 * The plan for a call: the template's operation, or (for templates with enum path parameters such as
 * `/v2/{model}/model`) the operation at the filled path. EMPTY (no facts) when neither is documented.
 */
export function planFor(spec: AnyToolSpec, args?: Readonly<Record<string, unknown>>): ToolPlan {
  const s = staticPlan(spec);
  if (s) return s;
  if (!args || pathPlaceholders(spec.path).length === 0) return EMPTY_PLAN;
  let filled = spec.path;
  for (const name of pathPlaceholders(spec.path)) {
    const v = args[name];
    if (typeof v !== 'string' || !/^[A-Za-z0-9_-]+$/.test(v)) return EMPTY_PLAN;
    filled = filled.replace(`{${name}}`, v);
  }
  let byPath = filledPlans.get(spec);
  if (!byPath) {
    byPath = new Map();
    filledPlans.set(spec, byPath);
  }
  let plan = byPath.get(filled);
  if (!plan) {
    const op = findOperation(spec.method, filled);
    // The filled path's own parameters are literal now; the template's placeholders stay path parameters.
    plan = op ? withTemplateParams(planOf(op), spec) : EMPTY_PLAN;
    byPath.set(filled, plan);
  }
  return plan;
}

function withTemplateParams(plan: ToolPlan, spec: AnyToolSpec): ToolPlan {
  const params = new Map(plan.params);
  for (const name of pathPlaceholders(spec.path)) {
    if (!params.has(name)) params.set(name, { name, in: 'path', required: true, schema: { type: 'string' } });
  }
  return { ...plan, params, documented: [...new Set([...params.keys(), ...plan.documented])] };
}

/**
 * Where an argument goes: path placeholders to the path; the spec's `query` keys, and any documented query
 * parameter that is not also a body property, to the query; GET/DELETE send everything else as query; other
 * documented or listed inputs go to the body.
 */
export function routeOf(
  spec: AnyToolSpec,
  plan: ToolPlan,
  key: string,
  placeholders: ReadonlySet<string>,
): Route {
  if (placeholders.has(key)) return 'path';
  if (spec.query?.includes(key)) return 'query';
  // A DELETE sends everything as query, unless its operation documents a body (a few v1 DELETEs do).
  if (spec.method === 'GET' || (spec.method === 'DELETE' && !plan.op?.body)) return 'query';
  const param = plan.params.get(key);
  if (param?.in === 'query' && !plan.body.has(key)) return 'query';
  return 'body';
}

/** String values a zod input allows when it is an enum (under optional/default wrappers), else undefined. */
function enumValues(schema: unknown): string[] | undefined {
  let s = schema as {
    _zod?: { def: { type: string; innerType?: unknown; entries?: Record<string, unknown> } };
  };
  for (let i = 0; i < 10 && s?._zod; i++) {
    const def = s._zod.def;
    if (def.type === 'enum' && def.entries) return Object.values(def.entries).map(String);
    if (def.innerType === undefined) return undefined;
    s = def.innerType as typeof s;
  }
  return undefined;
}

/**
 * Keap's operationId(s) behind a tool: the template's operation, or for a template with an enum path
 * parameter the operation of each filled path (joined with " | ").
 */
export function operationIdsOf(spec: AnyToolSpec): string | undefined {
  // From the route index alone (no facts parsed): the same operations staticPlan() and planFor() find.
  const own = operationIdAt(spec.method, spec.path);
  if (own !== undefined) return own;
  const names = pathPlaceholders(spec.path);
  if (names.length !== 1) return undefined;
  const name = names[0] as string;
  const values = enumValues(spec.input[name]);
  if (!values) return undefined;
  const ids = values
    .map((v) =>
      /^[A-Za-z0-9_-]+$/.test(v) ? operationIdAt(spec.method, spec.path.replace(`{${name}}`, v)) : undefined,
    )
    .filter((id): id is string => id !== undefined);
  return ids.length > 0 ? ids.join(' | ') : undefined;
}
