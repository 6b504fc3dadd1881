/**
 * The committed list of Keap's documented operations (src/sandbox/documented/operations.ts): drift against the
 * documents, routing (every documented path reaches its own operation), 501 for every documented operation the
 * sandbox does not simulate, 404 for undocumented paths.
 */
import { describe, expect, it } from 'vitest';
import { Router } from '../../src/sandbox/core/router.js';
import { documentedOperations } from '../../src/sandbox/documented/generate.js';
import {
  notSimulatedRoutes,
  operationKey,
  unsimulatedOperations,
} from '../../src/sandbox/documented/not-simulated.js';
import { DOCUMENTED_OPERATIONS } from '../../src/sandbox/documented/operations.js';
import { MODULES } from '../../src/sandbox/modules.js';
import { call, expectDoc, useSandbox } from './core-http.js';
import { loadSpec, specsAvailable } from './openapi-helper.js';

let base: string;
useSandbox((s) => {
  base = s.baseUrl;
});

const simulated = MODULES.flatMap((m) => m.routes);

/** A concrete path for a template: `{email}` → an address, every other placeholder → 1. */
function samplePath(template: string): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) =>
    /email/i.test(name) ? encodeURIComponent('jane.doe@example.com') : '1',
  );
}

describe.skipIf(!specsAvailable())('drift: the committed list matches the documents', () => {
  it('regenerates to the same operations', () => {
    const fresh = documentedOperations(loadSpec('v2'), loadSpec('v1'));
    expect(fresh).toEqual(DOCUMENTED_OPERATIONS);
    const v2 = fresh.filter(([, p]) => p.startsWith('/v2/')).length;
    expect(v2).toBe(Object.values(loadSpec('v2')?.paths ?? {}).flatMap((i: any) => Object.keys(i)).length);
  });
});

describe('documented operations', () => {
  it('has all v2 operations and the v1 ones v2 lacks, no duplicates', () => {
    expect(DOCUMENTED_OPERATIONS.length).toBe(464);
    expect(DOCUMENTED_OPERATIONS.filter(([, p]) => p.startsWith('/v2/')).length).toBe(399);
    const keys = DOCUMENTED_OPERATIONS.map(([m, p]) => operationKey(m, p).replace(/ \/v[12]/, ' '));
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('every simulated route is a documented operation', () => {
    const documented = new Set(DOCUMENTED_OPERATIONS.map(([m, p]) => operationKey(m, p)));
    expect(
      simulated.filter((r) => !documented.has(operationKey(r.method, r.path))).map((r) => r.path),
    ).toEqual([]);
  });

  it('every documented path reaches its own operation (no template shadows another)', () => {
    const router = new Router();
    for (const r of simulated) router.add(r);
    for (const r of notSimulatedRoutes(simulated)) router.add(r);
    const wrong: string[] = [];
    for (const [m, p] of DOCUMENTED_OPERATIONS) {
      const hit = router.match(m, samplePath(p));
      const got = hit.kind === 'ok' ? operationKey(hit.route.method, hit.route.path) : hit.kind;
      if (got !== operationKey(m, p)) wrong.push(`${m} ${p} → ${got}`);
    }
    expect(wrong).toEqual([]);
  });

  it('every documented operation that is not simulated answers 501 with the error body of its version', async () => {
    const ops = unsimulatedOperations(simulated);
    expect(ops.length).toBeGreaterThan(200);
    const bad: string[] = [];
    for (const [m, p, id] of ops) {
      const r = await call(base, m, samplePath(p), m === 'GET' || m === 'DELETE' ? {} : { body: {} });
      const message = String(r.body?.message ?? '');
      const ok =
        r.status === 501 &&
        message.includes('not simulated by the sandbox') &&
        message.includes(id) &&
        (p.startsWith('/v1/')
          ? Object.keys(r.body).join() === 'message'
          : r.body.code === 501 && r.body.status === 'UNIMPLEMENTED' && Array.isArray(r.body.details));
      if (!ok) bad.push(`${m} ${p} → ${r.status} ${r.text.slice(0, 150)}`);
    }
    expect(bad).toEqual([]);
  });

  it('a 501 body is a valid Keap v2 Error', async () => {
    const r = await call(base, 'GET', '/v2/affiliates/redirects');
    expect(r.status).toBe(501);
    {
      const schema = loadSpec('v2')?.components?.schemas?.Error;
      if (schema) for (const k of Object.keys(schema.properties ?? {})) expect(r.body).toHaveProperty(k);
    }
    // a documented operation the sandbox simulates answers from its handler
    expectDoc('v2', 'GET', '/v2/tags', await call(base, 'GET', '/v2/tags'));
  });

  it('undocumented paths keep answering 404', async () => {
    for (const p of ['/v2/nowhere', '/v2/contacts/1/nowhere', '/v1/nowhere', '/v2/files/1/zz']) {
      const r = await call(base, 'GET', p);
      expect(r.status, p).toBe(404);
    }
    // documented path, undocumented method: 405 as before
    expect((await call(base, 'PUT', '/v2/tags')).status).toBe(405);
  });
});
