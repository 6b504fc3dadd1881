/**
 * v1 REST Hooks of the sandbox for real: a node:http receiver on 127.0.0.1 gets the X-Hook-Secret handshake and
 * the deliveries; unverified hooks get nothing; failing receivers are retried and then made Inactive.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/core/types.js';
import { hookDelayFor } from '../../src/sandbox/hooks/delivery.js';
import { caller, type Res, useSandbox, expectValid as validateResponse } from './core-http.js';

const REQUIRED_EVENT_KEYS = [
  'contact.add',
  'contact.edit',
  'contact.delete',
  'contactGroup.applied',
  'contactGroup.removed',
  'company.add',
  'company.edit',
  'opportunity.add',
  'opportunity.edit',
  'order.add',
  'product.add',
  'subscription.add',
  'subscription.edit',
  'note.add',
  'task.add',
];

let sb: RunningSandbox;

const call = caller(() => sb.baseUrl, 'hooks-test-key');

interface Received {
  headers: IncomingHttpHeaders;
  body: any;
}

/** A hook receiver. `echo`: answer the handshake echoing X-Hook-Secret; `deliveryStatus`: status for deliveries. */
class Receiver {
  readonly requests: Received[] = [];
  echo = true;
  deliveryStatus = 200;
  /** Answer the next N deliveries with 503 (then deliveryStatus). */
  failNext = 0;
  /** Hold the next N deliveries this long (ms) before answering deliveryStatus. */
  slowNext = 0;
  slowMs = 0;
  url = '';
  private server?: Server;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          body = text;
        }
        this.requests.push({ headers: req.headers, body });
        const secret = req.headers['x-hook-secret'];
        if (typeof secret === 'string') {
          res.writeHead(200, this.echo ? { 'X-Hook-Secret': secret } : {});
          res.end();
          return;
        }
        if (this.failNext > 0) {
          this.failNext--;
          res.writeHead(503);
        } else if (this.slowNext > 0) {
          this.slowNext--;
          setTimeout(() => {
            if (!res.destroyed) res.writeHead(this.deliveryStatus).end();
          }, this.slowMs);
          return;
        } else res.writeHead(this.deliveryStatus);
        res.end();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
    return this;
  }

  get handshakes(): Received[] {
    return this.requests.filter((r) => r.headers['x-hook-secret'] !== undefined);
  }

  get deliveries(): Received[] {
    return this.requests.filter((r) => r.headers['x-hook-secret'] === undefined);
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

const receivers: Receiver[] = [];
async function receiver(): Promise<Receiver> {
  const r = await new Receiver().start();
  receivers.push(r);
  return r;
}

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await sleep(20);
  }
  throw new Error('condition not met in time');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

let seq = 0;
async function createContact(): Promise<string> {
  seq++;
  const r = await call('POST', '/v2/contacts', {
    given_name: 'Hook',
    family_name: `Test${seq}`,
    email_addresses: [{ email: `hook.test.${seq}.${Date.now()}@example.com`, field: 'EMAIL1' }],
  });
  expect(r.status, r.text).toBe(201);
  return r.body.id as string;
}

async function createTask(title = 'hook task'): Promise<string> {
  const r = await call('POST', '/v2/tasks', { assigned_to_user_id: '1', title });
  expect(r.status, r.text).toBe(201);
  return r.body.id as string;
}

async function createHook(eventKey: string, hookUrl: string): Promise<Res> {
  const r = await call('POST', '/v1/hooks', { eventKey, hookUrl });
  expect(r.status, r.text).toBe(200);
  validateResponse('v1', 'POST', '/v1/hooks', 200, r.body);
  return r;
}

async function hookStatus(key: string): Promise<string> {
  return (await call('GET', `/v1/hooks/${key}`)).body.status as string;
}

useSandbox(
  (s) => {
    sb = s;
  },
  {
    hookDelayMs: 50,
    hookRetryDelaysMs: [50, 50, 50],
  },
);

afterAll(async () => {
  for (const r of receivers) await r.stop();
});

