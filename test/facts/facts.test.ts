/**
 * The generated operation facts (src/facts/operations.json): deterministic, in step with Keap's documents (the
 * drift check CI relies on), and right about the operations the catalog depends on.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  CORRECTIONS,
  generateFacts,
  MAX_FACT_STRING,
  normalisePath,
  parseFieldsValues,
  parseFilterKeys,
  parseOrderByFields,
  readDocuments,
  serializeFacts,
  serializeRouteIndex,
} from '../../src/facts/generate.js';
import {
  findOperation,
  operationById,
  operationFacts,
  operationIdAt,
  resolveFact,
} from '../../src/facts/index.js';
import type { FieldFact, OperationFact } from '../../src/facts/types.js';
import { ALL_TOOLS } from '../../tools/index.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dir = process.env.KEAP_OPENAPI_DIR ?? resolve(repoRoot, '../shared/keap-openapi');
const present = existsSync(resolve(dir, 'v2.json')) && existsSync(resolve(dir, 'v1.json'));
if (!present) {
  if (process.env.KEAP_OPENAPI_REQUIRED) {
    throw new Error(`Keap OpenAPI documents not found in ${dir} (KEAP_OPENAPI_REQUIRED is set)`);
  }
  console.warn(`NOTE: Keap OpenAPI documents not found in ${dir}; skipping the operation facts drift check.`);
}
const docs = present ? readDocuments(dir) : undefined;
const committed = readFileSync(resolve(repoRoot, 'src/facts/operations.json'), 'utf8');
const committedRoutes = readFileSync(resolve(repoRoot, 'src/facts/routes.json'), 'utf8');

function op(method: string, path: string): OperationFact {
  const o = findOperation(method, path);
  expect(o, `${method} ${path}`).toBeDefined();
  return o!;
}
function prop(f: FieldFact, name: string): FieldFact {
  const p = resolveFact(f).properties?.[name];
  expect(p, name).toBeDefined();
  return resolveFact(p!);
}

describe.skipIf(!docs)("operation facts against Keap's documents", () => {
  it('two generations give the same bytes', () => {
    const a = serializeFacts(generateFacts(docs!.v2, docs!.v1, docs!.sources));
    const b = serializeFacts(
      generateFacts(structuredClone(docs!.v2), structuredClone(docs!.v1), docs!.sources),
    );
    expect(b).toBe(a);
  });

  it('the committed src/facts/operations.json equals a fresh generation (run `npm run facts` when it drifts)', () => {
    const fresh = serializeFacts(generateFacts(docs!.v2, docs!.v1, docs!.sources));
    expect(fresh === committed, 'src/facts/operations.json has drifted: run `npm run facts`').toBe(true);
  });

  it('a document defect the table does not correct fails generation', () => {
    const v2 = structuredClone(docs!.v2) as any;
    v2.components.schemas.CreateUpdateContactRequest.properties.given_name.enum = [1];
    expect(() => generateFacts(v2, docs!.v1, {})).toThrow(/given_name: enum value 1 is not a string/);
  });

  it('a correction that no longer applies fails generation', () => {
    const v2 = structuredClone(docs!.v2) as any;
    for (const s of Object.values<any>(v2.components.schemas)) {
      if (s.properties?.remind_time_mins) s.properties.remind_time_mins.enum = [5, 10];
    }
    expect(() => generateFacts(v2, docs!.v1, {})).toThrow(/remind_time_mins .* no longer applies/);
  });

  it('holds every v2 operation and the v1 operations v2 lacks', () => {
    const v2Count = Object.values<any>((docs!.v2 as any).paths).reduce(
      (n, item) => n + ['get', 'post', 'put', 'patch', 'delete'].filter((m) => item[m]).length,
      0,
    );
    const facts = operationFacts();
    expect(facts.operations.filter((o) => o.version === 'v2')).toHaveLength(v2Count);
    const v2Routes = new Set(
      facts.operations.filter((o) => o.version === 'v2').map((o) => `${o.method} ${normalisePath(o.path)}`),
    );
    for (const o of facts.operations.filter((x) => x.version === 'v1')) {
      expect(v2Routes.has(`${o.method} ${normalisePath(o.path)}`), `${o.method} ${o.path}`).toBe(false);
    }
    // v1 operations that v2 covers are not repeated.
    expect(findOperation('GET', '/v1/contacts')).toBeUndefined();
  });
});

describe('operation facts', () => {
  it('the committed src/facts/routes.json is the route index of the committed facts (run `npm run facts`)', () => {
    const fresh = serializeRouteIndex(JSON.parse(committed));
    expect(fresh === committedRoutes, 'src/facts/routes.json has drifted: run `npm run facts`').toBe(true);
    // The index finds what findOperation finds, for every route (and nothing for an undocumented one).
    const index = JSON.parse(committedRoutes) as Record<string, string>;
    expect(Object.keys(index).length).toBeGreaterThan(400);
    for (const o of operationFacts().operations) {
      const route = `${o.method} ${o.path}`;
      expect(index[route], route).toBe(findOperation(o.method, o.path)?.operationId);
      expect(operationIdAt(o.method, o.path), route).toBe(index[route]);
    }
    expect(operationIdAt('GET', '/v2/no-such-thing')).toBeUndefined();
    expect(operationIdAt('GET', 'constructor')).toBeUndefined();
  });

  it('has 399 v2 operations, the v1 hooks, appointments and credit cards', () => {
    const facts = operationFacts();
    expect(facts.operations.filter((o) => o.version === 'v2')).toHaveLength(399);
    for (const [m, p] of [
      ['GET', '/v1/hooks'],
      ['POST', '/v1/hooks'],
      ['GET', '/v1/hooks/event_keys'],
      ['DELETE', '/v1/hooks/{key}'],
      ['POST', '/v1/hooks/{key}/verify'],
      ['GET', '/v1/appointments'],
      ['POST', '/v1/appointments'],
      ['GET', '/v1/appointments/{appointmentId}'],
      ['GET', '/v1/contacts/{contactId}/creditCards'],
    ] as const) {
      expect(op(m, p).version).toBe('v1');
    }
    expect(op('GET', '/v1/hooks').listKey).toBe('');
    expect(op('GET', '/v1/appointments')).toMatchObject({ paging: 'offset', listKey: 'appointments' });
  });

  it('finds the operation of every catalog tool', () => {
    for (const t of ALL_TOOLS) {
      const pathParams = [...t.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
      // A template whose path parameter is an enum (list_custom_fields' `/v2/{model}/model`) stands for one
      // documented operation per value; every value must find its operation, with no path parameter left.
      const enumParam = pathParams.find((p) => (t.input[p] as any)?._zod?.def?.type === 'enum');
      if (enumParam) {
        const values = Object.values((t.input[enumParam] as any)._zod.def.entries) as string[];
        expect(values.length, t.name).toBeGreaterThan(0);
        for (const v of values) {
          const filled = t.path.replace(`{${enumParam}}`, v);
          const o = findOperation(t.method, filled);
          expect(o, `${t.name}: ${t.method} ${filled}`).toBeDefined();
          expect(o!.params.filter((p) => p.in === 'path').map((p) => p.name)).toEqual(
            pathParams.filter((p) => p !== enumParam),
          );
        }
        continue;
      }
      const o = findOperation(t.method, t.path);
      expect(o, `${t.name}: ${t.method} ${t.path}`).toBeDefined();
      const documented = o!.params
        .filter((p) => p.in === 'path')
        .map((p) => p.name)
        .sort();
      expect(documented, t.name).toEqual([...pathParams].sort());
    }
  });

  it('operationIds are unique and operationById finds each', () => {
    const ids = operationFacts().operations.map((o) => o.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(operationById(id)?.operationId).toBe(id);
    expect(operationById('nope')).toBeUndefined();
  });

  it('updateContact: update_mask, the body schema with birth_date, custom_fields and opt_in_reason', () => {
    const o = op('PATCH', '/v2/contacts/{contact_id}');
    expect(o.operationId).toBe('updateContact');
    const mask = o.params.find((p) => p.name === 'update_mask');
    expect(mask).toMatchObject({ in: 'query', required: false, schema: { type: 'array' } });
    const items = resolveFact(mask!.schema.items!);
    expect(items.type).toBe('string');
    expect(items.enum).toEqual(expect.arrayContaining(['birth_date', 'custom_fields', 'email_addresses']));
    expect(o.body?.contentType).toBe('application/json');
    const body = resolveFact(o.body!.schema);
    expect(body.type).toBe('object');
    expect(prop(body, 'birth_date')).toMatchObject({ type: 'string', format: 'date' });
    expect(prop(body, 'custom_fields').type).toBe('array');
    const email = resolveFact(prop(body, 'email_addresses').items!);
    expect(prop(email, 'opt_in_reason').type).toBe('string');
    expect(prop(email, 'field').enum).toContain('EMAIL1');
  });

  it('listContacts: filter keys, order_by fields, fields values, list key and paging', () => {
    const o = op('GET', '/v2/contacts');
    expect(o.filterKeys).toEqual(expect.arrayContaining(['email', 'given_name', 'ids', 'start_update_time']));
    expect(o.orderByFields).toEqual(['id', 'create_time', 'email', 'update_time']);
    expect(o.fieldsValues).toEqual(
      expect.arrayContaining(['custom_fields', 'birth_date', 'last_updated_by']),
    );
    expect(o.listKey).toBe('contacts');
    expect(o.paging).toBe('token');
    expect(o.params.find((p) => p.name === 'page_size')?.schema).toMatchObject({
      type: 'integer',
      maximum: 1000,
    });
  });

  it('createOrder: order_items items have item_type with 13 values', () => {
    const body = resolveFact(op('POST', '/v2/orders').body!.schema);
    const item = resolveFact(prop(body, 'order_items').items!);
    expect(prop(item, 'item_type').enum).toHaveLength(13);
  });

  it('createTask: remind_time_mins is an integer with a numeric enum (corrected)', () => {
    const body = resolveFact(op('POST', '/v2/tasks').body!.schema);
    const remind = prop(body, 'remind_time_mins');
    expect(remind.type).toBe('integer');
    expect(remind.enum).toEqual([5, 10, 15, 30, 60, 120, 240, 480, 1440, 2880]);
    expect(prop(body, 'due_time')).toMatchObject({ type: 'string', format: 'date-time' });
    expect(CORRECTIONS.map((c) => c.property)).toContain('remind_time_mins');
  });

  it('every ref resolves, and no string is long enough to be prose', () => {
    const { schemas } = operationFacts();
    const visit = (v: unknown, at: string): void => {
      if (typeof v === 'string') expect(v.length, at).toBeLessThanOrEqual(MAX_FACT_STRING);
      if (typeof v !== 'object' || v === null) return;
      for (const [k, x] of Object.entries(v)) {
        expect(k.length, at).toBeLessThanOrEqual(MAX_FACT_STRING);
        if (k === 'ref') expect(schemas[x as string], `${at}.ref ${x}`).toBeDefined();
        visit(x, `${at}.${k}`);
      }
    };
    const facts = operationFacts();
    visit(facts.operations, 'operations');
    visit(facts.schemas, 'schemas');
    // No prose keywords at all: descriptions, summaries, titles, examples, extensions.
    const keywords = new Set<string>();
    const keys = (v: unknown, underProperties: boolean): void => {
      if (typeof v !== 'object' || v === null) return;
      for (const [k, x] of Object.entries(v)) {
        if (!underProperties && !Array.isArray(v)) keywords.add(k);
        keys(x, k === 'properties' || k === 'schemas');
      }
    };
    keys(facts, false);
    for (const banned of ['description', 'summary', 'title', 'example', 'examples', 'default']) {
      expect(keywords.has(banned), banned).toBe(false);
    }
    expect([...keywords].filter((k) => k.startsWith('x-'))).toEqual([]);
  });

  it('resolveFact follows refs and leaves inline schemas alone', () => {
    const inline: FieldFact = { type: 'string' };
    expect(resolveFact(inline)).toBe(inline);
    expect(resolveFact({ ref: 'CreateUpdateContactRequest' }).type).toBe('object');
    expect(() => resolveFact({ ref: 'NoSuchSchema' })).toThrow(/NoSuchSchema is not defined/);
  });
});

describe('parameter text parsers', () => {
  it('reads the filter bullet styles', () => {
    const text = [
      'Filter to apply, allowed fields are:',
      '- (String) `email` — supports wildcard (e.g. `email==john*`)',
      '- (Set[String])   `ids`     — ids',
      '- `name` (String): by name',
      '  - `filter=name%3D%3DSpring*` — an example, not a key',
      '- (String) contact_id',
      '- (Custom) Custom field names - Reference by field name (e.g., `tier`)',
      '- Text-like fields (text, name): `==` only',
      '- `field==foo*` finds anything',
      '- `id` and `ids` cannot be combined',
    ].join('\n');
    expect(parseFilterKeys(text)).toEqual(['email', 'ids', 'name', 'contact_id']);
    expect(parseFilterKeys('Search filter to apply to results')).toEqual([]);
  });

  it('reads order_by fields, not directions', () => {
    expect(
      parseOrderByFields(
        'Attribute and direction.\nOne of the following fields:\n- `id`\n- `name` (sorts)\n\nOne of the following directions:\n- `asc`\n- `desc`',
      ),
    ).toEqual(['id', 'name']);
    expect(
      parseOrderByFields(
        'Field and direction.\nSupported fields: `move_date`, `id`\nDirections: `asc` | `desc`',
      ),
    ).toEqual(['move_date', 'id']);
    expect(parseOrderByFields('Attribute and direction to order items by. E.g. `given_name desc`')).toEqual(
      [],
    );
  });

  it('reads fields values', () => {
    expect(parseFieldsValues('Properties. (Available fields are: a,b_c,\nd)')).toEqual(['a', 'b_c', 'd']);
    expect(parseFieldsValues('Properties. (Available fields are: `address`, `notes`)')).toEqual([
      'address',
      'notes',
    ]);
    expect(
      parseFieldsValues('Optional. Allowed optional values: a,b. Allowed legacy optional values: c,d'),
    ).toEqual(['a', 'b', 'c', 'd']);
    expect(parseFieldsValues('By default, only application data is returned.')).toEqual([]);
  });
});
