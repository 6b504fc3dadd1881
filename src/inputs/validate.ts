/**
 * The one validator of input values against Keap's operation facts: (fact, value) → the value to send plus a
 * list of issues, each naming its path (`email_addresses[0].bogus`). Keys are compared exactly; an undocumented
 * or read-only property is an issue, never dropped. The light normalisations the machinery applies to every
 * argument (numeric strings → numbers, "true"/"false" → booleans, JSON text → objects, safe-integer ids →
 * digit strings) also apply here; format rewrites (see formats.ts) are reported as notes.
 */
import type { FieldFact } from '../facts/types.js';
import { checkFormat } from './formats.js';

export type IssueKind = 'unknown' | 'read_only' | 'required' | 'invalid';

export interface Issue {
  readonly kind: IssueKind;
  /** Where, e.g. `email_addresses[0].opt_in_reason`. */
  readonly path: string;
  readonly message: string;
  /** For unknown keys: the names accepted at that level. */
  readonly accepted?: readonly string[];
}

/** A value the machinery rewrote (said in the result). */
export interface Normalized {
  readonly field: string;
  readonly from: unknown;
  readonly to: unknown;
}

export interface ValidateContext {
  /** Follows `ref` to a named schema. */
  readonly resolve: (f: FieldFact) => FieldFact;
  readonly issues: Issue[];
  readonly notes: Normalized[];
}

const MAX_ENUM_SHOWN = 12;
const INT32 = 2 ** 31;
const patterns = new Map<string, RegExp | null>();

function regex(p: string): RegExp | null {
  let r = patterns.get(p);
  if (r === undefined) {
    try {
      r = new RegExp(p, 'u');
    } catch {
      r = null;
    }
    patterns.set(p, r);
  }
  return r;
}

