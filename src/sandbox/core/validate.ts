/** Request validation: bodies with zod, query/path parameters with small helpers. All failures are 400 naming the field. */
import { z } from 'zod';
import { badRequest, type SbHttpError } from './errors.js';
import type { SbRequest } from './types.js';

function pathString(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

/** Turn a zod error into a 400 naming the first failing field. */
export function zodToBadRequest(err: z.ZodError, root = 'body'): SbHttpError {
  const issue = err.issues[0];
  if (!issue) return badRequest(root, `Invalid ${root}`);
  let field = pathString(issue.path);
  if (issue.code === 'unrecognized_keys' && issue.keys.length > 0) {
    field = field ? `${field}.${issue.keys[0]}` : String(issue.keys[0]);
    return badRequest(field, `Unknown field '${field}'`);
  }
  if (field === '') field = root;
  let msg: string;
  if (issue.code === 'invalid_type' && issue.input === undefined) msg = `'${field}' is required`;
  else if (issue.code === 'invalid_value') msg = `Invalid value for '${field}': ${issue.message}`;
  else msg = `Invalid '${field}': ${issue.message}`;
  return badRequest(field, msg);
}

/** Parse a JSON body; throws 400 naming the first failing field path (missing required, wrong type, unknown enum). */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  if (body === undefined) {
    const r0 = schema.safeParse({});
    if (r0.success) return r0.data;
    throw zodToBadRequest(r0.error);
  }
  const r = schema.safeParse(body);
  if (!r.success) throw zodToBadRequest(r.error);
  return r.data;
}

/** Optional integer query parameter, 400 naming it when not an integer or out of range. */
export function intParam(
  req: SbRequest,
  name: string,
  opts: { min?: number; max?: number; default?: number } = {},
): number | undefined {
  const raw = req.query.get(name);
  if (raw === null || raw === '') return opts.default;
  if (!/^-?\d+$/.test(raw)) throw badRequest(name, `Invalid value for '${name}': must be an integer`);
  const n = Number(raw);
  if (opts.min !== undefined && n < opts.min) throw badRequest(name, `'${name}' must be >= ${opts.min}`);
  if (opts.max !== undefined && n > opts.max) throw badRequest(name, `'${name}' must be <= ${opts.max}`);
  return n;
}

/** Optional enum query parameter (case-sensitive), 400 naming it on an unknown value. */
export function enumParam<T extends string>(
  req: SbRequest,
  name: string,
  values: readonly T[],
  def?: T,
): T | undefined {
  const raw = req.query.get(name);
  if (raw === null || raw === '') return def;
  if (!(values as readonly string[]).includes(raw)) {
    throw badRequest(name, `Invalid value for '${name}': '${raw}' (allowed: ${values.join(', ')})`);
  }
  return raw as T;
}

/** Optional boolean query parameter. */
export function boolParam(req: SbRequest, name: string, def?: boolean): boolean | undefined {
  const raw = req.query.get(name);
  if (raw === null || raw === '') return def;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw badRequest(name, `Invalid value for '${name}': must be true or false`);
}

/** Optional string query parameter. */
export function strParam(req: SbRequest, name: string): string | undefined {
  const raw = req.query.get(name);
  return raw === null ? undefined : raw;
}

/** Path id: 400 naming the parameter unless a positive integer (404 for a missing row is the handler's job). */
export function pathId(req: SbRequest, name: string): number {
  const raw = req.params[name];
  if (raw === undefined || !/^\d+$/.test(raw) || Number(raw) <= 0 || !Number.isSafeInteger(Number(raw))) {
    throw badRequest(name, `Invalid '${name}': must be a positive integer id`);
  }
  return Number(raw);
}

/** zod schema for a v2 string id ("123"), also accepting a JSON integer. Output: number. */
export const zId = z
  .union([z.string().regex(/^\d+$/, 'must be a numeric id'), z.number().int().positive()])
  .transform((v) => Number(v));

/** True when y-m-d is a real calendar date. */
function realDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return d <= days;
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

/** A `format: date` value: `YYYY-MM-DD` naming a real calendar date. */
export function isDate(s: string): boolean {
  const m = DATE_RE.exec(s);
  return m !== null && realDate(Number(m[1]), Number(m[2]), Number(m[3]));
}

/** A `format: date-time` value: an RFC 3339 date-time (offset required, real date, valid clock time). */
export function isDateTime(s: string): boolean {
  const m = DATE_TIME_RE.exec(s);
  if (!m) return false;
  if (!realDate(Number(m[1]), Number(m[2]), Number(m[3]))) return false;
  if (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 60) return false;
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return false;
  return true;
}

/** RFC 3339 date-time string (e.g. 2026-01-02T03:04:05Z or 2026-01-02T03:04:05.123-07:00). */
export const zDateTime = z.string().refine(isDateTime, {
  message: 'must be an RFC 3339 date-time (e.g. 2026-01-02T03:04:05Z)',
});

/** yyyy-mm-dd date string naming a real date. */
export const zDate = z.string().refine(isDate, { message: 'must be a date YYYY-MM-DD' });
