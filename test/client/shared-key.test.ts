/**
 * Several processes on one Keap key without shared state (issue 13 item 5): real keap-mcp server processes
 * (the built bin over stdio, each with its own limiter) against one sandbox enforcing Keap's PAT limits (10/s
 * sliding, 240/min). Each process's congestion control reads the sandbox's counters and 429s as signs of the
 * other and slows down. Counts only (speed is for `npm run bench`); the sandbox counts the 429s.
 *
 * 100 calls per process keep the whole burst under the 240/min budget wherever in the minute it starts, so the
 * figures are about the per-second limit that has no header.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox } from '../../src/sandbox/server.js';
import { control, counters } from './helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'dist', 'src', 'index.js');
/** One key per test: the sandbox's per-minute window of one test does not carry into the next. */
const KEYS = ['KeapAK-shared-key-1-0123456789', 'KeapAK-shared-key-2-0123456789'];
const CALLS = 100;

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;
let sb: Sandbox;

beforeAll(async () => {
  expect(existsSync(BIN), 'run `npm run build` first').toBe(true);
  sb = await startSandbox({ port: 0, control: true, apiKeys: KEYS });
});

afterAll(async () => {
  await sb?.close();
});

interface Server {
  client: Client;
  stderr: () => string;
}

/** A keap-mcp process over stdio on the shared key, pointed at the sandbox. */
async function server(name: string, key: string): Promise<Server> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('KEAP_')) env[k] = v;
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN],
    env: {
      ...env,
      KEAP_API_KEY: key,
      KEAP_API_BASE_URL: sb.baseUrl,
      KEAP_MCP_STATE_DIR: mkdtempSync(join(tmpdir(), `keap-mcp-shared-${name}-`)),
      KEAP_MCP_LOG_LEVEL: 'warn',
      KEAP_MAX_WAIT_MS: '60000',
    },
    stderr: 'pipe',
  });
  let err = '';
  transport.stderr?.on('data', (c: Buffer) => {
    err += c.toString('utf8');
  });
  const client = new Client({ name: `shared-key-${name}`, version: '1.0.0' });
  await client.connect(transport);
  return { client, stderr: () => err };
}

/** `n` calls at once; resolves with the number that failed (and their first lines). */
async function burst(s: Server, n: number): Promise<string[]> {
  const failed: string[] = [];
  await Promise.all(
    Array.from({ length: n }, async () => {
      const r = (await s.client.callTool({
        name: 'list_tags',
        arguments: { page_size: 1 },
      })) as CallToolResult;
      if (r.isError) {
        const first = r.content[0];
        failed.push(first?.type === 'text' ? first.text.slice(0, 120) : 'error');
      }
    }),
  );
  return failed;
}

async function run(
  processes: number,
  key: string,
): Promise<{ total: number; rateLimited: number; failed: string[] }> {
  const servers = await Promise.all(Array.from({ length: processes }, (_, i) => server(String(i), key)));
  try {
    // One warm-up call each (start-up work out of the way), then a fresh window for the burst.
    for (const s of servers) expect(await burst(s, 1)).toEqual([]);
    await new Promise((r) => setTimeout(r, 1_200));
    await control(sb.baseUrl, 'DELETE', '/__sandbox/requests');
    const failed = (await Promise.all(servers.map((s) => burst(s, CALLS)))).flat();
    const n = await counters(sb.baseUrl);
    return { total: n.total, rateLimited: n.totals.rateLimited, failed };
  } finally {
    await Promise.all(servers.map((s) => s.client.close()));
    for (const s of servers) expect(s.stderr()).not.toContain(key);
  }
}

describe('one key, several processes (no shared state)', () => {
  it(`one process × ${CALLS} calls at once: 0 × 429`, async () => {
    const r = await run(1, KEYS[0] as string);
    process.stderr.write(`[shared-key] 1 process: sandbox saw ${r.total}, 429s ${r.rateLimited}\n`);
    expect(r.failed).toEqual([]);
    expect(r.rateLimited).toBe(0);
    expect(r.total).toBe(CALLS);
  }, 120_000);

  it(`two processes × ${CALLS} calls at once: every call succeeds, only a few 429s (38-51 without congestion control)`, async () => {
    const r = await run(2, KEYS[1] as string);
    process.stderr.write(`[shared-key] 2 processes: sandbox saw ${r.total}, 429s ${r.rateLimited}\n`);
    expect(r.failed).toEqual([]);
    expect(r.total - r.rateLimited).toBe(2 * CALLS);
    // Target (bench): ≤ 3. Asserted with room for a loaded machine; without congestion control this is ~30+.
    expect(r.rateLimited).toBeLessThanOrEqual(8);
  }, 180_000);
});
