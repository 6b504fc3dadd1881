import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SbHttpError } from '../../src/sandbox/core/errors.js';
import { fieldsParam, listV1, listV2 } from '../../src/sandbox/core/list.js';
import type { SbRequest } from '../../src/sandbox/core/types.js';
import { intParam, parseBody, pathId } from '../../src/sandbox/core/validate.js';

function req(query: Record<string, string> = {}, params: Record<string, string> = {}): SbRequest {
  return {
    method: 'GET',
    path: '/v1/things',
    params,
    query: new URLSearchParams(query),
    body: undefined,
    headers: { host: '127.0.0.1:9' },
    auth: { credentialId: 't', kind: 'pat', userId: 1 },
  };
}

function err(fn: () => unknown): SbHttpError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SbHttpError) return e;
    throw e;
  }
  throw new Error('expected an SbHttpError');
}

interface Row {
  id: number;
  name?: string;
  n: number;
  when: string;
  tags: string[];
}
const rows: Row[] = Array.from({ length: 30 }, (_, i) => ({
  id: i + 1,
  ...(i % 10 === 0 ? {} : { name: `name${String(i % 7)}` }),
  n: i % 5,
  when: new Date(Date.UTC(2025, 0, 1 + i)).toISOString(),
  tags: i % 3 === 0 ? [] : [`t${i % 4}`],
}));
const opts = {
  key: 'rows',
  render: (r: Row) => r,
  filter: {
    name: { get: (r: Row) => r.name, type: 'string' as const, wildcard: true },
    n: { get: (r: Row) => r.n, type: 'number' as const, ops: ['==', '!=', '>', '<', '>=', '<='] as const },
    when: { get: (r: Row) => r.when, type: 'date' as const, ops: ['>=', '<'] as const },
    tags: { get: (r: Row) => r.tags, type: 'string' as const, list: true },
  },
  orderBy: { id: (r: Row) => r.id, name: (r: Row) => r.name, n: (r: Row) => r.n },
};

function walk(query: Record<string, string>): Row[] {
  const out: Row[] = [];
  let token = '';
  for (let i = 0; i < 100; i++) {
    const r = listV2(req({ ...query, ...(token ? { page_token: token } : {}) }), rows, opts);
    const body = r.body as { rows: Row[]; next_page_token: string };
    out.push(...body.rows);
    token = body.next_page_token;
    if (!token) break;
  }
  return out;
}

describe('listV2', () => {
  it('pages through ties and missing sort keys exactly once, both directions', () => {
    for (const order of ['n asc', 'n desc', 'name asc', 'name desc', 'id desc']) {
      const got = walk({ order_by: order, page_size: '4' });
      expect(got.map((r) => r.id).sort((a, b) => a - b)).toEqual(rows.map((r) => r.id));
    }
    const desc = walk({ order_by: 'n desc', page_size: '4' });
    for (let i = 1; i < desc.length; i++) expect(desc[i - 1]!.n).toBeGreaterThanOrEqual(desc[i]!.n);
  });

  it('filter grammar', () => {
    const ids = (q: Record<string, string>) =>
      ((listV2(req(q), rows, opts).body as any).rows as Row[]).map((r) => r.id);
    expect(ids({ filter: 'n==2' })).toEqual(rows.filter((r) => r.n === 2).map((r) => r.id));
    expect(ids({ filter: 'n!=2;n>=3' })).toEqual(rows.filter((r) => r.n >= 3).map((r) => r.id));
    expect(ids({ filter: 'name==NAME1*' })).toEqual(rows.filter((r) => r.name === 'name1').map((r) => r.id));
    expect(ids({ filter: 'name==NONE' })).toEqual([1, 11, 21]);
    expect(ids({ filter: 'tags==t1,t2' })).toEqual(
      rows.filter((r) => r.tags.some((t) => t === 't1' || t === 't2')).map((r) => r.id),
    );
    expect(ids({ filter: 'when>=2025-01-29T00:00:00.000Z' })).toEqual([29, 30]);
    expect(ids({ filter: 'n==1;;' })).toEqual(rows.filter((r) => r.n === 1).map((r) => r.id));
    for (const [filter, word] of [
      ['size==1', 'size'],
      ['n~1', 'filter'],
      ['name>a', 'name'],
      ['n==x', 'n'],
      ['when>=2025-01-01', 'when'],
      ['when==2025-01-01T00:00:00Z', 'when'],
    ] as const) {
      const e = err(() => listV2(req({ filter }), rows, opts));
      expect(e.status).toBe(400);
      expect(e.message).toContain(word);
    }
    expect(err(() => listV2(req({ order_by: 'when asc' }), rows, opts)).message).toContain('when');
    expect(err(() => listV2(req({ page_size: '-1' }), rows, opts)).message).toContain('page_size');
    expect(err(() => listV2(req({ page_size: '2000' }), rows, opts)).message).toContain('page_size');
  });

  it('a page token is tied to its order_by', () => {
    const first = listV2(req({ page_size: '3', order_by: 'n asc' }), rows, opts).body as any;
    const e = err(() =>
      listV2(req({ page_size: '3', order_by: 'id asc', page_token: first.next_page_token }), rows, opts),
    );
    expect(e.message).toContain('page_token');
  });
});

