/**
 * Listing helpers.
 *
 * v2: Keap's `filter` grammar (`field==value`, clauses joined by `;` = AND, trailing `*` = prefix wildcard on fields
 * that allow it, `!= > < >= <=` per field, `a,b,c` lists on list fields, `==NONE` = empty), `order_by`
 * ("field asc|desc"), and cursor paging with `page_size` / `page_token`. Paging is keyset paging on
 * (sort key, id): the token is opaque base64url JSON holding the last row's sort key and id plus the order, so
 * inserts and deletes between pages never make a walk skip or repeat a row that exists throughout the walk.
 *
 * v1: `limit` / `offset` → `{[key]: [...], count, next, previous}`.
 */
import { badRequest } from './errors.js';
import type { SbRequest, SbResponse } from './types.js';
import { intParam } from './validate.js';

export type FilterOp = '==' | '!=' | '>' | '<' | '>=' | '<=';

export interface FilterField<T> {
  /** Value(s) of the row for this field; an array matches when any element matches. */
  get: (t: T) => unknown;
  type: 'string' | 'number' | 'date' | 'boolean' | 'enum';
  /** Allowed operators (default ['==']). */
  ops?: readonly FilterOp[];
  /** Trailing `*` = prefix match. */
  wildcard?: boolean;
  /** Value is a comma-separated list (match any). */
  list?: boolean;
  /** Allowed values for type 'enum' (case-insensitive). */
  values?: readonly string[];
  /**
   * Custom matcher used instead of the generic comparison (receives the raw value string). Use for
   * pseudo-fields like `start_update_time` whose semantics are not a plain comparison.
   */
  match?: (t: T, op: FilterOp, value: string) => boolean;
}

type SortKey = string | number | undefined;

export interface ListV2Options<T> {
  key: string;
  render: (t: T) => unknown;
  filter?: Record<string, FilterField<T>>;
  orderBy?: Record<string, (t: T) => SortKey>;
  /** e.g. 'id asc' (default: 'id asc' ordering by the row id). */
  defaultOrder?: string;
  /** Default 1000. */
  maxPageSize?: number;
  /** Default 0 (Keap's documented minimum). */
  minPageSize?: number;
  /** Used when page_size is absent or 0 (default: maxPageSize). */
  defaultPageSize?: number;
  /** Row id for the keyset tie-break (default: `t.id`). */
  idOf?: (t: T) => number | string;
  /** Extra top-level properties of the response. */
  extra?: Record<string, unknown>;
}

interface Clause {
  field: string;
  op: FilterOp;
  value: string;
}

const CLAUSE_RE = /^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(==|!=|>=|<=|>|<)(.*)$/;

/** Parse a v2 filter string into clauses (no field checks). */
export function parseFilter(raw: string): Clause[] {
  const out: Clause[] = [];
  for (const part of raw.split(';')) {
    if (part.trim() === '') continue;
    const m = CLAUSE_RE.exec(part);
    if (!m) throw badRequest('filter', `Invalid filter clause '${part}' in 'filter': expected field==value`);
    out.push({ field: m[1] as string, op: m[2] as FilterOp, value: (m[3] as string).trim() });
  }
  return out;
}

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);
}

function cmp(a: number, b: number, op: FilterOp): boolean {
  switch (op) {
    case '==':
      return a === b;
    case '!=':
      return a !== b;
    case '>':
      return a > b;
    case '<':
      return a < b;
    case '>=':
      return a >= b;
    case '<=':
      return a <= b;
  }
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  if (v instanceof Date) return v.getTime();
  return undefined;
}

function toTime(v: unknown): number | undefined {
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const t = Date.parse(v);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}

