/** Sample values from Keap's operation facts (shared by the faithful-inputs and long-tail tests). */
import { resolveFact } from '../../src/facts/index.js';
import type { FieldFact, OperationFact } from '../../src/facts/types.js';

/**
 * A valid value for a fact: enums, formats and bounds respected; objects carry every writable property down to
 * `allDepth` levels (listed zod objects require some the document leaves optional) and the required ones below.
 */
export function sample(fact: FieldFact, name = '', depth = 0, allDepth = 2): unknown {
  const f = resolveFact(fact);
  if (f.oneOf && f.oneOf.length > 0) return sample(f.oneOf[0] as FieldFact, name, depth, allDepth);
  if (f.enum && f.enum.length > 0) return f.enum.find((v) => !/UNSPECIFIED/.test(String(v))) ?? f.enum[0];
  switch (f.type) {
    case 'string': {
      if (f.format === 'date') return '2027-01-15';
      if (f.format === 'date-time') return '2027-01-15T10:00:00Z';
      if (f.format === 'email' || /email/.test(name)) return 'sample@example.com';
      if (f.format === 'uri' || f.format === 'url' || /url$/i.test(name)) return 'https://example.com/x';
      if (f.format === 'byte') return 'aGVsbG8=';
      if (/(^|_)id$/.test(name)) return '1';
      const s = 'sample';
      return f.minLength !== undefined && f.minLength > s.length ? s.padEnd(f.minLength, 'x') : s;
    }
    case 'integer':
    case 'number':
      return Math.max(f.minimum ?? 1, f.exclusiveMinimum !== undefined ? f.exclusiveMinimum + 1 : 1);
    case 'boolean':
      return true;
    case 'array': {
      const item = f.items ? sample(f.items, name, depth + 1, allDepth) : 'sample';
      return Array.from({ length: Math.max(1, f.minItems ?? 1) }, () => item);
    }
    case 'object': {
      const out: Record<string, unknown> = {};
      if (depth > 4) return out;
      // Every writable property near the top (listed zod objects require some the document leaves
      // optional), the required ones deeper down.
      const keys = depth <= allDepth ? Object.keys(f.properties ?? {}) : (f.required ?? []);
      for (const k of keys) {
        const p = f.properties?.[k];
        if (p && !(p.readOnly ?? resolveFact(p).readOnly)) out[k] = sample(p, k, depth + 1, allDepth);
      }
      return out;
    }
    default:
      return 'sample';
  }
}

/**
 * Valid `arguments` for a long-tail call from the facts: path parameters, required query parameters and
 * headers, the required body properties (required nested ones only), or the whole body when it is an array.
 */
export function operationArgs(op: OperationFact): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const p of op.params) {
    if (p.in === 'path') args[p.name] = sample(p.schema, /id$/i.test(p.name) ? 'id' : p.name, 0, 0);
    else if (p.required) args[p.name] = sample(p.schema, p.name, 0, 0);
  }
  if (op.body) {
    const s = resolveFact(op.body.schema);
    if (s.type === 'array') args.body = sample(op.body.schema, 'body', 0, 0);
    for (const r of s.required ?? []) {
      const p = s.properties?.[r];
      if (p && !(p.readOnly ?? resolveFact(p).readOnly)) args[r] = sample(p, r, 1, 0);
    }
  }
  return args;
}
