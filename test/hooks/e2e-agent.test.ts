/**
 * Acceptance (issue 14), end to end over real HTTP: MCP clients (Streamable HTTP, bearer tokens) → the real
 * binary (`keap-mcp --http`, its own state dir) → the sandbox (a separate Keap, started here with fast hook
 * timing) → the sandbox's hook delivery → the server's receiver → the inbox → list_events / resources/updated.
 *  - subscribe_events for contact.add ends Verified at the sandbox; create_contact yields a contact.add event for
 *    that id in list_events; a subscribed session receives resources/updated; a session whose agent cannot read
 *    contacts receives nothing for it.
 *  - each of the 15 events in the catalog's `event` fields reaches the inbox when its tool is called.
 *  - a receiver that is down makes the sandbox retry and mark the hooks Inactive; list_hooks and the console's
 *    Hooks page show it; verify_hook (one hook) and the console's re-verify (another, CSRF-checked, audited as
 *    the operator) bring them back and later events arrive.
 * Waiting for a delivery polls until the event is there (bounded by the test timeout); nothing asserts a time.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type CallToolResult, ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/core/types.js';
import { hookEngine } from '../../src/sandbox/resources/hooks.js';
import { startSandbox } from '../../src/sandbox/server.js';
import { ALL_TOOLS } from '../../tools/index.js';
import { ensureBuilt, freePort, type Spawned, spawnKeapMcp } from '../console/spawn.js';

const KEY = 'hooks-e2e-key';
const TOKENS = { admin: 'admin-token-e2e-hooks-0123456789', tagger: 'tagger-token-e2e-hooks-0123456789' };
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
/** Tools with a ✋ the acceptance calls: waived for admin (confirmation has its own tests). */
const WAIVED = ['delete_contact', 'create_order', 'create_subscription', 'cancel_subscription'];
const OPERATOR = 'operator-token-hooks-e2e-0123456789';
const POLICY = {
  operator_token_sha256: sha(OPERATOR),
  agents: {
    admin: { token_sha256: sha(TOKENS.admin), grants: { '*': 'write' }, no_confirm_tools: WAIVED },
    // Reads events and tags; not contacts.
    tagger: { token_sha256: sha(TOKENS.tagger), grants: { hooks: 'read', tags: 'read' } },
  },
};

type Data = Record<string, any>;

let root: string;
let sandbox: RunningSandbox;
let port: number;
let proc: Spawned | undefined;
let mcpUrl = '';
const clients: Client[] = [];

async function startKeapMcp(): Promise<void> {
  const home = mkdtempSync(join(root, 'home-'));
  proc = spawnKeapMcp(
    ['--http', '--port', String(port)],
    {
      KEAP_API_KEY: KEY,
      KEAP_API_BASE_URL: sandbox.baseUrl,
      KEAP_MCP_STATE_DIR: join(root, 'state'),
      KEAP_POLICY: join(root, 'policy.json'),
      KEAP_AUDIT_LOG: join(root, 'audit.jsonl'),
      KEAP_MCP_LOG_LEVEL: 'warn',
    },
    home,
  );
  const m = await proc.waitFor(/MCP over Streamable HTTP at (http:\/\/\S+)/);
  mcpUrl = m[1] as string;
}

interface Session {
  readonly client: Client;
  readonly updates: string[];
  call(name: string, args?: Data): Promise<Data>;
  raw(name: string, args?: Data): Promise<CallToolResult>;
}

