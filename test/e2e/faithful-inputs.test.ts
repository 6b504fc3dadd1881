/**
 * Faithful inputs: every catalog tool, through a real MCP client → createServer → the real Keap client → a
 * recording proxy → the sandbox. Undocumented names (top level and nested) are input errors that name them and
 * send nothing; every input Keap documents for a tool's operation but the tool does not list is accepted,
 * checked and sent where Keap expects it (and the request validates against Keap's document); formats,
 * integers and enums are enforced; PATCH sends update_mask; aliases, rules and custom field contents are checked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { findOperation, resolveFact } from '../../src/facts/index.js';
import type { FieldFact, OperationFact } from '../../src/facts/types.js';
import { pathPlaceholders } from '../../src/keap/path.js';
import { type AnyToolSpec, defineTool } from '../../src/registry/define.js';
import type { RunningSandbox } from '../../src/sandbox/core/types.js';
import { NO_LIMITS, startSandbox } from '../../src/sandbox/server.js';
import { ALL_TOOLS } from '../../tools/index.js';
import { sample } from '../helpers/fact-samples.js';
import { type RecordingProxy, startRecordingProxy } from '../helpers/recording-proxy.js';
import { validateRequest } from '../sandbox/openapi-helper.js';
import { data, FULL_WRITE_POLICY, type Harness, SANDBOX_KEY, startHarness, text } from '../server/harness.js';

type Data = Record<string, any>;

let sandbox: RunningSandbox;
let proxy: RecordingProxy;
let h: Harness;

beforeAll(async () => {
  sandbox = await startSandbox({
    host: '127.0.0.1',
    port: 0,
    control: true,
    apiKeys: [SANDBOX_KEY],
    limits: NO_LIMITS,
  });
  proxy = await startRecordingProxy(sandbox.baseUrl);
  h = await startHarness({
    policy: FULL_WRITE_POLICY,
    sandbox: { ...sandbox, baseUrl: proxy.baseUrl },
    maxWaitMs: 10_000,
  });
}, 30_000);

afterAll(async () => {
  await h?.close();
  await proxy?.close();
  await sandbox?.close();
});

// ---- facts → sample values -------------------------------------------------------------------------------

/** Sample values of enum path parameters (e.g. list_custom_fields' model): the facts are the filled path's. */
const PATH_SAMPLES: Record<string, string> = { model: 'contacts' };

function opOf(spec: AnyToolSpec): OperationFact {
  const filled = spec.path.replace(/\{(\w+)\}/g, (m, p: string) => PATH_SAMPLES[p] ?? m);
  const op = findOperation(spec.method, spec.path) ?? findOperation(spec.method, filled);
  if (!op) throw new Error(`${spec.name}: no operation facts for ${spec.method} ${spec.path}`);
  return op;
}

function bodyProps(op: OperationFact): Record<string, FieldFact> {
  if (!op.body) return {};
  const out: Record<string, FieldFact> = {};
  for (const [k, f] of Object.entries(resolveFact(op.body.schema).properties ?? {})) {
    if (!(f.readOnly ?? resolveFact(f).readOnly)) out[k] = f;
  }
  return out;
}

/** Top-level documented inputs (query params and writable body properties; path params excluded). */
function documented(op: OperationFact): Record<string, { fact: FieldFact; in: 'query' | 'body' }> {
  const out: Record<string, { fact: FieldFact; in: 'query' | 'body' }> = {};
  for (const p of op.params) if (p.in === 'query') out[p.name] = { fact: p.schema, in: 'query' };
  for (const [k, f] of Object.entries(bodyProps(op))) out[k] ??= { fact: f, in: 'body' };
  return out;
}

/** The resolved object schema an input holds (itself, or its array's items), when it has properties. */
function objectOf(fact: FieldFact): { obj: FieldFact; array: boolean } | undefined {
  const f = resolveFact(fact);
  if (f.type === 'object' && f.properties && !f.additionalProperties) return { obj: f, array: false };
  if (f.type === 'array' && f.items) {
    const i = resolveFact(f.items);
    if (i.type === 'object' && i.properties && !i.additionalProperties) return { obj: i, array: true };
  }
  return undefined;
}

