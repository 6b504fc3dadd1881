/**
 * The REST hooks receiver of the real server (dist/src/index.js --http --sandbox with a state directory), over real
 * HTTP: the handshake, deliveries stored once (also after a restart), a 1,000-key delivery (its acknowledgement time
 * printed, not asserted), every rejection storing nothing, the rate cap, the Host check and the bearer exemption.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HookSubscription } from '../../src/hooks/types.js';
import {
  closeStores,
  deliveryBody,
  ensureBuilt,
  freshIds,
  post,
  type Server,
  startServer,
  storeOf,
  tempDir,
  until,
} from './helpers.js';

let server: Server;
let stateDir: string;
const running: Server[] = [];

beforeAll(async () => {
  ensureBuilt();
  stateDir = tempDir('hooks-rx-');
  server = await startServer(['--sandbox'], stateDir);
  running.push(server);
});

afterAll(async () => {
  closeStores();
  for (const s of running) await s.proc.stop();
});

async function subscribe(eventKey = 'contact.add'): Promise<HookSubscription> {
  return storeOf(stateDir).registry.create({ eventKey, agent: 'assistant' });
}

const urlOf = (s: Server, sub: HookSubscription) => `${s.origin}/hooks/keap/${sub.receiverId}`;

async function storedCount(dir = stateDir): Promise<number> {
  return (await storeOf(dir).inbox.stats()).stored;
}

describe('REST hooks receiver', () => {
  it('answers the handshake echoing X-Hook-Secret and marks the subscription verified', async () => {
    const sub = await subscribe();
    const secret = 'a1b2c3-handshake-secret-Z';
    const r = await post(urlOf(server, sub), { headers: { 'X-Hook-Secret': secret } });
    expect(r.status).toBe(200);
    expect(r.headers['x-hook-secret']).toBe(secret);
    const after = await storeOf(stateDir).registry.get(sub.receiverId);
    expect(after?.verifiedAt).toBeTypeOf('number');
    // Keap's handshake body is ignored (empty or not).
    const again = await post(urlOf(server, sub), { headers: { 'X-Hook-Secret': 'x' }, body: '{"what":1}' });
    expect(again.headers['x-hook-secret']).toBe('x');
    // An unknown receiver gets no echo.
    const unknown = await post(`${server.origin}/hooks/keap/${'A'.repeat(32)}`, {
      headers: { 'X-Hook-Secret': secret },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.headers['x-hook-secret']).toBeUndefined();
    // A secret that cannot be echoed as a header value is refused, not echoed.
    const bad = await post(urlOf(server, sub), { headers: { 'X-Hook-Secret': 'has space' } });
    expect(bad.status).toBe(400);
    expect(bad.headers['x-hook-secret']).toBeUndefined();
  });

  it('stores a delivery once: ids as integers or digit strings, a second post is all duplicates', async () => {
    const sub = await subscribe();
    const [a, b, c] = freshIds(3) as [number, number, number];
    const body = deliveryBody('contact.add', [a, String(b), c]);
    const before = await storedCount();
    const r1 = await post(urlOf(server, sub), { body });
    expect(r1.status).toBe(200);
    expect(r1.body).toEqual({ ok: true, stored: 3, duplicates: 0 });
    const r2 = await post(urlOf(server, sub), { body });
    expect(r2.status).toBe(200);
    expect(r2.body).toEqual({ ok: true, stored: 0, duplicates: 3 });
    expect(await storedCount()).toBe(before + 3);
    const store = storeOf(stateDir);
    const events = (await store.inbox.list({ limit: 1000 })).events.filter(
      (e) => e.receiverId === sub.receiverId,
    );
    expect(events.map((e) => e.objectId)).toEqual([String(a), String(b), String(c)]);
    expect(events[0]).toMatchObject({
      eventKey: 'contact.add',
      objectType: 'contact',
      apiUrl: `https://api.infusionsoft.com/crm/rest/v1/contacts/${a}`,
      timestamp: '2026-11-30T12:00:00.000Z',
    });
    // Bookkeeping happens after the acknowledgement.
    await until('the delivery is recorded', async () => {
      const s = await store.registry.get(sub.receiverId);
      return s?.eventsStored === 3 && s.lastDeliveryAt !== undefined;
    });
  });

  it('a 1,000-key delivery stores 1,000 events (acknowledgement time p50 over 20 deliveries printed)', async () => {
    const sub = await subscribe();
    const before = await storedCount();
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await post(urlOf(server, sub), { body: deliveryBody('contact.add', freshIds(1000)) });
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ ok: true, stored: 1000, duplicates: 0 });
      times.push(r.ms);
    }
    expect(await storedCount()).toBe(before + 20_000);
    const sorted = [...times].sort((x, y) => x - y);
    const p50 = ((sorted[9] ?? 0) + (sorted[10] ?? 0)) / 2;
    console.log(
      `[bench] 1,000-key delivery acknowledged: p50 ${p50.toFixed(1)} ms, min ${sorted[0]?.toFixed(1)} ms, max ${sorted[19]?.toFixed(1)} ms (20 runs, fsync'd SQLite WAL)`,
    );
  });

  it('rejects malformed, oversized, unknown-receiver and wrong-method posts and stores nothing', async () => {
    const sub = await subscribe();
    const url = urlOf(server, sub);
    const before = await storedCount();
    const [id] = freshIds(1) as [number];
    const key = { id, apiUrl: 'https://x/y', timestamp: '2026-11-30T12:00:00Z' };
    const marker = 'PAYLOAD-MARKER-7f3a';
    const malformed: [string, string][] = [
      ['not JSON', `{"event_key": "contact.add", ${marker}`],
      ['an array', '[]'],
      ['no event_key', JSON.stringify({ object_type: 'contact', object_keys: [key] })],
      ['event_key a number', JSON.stringify({ event_key: 5, object_type: 'contact', object_keys: [key] })],
      ['no object_keys', JSON.stringify({ event_key: 'contact.add', object_type: 'contact' })],
      [
        'object_keys not an array',
        JSON.stringify({ event_key: 'contact.add', object_type: 'contact', object_keys: key }),
      ],
      [
        'an id that is not a number',
        JSON.stringify({
          event_key: 'contact.add',
          object_type: 'contact',
          object_keys: [key, { ...key, id: `abc${marker}` }],
        }),
      ],
      [
        'a negative id',
        JSON.stringify({
          event_key: 'contact.add',
          object_type: 'contact',
          object_keys: [{ ...key, id: -1 }],
        }),
      ],
      [
        'a fractional id',
        JSON.stringify({
          event_key: 'contact.add',
          object_type: 'contact',
          object_keys: [{ ...key, id: 1.5 }],
        }),
      ],
      [
        'no apiUrl',
        JSON.stringify({
          event_key: 'contact.add',
          object_type: 'contact',
          object_keys: [key, { id: id + 1, timestamp: 't' }],
        }),
      ],
      [
        'a timestamp not a string',
        JSON.stringify({
          event_key: 'contact.add',
          object_type: 'contact',
          object_keys: [{ ...key, timestamp: 12 }],
        }),
      ],
      ['1,001 keys', deliveryBody('contact.add', freshIds(1001))],
      ['another event key than subscribed', deliveryBody('order.add', [id])],
    ];
    for (const [what, body] of malformed) {
      const r = await post(url, { body });
      expect(r.status, what).toBe(400);
      expect(r.body?.error, what).toBe('bad_request');
      expect(r.text, what).not.toContain(marker);
    }
    // The first problem is named (the 7th key set: object_keys[1].id).
    expect((await post(url, { body: malformed[6]?.[1] })).body.message).toMatch(/object_keys\[1\]\.id/);

    // > 1 MiB: declared (refused before reading) and streamed without a length (reading stops at the limit).
    const big = Buffer.alloc(1024 * 1024 + 1, 0x20);
    const declared = await post(url, { body: big });
    expect(declared.status).toBe(413);
    // Streamed without a length: the answer comes at the limit; the rest is discarded, so the client still
    // writing reads the 413 rather than a reset.
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    for (let i = 0; i < 3; i++) {
      const streamed = await post(url, { chunks: Array.from({ length: 64 }, () => chunk) });
      expect(streamed.status).toBe(413);
      expect(streamed.body.error).toBe('payload_too_large');
    }
    // A body of exactly 1 MiB that is valid JSON is not refused for size.
    const padded = deliveryBody('contact.add', freshIds(1));
    const exact = await post(url, { body: padded + ' '.repeat(1024 * 1024 - Buffer.byteLength(padded)) });
    expect(exact.status).toBe(200);

    // Unknown receivers: well-formed but never created, removed, and garbage.
    const gone = await subscribe();
    await storeOf(stateDir).registry.remove(gone.receiverId);
    for (const path of [
      `/hooks/keap/${'B'.repeat(32)}`,
      `/hooks/keap/${gone.receiverId}`,
      '/hooks/keap/short',
      '/hooks/keap/',
      '/hooks/other',
    ]) {
      const r = await post(`${server.origin}${path}`, { body: deliveryBody('contact.add', [id]) });
      expect(r.status, path).toBe(404);
    }
    const get = await post(url, { method: 'GET' });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');

    expect(await storedCount()).toBe(before + 1); // only the exact-1-MiB one
    const log = server.proc.stderr();
    expect(log).toContain('REST hook request rejected');
    expect(log).toMatch(/"reason":"malformed"/);
    expect(log).toMatch(/"reason":"too_large"/);
    expect(log).toMatch(/"reason":"unknown_receiver"/);
    expect(log).not.toContain(marker);
    expect(log).not.toContain(sub.receiverId);
  });

  it('a replay after a restart of the server (same state directory) stores nothing again', async () => {
    const dir = tempDir('hooks-restart-');
    const first = await startServer(['--sandbox'], dir);
    running.push(first);
    const sub = await storeOf(dir).registry.create({ eventKey: 'order.add', agent: 'assistant' });
    const body = deliveryBody('order.add', freshIds(50));
    expect((await post(urlOf(first, sub), { body })).body).toEqual({ ok: true, stored: 50, duplicates: 0 });
    await first.proc.stop();
    const second = await startServer(['--sandbox'], dir);
    running.push(second);
    expect((await post(urlOf(second, sub), { body })).body).toEqual({ ok: true, stored: 0, duplicates: 50 });
    expect(await storedCount(dir)).toBe(50);
    await second.proc.stop();
    // Without KEAP_MCP_SANDBOX_STATE_DIR a sandbox run keeps nothing: the subscription is unknown there.
    const home = tempDir('hooks-mem-');
    const memory = await startServer(['--sandbox'], home, { KEAP_MCP_SANDBOX_STATE_DIR: '' });
    running.push(memory);
    expect((await post(urlOf(memory, sub), { body })).status).toBe(404);
  });

  it('caps requests per receiver (429 with Retry-After), keeps the Host check, needs no agent token', async () => {
    const dir = tempDir('hooks-cap-');
    const token = 'agent-token-for-hooks-test-0123456789';
    const policy = join(dir, '..', 'policy.json');
    writeFileSync(
      policy,
      JSON.stringify({
        default_agent: 'assistant',
        agents: {
          assistant: {
            token_sha256: createHash('sha256').update(token).digest('hex'),
            grants: { '*': 'read' },
          },
        },
      }),
    );
    const s = await startServer(['--sandbox'], dir, {
      KEAP_HOOKS_MAX_REQUESTS_PER_MIN: '3',
      KEAP_POLICY: policy,
    });
    running.push(s);
    const sub = await storeOf(dir).registry.create({ eventKey: 'contact.add', agent: 'assistant' });
    const other = await storeOf(dir).registry.create({ eventKey: 'contact.add', agent: 'assistant' });
    // /mcp wants the agent's token; the receiver does not.
    expect((await post(`${s.origin}/mcp`, { body: '{}' })).status).toBe(401);
    // A foreign Host is refused before anything else and stores nothing (and takes no token from the bucket).
    const foreign = await post(urlOf(s, sub), {
      body: deliveryBody('contact.add', freshIds(1)),
      headers: { host: 'evil.example' },
    });
    expect(foreign.status).toBe(403);
    for (let i = 0; i < 3; i++) {
      expect((await post(urlOf(s, sub), { body: deliveryBody('contact.add', freshIds(1)) })).status).toBe(
        200,
      );
    }
    const limited = await post(urlOf(s, sub), { body: deliveryBody('contact.add', freshIds(1)) });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // Another receiver has its own bucket.
    expect((await post(urlOf(s, other), { body: deliveryBody('contact.add', freshIds(1)) })).status).toBe(
      200,
    );
    expect(await storedCount(dir)).toBe(4);
    expect(s.proc.stderr()).toMatch(/"reason":"rate_limited"/);
    // The foreign-Host refusal is logged with the receiver id shortened (the URL is the secret).
    expect(s.proc.stderr()).toMatch(/HTTP request refused/);
    expect(s.proc.stderr()).not.toContain(sub.receiverId);
  });
});
