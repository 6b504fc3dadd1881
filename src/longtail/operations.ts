/**
 * Every Keap operation as the chokepoint sees it: a per-call ToolSpec derived from the operation's facts
 * (resource from the resource table, access from the method, confirmation from the risk table, idempotency from
 * the method), a one-line summary written from the operationId (never Keap's prose), and which catalog tool
 * covers it, if any.
 */
import { z } from 'zod';
import { operationById, operationFacts, resolveFact } from '../facts/index.js';
import type { OperationFact } from '../facts/types.js';
import { operationIdsOf } from '../inputs/plan.js';
import { pathPlaceholders } from '../keap/path.js';
import type { AnyToolSpec, Resource } from '../registry/define.js';
import { accessOf, resourceOf } from './resources.js';
import { type RiskClass, riskOf } from './risk.js';

/** The name a non-object JSON body (an array) is given in `arguments`. */
export const BODY_ARG = 'body';

/** Words of an identifier: `listLeadSourcesUsingGET_1` → list, lead, sources, using, get, 1. */
export function words(id: string): string[] {
  return id
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w !== '')
    .map((w) => w.toLowerCase());
}

/** The operationId without Keap's generated suffixes (`UsingGET`, `_1`). */
function bareId(id: string): string {
  return id.replace(/Using(GET|POST|PUT|PATCH|DELETE)(_\d+)?$/, '').replace(/_\d+$/, '');
}

/** One line of what the operation does, from its operationId: "list lead sources". */
export function summaryOf(op: OperationFact): string {
  const s = words(bareId(op.operationId)).join(' ');
  return op.version === 'v1' ? `${s} (v1)` : s;
}

/** Multipart uploads are not sent by this server (the client sends JSON only). */
export function isUpload(op: OperationFact): boolean {
  return op.body !== undefined && op.body.contentType !== 'application/json';
}

/** Operations that answer with a file's bytes: the result is the size and type, never the bytes. */
export function isDownload(op: OperationFact): boolean {
  return op.method === 'GET' && /(:data|\/legacyImageData)$/.test(op.path);
}

/** The body is a JSON value other than an object (e.g. an array): it is passed whole as `arguments.body`. */
export function arrayBody(op: OperationFact): boolean {
  if (!op.body) return false;
  const s = resolveFact(op.body.schema);
  return s.type === 'array';
}

export interface OperationInfo {
  readonly op: OperationFact;
  readonly resource: Resource;
  readonly risk: readonly RiskClass[];
  /** The per-call spec the chokepoint runs (when no catalog tool covers the operation). */
  readonly spec: AnyToolSpec;
}

const infos = new Map<string, OperationInfo>();

function capitalized(s: string): string {
  return `${s.charAt(0).toUpperCase()}${s.slice(1)}`;
}

function specOf(op: OperationFact, resource: Resource, risk: readonly RiskClass[]): AnyToolSpec {
  const access = accessOf(op);
  const input: Record<string, z.ZodType> = {};
  for (const name of pathPlaceholders(op.path)) {
    input[name] = z.union([z.string(), z.number()]).describe(`Path parameter ${name}`);
  }
  // Keap's document sometimes names a path parameter differently from its placeholder ({noteId} vs note):
  // the documented name is accepted as an alias of the placeholder.
  const aliases: Record<string, string> = {};
  const documentedPath = op.params.filter((p) => p.in === 'path').map((p) => p.name);
  const unmatched = pathPlaceholders(op.path).filter((n) => !documentedPath.includes(n));
  const strays = documentedPath.filter((n) => !pathPlaceholders(op.path).includes(n));
  if (unmatched.length === 1 && strays.length === 1) aliases[strays[0] as string] = unmatched[0] as string;
  const headers: Record<string, string> = {};
  for (const p of op.params) {
    if (p.in !== 'header') continue;
    input[p.name] = (p.required ? z.string() : z.string().optional()).describe(`Header ${p.name}`);
    headers[p.name] = p.name;
  }
  const bodyArg = arrayBody(op);
  if (bodyArg) input[BODY_ARG] = z.array(z.unknown()).describe('The whole JSON body (an array)');
  return Object.freeze({
    name: access === 'read' ? 'call_keap_read' : 'call_keap_write',
    title: `${capitalized(summaryOf(op))} (${op.operationId})`,
    description: summaryOf(op),
    resource,
    access,
    method: op.method,
    path: op.path,
    input,
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
    ...(Object.keys(aliases).length > 0 ? { aliases } : {}),
    ...(risk.length > 0 ? { confirm: true } : {}),
    ...(access === 'write' ? { idempotencyKey: true } : {}),
    ...(op.listKey !== undefined ? { listKey: op.listKey } : {}),
    ...(bodyArg ? { bodyArg: BODY_ARG } : {}),
    ...(isDownload(op) ? { download: true } : {}),
    operation: op.operationId,
  });
}

/** The operation's resource, risk and per-call spec (computed once per operation). */
export function operationInfo(op: OperationFact): OperationInfo {
  let info = infos.get(op.operationId);
  if (info === undefined) {
    const resource = resourceOf(op);
    if (resource === undefined) {
      throw new Error(`src/longtail/resources.ts maps no resource for ${op.method} ${op.path}`);
    }
    const risk = riskOf(op, resource);
    info = { op, resource, risk, spec: specOf(op, resource, risk) };
    infos.set(op.operationId, info);
  }
  return info;
}

export function infoById(id: string): OperationInfo | undefined {
  const op = operationById(id);
  return op ? operationInfo(op) : undefined;
}

export function allOperations(): readonly OperationFact[] {
  return operationFacts().operations;
}

/** A catalog tool covering an operation, with the values its template fixes (`/v2/{model}/model` → model). */
export interface Covering {
  readonly spec: AnyToolSpec;
  readonly fixed: Readonly<Record<string, string>>;
}

/** Operation id → the catalog tool that covers it, for the catalog tools given (the registered catalog). */
export function coverageOf(tools: readonly AnyToolSpec[]): ReadonlyMap<string, Covering> {
  const out = new Map<string, Covering>();
  for (const spec of tools) {
    if (spec.longtail !== undefined) continue;
    const ids = operationIdsOf(spec)?.split(' | ') ?? [];
    for (const id of ids) {
      const op = operationById(id);
      if (!op || out.has(id)) continue;
      const fixed: Record<string, string> = {};
      const tpl = spec.path.split('/');
      const real = op.path.split('/');
      tpl.forEach((seg, i) => {
        const m = /^\{([A-Za-z0-9_]+)\}$/.exec(seg);
        const r = real[i];
        if (m && r !== undefined && !/^\{/.test(r)) fixed[m[1] as string] = r;
      });
      out.set(id, { spec, fixed });
    }
  }
  return out;
}
