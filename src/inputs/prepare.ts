/**
 * A tool call's arguments → the arguments the pipeline runs with, or one input error naming every problem.
 * In order: aliases are renamed; every top-level name must be a listed input, a machinery field or an input
 * Keap documents for the operation (unknown names are errors with a suggestion: a filter key, or a near name);
 * the listed inputs are parsed by the tool's zod schema; whatever zod dropped from nested objects is put back
 * so the facts validator (validate.ts) sees exactly what the model sent and judges every documented input
 * (type, format, enum, bounds, nested shape, read-only); then the spec's cross-field rules and, when this
 * process has read the model's definitions, custom field contents. Nothing is dropped without an error.
 */
import { z } from 'zod';
import { ToolError } from '../errors.js';
import { resolveFact } from '../facts/index.js';
import type { FieldFact } from '../facts/types.js';
import { pathPlaceholders } from '../keap/path.js';
import type { AnyToolSpec, InputRule } from '../registry/define.js';
import { boundsIssues } from './bounds.js';
import { CUSTOM_FIELD_MODELS, cachedModel, checkCustomFields } from './custom-fields.js';
import { needsFilledPath, planFor, routeOf, type ToolPlan } from './plan.js';
import {
  describeValue,
  type Issue,
  type Normalized,
  parseJsonText,
  type ValidateContext,
  validateFact,
} from './validate.js';

export type Prepared =
  | { readonly ok: true; readonly args: Record<string, unknown>; readonly notes: readonly Normalized[] }
  | { readonly ok: false; readonly error: ToolError };

export type InputChecker = (raw: unknown, client: object) => Promise<Prepared>;

const MAX_ISSUES = 8;

/**
 * Prepared arguments carry the checker's rewrites under this machinery key (the SDK copies argument objects
 * on the way to the handler, so identity cannot carry them); the pipeline takes it out before anything else.
 * A model cannot set it: it is not an accepted name.
 */
export const NOTES_FIELD = '__keap_mcp_normalized';

/** Splits prepared arguments into the arguments proper and the rewrites the checker applied. */
export function takeNotes(args: Readonly<Record<string, unknown>>): {
  args: Readonly<Record<string, unknown>>;
  notes: readonly Normalized[];
} {
  if (!(NOTES_FIELD in args)) return { args, notes: [] };
  const { [NOTES_FIELD]: raw, ...rest } = args;
  return { args: rest, notes: Array.isArray(raw) ? (raw as Normalized[]) : [] };
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** zod's output with every nested key zod stripped from the raw value put back (to be judged by the facts). */
function restoreStripped(raw: unknown, parsed: unknown): unknown {
  const r = typeof parsed === 'object' && parsed !== null ? parseJsonText(raw) : raw;
  if (isPlain(r) && isPlain(parsed)) {
    const out: Record<string, unknown> = { ...parsed };
    for (const [k, v] of Object.entries(r)) {
      if (!Object.hasOwn(parsed, k)) {
        if (v !== undefined) out[k] = v;
      } else out[k] = restoreStripped(v, parsed[k]);
    }
    return out;
  }
  if (Array.isArray(r) && Array.isArray(parsed) && r.length === parsed.length) {
    return parsed.map((p, i) => restoreStripped(r[i], p));
  }
  return parsed;
}

/** The raw value at a zod issue's path (JSON text read as the schema's preprocessing does); undefined if absent. */
function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const p of path) {
    cur = parseJsonText(cur);
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        (prev[j] as number) + 1,
        (cur[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length] as number;
}

/** The closest accepted name, when one is close enough to be a likely typo. */
export function nearName(key: string, accepted: readonly string[]): string | undefined {
  const k = key.toLowerCase().replace(/-/g, '_');
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const a of accepted) {
    const d = a.toLowerCase() === k ? 0 : levenshtein(k, a.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = a;
    }
  }
  const limit = Math.max(1, Math.min(3, Math.floor(key.length / 3)));
  return best !== undefined && bestD <= limit ? best : undefined;
}

function zodPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out;
}

