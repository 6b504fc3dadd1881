/**
 * What a call tells the client while it runs, through a real MCP client against the sandbox: logging
 * (`notifications/message` at the session's level) about rate-limit waits, retries and confirmations; progress
 * (`notifications/progress` for a request with a progressToken) while waiting for a slot or for a human; and
 * cancellation (`notifications/cancelled`): a call not yet sent sends nothing and is audited as cancelled, a
 * write cancelled inside Keap is audited as outcome unknown. No notification carries personal data.
 * (`logging/setLevel` answering `{}` for each level is covered over HTTP in sessions.test.ts.)
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  type CallToolResult,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  type Progress,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CANCELLED, CANCELLED_UNKNOWN, runAuditCli } from '../../src/safety/audit-cli.js';
import { argsHash } from '../../src/safety/canonical.js';
import type { RunningSandbox } from '../../src/sandbox/core/types.js';
import { startSandbox } from '../../src/sandbox/server.js';
import { control, counters } from '../client/helpers.js';
import { data, FULL_WRITE_POLICY, type Harness, SANDBOX_KEY, startHarness } from './harness.js';

interface Message {
  level: string;
  message: string;
  data: Record<string, unknown>;
}

let sandbox: RunningSandbox;
const harnesses: Harness[] = [];
/** Every notification any client received (checked for personal data at the end). */
const everything: unknown[] = [];
/** A credential of its own: the client's rate limiter is shared per credential within a process. */
const GAP_KEY = 'notify-gap-key-0123456789';
const PERSONAL = ['notify-pii@example.com', 'Zebulon', 'Quarrington'];

beforeAll(async () => {
  sandbox = await startSandbox({
    host: '127.0.0.1',
    port: 0,
    control: true,
    apiKeys: [SANDBOX_KEY, GAP_KEY],
  });
});

afterAll(async () => {
  for (const h of harnesses) await h.close();
  await sandbox.close();
});

async function harness(opts: Parameters<typeof startHarness>[0] = {}): Promise<Harness> {
  const h = await startHarness({ policy: FULL_WRITE_POLICY, sandbox, ...opts });
  harnesses.push(h);
  return h;
}

/** Collects the client's log notifications. */
function messages(client: Client): Message[] {
  const got: Message[] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    everything.push(n);
    const d = n.params.data as Record<string, unknown>;
    got.push({ level: n.params.level, message: String(d.message), data: d });
  });
  return got;
}