/** Arguments that pass a write tool's checks: path ids, required inputs, one key per rule. */
function baseArgs(spec: AnyToolSpec): Data {
  const op = opOf(spec);
  const args: Data = {};
  for (const p of pathPlaceholders(spec.path)) args[p] = PATH_SAMPLES[p] ?? '1';
  if (spec.path.includes('{key}')) args.key = 'hook-key-1';
  const props = bodyProps(op);
  for (const r of resolveFact(op.body?.schema ?? {}).required ?? []) {
    if (props[r]) args[r] = sample(props[r], r);
  }
  for (const p of op.params) if (p.in === 'query' && p.required) args[p.name] = sample(p.schema, p.name);
  // Listed inputs zod requires that the document leaves optional.
  const shape = z.object(spec.input);
  const probe = shape.safeParse(args);
  if (!probe.success) {
    for (const issue of probe.error.issues) {
      const k = String(issue.path[0]);
      if (args[k] === undefined) {
        const d = documented(op)[k];
        args[k] = d ? sample(d.fact, k) : 'sample';
      }
    }
  }
  for (const rule of spec.rules ?? []) {
    const first = rule.keys[0] as string;
    if (!rule.keys.some((k) => args[k] !== undefined)) {
      const d = documented(op)[first];
      args[first] = d ? sample(d.fact, first) : 'sample';
    }
    if (rule.kind === 'exactly_one') for (const k of rule.keys.slice(1)) delete args[k];
  }
  return args;
}

const OVERRIDES: Record<string, Data> = {
  create_hook: { eventKey: 'contact.add', hookUrl: 'https://example.com/hook' },
  send_email: { contacts: ['1'], subject: 'Hi', user_id: '1' },
  achieve_goal: { contact_id: 1, integration: 'i', call_name: 'c' },
  create_order_payment: { payment_amount: 1, apply_to_commissions: false, payment_method_type: 'Cash' },
};

/** Drops the other keys of every exactly-one rule that `keep` (or else an override) belongs to. */
function fitRules(spec: AnyToolSpec, args: Data, keep: readonly string[]): Data {
  for (const rule of spec.rules ?? []) {
    if (rule.kind !== 'exactly_one') continue;
    const chosen = rule.keys.find((k) => keep.includes(k)) ?? rule.keys.find((k) => args[k] !== undefined);
    for (const k of rule.keys) if (k !== chosen) delete args[k];
  }
  return args;
}

function writeArgs(spec: AnyToolSpec, keep: readonly string[] = []): Data {
  const overrides = OVERRIDES[spec.name] ?? {};
  const args = { ...baseArgs(spec), ...overrides };
  if (spec.name === 'send_email') delete args.from_address;
  return fitRules(spec, args, [...keep, ...Object.keys(overrides)]);
}

async function call(name: string, args: Data) {
  proxy.clear();
  return h.call(name, args);
}

function expectInputError(res: Awaited<ReturnType<typeof call>>, ...mentions: (string | RegExp)[]): string {
  expect(res.isError, `expected an input error, got ${text(res)}`).toBe(true);
  const err = data(res).error as Data;
  expect(err.category, text(res)).toBe('input');
  for (const m of mentions) {
    if (typeof m === 'string') expect(err.message, text(res)).toContain(m);
    else expect(err.message, text(res)).toMatch(m);
  }
  expect(proxy.requests, 'nothing is sent').toHaveLength(0);
  return err.message as string;
}

/**
 * Contradictions inside Keap's document: remind_time_mins is `type: integer` with an enum of strings
 * ("5", "10", …); the facts keep the integers, so ajv's enum check on the document cannot pass.
 */
const DOC_QUIRKS = [/remind_time_mins must be equal to one of the allowed values/];

const WRITES = ALL_TOOLS.filter((t) => t.access === 'write');

function queryRecord(q: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(q)) if (v !== undefined) out[k] = String(v);
  return out;
}

// ---- tests ------------------------------------------------------------------------------------------------

describe('every catalog tool has operation facts', () => {
  it.each(ALL_TOOLS.map((t) => [t.name, t] as const))('%s', (_n, spec) => {
    expect(opOf(spec), `${spec.method} ${spec.path}`).toBeDefined();
  });
});