function ruleIssue(rule: InputRule, args: Readonly<Record<string, unknown>>): string | undefined {
  const given = rule.keys.filter((k) => args[k] !== undefined);
  if (rule.kind === 'at_least_one' && given.length === 0) {
    return `give ${rule.keys.join(' or ')} (at least one)`;
  }
  if (rule.kind === 'exactly_one' && given.length !== 1) {
    return `give exactly one of ${rule.keys.join(' / ')}${given.length > 1 ? ` (got ${given.join(' and ')})` : ''}`;
  }
  return undefined;
}

/** Validates a query/path parameter value; array parameters also take Keap's comma-joined text. */
function validateParam(schema: FieldFact, value: unknown, key: string, ctx: ValidateContext): unknown {
  const s = resolveFact(schema);
  if (s.type === 'array' && typeof value === 'string') {
    const parts = value
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '');
    const out = validateFact(s, parts, key, ctx);
    return Array.isArray(out) ? out.join(',') : value;
  }
  return validateFact(schema, value, key, ctx);
}

/**
 * Builds the checker of one registered tool. `shape` is the registered input shape (spec inputs plus the
 * machinery fields of this registration). Everything per tool is computed here, once.
 */
export function createInputChecker(spec: AnyToolSpec, shape: z.ZodRawShape): InputChecker {
  const listed = Object.keys(spec.input);
  const listedSet = new Set(listed);
  const machine = Object.keys(shape).filter((k) => !listedSet.has(k));
  const schema = z.object(shape);
  const aliases = Object.entries(spec.aliases ?? {});
  const staticPlan = needsFilledPath(spec) ? undefined : planFor(spec);
  const placeholders = new Set(pathPlaceholders(spec.path));
  const acceptedOf = (plan: ToolPlan): Set<string> => new Set([...listed, ...machine, ...plan.documented]);
  const staticAccepted = staticPlan ? acceptedOf(staticPlan) : undefined;

  return async (raw, client) => {
    if (!isPlain(raw)) {
      return {
        ok: false,
        error: new ToolError({
          category: 'input',
          message: `${spec.name}: arguments must be an object, got ${describeValue(raw)}`,
          nextStep: 'Call again with the arguments as a JSON object',
        }),
      };
    }
    const issues: Issue[] = [];
    const notes: Normalized[] = [];
    // 1. Aliases → Keap's names.
    let input: Record<string, unknown> = raw;
    if (aliases.length > 0) {
      input = { ...raw };
      for (const [alias, name] of aliases) {
        if (input[alias] === undefined) continue;
        if (input[name] !== undefined) {
          issues.push({
            kind: 'invalid',
            path: alias,
            message: `give ${name} or its alias ${alias}, not both`,
          });
        } else input[name] = input[alias];
        delete input[alias];
      }
    }
    const plan: ToolPlan = staticPlan ?? planFor(spec, input);
    // 2a. Bounded text: every string within Keap's documented maxLength or the machinery's cap, and the whole
    // object within its size cap, before anything else reads the values.
    const overLimit = boundsIssues(input, (key) => {
      const fact = plan.body.get(key) ?? plan.params.get(key)?.schema;
      return fact === undefined ? undefined : resolveFact(fact).maxLength;
    });
    if (overLimit.length > 0) {
      return {
        ok: false,
        error: new ToolError({
          category: 'input',
          message: `${spec.name}: ${overLimit.join('; ')}`,
          nextStep: 'Nothing was sent. Shorten the named argument(s) and call again',
        }),
      };
    }
    // 2. Every top-level name accounted for.
    const accepted = staticAccepted ?? acceptedOf(plan);
    const toZod: Record<string, unknown> = {};
    const unlisted: [string, unknown][] = [];
    let unknownTop = false;
    for (const [key, value] of Object.entries(input)) {
      if (listedSet.has(key) || machine.includes(key)) toZod[key] = value;
      else if (plan.readOnly.has(key)) {
        issues.push({
          kind: 'read_only',
          path: key,
          message: `${key}: read-only (Keap sets it; it is not accepted as input)`,
        });
      } else if (accepted.has(key)) unlisted.push([key, value]);
      else {
        unknownTop = true;
        const filterHint =
          plan.filterKeys.has(key) && plan.params.has('filter') ? `use filter: ${key}==…` : undefined;
        const near = filterHint ? undefined : nearName(key, [...accepted]);
        issues.push({
          kind: 'unknown',
          path: key,
          message: `${key}: not an argument of ${spec.name}${
            filterHint ? ` (${filterHint})` : near ? ` (did you mean ${near}?)` : ''
          }`,
        });
      }
    }
    // 3. The listed inputs through zod.
    const parsed = await schema.safeParseAsync(toZod);
    const merged: Record<string, unknown> = {};
    if (parsed.success) {
      for (const [k, v] of Object.entries(parsed.data)) {
        if (v !== undefined) merged[k] = listedSet.has(k) ? restoreStripped(toZod[k], v) : v;
      }
    } else {
      const failed = new Set<string>();
      for (const i of parsed.error.issues.slice(0, MAX_ISSUES)) {
        const at = i.path.length > 0 ? zodPath(i.path) : '(arguments)';
        if (i.path.length > 0) failed.add(String(i.path[0]));
        if (i.path.length > 0 && valueAt(toZod, i.path) === undefined) {
          issues.push({ kind: 'required', path: at, message: `${at}: required` });
        } else issues.push({ kind: 'invalid', path: at, message: `${at}: ${i.message}` });
      }
      // The other listed inputs are still judged by the facts (one error names every problem).
      for (const [k, v] of Object.entries(toZod)) {
        if (listedSet.has(k) && !failed.has(k) && v !== undefined) merged[k] = parseJsonText(v);
      }
    }
    for (const [k, v] of unlisted) if (v !== undefined) merged[k] = v;
    // 4. Every documented input judged by the facts.
    const ctx: ValidateContext = { resolve: resolveFact, issues, notes };
    if (plan.op) {
      for (const [key, value] of Object.entries(merged)) {
        if (machine.includes(key)) continue;
        const param = plan.params.get(key);
        const bodyProp = plan.body.get(key);
        if (bodyProp && (!param || routeOf(spec, plan, key, placeholders) === 'body')) {
          merged[key] = validateFact(bodyProp, value, key, ctx);
        } else if (param) merged[key] = validateParam(param.schema, value, key, ctx);
      }
      if (parsed.success) {
        for (const k of [...plan.requiredBody, ...plan.requiredQuery]) {
          if (merged[k] === undefined && !issues.some((i) => i.path === k)) {
            issues.push({ kind: 'required', path: k, message: `${k}: required` });
          }
        }
      }
    }
    // 5. Cross-field rules.
    for (const rule of spec.rules ?? []) {
      // A key given but invalid counts as given (its own error says what is wrong).
      const problem = ruleIssue(rule, { ...input, ...merged });
      if (problem) issues.push({ kind: 'invalid', path: rule.keys.join('/'), message: problem });
    }
    // 6. Custom field contents, when this process has read the model's definitions.
    if (merged.custom_fields !== undefined && CUSTOM_FIELD_MODELS.has(spec.resource)) {
      const defs = cachedModel(client, spec.resource);
      if (defs)
        merged.custom_fields = checkCustomFields(defs, spec.resource, merged.custom_fields, issues, notes);
    }
    if (issues.length > 0) return { ok: false, error: inputError(spec, issues, unknownTop, listed, plan) };
    if (notes.length > 0) merged[NOTES_FIELD] = notes;
    return { ok: true, args: merged, notes };
  };
}

function inputError(
  spec: AnyToolSpec,
  issues: readonly Issue[],
  unknownTop: boolean,
  listed: readonly string[],
  plan: ToolPlan,
): ToolError {
  const shown = issues.slice(0, MAX_ISSUES).map((i) => i.message);
  if (issues.length > MAX_ISSUES) shown.push(`and ${issues.length - MAX_ISSUES} more`);
  let message = `${spec.name}: ${shown.join('; ')}`;
  if (unknownTop) {
    const listedSet = new Set(listed);
    const more = plan.documented.filter((k) => !listedSet.has(k));
    message += `. Accepted arguments: ${listed.join(', ') || 'none'}${
      more.length > 0 ? `; also Keap's documented inputs: ${more.join(', ')}` : ''
    }`;
  }
  return new ToolError({
    category: 'input',
    message,
    nextStep: 'Nothing was sent. Fix the named argument(s) and call again',
  });
}
