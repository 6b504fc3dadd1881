/**
 * 5. tools/list: payload size (characters of the JSON the client receives: all tools for the sandbox's write
 * agent, and the read-only tools of the default read agent, i.e. no policy file outside the sandbox) and the
 * time to build a server (createServer) and list its tools over an in-memory MCP transport.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeapClient } from '../src/keap/client.js';
import type { KeapClientApi } from '../src/keap/types.js';
import { silentLogger } from '../src/logger.js';
import { createSafety } from '../src/safety/index.js';
import type { RunningSandbox } from '../src/sandbox/core/types.js';
import { createServer } from '../src/server.js';
import { openStateDb, type StateDb } from '../src/state/db.js';
import { ALL_TOOLS } from '../tools/index.js';
import {
  BENCH_KEY,
  type Cell,
  CLIENT_NO_LIMITS,
  ms,
  nowMs,
  printTable,
  recordResults,
  startBenchSandbox,
  stats,
} from './run.js';

const ROUNDS = 30;

let sandbox: RunningSandbox;
let keap: KeapClientApi;
let db: StateDb;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keap-mcp-bench-'));
  sandbox = await startBenchSandbox('lifted');
  keap = createKeapClient({
    baseUrl: sandbox.baseUrl,
    credential: { kind: 'pat', apiKey: BENCH_KEY },
    logger: silentLogger,
    limits: CLIENT_NO_LIMITS,
  });
  db = openStateDb(undefined);
});

afterAll(async () => {
  await keap?.close();
  db?.close();
  await sandbox?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Listed {
  readonly tools: Tool[];
  readonly instructions: string;
  readonly buildMs: number;
  readonly connectMs: number;
  readonly listMs: number;
  readonly totalMs: number;
}

/** Builds a server for the default agent of the given mode, connects a client and lists the tools. */
async function buildAndList(mode: 'write' | 'read'): Promise<Listed> {
  const safety = createSafety({
    readOnly: false,
    sandbox: mode === 'write', // no policy file: the default agent writes in the sandbox, reads elsewhere
    auditLogPath: join(dir, `audit-${mode}.jsonl`),
    db,
    logger: silentLogger,
  });
  const t0 = nowMs();
  const server = createServer({
    agent: safety.policy.defaultAgent(),
    client: keap,
    safety,
    logger: silentLogger,
    sandbox: mode === 'write',
  });
  const t1 = nowMs();
  const client = new Client({ name: 'bench-client', version: '1.0.0' });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await server.connect(a);
  await client.connect(b);
  const t2 = nowMs();
  const { tools } = await client.listTools();
  const t3 = nowMs();
  const instructions = client.getInstructions() ?? '';
  await client.close();
  await server.close();
  safety.audit.close();
  return { tools, instructions, buildMs: t1 - t0, connectMs: t2 - t1, listMs: t3 - t2, totalMs: t3 - t0 };
}

describe('tools/list', () => {
  it('5. payload size and build + list time', async () => {
    const rows: Record<string, Cell>[] = [];
    const json: Record<string, unknown> = {};
    for (const mode of ['write', 'read'] as const) {
      const cold = await buildAndList(mode);
      const warm: Listed[] = [];
      for (let i = 0; i < ROUNDS; i += 1) warm.push(await buildAndList(mode));
      const payload = JSON.stringify({ tools: cold.tools });
      const readOnly = cold.tools.filter((t) => t.annotations?.readOnlyHint === true).length;
      const build = stats(warm.map((w) => w.buildMs));
      const list = stats(warm.map((w) => w.listMs));
      const total = stats(warm.map((w) => w.totalMs));
      const label = mode === 'write' ? 'all tools (sandbox write agent)' : 'default read agent';
      rows.push({
        agent: label,
        tools: cold.tools.length,
        'readOnlyHint tools': readOnly,
        'payload chars': payload.length,
        'chars/tool': Math.round(payload.length / Math.max(1, cold.tools.length)),
        'instructions chars': cold.instructions.length,
        'cold build+list ms': ms(cold.totalMs, 2),
        'p50 createServer ms': ms(build.p50, 2),
        'p50 connect ms': ms(stats(warm.map((w) => w.connectMs)).p50, 2),
        'p50 tools/list ms': ms(list.p50, 2),
        'p50 total ms': ms(total.p50, 2),
        'p95 total ms': ms(total.p95, 2),
      });
      json[mode] = {
        tools: cold.tools.length,
        readOnlyHintTools: readOnly,
        payloadChars: payload.length,
        instructionsChars: cold.instructions.length,
        coldMs: { build: cold.buildMs, connect: cold.connectMs, list: cold.listMs, total: cold.totalMs },
        warmRounds: ROUNDS,
        createServerMs: build,
        listMs: list,
        totalMs: total,
      };
      if (mode === 'write') expect(cold.tools.length).toBe(ALL_TOOLS.length);
      else {
        expect(cold.tools.length).toBeGreaterThan(0);
        expect(cold.tools.length).toBeLessThan(ALL_TOOLS.length);
        expect(readOnly).toBe(cold.tools.length);
      }
    }
    printTable(`5. tools/list payload and build + list time (${ROUNDS} warm rounds)`, rows);
    recordResults('toolsList', json);
  });
});
