/**
 * Run-time access to the generated operation facts (src/facts/operations.json). Nothing is loaded at import: the
 * file is read on first use and cached, with the lookup indexes. operationIdAt() reads only the small generated
 * route index (src/facts/routes.json), so start-up (tools/list's `_meta`, the policy) never parses the facts.
 */
import { createRequire } from 'node:module';
import type { FactMethod, FieldFact, OperationFact, OperationFacts } from './types.js';

export type { FactMethod, FactType, FieldFact, OperationFact, OperationFacts, ParamFact } from './types.js';

interface Loaded {
  readonly facts: OperationFacts;
  readonly byRoute: ReadonlyMap<string, OperationFact>;
  readonly byId: ReadonlyMap<string, OperationFact>;
}

let loaded: Loaded | undefined;

function load(): Loaded {
  if (loaded) return loaded;
  // createRequire works from src (vitest) and from dist (tsc copies the JSON next to this file).
  const facts = createRequire(import.meta.url)('./operations.json') as OperationFacts;
  const byRoute = new Map<string, OperationFact>();
  const byId = new Map<string, OperationFact>();
  for (const op of facts.operations) {
    byRoute.set(routeKey(op.method, op.path), op);
    byId.set(op.operationId, op);
  }
  loaded = { facts, byRoute, byId };
  return loaded;
}

function routeKey(method: string, path: string): string {
  return `${method.toUpperCase()} ${path}`;
}

let routes: Readonly<Record<string, string>> | undefined;

/**
 * The operationId of a route (as findOperation(method, path)?.operationId), from the route index: the facts
 * themselves are not loaded.
 */
export function operationIdAt(method: FactMethod | string, path: string): string | undefined {
  const key = routeKey(method, path);
  routes ??= createRequire(import.meta.url)('./routes.json') as Readonly<Record<string, string>>;
  return Object.hasOwn(routes, key) ? routes[key] : undefined;
}

/** All facts (every v2 operation and the v1 operations v2 lacks), with the shared schemas. */
export function operationFacts(): OperationFacts {
  return load().facts;
}

/** The operation for a catalog route, e.g. ('PATCH', '/v2/contacts/{contact_id}') or ('DELETE', '/v1/hooks/{key}'). */
export function findOperation(method: FactMethod | string, path: string): OperationFact | undefined {
  return load().byRoute.get(routeKey(method, path));
}

/** The operation with Keap's operationId (v1 ids that clash with v2 ids carry a `V1` suffix). */
export function operationById(id: string): OperationFact | undefined {
  return load().byId.get(id);
}

/**
 * The schema a field stands for: follows `ref` into the shared schemas (a chain of refs included) and returns the
 * target; a field without `ref` is returned as is. Refs are resolved one level per call of the caller's walk, so
 * cyclic schemas are fine. Throws on a ref the facts do not define (a corrupt facts file).
 */
export function resolveFact(f: FieldFact): FieldFact {
  const { schemas } = load().facts;
  let cur = f;
  for (let i = 0; cur.ref !== undefined; i++) {
    const target = schemas[cur.ref];
    if (!target || i >= 16) throw new Error(`operation facts: schema ${cur.ref} is not defined`);
    cur = target;
  }
  return cur;
}
