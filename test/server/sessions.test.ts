/**
 * HTTP sessions and MCP logging through real HTTP with the SDK client: the session cap (503) and the per-agent
 * share (429) leave open sessions working; idle sessions close and free their McpServer (a WeakRef goes empty
 * after GC); /healthz reports counts and ages; logging/setLevel answers every level and filters notifications.
 */
import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_NOTIFY_LEVEL, NOTIFY_LEVELS, notify } from '../../src/notify.js';
import { agentShare, type RunningHttp, type SessionSettings } from '../../src/transports/http.js';
import { createHttpStack, type HttpStack } from '../helpers/http-server.js';
import { INITIALIZE_BODY, MCP_POST_HEADERS } from '../helpers/mcp-http.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const TOKENS = { a: 'agent-a-token-0123456789', b: 'agent-b-token-9876543210' } as const;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Polls `check` (bounded) until it returns true; fails with `what` otherwise. */
async function until(what: string, check: () => Promise<boolean> | boolean, limitMs = 15_000): Promise<void> {
  const end = Date.now() + limitMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Health {
  ok: boolean;
  sessions: {
    open: number;
    oldest_age_s: number | null;
    newest_age_s: number | null;
    idle_timeout_s: number;
    max: number;
    max_per_agent: number;
    by_agent?: Record<string, number>;
  };
  rss_bytes: number;
  heap_used_bytes: number;
}

let stack: HttpStack;
let http: RunningHttp | undefined;
let servers: McpServer[] = [];
const clients: Client[] = [];

beforeAll(async () => {
  stack = await createHttpStack({
    policy: {
      agents: {
        a: { token_sha256: sha(TOKENS.a), grants: { '*': 'read' } },
        b: { token_sha256: sha(TOKENS.b), grants: { '*': 'read' } },
      },
    },
    auditToFile: false,
  });
});

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => undefined);
  await http?.close();
  http = undefined;
  servers = [];
});

afterAll(async () => {
  await stack.close();
});

async function start(sessions: SessionSettings): Promise<RunningHttp> {
  http = await stack.startHttp({
    http: { sessions },
    makeServer: (agent, make) => {
      const s = make(agent);
      servers.push(s);
      return s;
    },
  });
  return http;
}

async function connect(
  agent: keyof typeof TOKENS,
): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  if (http === undefined) throw new Error('no server');
  const client = new Client({ name: 'sessions-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(http.url), {
    requestInit: { headers: { Authorization: `Bearer ${TOKENS[agent]}` } },
  });
  await client.connect(transport);
  clients.push(client);
  return { client, transport };
}

/** WeakRefs to every server but the first, dropping the test's strong references (in a sync frame: an async
 * function's suspended frame would keep its loop variables alive). */
function weakRefsAfterFirst(): WeakRef<McpServer>[] {
  const refs = servers.slice(1).map((s) => new WeakRef(s));
  servers = servers.slice(0, 1);
  return refs;
}

async function rawInitialize(agent: keyof typeof TOKENS): Promise<Response> {
  if (http === undefined) throw new Error('no server');
  return fetch(http.url, {
    method: 'POST',
    headers: { ...MCP_POST_HEADERS, authorization: `Bearer ${TOKENS[agent]}` },
    body: INITIALIZE_BODY,
  });
}