/** Build a predicate from the request's `filter` parameter. Unknown fields/operators → 400 naming them. */
export function filterPredicate<T>(
  raw: string | null,
  fields: Record<string, FilterField<T>> | undefined,
): (t: T) => boolean {
  if (raw === null || raw.trim() === '') return () => true;
  const clauses = parseFilter(raw);
  const preds: ((t: T) => boolean)[] = [];
  for (const c of clauses) {
    const f = fields?.[c.field];
    if (!f) throw badRequest('filter', `Invalid filter field '${c.field}' in 'filter'`);
    const ops = f.ops ?? ['=='];
    if (!ops.includes(c.op)) {
      throw badRequest('filter', `Operator '${c.op}' is not supported for field '${c.field}' in 'filter'`);
    }
    if (f.match) {
      const m = f.match;
      preds.push((t) => m(t, c.op, c.value));
      continue;
    }
    if (c.value === 'NONE' && (c.op === '==' || c.op === '!=')) {
      const want = c.op === '==';
      preds.push((t) => isEmpty(f.get(t)) === want);
      continue;
    }
    const values = f.list ? c.value.split(',').map((s) => s.trim()) : [c.value];
    if (values.some((v) => v === ''))
      throw badRequest('filter', `Empty value for field '${c.field}' in 'filter'`);
    const tests: ((v: unknown) => boolean)[] = values.map((val): ((v: unknown) => boolean) => {
      switch (f.type) {
        case 'string': {
          const wild = val.endsWith('*');
          if (wild && !f.wildcard) {
            throw badRequest('filter', `Wildcard is not supported for field '${c.field}' in 'filter'`);
          }
          const needle = (wild ? val.slice(0, -1) : val).toLowerCase();
          return (v: unknown) => {
            if (v === undefined || v === null) return false;
            const s = String(v).toLowerCase();
            return wild ? s.startsWith(needle) : s === needle;
          };
        }
        case 'enum': {
          if (f.values && !f.values.some((x) => x.toLowerCase() === val.toLowerCase())) {
            throw badRequest('filter', `Invalid value '${val}' for field '${c.field}' in 'filter'`);
          }
          return (v: unknown) => typeof v === 'string' && v.toLowerCase() === val.toLowerCase();
        }
        case 'boolean': {
          if (val !== 'true' && val !== 'false') {
            throw badRequest('filter', `Invalid boolean '${val}' for field '${c.field}' in 'filter'`);
          }
          const b = val === 'true';
          return (v: unknown) => v === b;
        }
        case 'number': {
          const n = toNumber(val);
          if (n === undefined)
            throw badRequest('filter', `Invalid number '${val}' for field '${c.field}' in 'filter'`);
          return (v: unknown) => {
            const x = toNumber(v);
            return x !== undefined && cmp(x, n, c.op === '!=' ? '==' : c.op);
          };
        }
        case 'date': {
          const n = toTime(val);
          if (n === undefined || !/^\d{4}-\d{2}-\d{2}T/.test(val)) {
            throw badRequest('filter', `Invalid date-time '${val}' for field '${c.field}' in 'filter'`);
          }
          return (v: unknown) => {
            const x = toTime(v);
            return x !== undefined && cmp(x, n, c.op === '!=' ? '==' : c.op);
          };
        }
        default:
          return () => false;
      }
    });
    const anyMatch = (t: T): boolean => {
      const got = f.get(t);
      const arr = Array.isArray(got) ? got : [got];
      return arr.some((g) => tests.some((test) => test(g)));
    };
    preds.push(c.op === '!=' ? (t) => !anyMatch(t) : anyMatch);
  }
  return (t) => preds.every((p) => p(t));
}

