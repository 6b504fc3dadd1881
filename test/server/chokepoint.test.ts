/**
 * Chokepoint rules that cross the safety layer and the Keap client: PATCH is never retried after an ambiguous
 * failure, an idempotent replay sends nothing and so needs no new confirmation, and calls with invalid
 * arguments are audited like every other call.
 */
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeapClient } from '../../src/keap/client.js';
import { silentLogger } from '../../src/logger.js';
import { createSafety } from '../../src/safety/index.js';
import type { RunningSandbox } from '../../src/sandbox/core/types.js';
import { startSandbox } from '../../src/sandbox/server.js';
import { createServer } from '../../src/server.js';
import { openStateDb } from '../../src/state/db.js';
import { data, type Harness, SANDBOX_KEY, startHarness } from './harness.js';

let sandbox: RunningSandbox;
let h: Harness;

async function control(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${sandbox.baseUrl}/__sandbox${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return text ? JSON.parse(text) : undefined;
}

async function routeCount(route: string): Promise<number> {
  const counters = await control('GET', '/requests');
  return counters.routes?.[route]?.count ?? 0;
}

beforeAll(async () => {
  sandbox = await startSandbox({ host: '127.0.0.1', port: 0, apiKeys: [SANDBOX_KEY], control: true });
  h = await startHarness({ sandbox });
});

afterAll(async () => {
  await h?.close();
  await sandbox?.close();
});

describe('chokepoint', () => {
  it('a PATCH that gets a 500 is not retried: one request, and the model is told to check', async () => {
    const contact = sandbox.api.table<{ id: number }>('contacts').all()[0];
    expect(contact).toBeDefined();
    await control('DELETE', '/requests');
    await control('POST', '/faults', {
      method: 'PATCH',
      path: '/v2/contacts/{contact_id}',
      status: 500,
      count: 1,
    });
    const r = await h.call('update_contact', { contact_id: String(contact?.id), given_name: 'Patched' });
    expect(r.isError).toBe(true);
    const err = data(r).error;
    expect(err.category).toBe('outcome_unknown');
    expect(err.next_step).toMatch(/get_contact/);
    expect(await routeCount('PATCH /v2/contacts/{contact_id}')).toBe(1);
  });

  it('an idempotent replay of a ✋ tool returns the stored result without asking again or calling Keap', async () => {
    const contact = sandbox.api.table<{ id: number }>('contacts').all()[1];
    const args = {
      contact_id: String(contact?.id),
      order_title: 'Replay check',
      order_time: '2026-11-26T10:00:00.000Z',
      order_type: 'OFFLINE',
      idempotency_key: 'replay-1',
    };
    await control('DELETE', '/requests');
    const first = data(await h.call('create_order', args));
    expect(first.confirmation_required).toBe(true);
    const created = data(
      await h.call('create_order', { ...args, confirmation_token: first.confirmation_token }),
    );
    expect(created.id).toBeDefined();
    const replay = await h.call('create_order', args);
    expect(replay.isError).toBeFalsy();
    expect(data(replay)).toMatchObject({ id: created.id, idempotent_replay: true });
    expect(await routeCount('POST /v2/orders')).toBe(1);
    const changed = await h.call('create_order', { ...args, order_title: 'Other' });
    expect(data(changed).error.category).toBe('conflict');
    expect(await routeCount('POST /v2/orders')).toBe(1);
    expect(h.audit().at(-2)).toMatchObject({ tool: 'create_order', decision: 'idempotent_replay' });
  });

  it('the idempotency record is written before the Keap call: mid-call it already reads "outcome unknown"', async () => {
    const { argsHash } = await import('../../src/safety/canonical.js');
    const args = {
      given_name: 'Midcall',
      email_addresses: [{ email: 'midcall@example.com', field: 'EMAIL1' }],
    };
    const agent = h.safety.policy.defaultAgent();
    await control('DELETE', '/requests');
    // Keap holds the request for 2 s (long enough for a loaded machine to look while it is inside Keap).
    await control('POST', '/faults', { method: 'POST', path: '/v2/contacts', latencyMs: 2000, count: 1 });
    const inFlight = h.call('create_contact', { ...args, idempotency_key: 'midcall-1' });
    // Half a second in, the call has claimed its key and is waiting inside Keap (which answers after 2 s).
    await new Promise((r) => setTimeout(r, 500));
    const seen = (await h.safety.idempotency.peek(agent, 'midcall-1', 'create_contact', argsHash(args)))
      .state;
    // While Keap holds the request, a second call (another process after a crash) must not repeat it.
    expect(seen).toBe('unknown');
    const done = await inFlight;
    expect(done.isError, JSON.stringify(done.content)).toBeFalsy();
    expect(
      (await h.safety.idempotency.peek(agent, 'midcall-1', 'create_contact', argsHash(args))).state,
    ).toBe('replay');
  });

  it('a call with invalid arguments is refused as an input error and audited', async () => {
    const before = h.audit().length;
    const r = await h.call('get_contact', { contact_id: 'not-a-number' });
    expect(r.isError).toBe(true);
    expect(data(r).error.category).toBe('input');
    const records = h.audit();
    expect(records).toHaveLength(before + 1);
    expect(records.at(-1)).toMatchObject({ tool: 'get_contact', error_category: 'input' });
  });

  it('list tools declare an outputSchema that their pages and errors both satisfy (the client validates)', async () => {
    const { tools } = await h.client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    expect(byName.get('list_contacts')?.outputSchema).toBeDefined();
    expect(byName.get('get_contact')?.outputSchema).toBeUndefined();
    const page = await h.call('list_contacts', { page_size: 2 });
    expect(data(page).contacts).toHaveLength(2);
    const bad = await h.call('list_contacts', { filter: 'no_such_field==1' });
    expect(bad.isError).toBe(true);
    expect(data(bad).error.category).toBe('validation');
  });

  it('a write that provably never reached Keap releases its idempotency key (a retry is not "outcome unknown")', async () => {
    // Nothing listens on the port of a closed server: every attempt is refused at connect.
    const closed = createNetServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const db = openStateDb(undefined);
    const safety = createSafety({ readOnly: false, sandbox: true, db, logger: silentLogger });
    const keap = createKeapClient({
      baseUrl: `http://127.0.0.1:${port}`,
      credential: { kind: 'pat', apiKey: SANDBOX_KEY },
      logger: silentLogger,
      retry: { initialDelayMs: 5, maxDelayMs: 10 },
    });
    const server = createServer({
      agent: safety.policy.defaultAgent(),
      client: keap,
      safety,
      logger: silentLogger,
    });
    const client = new Client({ name: 't', version: '1' });
    const [a, b] = InMemoryTransport.createLinkedPair();
    await server.connect(a);
    await client.connect(b);
    try {
      const args = {
        given_name: 'Nobody',
        email_addresses: [{ email: 'nobody@example.com', field: 'EMAIL1' }],
        idempotency_key: 'refused-1',
      };
      for (let i = 0; i < 2; i++) {
        const r = (await client.callTool({ name: 'create_contact', arguments: args })) as CallToolResult;
        expect(r.isError).toBe(true);
        expect(data(r).error.category).toBe('unavailable');
      }
    } finally {
      await client.close();
      await server.close();
      await keap.close();
      db.close();
    }
  });

  it('normalises what models get wrong: numbers and booleans as strings', async () => {
    const page = await h.call('list_contacts', { page_size: '3' });
    expect(page.isError).toBeFalsy();
    expect(data(page).contacts).toHaveLength(3);
    const dry = await h.call('create_tag', { name: 'VIP', category: { id: '1' }, dry_run: 'true' });
    expect(dry.isError).toBeFalsy();
    expect(data(dry).dry_run).toBe(true);
    const bad = await h.call('list_contacts', { page_size: 'three' });
    expect(data(bad).error.category).toBe('input');
  });
});