async function connect(agent: keyof typeof TOKENS): Promise<Session> {
  const client = new Client({ name: `hooks-e2e-${agent}`, version: '1' });
  const updates: string[] = [];
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
    updates.push(n.params.uri);
  });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(mcpUrl), {
      requestInit: { headers: { authorization: `Bearer ${TOKENS[agent]}` } },
    }),
  );
  clients.push(client);
  const raw = async (name: string, args: Data = {}) =>
    (await client.callTool({ name, arguments: args })) as CallToolResult;
  return {
    client,
    updates,
    raw,
    async call(name, args = {}) {
      const r = await raw(name, args);
      const first = r.content[0];
      if (r.isError) throw new Error(`${name}: ${first?.type === 'text' ? first.text : 'error'}`);
      return r.structuredContent as Data;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value (the test's timeout bounds the wait). */
async function until<T>(check: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    await sleep(100);
  }
}

/** All events in the inbox (list_events, paged through). */
async function allEvents(s: Session, args: Data = {}): Promise<Data[]> {
  const out: Data[] = [];
  let token: string | undefined;
  do {
    const page = await s.call('list_events', {
      ...args,
      page_size: 100,
      ...(token ? { page_token: token } : {}),
    });
    out.push(...(page.events as Data[]));
    token = page.next_page_token as string | undefined;
  } while (token !== undefined);
  return out;
}

async function eventFor(s: Session, eventKey: string, id: string): Promise<Data> {
  return until(async () =>
    (await allEvents(s, { event_key: eventKey })).find((e) => String(e.object_id) === id),
  );
}

/** A request to the sandbox with the API key, as another Keap client (waits out its rate limit: 429). */
async function keapDirect(method: string, path: string, body?: Data): Promise<Response> {
  for (;;) {
    const r = await fetch(`${sandbox.baseUrl}${path}`, {
      method,
      headers: { 'x-keap-api-key': KEY, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    if (r.status !== 429) return r;
    await r.arrayBuffer();
    await sleep(250);
  }
}

/** The sandbox's own view of its hooks (Keap's). */
async function sandboxHooks(): Promise<Data[]> {
  return (await (await keapDirect('GET', '/v1/hooks')).json()) as Data[];
}

beforeAll(async () => {
  ensureBuilt();
  root = mkdtempSync(join(tmpdir(), 'keap-hooks-e2e-'));
  writeFileSync(join(root, 'policy.json'), JSON.stringify(POLICY));
  // Keap's schedule shrunk: first delivery 100 ms after a change, retries 100 ms apart (4 failures → Inactive).
  sandbox = await startSandbox({
    host: '127.0.0.1',
    port: 0,
    apiKeys: [KEY],
    hookDelayMs: 100,
    hookRetryDelaysMs: [100, 100, 100],
    hookTimeoutMs: 5_000,
  });
  port = await freePort();
  await startKeapMcp();
}, 60_000);

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await proc?.stop();
  await sandbox?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

const s: Data = {};

describe('REST hooks end to end', () => {
  it('subscribe_events(contact.add) ends Verified; create_contact yields the event; only a reader is notified', async () => {
    const admin = await connect('admin');
    const tagger = await connect('tagger');
    const sub = await admin.call('subscribe_events', { event_keys: ['contact.add', 'contactGroup.add'] });
    expect(sub.subscriptions).toHaveLength(2);
    for (const r of sub.subscriptions as Data[]) {
      expect(r, JSON.stringify(r)).toMatchObject({ status: 'Verified', receiver_verified: true });
    }
    const contactHook = (sub.subscriptions as Data[]).find((r) => r.event_key === 'contact.add') as Data;
    s.contactHookKey = String(contactHook.hook_key);
    const atSandbox = (await sandboxHooks()).find((h) => String(h.key) === s.contactHookKey);
    expect(atSandbox?.status).toBe('Verified');
    expect(atSandbox?.hookUrl).toMatch(
      new RegExp(`^http://127\\.0\\.0\\.1:${port}/hooks/keap/[A-Za-z0-9_-]{22,}$`),
    );
    // Subscribing again changes nothing at Keap.
    const again = await admin.call('subscribe_events', { event_keys: ['contact.add'] });
    expect(again.subscriptions[0]).toMatchObject({ status: 'Verified', already_subscribed: true });
    expect((await sandboxHooks()).filter((h) => h.eventKey === 'contact.add')).toHaveLength(1);

    await admin.client.subscribeResource({ uri: 'keap://events/contact.add' });
    await tagger.client.subscribeResource({ uri: 'keap://events/contact.add' });
    await tagger.client.subscribeResource({ uri: 'keap://events/contactGroup.add' });

    const contact = await admin.call('create_contact', {
      given_name: 'Hook',
      family_name: 'Receiver',
      email_addresses: [{ email: `hook-${Date.now()}@example.com`, field: 'EMAIL1' }],
    });
    s.contactId = String(contact.id);
    const ev = await eventFor(admin, 'contact.add', s.contactId);
    expect(ev).toMatchObject({ event_key: 'contact.add', object_type: 'contact' });
    const expanded = await admin.call('list_events', { event_key: 'contact.add', expand: true });
    const mine = (expanded.events as Data[]).find((e) => String(e.object_id) === s.contactId) as Data;
    expect(mine.object).toMatchObject({ given_name: 'Hook', family_name: 'Receiver' });
    await until(async () => (admin.updates.includes('keap://events/contact.add') ? true : undefined));

    // A tag event after it: tagger (tags read) is told about that one, and never about the contact event that
    // was stored first (notifications reach a session in order).
    const tag = await admin.call('create_tag', { name: `hooks-e2e ${Date.now()}` });
    await eventFor(admin, 'contactGroup.add', String(tag.id));
    await until(async () => (tagger.updates.includes('keap://events/contactGroup.add') ? true : undefined));
    expect(tagger.updates).not.toContain('keap://events/contact.add');
    // And tagger's list_events expand keeps the contact an id.
    const seen = await tagger.call('list_events', { event_key: 'contact.add', expand: true });
    const c = (seen.events as Data[]).find((e) => String(e.object_id) === s.contactId) as Data;
    expect(c.object).toBeUndefined();
    expect(c.object_note).toMatch(/contacts read/);
  });

  it('each of the 15 events in the catalog reaches the inbox when its tool is called', async () => {
    const admin = await connect('admin');
    const catalogEvents = [...new Set(ALL_TOOLS.map((t) => t.event).filter((e): e is string => !!e))];
    expect(catalogEvents).toHaveLength(15);
    const sub = await admin.call('subscribe_events', { event_keys: catalogEvents });
    for (const r of sub.subscriptions as Data[]) expect(r.status, JSON.stringify(r)).toBe('Verified');

    const fired: [string, string][] = [];
    const me = await admin.call('get_current_user', {});
    const userId = String(me.sub);
    const contact = await admin.call('create_contact', {
      given_name: 'Every',
      family_name: 'Event',
      email_addresses: [{ email: `every-${Date.now()}@example.com`, field: 'EMAIL1' }],
    });
    const contactId = String(contact.id);
    fired.push(['contact.add', contactId]);
    await admin.call('update_contact', { contact_id: contactId, family_name: 'Events' });
    fired.push(['contact.edit', contactId]);

    const tag = await admin.call('create_tag', { name: `hooks-e2e every ${Date.now()}` });
    await admin.call('apply_tag', { tag_id: String(tag.id), contact_ids: [contactId] });
    fired.push(['contactGroup.applied', contactId]);
    await admin.call('remove_tag', { tag_id: String(tag.id), contact_ids: [contactId] });
    fired.push(['contactGroup.removed', contactId]);

    const company = await admin.call('create_company', { company_name: 'Hooks E2E Ltd' });
    fired.push(['company.add', String(company.id)]);
    await admin.call('update_company', { company_id: String(company.id), company_name: 'Hooks E2E plc' });
    fired.push(['company.edit', String(company.id)]);

    const note = await admin.call('create_note', {
      contact_id: contactId,
      user_id: userId,
      title: 'Hooks',
      type: 'Call',
      text: 'about hooks',
    });
    fired.push(['note.add', String(note.id)]);

    const task = await admin.call('create_task', {
      assigned_to_user_id: userId,
      title: 'Hooks follow up',
      contact_id: contactId,
      due_time: new Date(Date.now() + 86_400_000).toISOString(),
    });
    fired.push(['task.add', String(task.id)]);

    const stages = await admin.call('list_opportunity_stages', {});
    const [st1, st2] = stages.stages as Data[];
    const opp = await admin.call('create_opportunity', {
      opportunity_title: 'Hooks deal',
      contact_id: contactId,
      stage_id: String(st1?.id),
      user_id: userId,
    });
    fired.push(['opportunity.add', String(opp.id)]);
    await admin.call('update_opportunity', { opportunity_id: String(opp.id), stage_id: String(st2?.id) });
    fired.push(['opportunity.edit', String(opp.id)]);

    const product = await admin.call('create_product', {
      name: 'Hooks widget',
      price: 500,
      short_description: 'A widget',
      active: true,
    });
    fired.push(['product.add', String(product.id)]);

    // A seeded contact with a valid card, and a plan: for the order and the subscription.
    const year = new Date().getUTCFullYear();
    const valid = (pm: Data) => Number(pm.card_info?.expiration_year ?? pm.expiration_year) > year;
    let payer: string | undefined;
    let card: string | undefined;
    for (const c of (await admin.call('list_contacts', { page_size: 40 })).contacts as Data[]) {
      const r = await admin.raw('list_payment_methods', { contact_id: String(c.id) });
      const found = (((r.structuredContent as Data | undefined)?.records as Data[] | undefined) ?? []).find(
        valid,
      );
      if (!r.isError && found) {
        payer = String(c.id);
        card = String(found.payment_method_id ?? found.id);
        break;
      }
    }
    expect(payer, 'a seeded contact with a valid card').toBeDefined();
    const order = await admin.call('create_order', {
      contact_id: payer,
      order_title: 'Hooks order',
      order_time: new Date().toISOString(),
      order_type: 'OFFLINE',
      order_items: [{ product_id: String(product.id), quantity: 1, price_per_unit: 5 }],
    });
    fired.push(['order.add', String(order.id)]);

    let planId: string | undefined;
    for (const p of (await admin.call('list_products', { page_size: 50 })).products as Data[]) {
      const r = await admin.raw('list_subscription_plans', { product_id: String(p.id) });
      const plan = (
        ((r.structuredContent as Data | undefined)?.subscriptions as Data[] | undefined) ?? []
      ).find((x) => x.active !== false);
      if (!r.isError && plan) {
        planId = String(plan.id);
        break;
      }
    }
    expect(planId, 'a seeded subscription plan').toBeDefined();
    const subscription = await admin.call('create_subscription', {
      contact_id: payer,
      subscription_plan_id: planId,
      payment_method_id: card,
      start_date: new Date().toISOString().slice(0, 10),
    });
    fired.push(['subscription.add', String(subscription.id)]);
    await admin.call('cancel_subscription', {
      subscription_id: String(subscription.id),
      reason: 'hooks e2e',
    });
    fired.push(['subscription.edit', String(subscription.id)]);

    await admin.call('delete_contact', { contact_id: contactId });
    fired.push(['contact.delete', contactId]);

    expect(new Set(fired.map(([k]) => k))).toEqual(new Set(catalogEvents));
    for (const [eventKey, id] of fired) {
      const ev = await eventFor(admin, eventKey, id);
      expect(ev.event_key).toBe(eventKey);
    }
    // list_hooks: every subscription of this server, with what its receiver stored.
    const hooks = await admin.call('list_hooks', {});
    const ours = (hooks.items as Data[]).filter((h) => h.receiver?.this_server === true);
    expect(ours.length).toBeGreaterThanOrEqual(15);
    const added = ours.find((h) => h.eventKey === 'contact.add') as Data;
    expect(added.receiver.events_stored).toBeGreaterThanOrEqual(2);
    expect(typeof added.receiver.last_delivery_at).toBe('string');
    expect(JSON.stringify(hooks)).not.toMatch(/\/hooks\/keap\/[A-Za-z0-9_-]{22,}/);
  });

  it('a receiver that is down: the sandbox retries, marks the hook Inactive; list_hooks and the console show it; verify_hook or the console bring it back', async () => {
    for (const c of clients.splice(0)) await c.close().catch(() => undefined);
    await proc?.stop();
    const attemptsBefore = hookEngine(sandbox.api).attempts.filter(
      (a) => String(a.hookId) === s.contactHookKey && !a.ok,
    ).length;
    // A change made in Keap while this server is down (someone else adds a contact).
    const r = await keapDirect('POST', '/v2/contacts', {
      given_name: 'Missed',
      email_addresses: [{ email: 'missed@example.com', field: 'EMAIL1' }],
    });
    expect(r.status).toBe(201);
    const co = await keapDirect('POST', '/v2/companies', { company_name: 'Missed Ltd' });
    expect(co.status).toBe(201);
    const companyHook = (await sandboxHooks()).find((h) => h.eventKey === 'company.add') as Data;
    await until(async () =>
      (await sandboxHooks()).find((h) => String(h.key) === s.contactHookKey && h.status === 'Inactive'),
    );
    await until(async () =>
      (await sandboxHooks()).find(
        (h) => String(h.key) === String(companyHook.key) && h.status === 'Inactive',
      ),
    );
    const failed = hookEngine(sandbox.api).attempts.filter(
      (a) => String(a.hookId) === s.contactHookKey && !a.ok,
    );
    expect(failed.length - attemptsBefore).toBe(4);

    await startKeapMcp();
    const admin = await connect('admin');
    const listed = await admin.call('list_hooks', {});
    const hook = (listed.items as Data[]).find((h) => String(h.key) === s.contactHookKey) as Data;
    expect(hook.status).toBe('Inactive');
    expect(hook.receiver.this_server).toBe(true);
    expect(listed.hint).toMatch(/verify_hook/);

    const verified = await admin.call('verify_hook', { key: s.contactHookKey });
    expect(verified.status).toBe('Verified');
    expect((await sandboxHooks()).find((h) => String(h.key) === s.contactHookKey)?.status).toBe('Verified');

    // The console's Hooks page shows the other one Inactive, with a re-verify button (CSRF-protected POST).
    const base = new URL(mcpUrl).origin;
    const loginRes = await fetch(`${base}/console/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base },
      body: new URLSearchParams({ token: OPERATOR }).toString(),
    });
    expect(loginRes.status).toBe(303);
    const cookie = (loginRes.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const pageHtml = await (await fetch(`${base}/console/hooks`, { headers: { cookie } })).text();
    const rowOf = (html: string) =>
      html
        .split('<tr>')
        .find((row) => row.includes('company.add') && row.includes(String(companyHook.key))) ?? '';
    expect(rowOf(pageHtml)).toContain('Inactive');
    const action = `/console/hooks/${companyHook.key}/verify`;
    expect(rowOf(pageHtml)).toContain(`action="${action}"`);
    const csrf = /name="csrf" value="([^"]+)"/.exec(pageHtml)?.[1] as string;
    const forged = await fetch(`${base}${action}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: base },
      body: new URLSearchParams({ csrf: 'wrong' }).toString(),
    });
    expect(forged.status).toBe(403);
    expect((await sandboxHooks()).find((h) => String(h.key) === String(companyHook.key))?.status).toBe(
      'Inactive',
    );
    const posted = await fetch(`${base}${action}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: base },
      body: new URLSearchParams({ csrf }).toString(),
    });
    expect(posted.status).toBe(303);
    expect(posted.headers.get('location')).toBe('/console/hooks?done=verified');
    expect((await sandboxHooks()).find((h) => String(h.key) === String(companyHook.key))?.status).toBe(
      'Verified',
    );
    expect(rowOf(await (await fetch(`${base}/console/hooks`, { headers: { cookie } })).text())).toContain(
      'Verified',
    );
    const audited = readFileSync(join(root, 'audit.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"verify_hook"'))
      .map((l) => JSON.parse(l) as Data);
    expect(
      audited.some((x) => String(x.agent).startsWith('operator:') && x.path === '/v1/hooks/{key}/verify'),
    ).toBe(true);
    const laterCompany = await admin.call('create_company', { company_name: 'Later Ltd' });
    await eventFor(admin, 'company.add', String(laterCompany.id));

    const later = await admin.call('create_contact', {
      given_name: 'Later',
      email_addresses: [{ email: `later-${Date.now()}@example.com`, field: 'EMAIL1' }],
    });
    const ev = await eventFor(admin, 'contact.add', String(later.id));
    expect(ev.object_type).toBe('contact');
  });
});