describe('REST hooks API', () => {
  it('lists the event keys', async () => {
    const r = await call('GET', '/v1/hooks/event_keys');
    expect(r.status).toBe(200);
    validateResponse('v1', 'GET', '/v1/hooks/event_keys', 200, r.body);
    expect(r.body).toEqual(expect.arrayContaining(REQUIRED_EVENT_KEYS));
  });

  it('creates, reads, updates and deletes a hook', async () => {
    const rx = await receiver();
    const created = await createHook('contact.add', rx.url);
    expect(created.body).toMatchObject({ eventKey: 'contact.add', hookUrl: rx.url, status: 'Verified' });
    expect(created.body.key).toMatch(/^\d+$/);
    const key: string = created.body.key;
    expect(rx.handshakes).toHaveLength(1);

    const list = await call('GET', '/v1/hooks');
    validateResponse('v1', 'GET', '/v1/hooks', 200, list.body);
    expect(list.body.map((h: { key: string }) => h.key)).toContain(key);

    const one = await call('GET', `/v1/hooks/${key}`);
    validateResponse('v1', 'GET', '/v1/hooks/{key}', 200, one.body);
    expect(one.body).toEqual(created.body);

    const put = await call('PUT', `/v1/hooks/${key}`, { eventKey: 'contact.edit', hookUrl: rx.url });
    expect(put.status).toBe(200);
    validateResponse('v1', 'PUT', '/v1/hooks/{key}', 200, put.body);
    expect(put.body).toMatchObject({ key, eventKey: 'contact.edit', status: 'Verified' });

    const del = await call('DELETE', `/v1/hooks/${key}`);
    expect(del.status).toBe(204);
    const gone = await call('GET', `/v1/hooks/${key}`);
    expect(gone.status).toBe(404);
    expect(typeof gone.body.message).toBe('string');
    expect((await call('DELETE', `/v1/hooks/${key}`)).status).toBe(404);
  });

  it('rejects bad hook requests with 400 naming the field', async () => {
    const rx = await receiver();
    const bad = await call('POST', '/v1/hooks', { eventKey: 'contact.explode', hookUrl: rx.url });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('eventKey');
    const noUrl = await call('POST', '/v1/hooks', { eventKey: 'contact.add' });
    expect(noUrl.status).toBe(400);
    expect(noUrl.body.message).toContain('hookUrl');
    const badUrl = await call('POST', '/v1/hooks', { eventKey: 'contact.add', hookUrl: 'ftp://x' });
    expect(badUrl.status).toBe(400);
    expect(badUrl.body.message).toContain('hookUrl');
    const created = await createHook('contact.add', rx.url);
    const badPut = await call('PUT', `/v1/hooks/${created.body.key}`, { eventKey: 'nope' });
    expect(badPut.status).toBe(400);
    expect(badPut.body.message).toContain('eventKey');
    await call('DELETE', `/v1/hooks/${created.body.key}`);
    expect(rx.deliveries).toHaveLength(0);
  });
});

