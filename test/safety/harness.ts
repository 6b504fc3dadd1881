/** Shared set-up of the safety acceptance tests: a sandbox, a Keap client and MCP servers per agent. */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import {
  type CallToolResult,
  ElicitRequestSchema,
  type ElicitResult,
} from '@modelcontextprotocol/sdk/types.js';
import { createKeapClient } from '../../src/keap/client.js';
import type { KeapClientApi } from '../../src/keap/types.js';
import { silentLogger } from '../../src/logger.js';
import { type CreateSafetyOptions, createSafety } from '../../src/safety/index.js';
import type { SafetyApi } from '../../src/safety/types.js';
import type { RunningSandbox } from '../../src/sandbox/core/types.js';
import { startSandbox } from '../../src/sandbox/server.js';
import { createServer } from '../../src/server.js';
import { openStateDb, type StateDb } from '../../src/state/db.js';
import { ALL_TOOLS, EVENT_TOOLS, LONGTAIL_TOOLS } from '../../tools/index.js';
import { tmpDir, writeJson } from './helpers.js';

export interface Env {
  sb: RunningSandbox;
  keap: KeapClientApi;
  close(): Promise<void>;
}

export async function startEnv(): Promise<Env> {
  const sb = await startSandbox({
    port: 0,
    control: true,
    limits: { patPerSecond: 1000, patPerMinute: 100_000, spikePerSecond: 1000 },
  });
  const keap = createKeapClient({
    baseUrl: sb.baseUrl,
    credential: { kind: 'pat', apiKey: 'test-key' },
    logger: silentLogger,
    limits: { perSecond: 1000, spikePerSecond: 1000, perMinute: 100_000, minGapMs: 0 },
  });
  return {
    sb,
    keap,
    async close() {
      await keap.close();
      await sb.close();
    },
  };
}

export interface Counts {
  total: number;
  routes: Record<string, { count: number; effective: number }>;
}

export async function counts(sb: RunningSandbox): Promise<Counts> {
  const r = await fetch(`${sb.baseUrl}/__sandbox/requests`);
  return (await r.json()) as Counts;
}

export async function resetCounts(sb: RunningSandbox): Promise<void> {
  await fetch(`${sb.baseUrl}/__sandbox/requests`, { method: 'DELETE' });
}

/** Requests that could change something at Keap (every method but GET; preview reads are GETs). */
export function writes(c: Counts): number {
  return Object.entries(c.routes)
    .filter(([k]) => !k.startsWith('GET '))
    .reduce((n, [, v]) => n + v.count, 0);
}

/** Effective requests on routes matching `method path-regex`. */
export function effective(c: Counts, re: RegExp): number {
  return Object.entries(c.routes)
    .filter(([k]) => re.test(k))
    .reduce((n, [, v]) => n + v.effective, 0);
}

export type ElicitAnswer = ElicitResult | ((message: string, schema: unknown) => ElicitResult);

export interface Conn {
  client: Client;
  safety: SafetyApi;
  db: StateDb;
  elicitations: { message: string; schema: unknown }[];
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  listNames(): Promise<string[]>;
  close(): Promise<void>;
}

/** Listed beside the catalog, checked on their own (registry and hooks tests): the long tail and the event tools. */
const LONGTAIL_NAMES = new Set([...LONGTAIL_TOOLS, ...EVENT_TOOLS].map((t) => t.name));

export async function connect(
  env: Env,
  opts: {
    policy?: unknown;
    agent?: string;
    readOnly?: boolean;
    sandbox?: boolean;
    elicit?: ElicitAnswer;
    auditLogPath?: string;
    db?: StateDb;
    now?: () => number;
    /** Client elicitation capability as declared (default { form: {} } when elicit is given). */
    elicitationCapability?: Record<string, unknown>;
    /** Further options of the safety layer (operator token, approval wait and lifetime, …). */
    safety?: Partial<CreateSafetyOptions>;
  } = {},
): Promise<Conn> {
  const db = opts.db ?? openStateDb(undefined);
  const policyFile = opts.policy !== undefined ? writeJson(tmpDir(), 'policy.json', opts.policy) : undefined;
  const safety = createSafety({
    ...(policyFile !== undefined ? { policyFile } : {}),
    readOnly: opts.readOnly ?? false,
    sandbox: opts.sandbox ?? true,
    ...(opts.auditLogPath !== undefined ? { auditLogPath: opts.auditLogPath } : {}),
    db,
    logger: silentLogger,
    knownTools: ALL_TOOLS.map((t) => t.name),
    ...(opts.now ? { now: opts.now } : {}),
    ...opts.safety,
  });
  const agent = opts.agent ?? safety.policy.defaultAgent();
  const server = createServer({ agent, client: env.keap, safety, logger: silentLogger, sandbox: true });
  const client = new Client(
    { name: 'safety-test', version: '1.0.0' },
    {
      capabilities:
        opts.elicit !== undefined ? { elicitation: opts.elicitationCapability ?? { form: {} } } : {},
    },
  );
  const elicitations: { message: string; schema: unknown }[] = [];
  if (opts.elicit !== undefined) {
    const answer = opts.elicit;
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      const params = req.params as { message: string; requestedSchema?: unknown };
      elicitations.push({ message: params.message, schema: params.requestedSchema });
      return typeof answer === 'function' ? answer(params.message, params.requestedSchema) : answer;
    });
  }
  const [ct, st] = InMemoryTransport.createLinkedPair();
  await server.connect(st);
  await client.connect(ct);
  return {
    client,
    safety,
    db,
    elicitations,
    call: async (name, args = {}) => (await client.callTool({ name, arguments: args })) as CallToolResult,
    // Catalog tools only: the long-tail tools (listed whenever any resource is granted) have their own tests
    // (test/longtail/gate.test.ts).
    listNames: async () =>
      (await client.listTools()).tools
        .map((t) => t.name)
        .filter((n) => !LONGTAIL_NAMES.has(n))
        .sort(),
    async close() {
      await client.close();
      await server.close();
      safety.audit.close();
    },
  };
}

export function text(r: CallToolResult): string {
  return r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}

export function data(r: CallToolResult): Record<string, any> {
  if (r.structuredContent !== undefined) return r.structuredContent as Record<string, any>;
  try {
    return JSON.parse(text(r)) as Record<string, any>;
  } catch {
    return {};
  }
}