describe('unknown arguments are input errors that name them; nothing is sent', () => {
  it.each(ALL_TOOLS.map((t) => [t.name, t] as const))('%s: top level', async (_n, spec) => {
    const args = spec.access === 'write' ? writeArgs(spec) : baseArgs(spec);
    const msg = expectInputError(await call(spec.name, { ...args, bogus_arg: 1 }), 'bogus_arg');
    expect(msg).toMatch(/Accepted arguments:/);
    for (const k of Object.keys(spec.input)) expect(msg).toContain(k);
  });

  const nested: [string, string, AnyToolSpec][] = [];
  for (const t of ALL_TOOLS) {
    for (const [k, d] of Object.entries(documented(opOf(t))))
      if (objectOf(d.fact)) nested.push([t.name, k, t]);
  }
  it('some tools have nested objects', () => expect(nested.length).toBeGreaterThan(10));
  it.each(nested)('%s: nested key in %s', async (_n, key, spec) => {
    const d = documented(opOf(spec))[key] as { fact: FieldFact };
    const o = objectOf(d.fact) as { obj: FieldFact; array: boolean };
    const inner = { ...(sample(o.obj, key) as Data), bogus_nested: 'x' };
    const value = o.array ? [inner] : inner;
    const args = { ...(spec.access === 'write' ? writeArgs(spec) : baseArgs(spec)), [key]: value };
    const path = o.array ? `${key}[0].bogus_nested` : `${key}.bogus_nested`;
    expectInputError(await call(spec.name, args), path);
  });
});

describe('list_contacts {email} points at the filter; near names are suggested', () => {
  it('email → use filter: email==…', async () => {
    expectInputError(await call('list_contacts', { email: 'x@example.com' }), 'use filter: email==');
  });
  it('a typo → did you mean', async () => {
    expectInputError(
      await call('update_contact', { contact_id: '1', given_nme: 'Jo', dry_run: true }),
      'given_nme',
      'did you mean given_name?',
    );
  });
  it('a read-only property is refused by name', async () => {
    const op = opOf(ALL_TOOLS.find((t) => t.name === 'update_contact') as AnyToolSpec);
    const ro = Object.entries(resolveFact(op.body?.schema ?? {}).properties ?? {}).find(
      ([, f]) => f.readOnly ?? resolveFact(f).readOnly,
    );
    if (ro) {
      expectInputError(
        await call('update_contact', { contact_id: '1', [ro[0]]: 'x', dry_run: true }),
        ro[0],
        'read-only',
      );
    }
  });
});

describe('documented inputs the tool does not list are accepted, checked and sent', () => {
  const cases: [string, string, AnyToolSpec][] = [];
  for (const t of ALL_TOOLS) {
    const listed = new Set(Object.keys(t.input));
    for (const k of Object.keys(documented(opOf(t)))) {
      if (!listed.has(k) && k !== 'update_mask') cases.push([t.name, k, t]);
    }
  }
  it('there are such inputs', () => expect(cases.length).toBeGreaterThan(50));

  it.each(cases.filter(([, , t]) => t.access === 'write'))('%s: %s (dry run)', async (name, key, spec) => {
    const op = opOf(spec);
    const d = documented(op)[key] as { fact: FieldFact; in: 'query' | 'body' };
    const value = sample(d.fact, key);
    const res = await call(name, {
      ...fitRules(spec, { ...writeArgs(spec, [key]), [key]: value }, [key]),
      dry_run: true,
    });
    expect(res.isError, text(res)).toBeFalsy();
    expect(proxy.requests).toHaveLength(0);
    const req = data(res).request as Data;
    const where = req.body && key in req.body ? 'body' : key in (req.query ?? {}) ? 'query' : 'missing';
    expect(where, `${key} sent`).toBe(d.in);
    const version = spec.path.startsWith('/v1/') ? 'v1' : 'v2';
    expect(
      validateRequest(version, spec.method, spec.path, {
        query: queryRecord(req.query),
        body: req.body,
      }).filter((e) => !DOC_QUIRKS.some((q) => q.test(e))),
    ).toEqual([]);
  });

  it.each(cases.filter(([, , t]) => t.access === 'read'))('%s: %s (live)', async (name, key, spec) => {
    const op = opOf(spec);
    const d = documented(op)[key] as { fact: FieldFact };
    let value = sample(d.fact, key);
    if (key === 'order_by' && op.orderByFields?.[0]) value = `${op.orderByFields[0]} asc`;
    if (key === 'fields' && op.fieldsValues?.[0]) value = op.fieldsValues[0];
    if (key === 'filter' && op.filterKeys?.[0]) value = `${op.filterKeys[0]}==1`;
    const res = await call(name, { ...baseArgs(spec), [key]: value });
    const err = res.isError ? (data(res).error as Data) : undefined;
    expect(err?.category, text(res)).not.toBe('input');
    expect(proxy.requests.length).toBeGreaterThan(0);
    const ex = proxy.requests.at(-1);
    expect(ex?.query.has(key), `${key} in the query`).toBe(true);
    const version = spec.path.startsWith('/v1/') ? 'v1' : 'v2';
    expect(validateRequest(version, spec.method, spec.path, { query: ex?.query })).toEqual([]);
  });
});