describe('REST hook delivery', () => {
  it('an unverified hook gets nothing', async () => {
    const rx = await receiver();
    rx.echo = false;
    const created = await createHook('contact.add', rx.url);
    expect(created.body.status).toBe('Unverified');
    expect(rx.handshakes).toHaveLength(1);
    await createContact();
    await sleep(400);
    expect(rx.deliveries).toHaveLength(0);
    await call('DELETE', `/v1/hooks/${created.body.key}`);
  });

  it('an echoing receiver becomes Verified and receives contact.add', async () => {
    const rx = await receiver();
    const created = await createHook('contact.add', rx.url);
    expect(created.body.status).toBe('Verified');
    const id = await createContact();
    await waitFor(() => rx.deliveries.length > 0);
    const d = rx.deliveries[0] as Received;
    expect(d.headers['content-type']).toContain('application/json');
    expect(d.body).toMatchObject({ event_key: 'contact.add', object_type: 'contact' });
    expect(d.body.object_keys).toHaveLength(1);
    const k = d.body.object_keys[0];
    expect(String(k.id)).toBe(id);
    expect(k.apiUrl).toBe(`${sb.baseUrl}/v1/contacts/${id}`);
    expect(Number.isNaN(Date.parse(k.timestamp))).toBe(false);
    await call('DELETE', `/v1/hooks/${created.body.key}`);
  });

  it('batches events of one hook into one POST', async () => {
    const rx = await receiver();
    const created = await createHook('task.add', rx.url);
    await call('POST', '/__sandbox/config', { hookDelayMs: 400 });
    try {
      const ids = [await createTask('a'), await createTask('b'), await createTask('c')];
      await waitFor(() => rx.deliveries.length > 0);
      await sleep(200);
      expect(rx.deliveries).toHaveLength(1);
      expect(rx.deliveries[0]?.body.object_keys.map((k: { id: number }) => String(k.id))).toEqual(ids);
    } finally {
      await call('POST', '/__sandbox/config', { hookDelayMs: 50 });
      await call('DELETE', `/v1/hooks/${created.body.key}`);
    }
  });

  it('splits a batch into POSTs of at most 1000 object keys', async () => {
    const rx = await receiver();
    const created = await createHook('product.add', rx.url);
    await call('POST', '/__sandbox/config', { hookDelayMs: 300 });
    try {
      for (let i = 1; i <= 1500; i++) sb.api.emit('product.add', 'product', 100_000 + i);
      await waitFor(() => rx.deliveries.length >= 2);
      await sleep(200);
      const sizes = rx.deliveries.map((d) => d.body.object_keys.length);
      expect(sizes).toEqual([1000, 500]);
      const ids = rx.deliveries.flatMap((d) => d.body.object_keys.map((k: { id: number }) => k.id));
      expect(new Set(ids).size).toBe(1500);
    } finally {
      await call('POST', '/__sandbox/config', { hookDelayMs: 50 });
      await call('DELETE', `/v1/hooks/${created.body.key}`);
    }
  });

  it('a failing receiver is retried, made Inactive after the 4th failure, and /verify reactivates it', async () => {
    const rx = await receiver();
    rx.deliveryStatus = 500;
    const created = await createHook('note.add', rx.url);
    const key: string = created.body.key;
    const contacts = await call('GET', '/v2/contacts?page_size=1');
    const contactId: string = contacts.body.contacts[0].id;
    const note = (): Promise<Res> =>
      call('POST', `/v2/contacts/${contactId}/notes`, { user_id: '1', title: 'n' });
    expect((await note()).status).toBe(201);
    await waitFor(async () => (await hookStatus(key)) === 'Inactive');
    expect(rx.deliveries).toHaveLength(4);
    // the same batch each time
    const bodies = rx.deliveries.map((d) => JSON.stringify(d.body));
    expect(new Set(bodies).size).toBe(1);

    // Inactive: nothing more
    expect((await note()).status).toBe(201);
    await sleep(400);
    expect(rx.deliveries).toHaveLength(4);

    // verify reactivates
    rx.deliveryStatus = 200;
    const v = await call('POST', `/v1/hooks/${key}/verify`);
    expect(v.status).toBe(200);
    validateResponse('v1', 'POST', '/v1/hooks/{key}/verify', 200, v.body);
    expect(v.body.status).toBe('Verified');
    expect((await note()).status).toBe(201);
    await waitFor(() => rx.deliveries.length === 5);
    expect(rx.deliveries[4]?.body.event_key).toBe('note.add');
    await call('DELETE', `/v1/hooks/${key}`);
  });

  it('a delivery that succeeds on a retry keeps the hook Verified', async () => {
    const rx = await receiver();
    const created = await createHook('task.add', rx.url);
    rx.failNext = 2;
    await createTask('flaky');
    await waitFor(() => rx.deliveries.length >= 3);
    await sleep(200);
    expect(rx.deliveries).toHaveLength(3);
    expect(await hookStatus(created.body.key)).toBe('Verified');
    await call('DELETE', `/v1/hooks/${created.body.key}`);
  });

  it('a receiver slower than hookTimeoutMs is a failed delivery and is retried', async () => {
    const cfg = await call('GET', '/__sandbox/config');
    expect(cfg.body).toMatchObject({ hookTimeoutMs: 30_000, hookSchedule: 'fast' });
    const rx = await receiver();
    const created = await createHook('task.add', rx.url);
    await call('POST', '/__sandbox/config', { hookTimeoutMs: 150 });
    try {
      rx.slowNext = 1;
      rx.slowMs = 600;
      const id = await createTask('slow receiver');
      await waitFor(() => rx.deliveries.length >= 2);
      await sleep(700);
      // the slow 200 came too late: the same batch was sent again and the hook is still Verified
      expect(rx.deliveries).toHaveLength(2);
      expect(rx.deliveries[1]?.body).toEqual(rx.deliveries[0]?.body);
      expect(String(rx.deliveries[0]?.body.object_keys[0].id)).toBe(id);
      expect(await hookStatus(created.body.key)).toBe('Verified');

      // always slower than the timeout: 4 failed attempts → Inactive
      rx.slowNext = 100;
      await createTask('always slow');
      await waitFor(async () => (await hookStatus(created.body.key)) === 'Inactive', 8000);
      expect(rx.deliveries).toHaveLength(6);
    } finally {
      await call('POST', '/__sandbox/config', { hookTimeoutMs: 30_000 });
      await call('DELETE', `/v1/hooks/${created.body.key}`);
    }
  });

  it("hookSchedule 'keap' holds the first attempt 30–60 s (nothing within the fast delay)", async () => {
    const bad = await call('POST', '/__sandbox/config', { hookSchedule: 'slow' });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('hookSchedule');
    const rx = await receiver();
    const created = await createHook('task.add', rx.url);
    await call('POST', '/__sandbox/config', { hookSchedule: 'keap' });
    try {
      await createTask('keap schedule');
      await sleep(400);
      expect(rx.deliveries).toHaveLength(0);
    } finally {
      await call('POST', '/__sandbox/config', { hookSchedule: 'fast' });
      await call('DELETE', `/v1/hooks/${created.body.key}`);
    }
  });

  it('a 410 makes the hook Inactive at once', async () => {
    const rx = await receiver();
    rx.deliveryStatus = 410;
    const created = await createHook('task.add', rx.url);
    await createTask('gone');
    await waitFor(async () => (await hookStatus(created.body.key)) === 'Inactive');
    await sleep(300);
    expect(rx.deliveries).toHaveLength(1);
    await call('DELETE', `/v1/hooks/${created.body.key}`);
  });

  it('a receiver that went away (connection refused) is made Inactive after 4 attempts', async () => {
    const rx = await receiver();
    const created = await createHook('task.add', rx.url);
    await rx.stop();
    await createTask('nobody home');
    await waitFor(async () => (await hookStatus(created.body.key)) === 'Inactive');
    await call('DELETE', `/v1/hooks/${created.body.key}`);
  });

  it('delayedVerify verifies with the handshake secret only', async () => {
    const rx = await receiver();
    rx.echo = false;
    const created = await createHook('task.add', rx.url);
    const key: string = created.body.key;
    expect(created.body.status).toBe('Unverified');
    const secret = rx.handshakes[0]?.headers['x-hook-secret'] as string;
    expect(secret.length).toBeGreaterThan(10);

    const missing = await call('POST', `/v1/hooks/${key}/delayedVerify`);
    expect(missing.status).toBe(400);
    expect(missing.body.message).toContain('X-Hook-Secret');
    const wrong = await call('POST', `/v1/hooks/${key}/delayedVerify`, undefined, {
      'X-Hook-Secret': 'wrong',
    });
    expect(wrong.status).toBe(400);
    expect(await hookStatus(key)).toBe('Unverified');

    const ok = await call('POST', `/v1/hooks/${key}/delayedVerify`, undefined, { 'X-Hook-Secret': secret });
    expect(ok.status).toBe(200);
    validateResponse('v1', 'POST', '/v1/hooks/{key}/delayedVerify', 200, ok.body);
    expect(ok.body.status).toBe('Verified');
    const id = await createTask('after delayed verify');
    await waitFor(() => rx.deliveries.length > 0);
    expect(String(rx.deliveries[0]?.body.object_keys[0].id)).toBe(id);
    await call('DELETE', `/v1/hooks/${key}`);
  });

  it('a reset stops pending deliveries (runs last: it wipes the state)', async () => {
    const rx = await receiver();
    await createHook('task.add', rx.url);
    await call('POST', '/__sandbox/config', { hookDelayMs: 300 });
    await createTask('pending');
    const reset = await call('POST', '/__sandbox/reset');
    expect(reset.status).toBe(200);
    await sleep(600);
    expect(rx.deliveries).toHaveLength(0);
    expect((await call('GET', '/v1/hooks')).body).toEqual([]);
    // delivery still works after the reset
    await call('POST', '/__sandbox/config', { hookDelayMs: 50 });
    const rx2 = await receiver();
    await createHook('task.add', rx2.url);
    const id = await createTask('after reset');
    await waitFor(() => rx2.deliveries.length > 0);
    expect(String(rx2.deliveries[0]?.body.object_keys[0].id)).toBe(id);
    expect(rx.deliveries).toHaveLength(0);
  });
});

describe('hook schedules', () => {
  const fast = { hookDelayMs: 50, hookRetryDelaysMs: [10, 20, 30], hookSchedule: 'fast' } as const;
  const keap = { ...fast, hookSchedule: 'keap' } as const;

  it("'fast' uses hookDelayMs and hookRetryDelaysMs", () => {
    expect([0, 1, 2, 3, 4].map((n) => hookDelayFor(fast, n))).toEqual([50, 10, 20, 30, 30]);
  });

  it("'keap' is 30–60 s, then +30–60 s, +5 min, +30 min", () => {
    for (const r of [0, 0.5, 0.999999]) {
      const rnd = () => r;
      for (const n of [0, 1]) {
        const d = hookDelayFor(keap, n, rnd);
        expect(d).toBeGreaterThanOrEqual(30_000);
        expect(d).toBeLessThanOrEqual(60_000);
      }
      expect(hookDelayFor(keap, 2, rnd)).toBe(300_000);
      expect(hookDelayFor(keap, 3, rnd)).toBe(1_800_000);
    }
    expect(hookDelayFor(keap, 0, () => 0)).toBe(30_000);
    expect(hookDelayFor(keap, 1, () => 0.999999)).toBe(60_000);
  });
});
