/**
 * Custom field definitions the model has read in this process (through a tool that calls Keap's
 * GET /v2/{model}/model, e.g. list_custom_fields), cached per Keap client and model, so writes with
 * `custom_fields: [{id, content}]` can be checked against each field's type and options before anything is
 * sent. Forgotten when a write on that model comes back with a Keap 4xx input error (a definition may have
 * changed). Without cached definitions nothing is checked here (Keap judges).
 */
import { CUSTOM_FIELD_MODELS as CATALOG_CUSTOM_FIELD_MODELS } from '../registry/define.js';
import { checkFormat } from './formats.js';
import { describeValue, enumText, type Issue, type Normalized } from './validate.js';

export const CUSTOM_FIELD_MODELS: ReadonlySet<string> = new Set(CATALOG_CUSTOM_FIELD_MODELS);

export interface CustomFieldDef {
  readonly id: string;
  readonly label?: string;
  readonly field_type?: string;
  readonly options?: readonly { readonly id?: string; readonly label?: string }[];
}

type ModelCache = Map<string, ReadonlyMap<string, CustomFieldDef>>;
const caches = new WeakMap<object, ModelCache>();

function cacheOf(client: object): ModelCache {
  let c = caches.get(client);
  if (!c) {
    c = new Map();
    caches.set(client, c);
  }
  return c;
}

const MODEL_PATH = /^\/v2\/([a-z_]+)\/model$/;

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

/** After a successful GET of a model (filled path `/v2/<model>/model`): remember its custom fields. */
export function observeModelResponse(client: object, method: string, path: string, body: unknown): void {
  const m = method === 'GET' ? MODEL_PATH.exec(path) : null;
  if (!m || !CUSTOM_FIELD_MODELS.has(m[1] as string)) return;
  const list = (body as { custom_fields?: unknown } | null)?.custom_fields;
  if (!Array.isArray(list)) return;
  const defs = new Map<string, CustomFieldDef>();
  for (const raw of list) {
    if (typeof raw !== 'object' || raw === null) continue;
    const r = raw as Record<string, unknown>;
    const id = str(r.id);
    if (id === undefined) continue;
    const options = Array.isArray(r.options)
      ? r.options
          .filter((o): o is Record<string, unknown> => typeof o === 'object' && o !== null)
          .map((o) => ({
            ...(str(o.id) !== undefined ? { id: str(o.id) as string } : {}),
            ...(str(o.label) !== undefined ? { label: str(o.label) as string } : {}),
          }))
      : undefined;
    defs.set(id, {
      id,
      ...(typeof r.label === 'string' ? { label: r.label } : {}),
      ...(typeof r.field_type === 'string' ? { field_type: r.field_type } : {}),
      ...(options ? { options } : {}),
    });
  }
  cacheOf(client).set(m[1] as string, defs);
}

/** A write on `model` failed with a Keap input error: its definitions may be stale. */
export function forgetModel(client: object, model: string): void {
  caches.get(client)?.delete(model);
}

export function cachedModel(client: object, model: string): ReadonlyMap<string, CustomFieldDef> | undefined {
  return caches.get(client)?.get(model);
}

const TEXT_TYPES = new Set([
  'TEXT',
  'TEXT_AREA',
  'NAME',
  'PHONE_NUMBER',
  'SOCIAL_SECURITY_NUMBER',
  'STATE',
  'WEBSITE',
  'EMAIL',
]);
const SINGLE_CHOICE = new Set(['DROPDOWN', 'RADIO', 'DRILLDOWN']);
const MULTI_CHOICE = new Set(['LIST_BOX']);
const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

function optionNames(def: CustomFieldDef): string[] {
  return (def.options ?? []).map((o) => o.label ?? o.id ?? '').filter((s) => s !== '');
}

function isOption(def: CustomFieldDef, v: string): boolean {
  return (def.options ?? []).some((o) => o.label === v || o.id === v);
}

