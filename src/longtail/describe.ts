/**
 * An operation's inputs as the model reads them (describe_keap_operation): path, query, header and body inputs
 * with types, formats, enums, bounds, required-ness and nesting, written from the facts (never Keap's prose).
 * Shared schemas are expanded to a depth; a schema that contains itself is named, not expanded again.
 */
import { resolveFact } from '../facts/index.js';
import type { FieldFact, OperationFact, ParamFact } from '../facts/types.js';
import { RESULT_CAP_CHARS } from '../results.js';
import { arrayBody, BODY_ARG, isDownload, isUpload } from './operations.js';

type Json = Record<string, unknown>;

const BOUNDS = [
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
  'deprecated',
] as const;

/** A field fact → a compact JSON-schema-like object (input side: read-only properties left out). */
export function renderField(f: FieldFact, depth: number, seen: readonly string[] = []): Json {
  if (f.ref !== undefined && seen.includes(f.ref)) return { type: 'object', same_as: f.ref };
  const inner = f.ref !== undefined ? [...seen, f.ref] : seen;
  const s = resolveFact(f);
  const out: Json = {};
  if (s.oneOf && s.oneOf.length > 0) {
    out.one_of = depth > 0 ? s.oneOf.map((a) => renderField(a, depth - 1, inner)) : s.oneOf.length;
    return out;
  }
  out.type = s.type ?? 'any';
  for (const k of BOUNDS) if (s[k] !== undefined) out[k] = s[k];
  if (s.type === 'array' && s.items) {
    out.items = depth > 0 ? renderField(s.items, depth - 1, inner) : { type: resolveFact(s.items).type };
  }
  if (s.properties) {
    const props = Object.entries(s.properties).filter(([, p]) => !(p.readOnly ?? resolveFact(p).readOnly));
    if (depth > 0) {
      out.properties = Object.fromEntries(props.map(([k, p]) => [k, renderField(p, depth - 1, inner)]));
    } else out.property_names = props.map(([k]) => k);
    const req = (s.required ?? []).filter((k) => props.some(([n]) => n === k));
    if (req.length > 0) out.required = req;
  }
  if (s.additionalProperties !== undefined) {
    out.additional_properties =
      s.additionalProperties === true ? true : renderField(s.additionalProperties, depth - 1, inner);
  }
  return out;
}

function renderParam(p: ParamFact, depth: number): Json {
  return { ...renderField(p.schema, depth), ...(p.required ? { required: true } : {}) };
}

/** The inputs of an operation, each group keyed by the names `arguments` takes. */
export function describeInputs(op: OperationFact, depth: number): Json {
  const group = (where: ParamFact['in']): Json | undefined => {
    const ps = op.params.filter((p) => p.in === where);
    return ps.length > 0 ? Object.fromEntries(ps.map((p) => [p.name, renderParam(p, depth)])) : undefined;
  };
  const out: Json = {};
  const path = group('path');
  const query = group('query');
  const header = group('header');
  if (path) out.path = path;
  if (query) out.query = query;
  if (header) out.header = header;
  if (op.body) {
    const schema = renderField(op.body.schema, depth);
    out.body = {
      content_type: op.body.contentType,
      ...(op.body.required ? { required: true } : {}),
      ...(arrayBody(op) ? { passed_as: `arguments.${BODY_ARG}` } : {}),
      schema,
    };
  }
  return out;
}

export interface DescribeExtras {
  readonly resource: string;
  readonly access: string;
  readonly summary: string;
  readonly risk: readonly string[];
  readonly confirm: boolean;
  readonly allowed: boolean;
  readonly catalogTool?: string | undefined;
}

/** The whole description, within the result cap (nesting shown less deeply when needed). */
export function describeOperation(op: OperationFact, x: DescribeExtras): Json {
  const tool = x.access === 'read' ? 'call_keap_read' : 'call_keap_write';
  const head: Json = {
    operationId: op.operationId,
    method: op.method,
    path: op.path,
    summary: x.summary,
    resource: x.resource,
    access: x.access,
    ...(x.allowed ? {} : { allowed: false, note: 'not allowed for you by the server policy' }),
    confirm: x.confirm,
    ...(x.risk.length > 0 ? { risk: x.risk } : {}),
    ...(x.catalogTool !== undefined ? { catalog_tool: x.catalogTool } : {}),
    ...(op.deprecated ? { deprecated: true } : {}),
    paging: op.paging,
    ...(op.listKey !== undefined ? { list_key: op.listKey === '' ? 'items' : op.listKey } : {}),
  };
  const tail: Json = {
    ...(op.filterKeys ? { filter_keys: op.filterKeys } : {}),
    ...(op.orderByFields ? { order_by_fields: op.orderByFields } : {}),
    ...(op.fieldsValues ? { fields_values: op.fieldsValues } : {}),
    ...(isUpload(op) ? { unsupported: `${op.body?.contentType} uploads are not sent by this server` } : {}),
    ...(isDownload(op) ? { download: 'the result gives the file size and type, not its bytes' } : {}),
    how: `${x.catalogTool !== undefined ? `Prefer ${x.catalogTool}; or ` : ''}${tool} with operationId and arguments: every path, query${op.body ? ' and body' : ''} input by name at the top level of arguments`,
  };
  for (let depth = 8; depth >= 0; depth--) {
    const out = { ...head, inputs: describeInputs(op, depth), ...tail };
    if (JSON.stringify(out).length <= RESULT_CAP_CHARS || depth === 0) {
      return depth < 8 ? { ...out, nesting_shown: depth } : out;
    }
  }
  return head;
}