describe('update_contact: custom_fields, birth_date and nested opt_in_reason are sent with update_mask', () => {
  it('dry run shows them all', async () => {
    const res = await call('update_contact', {
      contact_id: '1',
      birth_date: '1990-05-01',
      custom_fields: [{ id: '1', content: 'x' }],
      email_addresses: [{ email: 'a@example.com', field: 'EMAIL1', opt_in_reason: 'form' }],
      dry_run: true,
    });
    expect(res.isError, text(res)).toBeFalsy();
    const req = data(res).request as Data;
    expect(req.body.birth_date).toBe('1990-05-01');
    expect(req.body.custom_fields).toEqual([{ id: '1', content: 'x' }]);
    expect(req.body.email_addresses[0].opt_in_reason).toBe('form');
    expect(String(req.query.update_mask).split(',').sort()).toEqual(
      ['birth_date', 'custom_fields', 'email_addresses'].sort(),
    );
    expect(
      validateRequest('v2', 'PATCH', '/v2/contacts/{contact_id}', {
        query: queryRecord(req.query),
        body: req.body,
      }),
    ).toEqual([]);
  });

  it('a model-given update_mask is kept and checked against the enum', async () => {
    const ok = await call('update_contact', {
      contact_id: '1',
      given_name: 'A',
      update_mask: ['given_name'],
      dry_run: true,
    });
    expect(ok.isError, text(ok)).toBeFalsy();
    expect(data(ok).request.query.update_mask).toBe('given_name');
    expectInputError(
      await call('update_contact', {
        contact_id: '1',
        given_name: 'A',
        update_mask: 'nonsense',
        dry_run: true,
      }),
      'update_mask[0]',
    );
  });

  it('every PATCH tool whose operation documents update_mask sends one', async () => {
    for (const spec of WRITES.filter((t) => t.method === 'PATCH')) {
      if (!opOf(spec).params.some((p) => p.name === 'update_mask')) continue;
      const listed = Object.keys(spec.input).find(
        (k) => !pathPlaceholders(spec.path).includes(k) && documented(opOf(spec))[k]?.in === 'body',
      ) as string;
      const d = documented(opOf(spec))[listed] as { fact: FieldFact };
      const res = await call(spec.name, {
        ...writeArgs(spec),
        [listed]: sample(d.fact, listed),
        dry_run: true,
      });
      expect(res.isError, text(res)).toBeFalsy();
      expect(String(data(res).request.query.update_mask).split(','), spec.name).toContain(listed);
    }
  });

  it('against the sandbox: update_mask=birth_date,custom_fields changes exactly those (get_contact shows them)', async () => {
    const model = await call('list_custom_fields', { model: 'contacts' });
    expect(model.isError, text(model)).toBeFalsy();
    const defs = (data(model).custom_fields ?? []) as Data[];
    const textField = defs.find((d) => d.field_type === 'TEXT');
    expect(textField, JSON.stringify(defs)).toBeDefined();
    const created = await call('create_contact', {
      given_name: 'Mask',
      family_name: 'Keep',
      email_addresses: [{ email: 'mask@example.com', field: 'EMAIL1' }],
    });
    expect(created.isError, text(created)).toBeFalsy();
    const id = String(data(created).id);
    const fields = 'given_name,family_name,birth_date,custom_fields,email_addresses';
    const before = data(await call('get_contact', { contact_id: id, fields }));
    const res = await call('update_contact', {
      contact_id: id,
      birth_date: '1990-05-01',
      custom_fields: [{ id: String(textField!.id), content: 'Teal' }],
    });
    expect(res.isError, text(res)).toBeFalsy();
    const ex = proxy.requests.findLast((r) => r.method === 'PATCH');
    expect(ex?.query.get('update_mask')?.split(',').sort()).toEqual(['birth_date', 'custom_fields']);
    expect(ex?.body).toEqual({
      birth_date: '1990-05-01',
      custom_fields: [{ id: String(textField!.id), content: 'Teal' }],
    });
    const after = data(await call('get_contact', { contact_id: id, fields }));
    expect(after.birth_date).toBe('1990-05-01');
    expect(after.custom_fields).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: textField!.id, content: 'Teal' })]),
    );
    // Nothing else changed.
    expect(after.given_name).toBe(before.given_name);
    expect(after.family_name).toBe(before.family_name);
    expect(after.email_addresses).toEqual(before.email_addresses);
  });

  it('a custom field value of the wrong type for the field is an input error (0 requests)', async () => {
    const model = await call('list_custom_fields', { model: 'contacts' });
    const defs = (data(model).custom_fields ?? []) as Data[];
    const numeric = defs.find((d) => d.field_type === 'WHOLE_NUMBER');
    expect(numeric, JSON.stringify(defs)).toBeDefined();
    proxy.clear();
    const bad = await call('update_contact', {
      contact_id: '1',
      custom_fields: [{ id: String(numeric!.id), content: 'twelve' }],
    });
    expect(bad.isError).toBe(true);
    expect(data(bad).error.category).toBe('input');
    expect(data(bad).error.message).toContain('custom_fields[0].content');
    expect(proxy.requests).toHaveLength(0);
  });
});