/** Problem with `content` for `def`, or undefined; may rewrite an unambiguous date. */
function contentProblem(
  def: CustomFieldDef,
  content: unknown,
  at: string,
  notes: Normalized[],
): { problem?: string; value?: unknown } {
  if (content === null || content === undefined) return {};
  const t = def.field_type ?? '';
  const num = typeof content === 'string' && content.trim() !== '' ? Number(content) : content;
  if (TEXT_TYPES.has(t)) {
    if (typeof content !== 'string') return { problem: `expected text, got ${describeValue(content)}` };
    if (t === 'EMAIL' && content !== '' && !/^[^@\s]+@[^@\s]+$/.test(content))
      return { problem: `expected an email address, got ${describeValue(content)}` };
    return {};
  }
  if (t === 'WHOLE_NUMBER' || t === 'YEAR') {
    return typeof num === 'number' && Number.isSafeInteger(num)
      ? {}
      : { problem: `expected a whole number, got ${describeValue(content)}` };
  }
  if (t === 'DECIMAL_NUMBER' || t === 'CURRENCY' || t === 'PERCENT') {
    return typeof num === 'number' && Number.isFinite(num)
      ? {}
      : { problem: `expected a number, got ${describeValue(content)}` };
  }
  if (t === 'DATE' || t === 'DATE_TIME') {
    if (typeof content !== 'string')
      return { problem: `expected a date string, got ${describeValue(content)}` };
    const r = checkFormat(t === 'DATE' ? 'date' : 'date-time', content);
    if (r.expected) return { problem: `expected ${r.expected}, got ${describeValue(content)}` };
    if (r.normalizedFrom !== undefined) {
      notes.push({ field: at, from: r.normalizedFrom, to: r.value });
      return { value: r.value };
    }
    return {};
  }
  if (t === 'YES_NO') {
    return typeof content === 'boolean' || content === 'Yes' || content === 'No'
      ? {}
      : { problem: `expected true/false (or "Yes"/"No"), got ${describeValue(content)}` };
  }
  if (t === 'DAY_OF_WEEK') {
    return typeof content === 'string' && DAYS.includes(content)
      ? {}
      : { problem: `expected one of ${DAYS.join(', ')}, got ${describeValue(content)}` };
  }
  if (SINGLE_CHOICE.has(t) && (def.options ?? []).length > 0) {
    return typeof content === 'string' && isOption(def, content)
      ? {}
      : { problem: `expected one of ${enumText(optionNames(def))}, got ${describeValue(content)}` };
  }
  if (MULTI_CHOICE.has(t) && (def.options ?? []).length > 0) {
    const values = Array.isArray(content)
      ? content
      : typeof content === 'string'
        ? content.split(',').map((s) => s.trim())
        : [content];
    const bad = values.filter((v) => typeof v !== 'string' || !isOption(def, v));
    return bad.length === 0
      ? {}
      : {
          problem: `expected options from ${enumText(optionNames(def))}, got ${bad.map(describeValue).join(', ')}`,
        };
  }
  return {};
}

/**
 * Checks `custom_fields` entries against cached definitions; returns the entries (dates may be normalised).
 */
export function checkCustomFields(
  defs: ReadonlyMap<string, CustomFieldDef>,
  model: string,
  entries: unknown,
  issues: Issue[],
  notes: Normalized[],
): unknown {
  if (!Array.isArray(entries)) return entries;
  return entries.map((entry, i) => {
    if (typeof entry !== 'object' || entry === null) return entry;
    const e = entry as Record<string, unknown>;
    const id = str(e.id);
    const at = `custom_fields[${i}]`;
    if (id === undefined) return entry;
    const def = defs.get(id);
    if (!def) {
      const known = [...defs.values()].map((d) => `${d.id}${d.label ? ` (${d.label})` : ''}`);
      issues.push({
        kind: 'invalid',
        path: `${at}.id`,
        message: `${at}.id: no ${model} custom field has id ${id} (known: ${enumText(known) || 'none'})`,
      });
      return entry;
    }
    const r = contentProblem(def, e.content, `${at}.content`, notes);
    if (r.problem) {
      issues.push({
        kind: 'invalid',
        path: `${at}.content`,
        message: `${at}.content: ${def.label ? `'${def.label}' ` : ''}is a ${def.field_type} field: ${r.problem}`,
      });
    }
    return r.value !== undefined ? { ...e, content: r.value } : entry;
  });
}
