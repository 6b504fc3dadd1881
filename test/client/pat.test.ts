/** PAT credential, budget headers, retries and faults against the sandbox over real HTTP. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeapClient } from '../../src/keap/client.js';
import { type KeapClientApi, KeapError } from '../../src/keap/types.js';
import { startSandbox } from '../../src/sandbox/server.js';
import { captureLogger, control, counters, fault, findSecrets } from './helpers.js';

const API_KEY = 'KeapAK-pat-test-0123456789abcdef';
const WRONG_KEY = 'KeapAK-wrong-key-fedcba9876543210';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;
let sb: Sandbox;
const cap = captureLogger();
const returned: string[] = [];
const clients: KeapClientApi[] = [];

function client(
  apiKey = API_KEY,
  extra: Partial<Parameters<typeof createKeapClient>[0]> = {},
): KeapClientApi {
  const c = createKeapClient({
    baseUrl: sb.baseUrl,
    credential: { kind: 'pat', apiKey },
    logger: cap.logger,
    retry: { initialDelayMs: 50, rateLimitDelayMs: 200 },
    ...extra,
  });
  clients.push(c);
  return c;
}

async function capture<T>(p: Promise<T>): Promise<T | KeapError> {
  try {
    const r = await p;
    returned.push(JSON.stringify(r));
    return r;
  } catch (e) {
    if (!(e instanceof KeapError)) throw e;
    returned.push(e.message, String(e.upstreamMessage));
    return e;
  }
}

beforeAll(async () => {
  sb = await startSandbox({ port: 0, control: true, apiKeys: [API_KEY] });
});

afterAll(async () => {
  for (const c of clients) await c.close();
  await sb.close();
  expect(findSecrets([cap.text(), ...returned], [API_KEY, WRONG_KEY])).toEqual([]);
  expect(cap.text()).toContain('requestId');
});

const listContacts = (c: KeapClientApi, pageSize: number) =>
  c.request({
    method: 'GET',
    path: '/v2/contacts',
    query: { page_size: pageSize },
    idempotent: true,
    priority: 'read',
  });

const postOrder = (c: KeapClientApi, body: Record<string, unknown>) =>
  c.request({ method: 'POST', path: '/v2/orders', body, idempotent: false, priority: 'write' });

const firstContact = async (c: KeapClientApi): Promise<number> => {
  const body = (await listContacts(c, 1)).body as { contacts: { id: number }[] };
  return body.contacts[0]?.id as number;
};

describe('PAT', () => {
  it('sends X-Keap-API-Key and reads the budget headers', async () => {
    const c = client();
    const r = await capture(listContacts(c, 2));
    expect(r).not.toBeInstanceOf(KeapError);
    if (r instanceof KeapError) return;
    expect(r.status).toBe(200);
    expect(r.attempts).toBe(1);
    expect(r.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.budget.throttleAvailable).toBeTypeOf('number');
    expect(r.budget.quotaAvailable).toBeTypeOf('number');
    expect(r.budget.quotaExpiryMs).toBeGreaterThan(Date.now());
    expect(r.budget.tenantAvailable).toBeTypeOf('number');
    expect(cap.text()).toContain(r.requestId);
  });

  it('wrong key → authentication error naming the credential, not retried', async () => {
    await control(sb.baseUrl, 'DELETE', '/__sandbox/requests');
    const c = client(WRONG_KEY);
    const e = await capture(
      c.request({ method: 'GET', path: '/v2/contacts', idempotent: true, priority: 'read' }),
    );
    expect(e).toBeInstanceOf(KeapError);
    const err = e as KeapError;
    expect(err.category).toBe('authentication');
    expect(err.status).toBe(401);
    expect(err.message).toMatch(/personal access token/);
    expect(err.message).toMatch(/KEAP_API_KEY/);
    expect(err.message).not.toContain(WRONG_KEY);
    expect((await counters(sb.baseUrl)).totals.authFailed).toBe(1);
  });

  it('maps 404 and 400 with Keap’s message', async () => {
    const c = client();
    const nf = (await capture(
      c.request({ method: 'GET', path: '/v2/contacts/99999999', idempotent: true, priority: 'read' }),
    )) as KeapError;
    expect(nf.category).toBe('not_found');
    expect(nf.upstreamMessage).toMatch(/99999999/);
    const bad = (await capture(postOrder(c, { nope: 1 }))) as KeapError;
    expect(bad.category).toBe('validation');
    expect(bad.attempts).toBe(1);
  });
});

describe('retries with fault injection', () => {
  const orderBody = (contactId: number, title: string) => ({
    contact_id: String(contactId),
    order_title: title,
    order_time: new Date().toISOString(),
    order_type: 'OFFLINE',
  });
  const ordersTitled = (title: string) =>
    sb.api
      .table<{ id: number; title: string }>('orders')
      .all()
      .filter((o) => o.title === title).length;

  it('429 then 200 → success for GET and for POST', async () => {
    const c = client();
    const contactId = await firstContact(c);
    await control(sb.baseUrl, 'DELETE', '/__sandbox/requests');
    await fault(sb.baseUrl, { method: 'GET', path: '/v2/contacts', status: 429, count: 1 });
    const g = await capture(listContacts(c, 1));
    expect(g).not.toBeInstanceOf(KeapError);
    expect((g as { attempts: number }).attempts).toBe(2);

    await fault(sb.baseUrl, { method: 'POST', path: '/v2/orders', status: 429, count: 1 });
    const title = `retry-429-${Date.now()}`;
    const p = await capture(postOrder(c, orderBody(contactId, title)));
    expect(p).not.toBeInstanceOf(KeapError);
    expect((p as { attempts: number; status: number }).attempts).toBe(2);
    expect(ordersTitled(title)).toBe(1);
    const n = await counters(sb.baseUrl);
    expect(n.routes['POST /v2/orders']?.count).toBe(2);
    expect(n.routes['POST /v2/orders']?.effective).toBe(1);
  });

  it('500 then 200 → GET succeeds; POST gets outcome_unknown with exactly one request at the sandbox', async () => {
    const c = client();
    const contactId = await firstContact(c);
    await control(sb.baseUrl, 'DELETE', '/__sandbox/requests');
    await fault(sb.baseUrl, { method: 'GET', path: '/v2/contacts', status: 500, count: 1 });
    const g = await capture(listContacts(c, 1));
    expect(g).not.toBeInstanceOf(KeapError);
    expect((g as { attempts: number }).attempts).toBe(2);

    await fault(sb.baseUrl, { method: 'POST', path: '/v2/orders', status: 500, count: 1 });
    const title = `retry-500-${Date.now()}`;
    const e = (await capture(postOrder(c, orderBody(contactId, title)))) as KeapError;
    expect(e).toBeInstanceOf(KeapError);
    expect(e.category).toBe('outcome_unknown');
    expect(e.message).toMatch(/may or may not have applied this; check/);
    expect((await counters(sb.baseUrl)).routes['POST /v2/orders']?.count).toBe(1);
  });

  it('connection reset after processing on POST /v2/orders → outcome_unknown, exactly one order exists', async () => {
    const c = client();
    const contactId = await firstContact(c);
    await control(sb.baseUrl, 'DELETE', '/__sandbox/requests');
    await fault(sb.baseUrl, { method: 'POST', path: '/v2/orders', reset: 'after', count: 1 });
    const title = `reset-after-${Date.now()}`;
    const e = (await capture(postOrder(c, orderBody(contactId, title)))) as KeapError;
    expect(e.category).toBe('outcome_unknown');
    expect(ordersTitled(title)).toBe(1);
    expect((await counters(sb.baseUrl)).routes['POST /v2/orders']?.count).toBe(1);
  });

  it('reset after processing on an idempotent GET is retried; malformed 2xx on POST is outcome_unknown', async () => {
    const c = client();
    const contactId = await firstContact(c);
    await fault(sb.baseUrl, { method: 'GET', path: '/v2/contacts', reset: 'after', count: 1 });
    const g = await capture(listContacts(c, 1));
    expect((g as { attempts: number }).attempts).toBe(2);
    await fault(sb.baseUrl, { method: 'POST', path: '/v2/orders', malformed: true, count: 1 });
    const title = `malformed-${Date.now()}`;
    const e = (await capture(postOrder(c, orderBody(contactId, title)))) as KeapError;
    expect(e.category).toBe('outcome_unknown');
    expect(ordersTitled(title)).toBe(1);
  });

  it('persistent 503 on GET gives up as unavailable within the bounds', async () => {
    const c = client(API_KEY, { maxAttempts: 3 });
    await control(sb.baseUrl, 'DELETE', '/__sandbox/requests');
    await fault(sb.baseUrl, { method: 'GET', path: '/v2/tags', status: 503, count: 5 });
    const e = (await capture(
      c.request({ method: 'GET', path: '/v2/tags', idempotent: true, priority: 'read' }),
    )) as KeapError;
    expect(e.category).toBe('unavailable');
    expect(e.attempts).toBe(3);
    expect((await counters(sb.baseUrl)).routes['GET /v2/tags']?.count).toBe(3);
    await control(sb.baseUrl, 'DELETE', '/__sandbox/faults');
  });

  it('total time per call is bounded: slow Keap, retry storms and a slow POST all end by the deadline', async () => {
    const BOUND = 800;
    const c = client(API_KEY, {
      maxAttempts: 10,
      totalTimeoutMs: BOUND,
      retry: { initialDelayMs: 250, rateLimitDelayMs: 250 },
    });
    const timed = async <T>(p: Promise<T>): Promise<{ e: KeapError; ms: number }> => {
      const t0 = Date.now();
      const e = (await capture(p)) as KeapError;
      expect(e).toBeInstanceOf(KeapError);
      return { e, ms: Date.now() - t0 };
    };
    await control(sb.baseUrl, 'DELETE', '/__sandbox/requests');
    try {
      // 1. Every answer takes 3 s: the GET is cut at the deadline, not after 3 s × attempts.
      await fault(sb.baseUrl, { method: 'GET', path: '/v2/tags', latencyMs: 3000, count: 10 });
      const slow = await timed(
        c.request({ method: 'GET', path: '/v2/tags', idempotent: true, priority: 'read' }),
      );
      expect(slow.ms).toBeLessThan(BOUND + 400);
      expect(slow.e.category).toBe('unavailable');
      await control(sb.baseUrl, 'DELETE', '/__sandbox/faults');
      // 2. 503 forever with 10 attempts allowed: the time bound stops the ladder before the attempt bound.
      await fault(sb.baseUrl, { method: 'GET', path: '/v2/users', status: 503, count: 50 });
      const storm = await timed(
        c.request({ method: 'GET', path: '/v2/users', idempotent: true, priority: 'read' }),
      );
      expect(storm.ms).toBeLessThan(BOUND + 400);
      expect(storm.e.category).toBe('unavailable');
      expect(storm.e.attempts).toBeGreaterThanOrEqual(2);
      expect(storm.e.attempts).toBeLessThan(10);
      expect((await counters(sb.baseUrl)).routes['GET /v2/users']?.count).toBe(storm.e.attempts);
      await control(sb.baseUrl, 'DELETE', '/__sandbox/faults');
      // 3. A POST whose answer never comes in time: bounded too, and the model is told to check (it may have applied).
      await fault(sb.baseUrl, { method: 'POST', path: '/v2/orders', latencyMs: 3000, count: 1 });
      const post = await timed(postOrder(c, { order_title: 'bounded', order_type: 'OFFLINE' }));
      expect(post.ms).toBeLessThan(BOUND + 400);
      expect(post.e.category).toBe('outcome_unknown');
      expect(post.e.message).toMatch(/check/i);
      // No retry of the POST: the sandbox (which counts a request when it answers, after the 3 s) saw exactly one.
      await new Promise((r) => setTimeout(r, 3000 - post.ms + 300));
      expect((await counters(sb.baseUrl)).routes['POST /v2/orders']?.count).toBe(1);
    } finally {
      await control(sb.baseUrl, 'DELETE', '/__sandbox/faults');
    }
  });

  it('connection refused: a POST is retried (never reached Keap) and finally reports unavailable', async () => {
    const c = createKeapClient({
      baseUrl: 'http://127.0.0.1:1',
      credential: { kind: 'pat', apiKey: API_KEY },
      logger: cap.logger,
      maxAttempts: 3,
      retry: { initialDelayMs: 20 },
    });
    clients.push(c);
    const e = (await capture(postOrder(c, {}))) as KeapError;
    expect(e.category).toBe('unavailable');
    expect(e.attempts).toBe(3);
  });

  it('cancelled while waiting for a rate-limit slot: nothing sent, a KeapError (not a raw abort)', async () => {
    const c = client('KeapAK-slot-wait-key-0123456789', { limits: { perSecond: 1, minGapMs: 0 } });
    await control(sb.baseUrl, 'DELETE', '/__sandbox/requests');
    await capture(c.request({ method: 'GET', path: '/v2/tags', idempotent: true, priority: 'read' }));
    const ac = new AbortController();
    const pending = capture(
      c.request({
        method: 'POST',
        path: '/v2/tags',
        body: { name: 'x' },
        idempotent: false,
        priority: 'write',
        signal: ac.signal,
      }),
    );
    setTimeout(() => ac.abort(), 100);
    const e = (await pending) as KeapError;
    expect(e).toBeInstanceOf(KeapError);
    expect(e.category).toBe('cancelled');
    expect(e.notSent).toBe(true);
    expect(e.message).toMatch(/nothing reached Keap/);
    expect((await counters(sb.baseUrl)).routes['POST /v2/tags']?.count ?? 0).toBe(0);
  });
});