// ---- formats, integers, enums -----------------------------------------------------------------------------

interface FormatCase {
  readonly tool: AnyToolSpec;
  /** Top-level input and (for nested) the property inside its object. */
  readonly key: string;
  readonly inner?: string;
  readonly kind: 'date' | 'date-time' | 'integer' | 'enum';
  readonly fact: FieldFact;
}

function kindOf(f: FieldFact): FormatCase['kind'] | undefined {
  const r = resolveFact(f);
  if (r.enum && r.type === 'string' && r.enum.length > 0) return 'enum';
  if (r.type === 'string' && (r.format === 'date' || r.format === 'date-time')) return r.format;
  if (r.type === 'integer') return 'integer';
  return undefined;
}

const formatCases: FormatCase[] = [];
for (const t of ALL_TOOLS) {
  for (const [k, d] of Object.entries(documented(opOf(t)))) {
    if (k === 'page_size' && t.access === 'write') continue;
    const kind = kindOf(d.fact);
    if (kind) formatCases.push({ tool: t, key: k, kind, fact: d.fact });
    const o = objectOf(d.fact);
    if (o && d.in === 'body') {
      for (const [ik, f] of Object.entries(o.obj.properties ?? {})) {
        const ikind = kindOf(f);
        if (ikind && !(f.readOnly ?? resolveFact(f).readOnly)) {
          formatCases.push({ tool: t, key: k, inner: ik, kind: ikind, fact: f });
        }
      }
    }
  }
}

const BAD: Record<FormatCase['kind'], unknown[]> = {
  date: ['15/01/2027', '2027-02-30', 'next tuesday'],
  'date-time': ['next tuesday', '2027-01-15', '2027-01-15T10:00:00'],
  integer: [1.5, 'abc'],
  enum: ['NOT_A_DOCUMENTED_VALUE'],
};
const EXPECT: Record<FormatCase['kind'], RegExp> = {
  date: /YYYY-MM-DD/,
  'date-time': /RFC 3339|date-time|datetime/i,
  integer: /integer|number|int|an id/i,
  enum: /one of|option|expected/i,
};

function argsWith(c: FormatCase, value: unknown): Data {
  const base = c.tool.access === 'write' ? writeArgs(c.tool, [c.key]) : baseArgs(c.tool);
  if (!c.inner) return fitRules(c.tool, { ...base, [c.key]: value }, [c.key]);
  const d = documented(opOf(c.tool))[c.key] as { fact: FieldFact };
  const o = objectOf(d.fact) as { obj: FieldFact; array: boolean };
  const inner = { ...(sample(o.obj, c.key) as Data), [c.inner]: value };
  return { ...base, [c.key]: o.array ? [inner] : inner };
}