export function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}…` : v);
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return String(v);
}

export function enumText(values: readonly unknown[]): string {
  const shown = values.slice(0, MAX_ENUM_SHOWN).map((v) => String(v));
  return values.length > MAX_ENUM_SHOWN
    ? `${shown.join(', ')} … (${values.length} values)`
    : shown.join(', ');
}

export function childPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** Input-side view of an object's properties: read-only ones excluded. */
export function writableKeys(obj: FieldFact, resolve: (f: FieldFact) => FieldFact): string[] {
  return Object.entries(obj.properties ?? {})
    .filter(([, p]) => !(p.readOnly ?? resolve(p).readOnly))
    .map(([k]) => k);
}

function invalid(ctx: ValidateContext, path: string, message: string): void {
  ctx.issues.push({ kind: 'invalid', path, message: `${path}: ${message}` });
}

function typeOk(ctx: ValidateContext, path: string, expected: string, value: unknown): false {
  invalid(ctx, path, `expected ${expected}, got ${describeValue(value)}`);
  return false;
}

function checkNumber(f: FieldFact, value: number, path: string, ctx: ValidateContext): void {
  if (f.minimum !== undefined && value < f.minimum)
    invalid(ctx, path, `must be ≥ ${f.minimum}, got ${value}`);
  if (f.maximum !== undefined && value > f.maximum)
    invalid(ctx, path, `must be ≤ ${f.maximum}, got ${value}`);
  if (f.exclusiveMinimum !== undefined && value <= f.exclusiveMinimum)
    invalid(ctx, path, `must be > ${f.exclusiveMinimum}, got ${value}`);
  if (f.exclusiveMaximum !== undefined && value >= f.exclusiveMaximum)
    invalid(ctx, path, `must be < ${f.exclusiveMaximum}, got ${value}`);
}

function checkEnum(f: FieldFact, value: unknown, path: string, ctx: ValidateContext): void {
  if (f.enum && !f.enum.includes(value as string | number | boolean)) {
    invalid(ctx, path, `expected one of ${enumText(f.enum)}, got ${describeValue(value)}`);
  }
}

/**
 * An object or array a model sent as JSON text, parsed (`want` narrows which); any other value as given. The one
 * place this normalisation lives (the registry and the input checker use it too).
 */
export function parseJsonText(value: unknown, want?: 'object' | 'array'): unknown {
  if (typeof value !== 'string') return value;
  const s = value.trim();
  const opens =
    want === 'object' ? s.startsWith('{') : want === 'array' ? s.startsWith('[') : /^[[{]/.test(s);
  if (!opens) return value;
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return value;
  }
}

/**
 * Validates `value` against `fact`; returns the value to send (possibly normalised). Issues and notes are
 * appended to `ctx`.
 */
export function validateFact(fact: FieldFact, value: unknown, path: string, ctx: ValidateContext): unknown {
  const f = fact.ref !== undefined ? ctx.resolve(fact) : fact;
  if (value === null) {
    if (!f.nullable && f.type !== 'any' && f.type !== undefined) {
      invalid(ctx, path, 'must not be null (omit it instead)');
    }
    return value;
  }
  if (f.oneOf && f.oneOf.length > 0) return validateOneOf(f.oneOf, value, path, ctx);
  switch (f.type) {
    case 'string': {
      let v = value;
      if (typeof v === 'number' && Number.isSafeInteger(v)) v = String(v);
      if (typeof v !== 'string') return typeOk(ctx, path, 'a string', value) || value;
      if (f.format) {
        const r = checkFormat(f.format, v);
        if (r.expected) {
          invalid(ctx, path, `expected ${r.expected}, got ${describeValue(v)}`);
          return v;
        }
        if (r.normalizedFrom !== undefined) {
          ctx.notes.push({ field: path, from: r.normalizedFrom, to: r.value });
          v = r.value;
        }
      }
      const s = v as string;
      checkEnum(f, s, path, ctx);
      if (f.minLength !== undefined && s.length < f.minLength)
        invalid(ctx, path, `must be at least ${f.minLength} characters`);
      if (f.maxLength !== undefined && s.length > f.maxLength)
        invalid(ctx, path, `must be at most ${f.maxLength} characters, got ${s.length}`);
      if (f.pattern !== undefined) {
        const r = regex(f.pattern);
        if (r && !r.test(s)) invalid(ctx, path, `must match ${f.pattern}, got ${describeValue(s)}`);
      }
      return s;
    }
    case 'integer':
    case 'number': {
      let v = value;
      if (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v.trim())) v = Number(v);
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        return typeOk(ctx, path, f.type === 'integer' ? 'an integer' : 'a number', value) || value;
      }
      if (f.type === 'integer' || f.format === 'int32' || f.format === 'int64') {
        if (!Number.isInteger(v)) return typeOk(ctx, path, 'an integer', value) || value;
        if (f.format === 'int32' && (v < -INT32 || v >= INT32))
          invalid(ctx, path, `must be a 32-bit integer, got ${v}`);
        else if (!Number.isSafeInteger(v)) invalid(ctx, path, `integer out of range, got ${v}`);
      }
      checkEnum(f, v, path, ctx);
      checkNumber(f, v, path, ctx);
      return v;
    }
    case 'boolean': {
      const v = value === 'true' ? true : value === 'false' ? false : value;
      if (typeof v !== 'boolean') return typeOk(ctx, path, 'true or false', value) || value;
      return v;
    }
    case 'array': {
      const v = parseJsonText(value, 'array');
      if (!Array.isArray(v)) return typeOk(ctx, path, 'an array', value) || value;
      if (f.minItems !== undefined && v.length < f.minItems)
        invalid(ctx, path, `needs at least ${f.minItems} item(s)`);
      if (f.maxItems !== undefined && v.length > f.maxItems)
        invalid(ctx, path, `takes at most ${f.maxItems} item(s), got ${v.length}`);
      const out = f.items ? v.map((x, i) => validateFact(f.items as FieldFact, x, `${path}[${i}]`, ctx)) : v;
      if (f.uniqueItems) {
        const seen = new Set(out.map((x) => JSON.stringify(x)));
        if (seen.size !== out.length) invalid(ctx, path, 'items must be unique');
      }
      return out;
    }
    case 'object': {
      const v = parseJsonText(value, 'object');
      if (typeof v !== 'object' || v === null || Array.isArray(v))
        return typeOk(ctx, path, 'an object', value) || value;
      return validateObject(f, v as Record<string, unknown>, path, ctx);
    }
    default:
      if (f.enum) checkEnum(f, value, path, ctx);
      return value;
  }
}

function validateObject(
  f: FieldFact,
  v: Record<string, unknown>,
  path: string,
  ctx: ValidateContext,
): Record<string, unknown> {
  // An object documented without properties is free-form.
  if (f.properties === undefined && f.additionalProperties === undefined) return v;
  const props = f.properties ?? {};
  const out: Record<string, unknown> = {};
  for (const [key, val] of Object.entries(v)) {
    const p = Object.hasOwn(props, key) ? props[key] : undefined;
    const at = childPath(path, key);
    if (p === undefined) {
      if (f.additionalProperties === true) out[key] = val;
      else if (f.additionalProperties !== undefined)
        out[key] = validateFact(f.additionalProperties, val, at, ctx);
      else {
        const accepted = writableKeys(f, ctx.resolve);
        ctx.issues.push({
          kind: 'unknown',
          path: at,
          message: `${at}: not a documented property here (accepted: ${accepted.join(', ') || 'none'})`,
          accepted,
        });
      }
      continue;
    }
    if (p.readOnly ?? ctx.resolve(p).readOnly) {
      ctx.issues.push({
        kind: 'read_only',
        path: at,
        message: `${at}: read-only (Keap sets it; it is not accepted as input)`,
      });
      continue;
    }
    if (val === undefined) continue;
    out[key] = validateFact(p, val, at, ctx);
  }
  for (const r of f.required ?? []) {
    if (v[r] === undefined) {
      const at = childPath(path, r);
      ctx.issues.push({ kind: 'required', path: at, message: `${at}: required` });
    }
  }
  return out;
}

function validateOneOf(
  alts: readonly FieldFact[],
  value: unknown,
  path: string,
  ctx: ValidateContext,
): unknown {
  let best: { issues: Issue[]; notes: Normalized[]; value: unknown } | undefined;
  for (const alt of alts) {
    const sub: ValidateContext = { resolve: ctx.resolve, issues: [], notes: [] };
    const out = validateFact(alt, value, path, sub);
    if (sub.issues.length === 0) {
      ctx.notes.push(...sub.notes);
      return out;
    }
    if (!best || sub.issues.length < best.issues.length) best = { ...sub, value: out };
  }
  if (best) ctx.issues.push(...best.issues);
  return value;
}
