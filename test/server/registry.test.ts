/** Registry meta-tests over the real tools/list of a full-write agent (every catalog tool). */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeapClient } from '../../src/keap/client.js';
import { pathPlaceholders } from '../../src/keap/path.js';
import { silentLogger } from '../../src/logger.js';
import { effectiveHints, META_KEYS } from '../../src/registry/annotations.js';
import { createSafety } from '../../src/safety/index.js';
import { createServer } from '../../src/server.js';
import { openStateDb } from '../../src/state/db.js';
import { ALL_TOOLS, EVENT_TOOLS, LONGTAIL_TOOLS } from '../../tools/index.js';
import { CONFIRM_TOOLS, ENDPOINTS } from '../e2e/sample-args.js';
import { FULL_WRITE_POLICY, type Harness, startHarness } from './harness.js';

const ROOT = join(import.meta.dirname, '..', '..');
const specByName = new Map([...ALL_TOOLS, ...EVENT_TOOLS].map((t) => [t.name, t]));

function budget(tools: readonly Tool[]): number {
  return tools.reduce(
    (n, t) =>
      n + JSON.stringify({ name: t.name, description: t.description, inputSchema: t.inputSchema }).length,
    0,
  );
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** The long tail's four tools add at most this much to tools/list (the catalog keeps its own 36,000). */
const LONGTAIL_BUDGET = 3_000;
const longtailNames = new Set(LONGTAIL_TOOLS.map((t) => t.name));
/** The three event tools (subscribe_events, unsubscribe_events, list_events) add at most this much. */
const EVENTS_BUDGET = 1_800;
const eventNames = new Set(EVENT_TOOLS.map((t) => t.name));

describe('tools/list for a full-write agent', () => {
  let h: Harness;
  /** The catalog tools listed (the long-tail tools are checked on their own below). */
  let tools: Tool[];
  let listed: Tool[];
  beforeAll(async () => {
    h = await startHarness({ policy: FULL_WRITE_POLICY });
    listed = (await h.client.listTools()).tools;
    tools = listed.filter((t) => !longtailNames.has(t.name) && !eventNames.has(t.name));
  });
  afterAll(async () => {
    await h?.close();
  });

  it('lists every catalog tool, names unique', () => {
    const names = tools.map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual(ALL_TOOLS.map((t) => t.name).sort());
    expect(listed.filter((t) => eventNames.has(t.name)).map((t) => t.name)).toEqual([...eventNames]);
    expect(names.length).toBeGreaterThanOrEqual(58);
  });

  it('applies the annotations rule', () => {
    for (const t of tools) {
      const spec = specByName.get(t.name);
      if (!spec) throw new Error(t.name);
      // The listing states only what differs from MCP's defaults (and destructiveHint on every write).
      expect(t.annotations?.title, t.name).toBeUndefined();
      if (spec.access === 'write') expect(typeof t.annotations?.destructiveHint, t.name).toBe('boolean');
      const a = effectiveHints(t.annotations);
      expect(a.openWorldHint, t.name).toBe(true);
      if (spec.access === 'read') {
        expect(a.readOnlyHint, t.name).toBe(true);
        continue;
      }
      expect(a.readOnlyHint, t.name).toBe(false);
      const destructive =
        ['PATCH', 'PUT', 'DELETE'].includes(spec.method) ||
        spec.resource === 'payments' ||
        spec.confirm === true ||
        /^(delete|remove|cancel|send|achieve)_/.test(spec.name);
      expect(a.destructiveHint, t.name).toBe(destructive);
      if (/^(create|add|apply)_/.test(spec.name) && spec.resource !== 'payments' && !spec.confirm) {
        expect(a.destructiveHint, t.name).toBe(false);
      }
      const idem = spec.idempotent ?? ['GET', 'PUT', 'PATCH', 'DELETE'].includes(spec.method);
      expect(a.idempotentHint, t.name).toBe(idem);
    }
  });

  it('annotations match the issue, tool by tool (an explicit table, not the rule re-derived)', () => {
    // Issue 3: creates/adds are not destructive; updates, removals, cancels, deletes, sends and charges are.
    // Issue 10: so is every tool that needs a human's confirmation by default (orders move money, subscriptions
    // bill a card each cycle, sequences start emails).
    const destructive = [
      'create_order',
      'create_subscription',
      'add_contacts_to_sequence',
      'update_contact',
      'delete_contact',
      'remove_tag',
      'update_company',
      'update_opportunity',
      'delete_opportunity',
      'create_order_payment',
      'cancel_subscription',
      'remove_contacts_from_sequence',
      'achieve_goal',
      'send_email',
      'update_task',
      'delete_hook',
    ];
    const notDestructive = [
      'create_contact',
      'create_tag',
      'apply_tag',
      'create_company',
      'create_opportunity',
      'add_order_item',
      'create_product',
      'create_note',
      'create_task',
      'create_hook',
      'verify_hook',
    ];
    // Repeating these has no additional effect; every other write (creates, adds, sends, charges, goals) has.
    const idempotentWrites = [
      ...destructive.filter((n) => /^(update|delete)_/.test(n)),
      'apply_tag',
      'remove_tag',
      'cancel_subscription',
      'remove_contacts_from_sequence',
      'verify_hook',
    ];
    const byTool = new Map(tools.map((t) => [t.name, effectiveHints(t.annotations)]));
    const writes = tools.filter((t) => t.annotations?.readOnlyHint !== true).map((t) => t.name);
    expect([...destructive, ...notDestructive].sort()).toEqual([...writes].sort());
    for (const n of destructive) expect(byTool.get(n)?.destructiveHint, n).toBe(true);
    for (const n of notDestructive) expect(byTool.get(n)?.destructiveHint, n).toBe(false);
    for (const n of writes) expect(byTool.get(n)?.idempotentHint, n).toBe(idempotentWrites.includes(n));
    for (const t of tools) {
      expect(effectiveHints(t.annotations).openWorldHint, t.name).toBe(true);
      if (t.annotations?.readOnlyHint === true) {
        expect(specByName.get(t.name)?.method, t.name).toBe('GET');
        // A read says readOnlyHint only (MCP: the other hints mean something only when it is false).
        expect(t.annotations, t.name).toEqual({ readOnlyHint: true });
      }
    }
    expect(tools.filter((t) => t.annotations?.readOnlyHint === true)).toHaveLength(tools.length - 27);
  });

  it('_meta has exactly the compact keap-mcp keys: the operation (Keap operationId) and the event where one fires', () => {
    for (const t of tools) {
      const spec = specByName.get(t.name);
      const keys = Object.keys(t._meta ?? {}).sort();
      const expected: string[] = [META_KEYS.operation];
      if (spec?.event) expected.push(META_KEYS.event);
      expect(t._meta?.['keap-mcp/operation'], t.name).toMatch(/^\w+( \| \w+)*$/);
      expect(keys, t.name).toEqual(expected.sort());
      if (spec?.event) expect(t._meta?.[META_KEYS.event], t.name).toBe(spec.event);
      // The catalog data behind what the README's tool table shows (the endpoint as in the issue table).
      expect(`${spec?.method} ${spec?.path}`, t.name).toBe(ENDPOINTS[t.name]);
      expect(spec?.confirm === true, t.name).toBe(CONFIRM_TOOLS.has(t.name));
    }
  });

  it('descriptions state the side effects and fields point at the look-ups each write needs', () => {
    const desc = (n: string) => tools.find((t) => t.name === n)?.description ?? '';
    const field = (n: string, f: string) =>
      String(
        (
          (tools.find((t) => t.name === n)?.inputSchema.properties ?? {}) as Record<
            string,
            { description?: string }
          >
        )[f]?.description,
      );
    expect(desc('apply_tag')).toMatch(/automation/i);
    expect(desc('achieve_goal')).toMatch(/automation/i);
    expect(desc('add_contacts_to_sequence')).toMatch(/emails?/i);
    expect(desc('send_email')).toMatch(/real people|real person/i);
    expect(desc('create_order_payment')).toMatch(/charge/i);
    expect(desc('create_order_payment')).toMatch(/card/i);
    expect(field('create_product', 'price')).toMatch(/cents/i);
    expect(field('create_order_payment', 'payment_method_id')).toContain('list_payment_methods');
    expect(field('create_subscription', 'subscription_plan_id')).toContain('list_subscription_plans');
    expect(field('create_subscription', 'payment_method_id')).toContain('list_payment_methods');
    expect(field('achieve_goal', 'goal_id')).toContain('list_campaign_goals');
    expect(field('add_contacts_to_sequence', 'sequence_id')).toContain('list_campaign_sequences');
    for (const t of tools) {
      const props = (t.inputSchema.properties ?? {}) as Record<string, { description?: string }>;
      for (const k of ['user_id', 'assigned_to_user_id']) {
        if (props[k]) expect(props[k]?.description, `${t.name}.${k}`).toMatch(/list_users.*get_current_user/);
      }
    }
  });

  it('output schemas describe the success page only (an error result is isError and is not described)', () => {
    const withOutput = tools.filter((t) => t.outputSchema !== undefined);
    expect(withOutput.length).toBeGreaterThan(15);
    for (const t of withOutput) {
      const spec = specByName.get(t.name);
      expect(spec?.access, t.name).toBe('read');
      const key = spec?.listKey === '' ? 'items' : (spec?.listKey ?? '?');
      expect(t.outputSchema, t.name).toEqual({ type: 'object', properties: { [key]: { type: 'array' } } });
    }
    // The SDK's default execution hint (taskSupport forbidden, MCP's default) is not repeated either.
    for (const t of listed) expect(t.execution, t.name).toBeUndefined();
  });

  it('the whole tools/list result (titles, annotations, _meta, output schemas too): catalog ≤ 45,000 chars, the long tail ≤ 3,000 more', () => {
    const catalog = JSON.stringify({ tools }).length;
    const longtail = JSON.stringify(listed.filter((t) => longtailNames.has(t.name))).length;
    const whole = JSON.stringify({ tools: listed }).length;
    process.stderr.write(
      `tools/list whole result: ${whole} chars (${listed.length} tools); catalog ${catalog} (${tools.length}), long tail ${longtail}\n`,
    );
    expect(catalog).toBeLessThanOrEqual(45_000);
    expect(longtail).toBeLessThanOrEqual(LONGTAIL_BUDGET);
    expect(whole).toBeLessThanOrEqual(45_000 + LONGTAIL_BUDGET);
  });

  it('has descriptions ≤ 1000 chars, every input field described, no top-level union', () => {
    for (const t of tools) {
      expect(t.description?.length ?? 0, t.name).toBeGreaterThan(10);
      expect(t.description?.length ?? 0, t.name).toBeLessThanOrEqual(1000);
      const s = t.inputSchema as Record<string, unknown>;
      expect(s.type, t.name).toBe('object');
      for (const k of ['anyOf', 'oneOf', 'allOf']) expect(s[k], `${t.name} ${k}`).toBeUndefined();
      expect(s.$schema, t.name).toBeUndefined();
      const props = (s.properties ?? {}) as Record<string, { description?: string }>;
      for (const [field, p] of Object.entries(props)) {
        expect(typeof p.description === 'string' && p.description.length > 0, `${t.name}.${field}`).toBe(
          true,
        );
      }
    }
  });

  it('has every path placeholder as a required input; machinery fields where they belong', () => {
    for (const t of tools) {
      const spec = specByName.get(t.name);
      if (!spec) throw new Error(t.name);
      const s = t.inputSchema as { properties?: Record<string, unknown>; required?: string[] };
      for (const p of pathPlaceholders(spec.path)) {
        expect(Object.keys(s.properties ?? {}), `${t.name} {${p}}`).toContain(p);
        expect(s.required ?? [], `${t.name} {${p}} required`).toContain(p);
      }
      const props = Object.keys(s.properties ?? {});
      expect(props.includes('dry_run'), `${t.name} dry_run`).toBe(spec.access === 'write');
      expect(props.includes('idempotency_key'), `${t.name} idempotency_key`).toBe(
        spec.idempotencyKey === true,
      );
      if (spec.confirm) expect(props, `${t.name} confirmation_token`).toContain('confirmation_token');
    }
  });

  it('fits the context budget (catalog ≤ 36,000 chars, read-only ≤ 16,000; the long tail ≤ 3,000 more, the event tools ≤ 1,800)', () => {
    const all = budget(tools);
    const reads = budget(tools.filter((t) => t.annotations?.readOnlyHint === true));
    const longtail = budget(listed.filter((t) => longtailNames.has(t.name)));
    const events = budget(listed.filter((t) => eventNames.has(t.name)));
    process.stderr.write(
      `context budget: catalog ${all} chars (${tools.length} tools), read-only ${reads}; long tail ${longtail} (${longtailNames.size} tools); events ${events}; listed ${budget(listed)}\n`,
    );
    expect(all).toBeLessThanOrEqual(36_000);
    expect(reads).toBeLessThanOrEqual(16_000);
    expect(longtail).toBeLessThanOrEqual(LONGTAIL_BUDGET);
    expect(events).toBeLessThanOrEqual(EVENTS_BUDGET);
    expect(budget(listed)).toBeLessThanOrEqual(36_000 + LONGTAIL_BUDGET + EVENTS_BUDGET);
  });

  it('lists the four long-tail tools, the call tools annotated most cautiously', () => {
    const byName = new Map(listed.map((t) => [t.name, t]));
    expect([...longtailNames].every((n) => byName.has(n))).toBe(true);
    for (const n of ['find_keap_operations', 'describe_keap_operation', 'call_keap_read']) {
      expect(byName.get(n)?.annotations?.readOnlyHint, n).toBe(true);
    }
    const w = effectiveHints(byName.get('call_keap_write')?.annotations);
    expect(w.readOnlyHint).toBe(false);
    expect(w.destructiveHint).toBe(true);
    expect(w.idempotentHint).toBe(false);
    expect(w.openWorldHint).toBe(true);
    const props = Object.keys(byName.get('call_keap_write')?.inputSchema.properties ?? {});
    expect(props).toEqual(
      expect.arrayContaining([
        'operationId',
        'arguments',
        'dry_run',
        'idempotency_key',
        'confirmation_token',
      ]),
    );
    expect(Object.keys(byName.get('call_keap_read')?.inputSchema.properties ?? {}).sort()).toEqual([
      'arguments',
      'operationId',
    ]);
  });

  it('matches the committed snapshot', async () => {
    const snapshot = listed.map((t) => ({
      name: t.name,
      title: t.title,
      description: t.description,
      inputSchema: t.inputSchema,
      annotations: t.annotations,
      _meta: t._meta,
    }));
    await expect(`${JSON.stringify(snapshot, null, 2)}\n`).toMatchFileSnapshot(
      '__snapshots__/tools-list.json',
    );
  });
});

describe('the registration seam', () => {
  it('tool handlers are installed only in src/registry/register.ts (and McpServer.registerTool is never called)', () => {
    const files = [...filesUnder(join(ROOT, 'src')), ...filesUnder(join(ROOT, 'tools'))];
    const registering = files
      .filter((f) => /\.registerTool\s*\(|\bregisterTool\s*\(/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(ROOT, f));
    expect(registering).toEqual([]);
    const handling = files
      .filter((f) =>
        /ListToolsRequestSchema|CallToolRequestSchema|['"]tools\/(call|list)['"]/.test(
          readFileSync(f, 'utf8'),
        ),
      )
      .map((f) => relative(ROOT, f));
    expect(handling).toEqual(['src/registry/register.ts']);
  });

  it('a tool registered on the server any other way is neither listed nor run (only the chokepoint runs tools)', async () => {
    const db = openStateDb(undefined);
    const safety = createSafety({ readOnly: false, sandbox: true, db, logger: silentLogger });
    const keap = createKeapClient({
      baseUrl: 'http://127.0.0.1:9',
      credential: { kind: 'pat', apiKey: 'unused' },
      logger: silentLogger,
    });
    const server = createServer({
      agent: safety.policy.defaultAgent(),
      client: keap,
      safety,
      logger: silentLogger,
    });
    let ran = 0;
    server.registerTool('rogue_http_call', { description: 'bypasses the chokepoint' }, () => {
      ran += 1;
      return { content: [{ type: 'text', text: 'ran outside the chokepoint' }] };
    });
    const client = new Client({ name: 'rogue-test', version: '1.0.0' });
    const [a, b] = InMemoryTransport.createLinkedPair();
    await server.connect(a);
    await client.connect(b);
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toContain('list_contacts');
      expect(names).not.toContain('rogue_http_call');
      const r = (await client.callTool({ name: 'rogue_http_call', arguments: {} })) as CallToolResult;
      expect(r.isError).toBe(true);
      expect(JSON.stringify(r.content)).not.toContain('ran outside');
      expect((r.structuredContent as { error: { category: string } }).error.category).toBe('input');
      expect(ran).toBe(0);
    } finally {
      await client.close();
      await server.close();
      await keap.close();
      safety.audit.close();
      db.close();
    }
  });
});
