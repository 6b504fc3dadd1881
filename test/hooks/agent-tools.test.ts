/**
 * The agent's side of REST hooks, in process: real sandbox over HTTP, real Keap client, real safety layer, the
 * real SQLite inbox and registry; events are put into the inbox with its own add() (what the receiver does).
 * list_events (paging, filters, expand under the agent's grants), list_hooks health, unsubscribe_events,
 * subscribe_events without a public address, the keap://events resources (policy-filtered updates, no listener
 * left behind by a closed session).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { type CallToolResult, ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HooksRuntime } from '../../src/hooks/agent.js';
import { openSqliteHooks, type SqliteHooks } from '../../src/hooks/inbox.js';
import { createKeapClient } from '../../src/keap/client.js';
import type { KeapClientApi } from '../../src/keap/types.js';
import { silentLogger } from '../../src/logger.js';
import { createSafety } from '../../src/safety/index.js';
import type { SafetyApi } from '../../src/safety/types.js';
import type { RunningSandbox } from '../../src/sandbox/core/types.js';
import { startSandbox } from '../../src/sandbox/server.js';
import { createServer } from '../../src/server.js';
import { openStateDb, type StateDb } from '../../src/state/db.js';

const KEY = 'hooks-agent-key';
const POLICY = {
  default_agent: 'admin',
  agents: {
    admin: { grants: { '*': 'write' } },
    // May read events and tags, not contacts.
    tagger: { grants: { hooks: 'read', tags: 'read' } },
    // No hooks at all.
    blind: { grants: { contacts: 'read' } },
    // Subscribing needs a human's yes.
    careful: { grants: { hooks: 'write' }, confirm_tools: ['subscribe_events'] },
  },
};

type Data = Record<string, any>;

let dir: string;
let sandbox: RunningSandbox;
let keap: KeapClientApi;
let db: StateDb;
let safety: SafetyApi;
let store: SqliteHooks;
let publicUrl: string | undefined;
let runtime: HooksRuntime;
const open: { client: Client; server: McpServer }[] = [];

async function session(agent: string): Promise<{ client: Client; server: McpServer; updates: string[] }> {
  const server = createServer({
    agent,
    client: keap,
    safety,
    logger: silentLogger,
    sandbox: true,
    hooks: runtime,
  });
  const client = new Client({ name: 'hooks-test', version: '1' });
  const updates: string[] = [];
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
    updates.push(n.params.uri);
  });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await server.connect(a);
  await client.connect(b);
  open.push({ client, server });
  return { client, server, updates };
}

async function call(client: Client, name: string, args: Data = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

function data(r: CallToolResult): Data {
  return r.structuredContent as Data;
}

function audit(): Data[] {
  return readFileSync(join(dir, 'audit.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Data);
}

function listeners(): number {
  return (store.inbox as unknown as { listeners: Set<unknown> }).listeners.size;
}

/** Resolves once `updates` holds `n` entries (the test's own timeout bounds the wait). */
async function updatesReach(updates: string[], n: number): Promise<void> {
  while (updates.length < n) await new Promise((r) => setTimeout(r, 10));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keap-hooks-agent-'));
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(POLICY));
  sandbox = await startSandbox({ host: '127.0.0.1', port: 0, apiKeys: [KEY] });
  keap = createKeapClient({
    baseUrl: sandbox.baseUrl,
    credential: { kind: 'pat', apiKey: KEY },
    logger: silentLogger,
    maxWaitMs: 5_000,
  });
  db = openStateDb(undefined);
  safety = createSafety({
    policyFile: join(dir, 'policy.json'),
    readOnly: false,
    sandbox: true,
    auditLogPath: join(dir, 'audit.jsonl'),
    db,
    logger: silentLogger,
  });
  store = openSqliteHooks(db, { pollMs: 50 });
  runtime = { inbox: store.inbox, registry: store.registry, publicUrl: () => publicUrl };
});

