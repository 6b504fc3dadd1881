/**
 * Test harness: the real sandbox over real HTTP (127.0.0.1, port 0), the real Keap client, the real safety
 * layer, and createServer() connected to an MCP Client through an in-memory transport pair.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { type CallToolResult, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { type ClientLimits, createKeapClient } from '../../src/keap/client.js';
import type { KeapClientApi } from '../../src/keap/types.js';
import { silentLogger } from '../../src/logger.js';
import type { AnyToolSpec } from '../../src/registry/define.js';
import { pairCalls } from '../../src/safety/audit-cli.js';
import { createSafety } from '../../src/safety/index.js';
import type { SafetyApi } from '../../src/safety/types.js';
import type { RunningSandbox } from '../../src/sandbox/core/types.js';
import { startSandbox } from '../../src/sandbox/server.js';
import { createServer } from '../../src/server.js';
import { openStateDb } from '../../src/state/db.js';

export const SANDBOX_KEY = 'test-sandbox-key';

export const FULL_WRITE_POLICY = {
  default_agent: 'admin',
  agents: { admin: { grants: { '*': 'write' } } },
};

export interface Harness {
  readonly client: Client;
  readonly sandbox: RunningSandbox;
  readonly safety: SafetyApi;
  readonly keap: KeapClientApi;
  readonly auditPath: string;
  /** Audit records written so far. */
  audit(): Record<string, unknown>[];
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly policy?: object;
  readonly sandboxMode?: boolean;
  readonly readOnly?: boolean;
  readonly agent?: string;
  readonly tools?: readonly AnyToolSpec[];
  /** Client answers elicitation with this (and advertises the capability). */
  readonly elicit?: (message: string) => {
    action: 'accept' | 'decline' | 'cancel';
    content?: Record<string, unknown>;
  };
  readonly sandbox?: RunningSandbox;
  /** Key the Keap client sends (default SANDBOX_KEY; another sandbox may accept other keys). */
  readonly apiKey?: string;
  /** Longest wait for a client rate-limit slot (default 5 s). */
  readonly maxWaitMs?: number;
  /** Client-side rate limits (default: Keap's). */
  readonly clientLimits?: Partial<ClientLimits>;
  /** Audit records to a temp file (default true); false: to the logger. */
  readonly auditToFile?: boolean;
}

export async function startTestSandbox(): Promise<RunningSandbox> {
  return startSandbox({ host: '127.0.0.1', port: 0, apiKeys: [SANDBOX_KEY] });
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'keap-mcp-test-'));
  const auditPath = join(dir, 'audit.jsonl');
  let policyFile: string | undefined;
  if (opts.policy) {
    policyFile = join(dir, 'policy.json');
    writeFileSync(policyFile, JSON.stringify(opts.policy));
  }
  const ownSandbox = opts.sandbox === undefined;
  const sandbox = opts.sandbox ?? (await startTestSandbox());
  const db = openStateDb(undefined);
  const safety = createSafety({
    policyFile,
    readOnly: opts.readOnly ?? false,
    sandbox: opts.sandboxMode ?? true,
    auditLogPath: opts.auditToFile === false ? undefined : auditPath,
    db,
    logger: silentLogger,
  });
  const keap = createKeapClient({
    baseUrl: sandbox.baseUrl,
    credential: { kind: 'pat', apiKey: opts.apiKey ?? SANDBOX_KEY },
    logger: silentLogger,
    maxWaitMs: opts.maxWaitMs ?? 5_000,
    ...(opts.clientLimits ? { limits: opts.clientLimits } : {}),
  });
  const agent = opts.agent ?? safety.policy.defaultAgent();
  const server = createServer({
    agent,
    client: keap,
    safety,
    logger: silentLogger,
    sandbox: true,
    ...(opts.tools ? { tools: opts.tools } : {}),
  });
  const client = new Client(
    { name: 'test-client', version: '1.0.0' },
    opts.elicit ? { capabilities: { elicitation: { form: {} } } } : {},
  );
  if (opts.elicit) {
    const answer = opts.elicit;
    client.setRequestHandler(ElicitRequestSchema, async (req) => answer(req.params.message));
  }
  const [a, b] = InMemoryTransport.createLinkedPair();
  await server.connect(a);
  await client.connect(b);
  return {
    client,
    sandbox,
    safety,
    keap,
    auditPath,
    audit() {
      try {
        // One row per call: a write-ahead intent and its outcome are merged, as `keap-mcp audit` shows them.
        return pairCalls(
          readFileSync(auditPath, 'utf8')
            .split('\n')
            .filter((l) => l.trim() !== '')
            .map((l) => JSON.parse(l) as Record<string, unknown>),
        );
      } catch {
        return [];
      }
    },
    async call(name, args = {}) {
      return (await client.callTool({ name, arguments: args })) as CallToolResult;
    },
    async close() {
      await client.close();
      await server.close();
      await keap.close();
      safety.audit.close();
      db.close();
      if (ownSandbox) await sandbox.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** structuredContent of a result (throws when absent). */
export function data(r: CallToolResult): Record<string, any> {
  if (!r.structuredContent) throw new Error(`no structuredContent: ${JSON.stringify(r.content)}`);
  return r.structuredContent as Record<string, any>;
}

export function text(r: CallToolResult): string {
  const first = r.content[0];
  return first && first.type === 'text' ? first.text : '';
}
