/**
 * Bounds every argument has, checked before anything else looks at it (and before anything is sent):
 * nesting depth, the length of every string (Keap's documented maxLength where the facts have one, otherwise
 * the machinery's table below) and the size of the whole arguments object. All walks are iterative.
 */

/** Containers nested deeper than this are refused (nothing Keap accepts is nested half as deep). */
export const MAX_ARGS_DEPTH = 64;
/** The whole arguments object, as JSON text (approximately: strings, keys and scalars counted). */
export const MAX_ARGS_CHARS = 1_000_000;

/**
 * Text caps where Keap documents none, by the argument's (or nested property's) name; the first match wins.
 * Keap's own documented limits are all lower, so they apply first (see prepare.ts).
 */
const TEXT_CAPS: readonly (readonly [RegExp, number])[] = [
  [/^approval_id$/, 64], // 22 base64url characters (src/safety/approvals.ts)
  [/^(id|key)$|_ids?$/, 20], // ids are digit strings
  [/^filter$|^query$/, 2_000],
  [/^(order_by|fields|update_mask|optional_properties|page_token|next_page_token)$/, 500],
  [/content|body|html|text|message|notes?$|description/i, 100_000],
  [/name$|title$|subject$|label$|email|phone|url|website|address/i, 1_000],
];
const DEFAULT_TEXT_CAP = 10_000;

/** The machinery's cap for a string under `key` (the nearest property name; '' at the top of a list). */
export function textCap(key: string): number {
  for (const [re, cap] of TEXT_CAPS) if (re.test(key)) return cap;
  return DEFAULT_TEXT_CAP;
}

/** Depth of the deepest container, counting stops once it exceeds `max` (iterative; arrays and objects). */
export function deeperThan(value: unknown, max: number = MAX_ARGS_DEPTH): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  const seen = new Set<object>();
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    if (depth >= max) return true;
    seen.add(v);
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

function withKey(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/**
 * Every string over its cap (at most `maxIssues`), and the whole object over MAX_ARGS_CHARS, as messages that
 * name the field and the limit. `documented(key)` gives Keap's maxLength of a top-level argument, if any.
 */
export function boundsIssues(
  args: Readonly<Record<string, unknown>>,
  documented: (key: string) => number | undefined,
  maxIssues = 8,
): string[] {
  const issues: string[] = [];
  let chars = 2;
  let over = false;
  const stack: { v: unknown; path: string; key: string; top: boolean }[] = [];
  for (const [k, v] of Object.entries(args)) stack.push({ v, path: k, key: k, top: true });
  stack.reverse();
  while (stack.length > 0 && issues.length < maxIssues) {
    const { v, path, key, top } = stack.pop() as (typeof stack)[number];
    chars += key.length + 4;
    if (typeof v === 'string') {
      const keap = top ? documented(key) : undefined;
      const cap = keap ?? textCap(key);
      if (v.length > cap) {
        issues.push(
          `${path}: at most ${cap.toLocaleString('en-US')} characters${keap !== undefined ? " (Keap's limit)" : ''}, got ${v.length.toLocaleString('en-US')}`,
        );
      }
      chars += v.length + 2;
    } else if (Array.isArray(v)) {
      chars += 2 + v.length;
      for (let i = v.length - 1; i >= 0 && chars <= MAX_ARGS_CHARS; i--) {
        stack.push({ v: v[i], path: `${path}[${i}]`, key, top: false });
      }
    } else if (typeof v === 'object' && v !== null) {
      const entries = Object.entries(v);
      chars += 2;
      for (let i = entries.length - 1; i >= 0 && chars <= MAX_ARGS_CHARS; i--) {
        const [k, child] = entries[i] as [string, unknown];
        stack.push({ v: child, path: withKey(path, k), key: k, top: false });
      }
    } else {
      chars += String(v).length;
    }
    if (chars > MAX_ARGS_CHARS) over = true;
    if (over && issues.length > 0) break;
  }
  if (over && issues.length === 0) {
    issues.push(
      `arguments: at most ${MAX_ARGS_CHARS.toLocaleString('en-US')} characters in all (as JSON); send less per call`,
    );
  }
  return issues;
}