describe('listV1, fields, params, bodies', () => {
  it('limit/offset with count, next and previous', () => {
    const r = listV1(req({ limit: '10', offset: '10' }), rows, { key: 'things', render: (x) => x.id })
      .body as any;
    expect(r.things).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    expect(r.count).toBe(30);
    expect(r.next).toBe('http://127.0.0.1:9/v1/things?limit=10&offset=20');
    expect(r.previous).toBe('http://127.0.0.1:9/v1/things?limit=10&offset=0');
    const last = listV1(req({ limit: '10', offset: '20' }), rows, { key: 'things', render: (x) => x.id })
      .body as any;
    expect(last.next).toBeUndefined();
    const first = listV1(req(), rows, { key: 'things', render: (x) => x.id }).body as any;
    expect(first.previous).toBeUndefined();
    expect(first.things).toHaveLength(30);
  });

  it('fieldsParam, pathId, intParam', () => {
    expect(fieldsParam(req({ fields: 'a,b' }), ['a', 'b', 'c'])).toEqual(new Set(['a', 'b']));
    expect(fieldsParam(req(), ['a'])).toBeUndefined();
    expect(err(() => fieldsParam(req({ fields: 'a,z' }), ['a'])).message).toContain("'z'");
    expect(pathId(req({}, { contact_id: '12' }), 'contact_id')).toBe(12);
    for (const bad of ['0', '-1', 'abc', '1.5', '']) {
      expect(err(() => pathId(req({}, { contact_id: bad }), 'contact_id')).message).toContain('contact_id');
    }
    expect(intParam(req({ limit: '5' }), 'limit', { min: 1, max: 10 })).toBe(5);
    expect(err(() => intParam(req({ limit: '5x' }), 'limit')).message).toContain('limit');
  });

  it('parseBody names the first failing field path', () => {
    const schema = z.object({
      name: z.string(),
      kind: z.enum(['A', 'B']).optional(),
      items: z.array(z.object({ qty: z.number().int() })).optional(),
    });
    expect(parseBody(schema, { name: 'x' })).toEqual({ name: 'x' });
    expect(err(() => parseBody(schema, {})).message).toContain('name');
    expect(err(() => parseBody(schema, { name: 1 })).message).toContain('name');
    expect(err(() => parseBody(schema, { name: 'x', kind: 'C' })).message).toContain('kind');
    expect(err(() => parseBody(schema, { name: 'x', items: [{ qty: 1 }, { qty: 'no' }] })).message).toContain(
      'items[1].qty',
    );
    const strict = z.object({ a: z.string().optional() }).strict();
    expect(err(() => parseBody(strict, { b: 1 })).message).toContain('b');
  });
});