afterAll(async () => {
  for (const s of open) {
    await s.client.close().catch(() => undefined);
    await s.server.close().catch(() => undefined);
  }
  await store?.inbox.close();
  await keap?.close();
  safety?.audit.close();
  db?.close();
  await sandbox?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the event tools', () => {
  it('are listed by policy: list_events and subscribe_events for admin, only list_events for a hooks reader', async () => {
    const admin = await session('admin');
    const names = (await admin.client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['subscribe_events', 'unsubscribe_events', 'list_events']));
    const unsub = (await admin.client.listTools()).tools.find((t) => t.name === 'unsubscribe_events');
    expect(unsub?.annotations?.destructiveHint).toBe(true);
    expect(Object.keys(unsub?.inputSchema.properties ?? {})).toContain('confirmation_token');
    const tagger = await session('tagger');
    const t = (await tagger.client.listTools()).tools.map((x) => x.name);
    expect(t).toContain('list_events');
    expect(t).not.toContain('subscribe_events');
    const blind = await session('blind');
    expect((await blind.client.listTools()).tools.map((x) => x.name)).not.toContain('list_events');
    // Called anyway: refused by the chokepoint and audited.
    const r = await call(blind.client, 'list_events', {});
    expect(r.isError).toBe(true);
    expect(data(r).error.category).toBe('policy');
    expect(audit().some((a) => a.tool === 'list_events' && a.decision === 'denied')).toBe(true);
  });

  it('subscribe_events without a public address says what the operator must do, and sends nothing', async () => {
    publicUrl = undefined;
    const { client } = await session('admin');
    const before = (await (await fetch(`${sandbox.baseUrl}/__sandbox/requests`)).json()) as Data;
    const r = await call(client, 'subscribe_events', { event_keys: ['contact.add'] });
    expect(r.isError).toBe(true);
    expect(data(r).error.message).toMatch(/KEAP_HOOKS_PUBLIC_URL/);
    const after = (await (await fetch(`${sandbox.baseUrl}/__sandbox/requests`)).json()) as Data;
    expect(JSON.stringify(after)).toBe(JSON.stringify(before));
    expect(await store.registry.list()).toEqual([]);
  });

  it('list_events pages with page_token, filters by event_key / object_type / since, rejects bad input', async () => {
    const { client } = await session('admin');
    const contact = data(
      await call(client, 'create_contact', {
        given_name: 'Ev',
        email_addresses: [{ email: 'ev@example.com', field: 'EMAIL1' }],
      }),
    );
    const tagId = '91';
    await store.inbox.add('rcv-a', {
      eventKey: 'contact.add',
      objectType: 'contact',
      objectKeys: [
        { id: String(contact.id), apiUrl: 'u', timestamp: '2026-01-01T00:00:00Z' },
        { id: '999999', apiUrl: 'u', timestamp: '2026-01-01T00:00:01Z' },
      ],
    });
    await store.inbox.add('rcv-b', {
      eventKey: 'contactGroup.add',
      objectType: 'contactGroup',
      objectKeys: [{ id: tagId, apiUrl: 'u', timestamp: '2026-01-01T00:00:02Z' }],
    });
    const p1 = data(await call(client, 'list_events', { page_size: 2 }));
    expect(p1.events.map((e: Data) => e.event_key)).toEqual(['contact.add', 'contact.add']);
    expect(p1.events[0]).toMatchObject({ object_type: 'contact', object_id: String(contact.id) });
    expect(typeof p1.next_page_token).toBe('string');
    const p2 = data(await call(client, 'list_events', { page_size: 2, page_token: p1.next_page_token }));
    expect(p2.events.map((e: Data) => e.object_id)).toEqual([tagId]);
    expect(p2.next_page_token).toBeUndefined();
    const byType = data(await call(client, 'list_events', { object_type: 'contactGroup' }));
    expect(byType.events).toHaveLength(1);
    const byKey = data(await call(client, 'list_events', { event_key: 'contact.add' }));
    expect(byKey.events).toHaveLength(2);
    const future = data(await call(client, 'list_events', { since: '2999-01-01T00:00:00Z' }));
    expect(future.events).toEqual([]);
    const bad = await call(client, 'list_events', { since: '2026-01-01' });
    expect(bad.isError).toBe(true);
    expect(data(bad).error.message).toMatch(/since/);
    const badToken = await call(client, 'list_events', { page_token: 'x1' });
    expect(data(badToken).error.message).toMatch(/page_token/);
    const tooMany = await call(client, 'list_events', { expand: true, page_size: 50 });
    expect(data(tooMany).error.message).toMatch(/at most 25/);
  });

  it('expand reads each object through the chokepoint; what the agent may not read stays an id', async () => {
    const admin = await session('admin');
    const all = data(await call(admin.client, 'list_events', { expand: true, event_key: 'contact.add' }));
    expect(all.events[0].object).toMatchObject({ given_name: 'Ev' });
    expect(all.events[1].object).toBeUndefined();
    expect(all.events[1].object_note).toMatch(/not_found/);
    // Each read is audited under its read tool.
    expect(audit().filter((a) => a.tool === 'get_contact').length).toBeGreaterThanOrEqual(2);

    const tagger = await session('tagger');
    const seen = data(await call(tagger.client, 'list_events', { expand: true }));
    const c = seen.events.find((e: Data) => e.object_type === 'contact');
    expect(c.object).toBeUndefined();
    expect(c.object_note).toMatch(/contacts read/);
    const tag = seen.events.find((e: Data) => e.object_type === 'contactGroup');
    // Read with the tags grant (the sandbox's seeded tag 91 or a not-found note; never a policy refusal).
    expect(tag.object_note ?? '').not.toMatch(/grants/);
  });

  it("list_hooks adds the receiver health of this server's subscriptions and hides receiver ids", async () => {
    publicUrl = 'http://127.0.0.1:9/unreachable';
    const { client } = await session('admin');
    const sub = await store.registry.create({ eventKey: 'contact.edit', agent: 'admin' });
    const created = data(
      await call(client, 'create_hook', {
        eventKey: 'contact.edit',
        hookUrl: `${publicUrl}/hooks/keap/${sub.receiverId}`,
      }),
    );
    await store.registry.setHookKey(sub.receiverId, String(created.key));
    await store.registry.recordDelivery(sub.receiverId, Date.parse('2026-01-02T03:04:05Z'), 3);
    const listed = data(await call(client, 'list_hooks'));
    const mine = listed.items.find((h: Data) => String(h.key) === String(created.key));
    expect(mine.status).toBe('Unverified');
    expect(mine.receiver).toMatchObject({
      this_server: true,
      last_delivery_at: '2026-01-02T03:04:05.000Z',
      events_stored: 3,
    });
    expect(JSON.stringify(listed)).not.toContain(sub.receiverId);

    // unsubscribe_events: a human confirms (token here), then the hook and the registry entry go.
    const ask = data(await call(client, 'unsubscribe_events', { event_key: 'contact.edit' }));
    expect(ask.confirmation_required).toBe(true);
    expect(ask.preview).toMatch(/contact\.edit/);
    expect(await store.registry.get(sub.receiverId)).toBeDefined();
    const done = data(
      await call(client, 'unsubscribe_events', {
        event_key: 'contact.edit',
        confirmation_token: ask.confirmation_token,
      }),
    );
    expect(done).toMatchObject({ unsubscribed: true, hook_key: String(created.key) });
    expect(await store.registry.get(sub.receiverId)).toBeUndefined();
    const after = data(await call(client, 'list_hooks'));
    expect(after.items.some((h: Data) => String(h.key) === String(created.key))).toBe(false);
    const del = audit().filter((a) => a.tool === 'unsubscribe_events');
    expect(del.some((a) => a.method === 'DELETE' && a.path === '/v1/hooks/{key}')).toBe(true);
    const none = await call(client, 'unsubscribe_events', { event_key: 'contact.edit' });
    expect(none.isError).toBe(true);
    expect(data(none).error.message).toMatch(/no subscription/);
  });
});

