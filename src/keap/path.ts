/**
 * Fills `{placeholder}`s of a documented Keap path with encoded values. A trailing `:verb` (Google-style custom
 * method, e.g. `/v2/subscriptions/{subscription_id}:deactivate`) stays literal. Values that are empty, `.` or `..`
 * are rejected (they would change which resource the path names).
 */
import { KeapError } from './types.js';

const PLACEHOLDER = /\{([A-Za-z0-9_]+)\}/g;

export function pathPlaceholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1] as string);
}

function inputError(message: string): KeapError {
  return new KeapError({ category: 'input', message, retryable: false });
}

export function fillPath(template: string, params: Readonly<Record<string, unknown>>): string {
  return template.replace(PLACEHOLDER, (_m, name: string) => {
    const raw = params[name];
    if (raw === undefined || raw === null) throw inputError(`missing path parameter '${name}'`);
    if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'bigint') {
      throw inputError(`path parameter '${name}' must be a string or a number`);
    }
    const value = String(raw);
    if (value.trim() === '' || value === '.' || value === '..') {
      throw inputError(`path parameter '${name}' must not be empty, '.' or '..'`);
    }
    return encodeURIComponent(value);
  });
}
