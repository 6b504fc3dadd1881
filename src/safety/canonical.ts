/** Canonical JSON (sorted keys, undefined dropped) and the argument hash the pipeline and confirmer share. */
import { createHash } from 'node:crypto';
import { SAFETY_FIELDS } from './types.js';

function normalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : normalize(v)));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = normalize(v);
    }
    return out;
  }
  return value;
}

/** JSON with object keys sorted at every level; undefined members dropped. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(normalize(value)) ?? 'null';
}

/** The arguments without the machinery's fields (dry_run, idempotency_key, confirmation_token, human_secret). */
export function stripSafetyFields(args: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) {
    if (!(SAFETY_FIELDS as readonly string[]).includes(k)) out[k] = v;
  }
  return out;
}

/** sha256 hex of the canonical JSON of the arguments without SAFETY_FIELDS. */
export function argsHash(args: Readonly<Record<string, unknown>>): string {
  return createHash('sha256')
    .update(canonicalJson(stripSafetyFields(args)))
    .digest('hex');
}

export function sha256Hex(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}