describe('formats, integers and enums are enforced on every documented field', () => {
  it('there are cases of each kind', () => {
    for (const k of ['date', 'date-time', 'integer', 'enum'] as const) {
      expect(formatCases.filter((c) => c.kind === k).length, k).toBeGreaterThan(0);
    }
  });

  it.each(
    formatCases.map((c) => [c.tool.name, `${c.key}${c.inner ? `.${c.inner}` : ''}`, c.kind, c] as const),
  )('%s %s (%s)', async (_n, field, kind, c) => {
    const good = sample(c.fact, c.inner ?? c.key);
    const isWrite = c.tool.access === 'write';
    const ok = await call(c.tool.name, { ...argsWith(c, good), ...(isWrite ? { dry_run: true } : {}) });
    const okErr = ok.isError ? (data(ok).error as Data) : undefined;
    expect(okErr?.category, `valid ${JSON.stringify(good)}: ${text(ok)}`).not.toBe('input');
    for (const bad of BAD[kind]) {
      const res = await call(c.tool.name, { ...argsWith(c, bad), ...(isWrite ? { dry_run: true } : {}) });
      const name = c.inner ? c.inner : field;
      expectInputError(res, name, EXPECT[kind]);
    }
  });

  it('order_time "next tuesday" and a date "15/01/2027" are refused with the expected form', async () => {
    const order = ALL_TOOLS.find((t) => t.name === 'create_order') as AnyToolSpec;
    expectInputError(
      await call('create_order', { ...writeArgs(order), order_time: 'next tuesday', dry_run: true }),
      'order_time',
      /RFC 3339/,
    );
    expectInputError(
      await call('update_contact', { contact_id: '1', birth_date: '15/01/2027', dry_run: true }),
      'birth_date: expected a date YYYY-MM-DD, got "15/01/2027"',
    );
  });

  it('a midnight-UTC date-time for a date field is normalised and said so (dry run and real call)', async () => {
    const dry = await call('update_contact', {
      contact_id: '1',
      birth_date: '2027-01-15T00:00:00Z',
      dry_run: true,
    });
    expect(dry.isError, text(dry)).toBeFalsy();
    expect(data(dry).request.body.birth_date).toBe('2027-01-15');
    expect(data(dry).normalized).toEqual([
      { field: 'birth_date', from: '2027-01-15T00:00:00Z', to: '2027-01-15' },
    ]);
    const created = await call('create_contact', {
      given_name: 'Norm',
      email_addresses: [{ email: 'norm@example.com', field: 'EMAIL1' }],
      birth_date: '1990-05-01T00:00:00Z',
    });
    expect(created.isError, text(created)).toBeFalsy();
    expect((proxy.requests.at(-1)?.body as Data | undefined)?.birth_date).toBe('1990-05-01');
    expect(data(created).normalized).toEqual([
      { field: 'birth_date', from: '1990-05-01T00:00:00Z', to: '1990-05-01' },
    ]);
  });
});

// ---- aliases, rules, custom fields ------------------------------------------------------------------------

describe('aliases and rules (spec data)', () => {
  const tagged = defineTool({
    name: 'apply_tag',
    title: 'Apply a tag',
    description: 'Apply a tag (test spec with an alias).',
    resource: 'tags',
    access: 'write',
    method: 'POST',
    path: '/v2/tags/{tag_id}/contacts:applyTags',
    input: {
      tag_id: z.string().describe('Tag'),
      contact_ids: z.array(z.string()).describe('Contacts'),
    },
    aliases: { contacts: 'contact_ids' },
  });
  const note = defineTool({
    name: 'create_note',
    title: 'Create a note',
    description: 'Create a note (test spec with a rule).',
    resource: 'notes',
    access: 'write',
    method: 'POST',
    path: '/v2/contacts/{contact_id}/notes',
    input: {
      contact_id: z.string().describe('Contact'),
      user_id: z.string().describe('Author'),
      title: z.string().optional().describe('Title'),
      type: z.string().optional().describe('Type'),
    },
    rules: [{ kind: 'at_least_one', keys: ['title', 'type'] }],
  });
  const email = defineTool({
    name: 'send_email',
    title: 'Send',
    description: 'Send (test spec with an exactly-one rule).',
    resource: 'emails',
    access: 'write',
    method: 'POST',
    path: '/v2/emails:send',
    input: {
      contacts: z.array(z.string()).describe('To'),
      subject: z.string().describe('Subject'),
      user_id: z.string().optional().describe('Sender'),
      from_address: z.string().optional().describe('Or sender address'),
    },
    rules: [{ kind: 'exactly_one', keys: ['user_id', 'from_address'] }],
  });
  let th: Harness;
  beforeAll(async () => {
    th = await startHarness({
      policy: FULL_WRITE_POLICY,
      sandbox: { ...sandbox, baseUrl: proxy.baseUrl },
      tools: [tagged, note, email],
    });
  });
  afterAll(async () => th?.close());

  it('an alias is renamed; both given is an error', async () => {
    proxy.clear();
    const ok = await th.call('apply_tag', { tag_id: '1', contacts: ['5'], dry_run: true });
    expect(ok.isError, text(ok)).toBeFalsy();
    expect(data(ok).request.body).toEqual({ contact_ids: ['5'] });
    const both = await th.call('apply_tag', {
      tag_id: '1',
      contacts: ['5'],
      contact_ids: ['6'],
      dry_run: true,
    });
    expect(both.isError).toBe(true);
    expect(data(both).error.message).toContain('give contact_ids or its alias contacts, not both');
    expect(proxy.requests).toHaveLength(0);
  });

  it('rules state themselves', async () => {
    proxy.clear();
    const r = await th.call('create_note', { contact_id: '1', user_id: '1', dry_run: true });
    expect(data(r).error.message).toContain('create_note: give title or type (at least one)');
    const two = await th.call('send_email', {
      contacts: ['1'],
      subject: 's',
      user_id: '1',
      from_address: 'a@example.com',
      dry_run: true,
    });
    expect(data(two).error.message).toContain('give exactly one of user_id / from_address');
    const none = await th.call('send_email', { contacts: ['1'], subject: 's', dry_run: true });
    expect(data(none).error.message).toContain('give exactly one of user_id / from_address');
    const one = await th.call('send_email', { contacts: ['1'], subject: 's', user_id: '1', dry_run: true });
    expect(one.isError, text(one)).toBeFalsy();
    expect(proxy.requests).toHaveLength(0);
  });
});