async function health(token?: string): Promise<Health> {
  if (http === undefined) throw new Error('no server');
  const res = await fetch(http.url.replace(/\/mcp$/, '/healthz'), {
    headers: token !== undefined ? { authorization: `Bearer ${token}` } : {},
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Health;
}

describe('session cap and per-agent share', () => {
  it('agentShare: setting, else max(10, cap ÷ agents with tokens), never above the cap', () => {
    expect(agentShare(200, 0, 3)).toBe(66);
    expect(agentShare(200, 0, 50)).toBe(10);
    expect(agentShare(200, undefined, 0)).toBe(200);
    expect(agentShare(5, 0, 2)).toBe(5);
    expect(agentShare(200, 7, 2)).toBe(7);
    expect(agentShare(5, 50, 2)).toBe(5);
  });

  it('cap 5: the 6th initialize gets 503 with a JSON-RPC error; the open sessions keep answering', async () => {
    await start({ max: 5 });
    const open = [];
    for (let i = 0; i < 3; i++) open.push(await connect('a'));
    for (let i = 0; i < 2; i++) open.push(await connect('b'));
    expect((await health()).sessions).toMatchObject({
      open: 5,
      max: 5,
      max_per_agent: 5,
      by_agent: { a: 3, b: 2 },
    });

    const res = await rawInitialize('b');
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('retry-after')).toBe('30');
    expect(res.headers.get('mcp-session-id')).toBeNull();
    const body = (await res.json()) as {
      jsonrpc: string;
      id: unknown;
      error: { code: number; message: string };
    };
    expect(body.jsonrpc).toBe('2.0');
    expect(body.id).toBe(1);
    expect(body.error.code).toBe(-32000);
    expect(body.error.message).toMatch(/^Server busy: 5 MCP sessions are open .*KEAP_MCP_MAX_SESSIONS/);
    // The SDK client sees the refusal at connect.
    await expect(connect('a')).rejects.toThrow(/503|Server busy/);

    for (const { client } of open) expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    expect((await health()).sessions.open).toBe(5);

    // A session ended with DELETE frees its slot.
    await open[0]?.transport.terminateSession();
    await until('slot freed', async () => (await health()).sessions.open === 4);
    const again = await connect('b');
    expect((await again.client.listTools()).tools.length).toBeGreaterThan(0);
  });

  it('per-agent share: with 2 agents and cap 20 an agent holds at most 10 (429); the other agent still connects', async () => {
    await start({ max: 20 });
    expect((await health()).sessions.max_per_agent).toBe(10);
    const mine = [];
    for (let i = 0; i < 10; i++) mine.push(await connect('a'));
    const res = await rawInitialize('a');
    expect(res.status).toBe(429);
    const body = (await res.json()) as { error: { code: number; message: string } };
    expect(body.error.message).toMatch(/^Too many sessions: agent "a" has 10 MCP sessions open/);
    const other = await connect('b');
    expect((await other.client.listTools()).tools.length).toBeGreaterThan(0);
    for (const { client } of mine) expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    expect((await health()).sessions.by_agent).toEqual({ a: 10, b: 1 });
  });
});

describe('idle sessions', () => {
  it('sessions closed without DELETE expire; their McpServer is freed; a live session stays', async () => {
    await start({ idleS: 1 });
    const live = await connect('a');
    const refs: WeakRef<McpServer>[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { client, transport } = await connect(i % 2 === 0 ? 'a' : 'b');
      await client.listTools();
      ids.push(transport.sessionId ?? '');
      await client.close(); // no DELETE: what SDK clients and the Inspector CLI do
    }
    refs.push(...weakRefsAfterFirst());
    const h = await health(TOKENS.a);
    // Some may have expired already (idle 1 s): between the live one and all six.
    expect(h.sessions.open).toBeGreaterThanOrEqual(1);
    expect(h.sessions.open).toBeLessThanOrEqual(6);
    expect(h.sessions.idle_timeout_s).toBe(1);
    expect(h.sessions.oldest_age_s).toBeGreaterThanOrEqual(h.sessions.newest_age_s ?? 0);

    await until('idle sessions closed', async () => (await health()).sessions.open === 1);
    // The live client (its GET stream is open) keeps its session past the idle timeout and still works.
    expect((await live.client.listTools()).tools.length).toBeGreaterThan(0);
    expect((await health()).sessions.by_agent).toEqual({ a: 1 });

    // An expired session's id is gone.
    const res = await fetch(http?.url ?? '', {
      method: 'POST',
      headers: { ...MCP_POST_HEADERS, authorization: `Bearer ${TOKENS.a}`, 'mcp-session-id': ids[0] ?? '' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    });
    expect(res.status).toBe(404);

    // Nothing holds the expired sessions' servers any more.
    await until('expired McpServers collected', async () => {
      gc();
      await new Promise((r) => setImmediate(r));
      return refs.every((r) => r.deref() === undefined);
    });
  });

  it('/healthz: counts and ages; agent names only on loopback or with an agent token', async () => {
    await start({});
    let h = await health();
    expect(h.sessions).toEqual({
      open: 0,
      oldest_age_s: null,
      newest_age_s: null,
      idle_timeout_s: 1800,
      max: 200,
      max_per_agent: 100,
      by_agent: {},
    });
    expect(h.rss_bytes).toBeGreaterThan(0);
    await connect('b');
    h = await health();
    expect(h.sessions).toMatchObject({ open: 1, oldest_age_s: 0, newest_age_s: 0, by_agent: { b: 1 } });
    expect(JSON.stringify(h)).not.toContain(TOKENS.b);
  });
});

describe('MCP logging', () => {
  it('declares logging; logging/setLevel answers {} for each of the eight levels', async () => {
    await start({});
    const { client } = await connect('a');
    expect(client.getServerCapabilities()?.logging).toEqual({});
    expect(NOTIFY_LEVELS).toHaveLength(8);
    for (const level of NOTIFY_LEVELS) expect(await client.setLoggingLevel(level)).toEqual({});
  });

  it('notify sends only at or above the session level (default info)', async () => {
    expect(DEFAULT_NOTIFY_LEVEL).toBe('info');
    await start({});
    const { client } = await connect('a');
    const server = servers[0]?.server;
    if (server === undefined) throw new Error('no server');
    const got: { level: string; message: string; data: Record<string, unknown> }[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      const data = n.params.data as Record<string, unknown>;
      got.push({ level: n.params.level, message: String(data.message), data });
    });
    const seen = (m: string) => got.some((g) => g.message === m);
    // The client's standalone GET stream opens after initialization: wait until a probe arrives.
    await until('notification stream open', async () => {
      await notify({ server }, 'warning', 'probe');
      return seen('probe');
    });

    // Default level info: debug is filtered, info is sent.
    await notify({ server }, 'debug', 'default-debug');
    await notify({ server }, 'info', 'default-info');
    await until('default-info', () => seen('default-info'));
    expect(seen('default-debug')).toBe(false);

    await client.setLoggingLevel('warning');
    expect(await notify({ server }, 'info', 'info-under-warning')).toBe(false);
    expect(await notify({ server }, 'warning', 'warning-1', { tool: 'list_contacts', wait_ms: 1200 })).toBe(
      true,
    );
    await until('warning-1', () => seen('warning-1'));
    expect(seen('info-under-warning')).toBe(false);
    const w = got.find((g) => g.message === 'warning-1');
    expect(w?.level).toBe('warning');
    expect(w?.data).toEqual({ message: 'warning-1', tool: 'list_contacts', wait_ms: 1200 });

    await client.setLoggingLevel('info');
    await notify({ server }, 'info', 'info-1');
    await until('info-1', () => seen('info-1'));

    // Redaction: only allow-listed keys and safe values; emails and long numbers masked in the message.
    await notify({ server }, 'error', 'failed for jane@example.com with 5551234567', {
      tool: 'get_contact',
      email: 'jane@example.com',
      status: 'x'.repeat(500),
      count: 3,
    } as never);
    await until('redacted', () => got.some((g) => g.level === 'error'));
    const e = got.find((g) => g.level === 'error');
    expect(e?.data).toEqual({
      message: 'failed for [email] with [number]',
      tool: 'get_contact',
      count: 3,
      redacted: 2,
    });
    expect(JSON.stringify(got)).not.toContain('jane');
  });

  it('notify without a session logger or after close does nothing and never throws', async () => {
    expect(await notify({}, 'emergency', 'x')).toBe(false);
    await start({});
    const { client } = await connect('a');
    const server = servers[0]?.server;
    await client.close();
    await servers[0]?.close();
    expect(await notify({ server }, 'emergency', 'after close')).toBe(false);
  });
});