async function until(what: string, check: () => boolean | Promise<boolean>, limitMs = 20_000): Promise<void> {
  const end = Date.now() + limitMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function callWith(
  client: Client,
  name: string,
  args: Record<string, unknown>,
  opts: { onprogress?: (p: Progress) => void; signal?: AbortSignal } = {},
): Promise<CallToolResult> {
  const onprogress = opts.onprogress;
  return client.callTool({ name, arguments: args }, undefined, {
    ...(onprogress
      ? {
          onprogress: (p: Progress) => {
            everything.push(p);
            onprogress(p);
          },
        }
      : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  }) as Promise<CallToolResult>;
}

const routeCount = async (route: string) => (await counters(sandbox.baseUrl)).routes[route]?.count ?? 0;

const WAIT = /^waiting \d+\.\d s for a Keap rate-limit slot \(.+\)$/;

describe('logging notifications', () => {
  it('a call waiting for a rate-limit slot logs it at info; nothing below the level; none at warning', async () => {
    const h = await harness();
    const got = messages(h.client);
    expect(await h.client.setLoggingLevel('info')).toEqual({});
    // 15 calls at once against Keap's 10/s: some wait for a slot.
    const rs = await Promise.all(Array.from({ length: 15 }, () => h.call('list_contacts', { page_size: 1 })));
    expect(rs.filter((r) => r.isError)).toEqual([]);
    const waits = got.filter((m) => WAIT.test(m.message));
    expect(waits.length).toBeGreaterThanOrEqual(1);
    expect(waits[0]?.level).toBe('info');
    expect(waits[0]?.data).toMatchObject({ tool: 'list_contacts', category: expect.any(String) });
    expect(waits[0]?.data.wait_ms).toBeGreaterThan(0);
    // Below info (the per-attempt "sent to Keap" notes are debug) nothing arrives.
    expect(got.filter((m) => m.level === 'debug')).toEqual([]);
    // At debug they do.
    await h.client.setLoggingLevel('debug');
    await h.call('list_contacts', { page_size: 1 });
    await until('a debug note', () =>
      got.some((m) => m.level === 'debug' && /^sent to Keap/.test(m.message)),
    );

    await h.client.setLoggingLevel('warning');
    got.length = 0;
    const again = await Promise.all(
      Array.from({ length: 15 }, () => h.call('list_contacts', { page_size: 1 })),
    );
    expect(again.filter((r) => r.isError)).toEqual([]);
    expect(got.filter((m) => m.level === 'info' || m.level === 'debug')).toEqual([]);
  }, 60_000);

  it('a retry is logged as a warning', async () => {
    const h = await harness();
    const got = messages(h.client);
    await control(sandbox.baseUrl, 'POST', '/__sandbox/faults', {
      method: 'GET',
      path: '/v2/tags',
      status: 503,
      count: 1,
    });
    const r = await h.call('list_tags', { page_size: 1 });
    expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
    const retry = got.find((m) => /^retrying in /.test(m.message));
    expect(retry?.level).toBe('warning');
    expect(retry?.data).toMatchObject({ tool: 'list_tags', attempt: 2 });
  });

  it('confirmation outcomes are logged: required, then confirmed via token', async () => {
    const h = await harness();
    const got = messages(h.client);
    const contact = sandbox.api.table<{ id: number }>('contacts').all()[2];
    const args = {
      contact_id: String(contact?.id),
      order_title: 'Notify check',
      order_time: '2026-11-26T10:00:00.000Z',
      order_type: 'OFFLINE',
    };
    const first = data(await h.call('create_order', args));
    expect(first.confirmation_required).toBe(true);
    expect(got.find((m) => /^confirmation required/.test(m.message))?.data).toMatchObject({
      tool: 'create_order',
      decision: 'confirmation_required',
    });
    const done = await h.call('create_order', { ...args, confirmation_token: first.confirmation_token });
    expect(done.isError, JSON.stringify(done.content)).toBeFalsy();
    expect(got.find((m) => m.message === 'confirmed via token')?.data).toMatchObject({
      tool: 'create_order',
      decision: 'confirmed',
      via: 'token',
    });
  });
});

describe('progress notifications', () => {
  it('a call with a progressToken that waits for a rate-limit slot gets progress with increasing values', async () => {
    const h = await harness();
    const busy = Array.from({ length: 12 }, () => h.call('list_contacts', { page_size: 1 }));
    const seen: Progress[] = [];
    const r = await callWith(
      h.client,
      'list_contacts',
      { page_size: 1 },
      { onprogress: (p) => seen.push(p) },
    );
    await Promise.all(busy);
    expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
    const waits = seen.filter((p) => WAIT.test(p.message ?? ''));
    expect(waits.length).toBeGreaterThanOrEqual(1);
    const values = seen.map((p) => p.progress);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(new Set(values).size).toBe(values.length);
  }, 30_000);

  it('a confirmation form waiting for the human reports progress, then "confirmed via elicitation"', async () => {
    const h = await harness({ elicit: () => ({ action: 'accept', content: { confirm: true } }) });
    const got = messages(h.client);
    let release: () => void = () => undefined;
    const answered = new Promise<void>((r) => {
      release = r;
    });
    h.client.setRequestHandler(ElicitRequestSchema, async () => {
      await answered;
      return { action: 'accept', content: { confirm: true } };
    });
    const contact = sandbox.api.table<{ id: number }>('contacts').all()[3];
    const seen: Progress[] = [];
    const call = callWith(
      h.client,
      'create_order',
      {
        contact_id: String(contact?.id),
        order_title: 'Human wait',
        order_time: '2026-11-26T10:00:00.000Z',
        order_type: 'OFFLINE',
      },
      { onprogress: (p) => seen.push(p) },
    );
    await until('progress while the human decides', () =>
      seen.some((p) => /^waiting for the user to confirm/.test(p.message ?? '')),
    );
    release();
    const r = await call;
    expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
    expect(got.find((m) => m.message === 'confirmed via elicitation')?.data).toMatchObject({
      via: 'elicitation',
      decision: 'confirmed',
    });
  });
});

describe('cancellation (notifications/cancelled)', () => {
  it('a write queued for a rate-limit slot: nothing reaches Keap, audited cancelled, idempotency key released', async () => {
    // 20 s between two sends: the first call takes a slot, the write waits for the next one.
    const h = await harness({ apiKey: GAP_KEY, clientLimits: { minGapMs: 20_000 }, maxWaitMs: 30_000 });
    await control(sandbox.baseUrl, 'DELETE', '/__sandbox/requests');
    expect((await h.call('list_tags', { page_size: 1 })).isError).toBeFalsy();
    const args = {
      given_name: 'Zebulon',
      family_name: 'Quarrington',
      email_addresses: [{ email: 'notify-pii@example.com', field: 'EMAIL1' }],
    };
    const abort = new AbortController();
    const seen: Progress[] = [];
    const call = callWith(
      h.client,
      'create_contact',
      { ...args, idempotency_key: 'cancel-queued-1' },
      { onprogress: (p) => seen.push(p), signal: abort.signal },
    );
    await until('the write waits for a slot', () => seen.some((p) => WAIT.test(p.message ?? '')));
    abort.abort('the user changed their mind');
    await expect(call).rejects.toThrow();
    await until('the cancelled call is audited', () =>
      h.audit().some((r) => r.tool === 'create_contact' && r.decision === 'cancelled'),
    );
    const row = h.audit().find((r) => r.tool === 'create_contact');
    expect(row).toMatchObject({ decision: 'cancelled', error_category: 'cancelled', result: CANCELLED });
    expect(await routeCount('POST /v2/contacts')).toBe(0);
    // `keap-mcp audit` shows it as cancelled.
    let table = '';
    const code = await runAuditCli(['--file', h.auditPath, '--tool', 'create_contact'], {
      out: (s) => {
        table += s;
      },
    });
    expect(code).toBe(0);
    expect(table).toMatch(
      /create_contact\s+cancelled\s.*\scancelled\s+POST \/v2\/contacts\s+cancelled \(nothing changed at Keap\)/,
    );
    const agent = h.safety.policy.defaultAgent();
    expect(
      (await h.safety.idempotency.peek(agent, 'cancel-queued-1', 'create_contact', argsHash(args))).state,
    ).toBe('new');
  }, 30_000);

  it('a write cancelled while inside Keap: audited as cancelled with outcome unknown', async () => {
    const h = await harness();
    await control(sandbox.baseUrl, 'POST', '/__sandbox/faults', {
      method: 'POST',
      path: '/v2/tags',
      latencyMs: 1500,
      count: 1,
    });
    const abort = new AbortController();
    const seen: Progress[] = [];
    const call = callWith(
      h.client,
      'create_tag',
      { name: `inside-keap-${Date.now()}` },
      { onprogress: (p) => seen.push(p), signal: abort.signal },
    );
    await until('the request left for Keap', () => seen.some((p) => /^sent to Keap/.test(p.message ?? '')));
    abort.abort();
    await expect(call).rejects.toThrow();
    await until('the cancelled call is audited', () =>
      h.audit().some((r) => r.tool === 'create_tag' && r.decision === 'cancelled'),
    );
    expect(h.audit().find((r) => r.tool === 'create_tag')).toMatchObject({
      decision: 'cancelled',
      error_category: 'outcome_unknown',
      result: CANCELLED_UNKNOWN,
    });
  });

  it('cancelled while the human has not answered the form: nothing sent, audited cancelled', async () => {
    const h = await harness({ elicit: () => ({ action: 'accept', content: { confirm: true } }) });
    h.client.setRequestHandler(ElicitRequestSchema, () => new Promise(() => undefined));
    const got = messages(h.client);
    await control(sandbox.baseUrl, 'DELETE', '/__sandbox/requests');
    const contact = sandbox.api.table<{ id: number }>('contacts').all()[4];
    const abort = new AbortController();
    const call = callWith(
      h.client,
      'create_order',
      {
        contact_id: String(contact?.id),
        order_title: 'Never asked twice',
        order_time: '2026-11-26T10:00:00.000Z',
        order_type: 'OFFLINE',
      },
      { signal: abort.signal },
    );
    await until('the form is shown', () => got.some((m) => /^asking the user to confirm/.test(m.message)));
    abort.abort();
    await expect(call).rejects.toThrow();
    await until('the cancelled call is audited', () =>
      h.audit().some((r) => r.tool === 'create_order' && r.decision === 'cancelled'),
    );
    // The preview's reads of the contact and order are audited as preview_read; the call itself is cancelled.
    const calls = h.audit().filter((r) => r.tool === 'create_order' && r.decision !== 'preview_read');
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      decision: 'cancelled',
      error_category: 'cancelled',
      result: CANCELLED,
    });
    expect(await routeCount('POST /v2/orders')).toBe(0);
  });
});

describe('no personal data', () => {
  it('a contact created at debug level with progress: its name and email are in no notification', async () => {
    const h = await harness();
    messages(h.client);
    await h.client.setLoggingLevel('debug');
    const busy = Array.from({ length: 12 }, () => h.call('list_contacts', { page_size: 1 }));
    const r = await callWith(
      h.client,
      'create_contact',
      {
        given_name: 'Zebulon',
        family_name: 'Quarrington',
        email_addresses: [{ email: 'notify-pii@example.com', field: 'EMAIL1' }],
      },
      { onprogress: () => undefined },
    );
    await Promise.all(busy);
    expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
    expect(everything.length).toBeGreaterThan(0);
    const text = JSON.stringify(everything);
    for (const p of PERSONAL) expect(text).not.toContain(p);
  }, 30_000);
});