describe('subscribe_events under a policy that asks for confirmation', () => {
  it('asks once, keeps the receiver id while the human decides, and the repeat with the token creates that hook', async () => {
    publicUrl = 'http://127.0.0.1:9/unreachable';
    const { client } = await session('careful');
    const ask = data(await call(client, 'subscribe_events', { event_keys: ['task.add'] }));
    expect(ask.confirmation_required).toBe(true);
    const pending = (await store.registry.list()).filter((x) => x.eventKey === 'task.add');
    expect(pending).toHaveLength(1);
    expect(pending[0]?.hookKey).toBeUndefined();
    const done = data(
      await call(client, 'subscribe_events', {
        event_keys: ['task.add'],
        confirmation_token: ask.confirmation_token,
      }),
    );
    // Nothing answers at the unreachable address: Keap keeps it Unverified, and says so.
    expect(done.subscriptions[0]).toMatchObject({
      event_key: 'task.add',
      status: 'Unverified',
      receiver_verified: false,
    });
    const after = (await store.registry.list()).filter((x) => x.eventKey === 'task.add');
    expect(after.map((x) => x.receiverId)).toEqual([pending[0]?.receiverId]);
    expect(after[0]?.hookKey).toBe(String(done.subscriptions[0].hook_key));
    const hooks = (await (
      await fetch(`${sandbox.baseUrl}/v1/hooks`, { headers: { 'x-keap-api-key': KEY } })
    ).json()) as Data[];
    expect(hooks.filter((h) => h.eventKey === 'task.add')).toHaveLength(1);
  });
});