describe('custom field contents are checked once the model was read', () => {
  const listCustomFields = ALL_TOOLS.find((t) => t.name === 'list_custom_fields') as AnyToolSpec;
  const update = ALL_TOOLS.find((t) => t.name === 'update_contact') as AnyToolSpec;
  let th: Harness;
  beforeAll(async () => {
    th = await startHarness({
      policy: FULL_WRITE_POLICY,
      sandbox: { ...sandbox, baseUrl: proxy.baseUrl },
      tools: [listCustomFields, update],
    });
  });
  afterAll(async () => th?.close());

  it('facts for an enum path parameter are the filled path', async () => {
    proxy.clear();
    const r = await th.call('list_custom_fields', { model: 'contacts', bogus: 1 });
    expect(data(r).error.message).toContain('bogus');
    expect(proxy.requests).toHaveLength(0);
  });

  it('without a cached model, custom_fields are sent as given; with one, checked', async () => {
    proxy.clear();
    const before = await th.call('update_contact', {
      contact_id: '1',
      custom_fields: [{ id: '999999', content: 'x' }],
      dry_run: true,
    });
    expect(before.isError, text(before)).toBeFalsy();
    const model = await th.call('list_custom_fields', { model: 'contacts' });
    expect(model.isError, text(model)).toBeFalsy();
    const defs = (data(model).custom_fields ?? []) as Data[];
    expect(defs.length).toBeGreaterThan(0);
    proxy.clear();
    const unknown = await th.call('update_contact', {
      contact_id: '1',
      custom_fields: [{ id: '999999', content: 'x' }],
      dry_run: true,
    });
    expect(data(unknown).error.message).toContain('custom_fields[0].id');
    const numeric = defs.find((d) => ['WHOLE_NUMBER', 'DECIMAL_NUMBER', 'CURRENCY'].includes(d.field_type));
    expect(numeric).toBeDefined();
    if (numeric) {
      const bad = await th.call('update_contact', {
        contact_id: '1',
        custom_fields: [{ id: String(numeric.id), content: 'not a number' }],
        dry_run: true,
      });
      expect(data(bad).error.message).toContain('custom_fields[0].content');
    }
    const choice = defs.find((d) => ['DROPDOWN', 'RADIO'].includes(d.field_type) && d.options?.length);
    expect(choice).toBeDefined();
    if (choice) {
      const bad = await th.call('update_contact', {
        contact_id: '1',
        custom_fields: [{ id: String(choice.id), content: 'Not an option' }],
        dry_run: true,
      });
      expect(data(bad).error.message).toContain('custom_fields[0].content');
      const good = await th.call('update_contact', {
        contact_id: '1',
        custom_fields: [{ id: String(choice.id), content: choice.options[0].label }],
        dry_run: true,
      });
      expect(good.isError, text(good)).toBeFalsy();
    }
    expect(proxy.requests).toHaveLength(0);
  });
});
