/**
 * Documented paths whose literal segment sits where a sibling path has a placeholder (`/v2/contacts/model` next to
 * `/v2/contacts/{contact_id}`, `/v2/opportunities/stageMoves`, `.../model/customFields/tabs`, ...) never reach an
 * `{..._id}` route: they answer from their own route, or "No such path" when the sandbox does not simulate them —
 * never 400 "Invalid '…_id'".
 */
import { describe, expect, it } from 'vitest';
import { call, useSandbox } from './core-http.js';
import { loadSpec, specsAvailable } from './openapi-helper.js';

let base: string;
useSandbox((s) => {
  base = s.baseUrl;
});

function templateRe(t: string): RegExp {
  const src = t
    .split(/\{[^}]+\}/)
    .map((x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^/:]+');
  return new RegExp(`^${src}$`);
}

/** [method, path] of every documented v2 operation whose path a sibling template would also match. */
function collidingOperations(): [string, string][] {
  const doc = loadSpec('v2');
  const paths = Object.keys(doc?.paths ?? {}).map((p) => p.replace(/^\/rest/, ''));
  const templates = paths.filter((p) => p.includes('{'));
  const out: [string, string][] = [];
  for (const p of paths) {
    if (p.includes('{')) continue;
    if (!templates.some((t) => t !== p && templateRe(t).test(p))) continue;
    for (const m of Object.keys(doc?.paths?.[`/rest${p}`] ?? {})) {
      if (['get', 'post', 'patch', 'put', 'delete'].includes(m)) out.push([m.toUpperCase(), p]);
    }
  }
  return out;
}

describe.skipIf(!specsAvailable())('literal path segments are routed before {id}', () => {
  it('no documented literal path is answered as if its literal segment were an id', async () => {
    const ops = collidingOperations();
    expect(ops.length).toBeGreaterThan(30);
    const swallowed: string[] = [];
    for (const [method, path] of ops) {
      const r = await call(base, method, path, method === 'GET' || method === 'DELETE' ? {} : { body: {} });
      const resource = String(r.body?.details?.[0]?.resource ?? '');
      if (
        r.status === 400 &&
        /_id$|^key$/.test(resource) &&
        /must be a positive integer id/.test(r.body.message)
      ) {
        swallowed.push(`${method} ${path} → ${r.status} ${r.text.slice(0, 120)}`);
      }
    }
    expect(swallowed).toEqual([]);
  });

  it('the simulated literal routes answer 200', async () => {
    for (const kind of [
      'contacts',
      'companies',
      'opportunities',
      'orders',
      'subscriptions',
      'tasks',
      'notes',
    ]) {
      const r = await call(base, 'GET', `/v2/${kind}/model`);
      expect(r.status, `${kind}: ${r.text}`).toBe(200);
    }
    expect((await call(base, 'GET', '/v2/opportunities/stages')).status).toBe(200);
    expect((await call(base, 'GET', '/v2/tags/categories')).status).toBe(200);
    expect((await call(base, 'GET', '/v1/hooks/event_keys')).status).toBe(200);
  });

  it('ids still route, and a non-numeric id still gets 400 naming the parameter', async () => {
    expect((await call(base, 'GET', '/v2/contacts/1')).status).toBe(200);
    const bad = await call(base, 'GET', '/v2/contacts/abc');
    expect(bad.status).toBe(400);
    expect(bad.body.details[0].resource).toBe('contact_id');
    const unsimulated = await call(base, 'GET', '/v2/opportunities/stageMoves');
    expect(unsimulated.status).not.toBe(400);
  });
});