function compareKeys(a: SortKey, b: SortKey): number {
  if (a === b) return 0;
  if (a === undefined) return -1;
  if (b === undefined) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareIds(a: number | string, b: number | string): number {
  const na = Number(a);
  const nb = Number(b);
  if (!Number.isNaN(na) && !Number.isNaN(nb)) return na - nb;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

interface Order {
  field: string;
  desc: boolean;
}

/** Parse `order_by` ("field", "field asc", "field desc"); unknown field/direction → 400 naming order_by. */
export function parseOrderBy(raw: string | null, allowed: readonly string[], def: string): Order {
  const text = raw === null || raw.trim() === '' ? def : raw.trim();
  const parts = text.split(/\s+/);
  const field = parts[0] ?? '';
  const dir = (parts[1] ?? 'asc').toLowerCase();
  if (parts.length > 2 || (dir !== 'asc' && dir !== 'desc')) {
    throw badRequest('order_by', `Invalid 'order_by' direction in '${text}': expected asc or desc`);
  }
  if (!allowed.includes(field)) {
    throw badRequest('order_by', `Invalid 'order_by' field '${field}' (allowed: ${allowed.join(', ')})`);
  }
  return { field, desc: dir === 'desc' };
}

interface PageToken {
  o: string;
  d: boolean;
  k: SortKey | null;
  i: number | string;
}

function encodeToken(t: PageToken): string {
  return Buffer.from(JSON.stringify(t), 'utf8').toString('base64url');
}

function decodeToken(raw: string): PageToken {
  try {
    const v = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as unknown;
    if (v && typeof v === 'object' && 'o' in v && 'i' in v && 'k' in v) return v as PageToken;
  } catch {
    // fall through
  }
  throw badRequest('page_token', `Invalid 'page_token'`);
}

function defaultId(t: unknown): number | string {
  const id = (t as { id?: unknown }).id;
  if (typeof id === 'number' || typeof id === 'string') return id;
  return 0;
}

/** v2 list with filter, order_by and keyset cursor paging. */
export function listV2<T>(req: SbRequest, items: readonly T[], opts: ListV2Options<T>): SbResponse {
  const max = opts.maxPageSize ?? 1000;
  const min = opts.minPageSize ?? 0;
  let size = intParam(req, 'page_size', { min, max }) ?? 0;
  if (size === 0) size = opts.defaultPageSize ?? max;
  const idOf = opts.idOf ?? defaultId;
  const orderMap: Record<string, (t: T) => SortKey> = opts.orderBy ?? { id: (t) => Number(idOf(t)) };
  const order = parseOrderBy(req.query.get('order_by'), Object.keys(orderMap), opts.defaultOrder ?? 'id asc');
  const keyOf = orderMap[order.field] as (t: T) => SortKey;
  const pred = filterPredicate(req.query.get('filter'), opts.filter);

  const dirMul = order.desc ? -1 : 1;
  const rowCmp = (ka: SortKey, ia: number | string, kb: SortKey, ib: number | string): number => {
    const c = compareKeys(ka, kb);
    if (c !== 0) return c * dirMul;
    return compareIds(ia, ib) * dirMul;
  };

  const rows = items.filter(pred).map((t) => ({ t, k: keyOf(t), i: idOf(t) }));
  rows.sort((a, b) => rowCmp(a.k, a.i, b.k, b.i));

  let start = 0;
  const tokenRaw = req.query.get('page_token');
  if (tokenRaw !== null && tokenRaw !== '') {
    const tok = decodeToken(tokenRaw);
    if (tok.o !== order.field || tok.d !== order.desc) {
      throw badRequest('page_token', `'page_token' does not match 'order_by'`);
    }
    const k = tok.k === null ? undefined : tok.k;
    start = rows.findIndex((r) => rowCmp(r.k, r.i, k, tok.i) > 0);
    if (start < 0) start = rows.length;
  }
  const page = rows.slice(start, start + size);
  const last = page[page.length - 1];
  const more = start + size < rows.length;
  const next =
    more && last
      ? encodeToken({ o: order.field, d: order.desc, k: last.k === undefined ? null : last.k, i: last.i })
      : '';
  return {
    status: 200,
    body: { [opts.key]: page.map((r) => opts.render(r.t)), next_page_token: next, ...(opts.extra ?? {}) },
  };
}

/**
 * A query parameter listing names, comma-separated and/or repeated (`fields`, `update_mask`): undefined when absent
 * or empty; a name not in `allowed` → 400 naming it and the parameter.
 */
export function namesParam(
  query: URLSearchParams,
  param: string,
  allowed: readonly string[],
): Set<string> | undefined {
  const names = query
    .getAll(param)
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length === 0) return undefined;
  for (const n of names) {
    if (!allowed.includes(n)) throw badRequest(param, `Invalid field '${n}' in '${param}'`);
  }
  return new Set(names);
}

/** `fields` query parameter (comma-separated and/or repeated); unknown name → 400 naming it. */
export function fieldsParam(req: SbRequest, allowed: readonly string[]): Set<string> | undefined {
  return namesParam(req.query, 'fields', allowed);
}

/** Keep only the selected properties of a rendered object (`id` is always kept). */
export function selectFields<O extends Record<string, unknown>>(
  obj: O,
  fields: Set<string> | undefined,
): Partial<O> {
  if (!fields) return obj;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (k === 'id' || fields.has(k)) out[k] = v;
  return out as Partial<O>;
}

/** Absolute URL of this request (for v1 next/previous). */
export function requestUrl(req: SbRequest, query: URLSearchParams): string {
  const host = req.headers.host ?? '127.0.0.1';
  const qs = query.toString();
  return `http://${host}${req.path}${qs ? `?${qs}` : ''}`;
}

/** v1 list with `limit` (default 1000) / `offset` → `{[key]: [...], count, next, previous}`. */
export function listV1<T>(
  req: SbRequest,
  items: readonly T[],
  opts: { key: string; render: (t: T) => unknown; maxLimit?: number; defaultLimit?: number },
): SbResponse {
  const limit = intParam(req, 'limit', { min: 0, max: opts.maxLimit ?? 1000 }) || (opts.defaultLimit ?? 1000);
  const offset = intParam(req, 'offset', { min: 0 }) ?? 0;
  const page = items.slice(offset, offset + limit);
  const body: Record<string, unknown> = { [opts.key]: page.map(opts.render), count: items.length };
  const pageUrl = (at: number): string => {
    const q = new URLSearchParams(req.query);
    q.set('limit', String(limit));
    q.set('offset', String(at));
    return requestUrl(req, q);
  };
  if (offset + limit < items.length) body.next = pageUrl(offset + limit);
  if (offset > 0) body.previous = pageUrl(Math.max(0, offset - limit));
  return { status: 200, body };
}

/** A date pseudo-field: `==<ISO date-time>` matches rows whose date passes `keep(rowMs, boundMs)`. */
function dateBoundFilter<T>(
  get: (t: T) => string | undefined,
  keep: (row: number, bound: number) => boolean,
): FilterField<T> {
  return {
    get,
    type: 'date',
    match: (t, _op, value) => {
      const n = Date.parse(value);
      if (Number.isNaN(n) || !/^\d{4}-\d{2}-\d{2}T/.test(value)) {
        throw badRequest('filter', `Invalid date-time '${value}' in 'filter'`);
      }
      const v = get(t);
      return v !== undefined && keep(Date.parse(v), n);
    },
  };
}

/** `since_*` pseudo-field: `==<ISO date-time>` matches rows whose date is on or after it. */
export function sinceFilter<T>(get: (t: T) => string | undefined): FilterField<T> {
  return dateBoundFilter(get, (row, bound) => row >= bound);
}

/** `until_*` pseudo-field: `==<ISO date-time>` matches rows whose date is on or before it. */
export function untilFilter<T>(get: (t: T) => string | undefined): FilterField<T> {
  return dateBoundFilter(get, (row, bound) => row <= bound);
}