describe('keap://events resources', () => {
  it('lists, reads and notifies subscribed sessions whose agent may read the event', async () => {
    const admin = await session('admin');
    const tagger = await session('tagger');
    const res = await admin.client.listResources();
    expect(res.resources.map((r) => r.uri)).toContain('keap://events');
    const templates = await admin.client.listResourceTemplates();
    expect(templates.resourceTemplates.map((t) => t.uriTemplate)).toContain('keap://events/{event_key}');
    const read = await admin.client.readResource({ uri: 'keap://events/contact.add' });
    const body = JSON.parse(String((read.contents[0] as { text: string }).text)) as Data;
    expect(body.events.length).toBeGreaterThanOrEqual(2);
    expect(body.events.every((e: Data) => e.event_key === 'contact.add')).toBe(true);
    // tagger may not read contacts: contact events are left out of its read.
    const tRead = JSON.parse(
      String(
        ((await tagger.client.readResource({ uri: 'keap://events' })).contents[0] as { text: string }).text,
      ),
    ) as Data;
    expect(tRead.events.some((e: Data) => e.object_type === 'contact')).toBe(false);
    expect(tRead.note).toMatch(/left out/);

    await admin.client.subscribeResource({ uri: 'keap://events/contact.add' });
    await tagger.client.subscribeResource({ uri: 'keap://events' });
    await expect(admin.client.subscribeResource({ uri: 'keap://other' })).rejects.toThrow(/subscribable/);

    await store.inbox.add('rcv-a', {
      eventKey: 'contact.add',
      objectType: 'contact',
      objectKeys: [{ id: '4242', apiUrl: 'u', timestamp: '2026-02-01T00:00:00Z' }],
    });
    await updatesReach(admin.updates, 1);
    expect(admin.updates).toEqual(['keap://events/contact.add']);
    // A tag event reaches tagger (and not admin's contact.add subscription); tagger got nothing for the contact
    // event stored before it (notifications are sent in order).
    await store.inbox.add('rcv-b', {
      eventKey: 'contactGroup.add',
      objectType: 'contactGroup',
      objectKeys: [{ id: '92', apiUrl: 'u', timestamp: '2026-02-01T00:00:01Z' }],
    });
    await updatesReach(tagger.updates, 1);
    expect(tagger.updates).toEqual(['keap://events']);
    expect(admin.updates).toEqual(['keap://events/contact.add']);

    // The agent without hooks read cannot subscribe.
    const blind = await session('blind');
    await expect(blind.client.subscribeResource({ uri: 'keap://events' })).rejects.toThrow(/policy/);
  });

  it('a closed session leaves no listener on the inbox; unsubscribe removes it too', async () => {
    const base = listeners();
    const a = await session('admin');
    await a.client.subscribeResource({ uri: 'keap://events' });
    expect(listeners()).toBe(base + 1);
    await a.client.unsubscribeResource({ uri: 'keap://events' });
    expect(listeners()).toBe(base);
    const b = await session('admin');
    await b.client.subscribeResource({ uri: 'keap://events' });
    expect(listeners()).toBe(base + 1);
    await b.client.close();
    await b.server.close();
    expect(listeners()).toBe(base);
  });
});
