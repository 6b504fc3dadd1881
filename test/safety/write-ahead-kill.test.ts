/**
 * Write-ahead audit under kill -9: a spawned server is killed while N create_contact calls are inside Keap (the
 * sandbox holds them with injected latency). Every write the sandbox received has its durable intent record,
 * and `keap-mcp audit` (the spawned CLI) shows each as completed or "outcome unknown (server stopped)".
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashValue, loadAuditKey } from '../../src/safety/audit.js';
import { UNKNOWN } from '../../src/safety/audit-cli.js';
import type { RunningSandbox } from '../../src/sandbox/core/types.js';
import { startSandbox } from '../../src/sandbox/server.js';
import { openStateDb } from '../../src/state/db.js';
import { tmpDir, writeJson } from './helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const ENTRY = join(ROOT, 'dist', 'src', 'index.js');
const KEY = 'write-ahead-key';
const N = 10;

let sandbox: RunningSandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ host: '127.0.0.1', port: 0, apiKeys: [KEY], control: true });
  if (!existsSync(ENTRY)) {
    try {
      execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'ignore' });
    } catch {
      // tsc exits non-zero on type errors elsewhere but still emits
    }
  }
});
afterAll(async () => {
  await sandbox?.close();
});

async function control(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${sandbox.baseUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return res.json();
}

/** Polls until `check` holds (fails the test instead of hanging after ~20 s). */
async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; !(await check()); i++) {
    if (i > 400) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('write-ahead audit', () => {
  it('kill -9 while N writes are inside Keap: every received write has its intent; none missing in `keap-mcp audit`', async () => {
    expect(existsSync(ENTRY)).toBe(true);
    const dir = tmpDir('keap-wal-');
    const log = join(dir, 'audit.jsonl');
    const stateDir = join(dir, 'state');
    const policy = writeJson(dir, 'policy.json', {
      default_agent: 'admin',
      agents: { admin: { grants: { '*': 'write' } } },
    });
    await control('DELETE', '/__sandbox/requests');
    await control('POST', '/__sandbox/faults', {
      method: 'POST',
      path: '/v2/contacts',
      latencyMs: 4_000,
      count: N,
    });
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [ENTRY],
      env: {
        ...(process.env as Record<string, string>),
        KEAP_API_KEY: KEY,
        KEAP_API_BASE_URL: sandbox.baseUrl,
        KEAP_AUDIT_LOG: log,
        KEAP_POLICY: policy,
        KEAP_MCP_STATE_DIR: stateDir,
        KEAP_MCP_LOG_LEVEL: 'error',
      },
      stderr: 'ignore',
    });
    const client = new Client({ name: 'wal-kill', version: '1' });
    await client.connect(transport);
    const names = Array.from({ length: N }, (_, i) => `Wal${i}x${process.pid}`);
    const calls = names.map((given_name) =>
      client
        .callTool({
          name: 'create_contact',
          arguments: {
            given_name,
            email_addresses: [{ email: `${given_name.toLowerCase()}@example.com`, field: 'EMAIL1' }],
          },
        })
        .catch(() => undefined),
    );
    // Every write is inside Keap (the latency rule is used up) before the server dies.
    await until(
      'every write reached the sandbox',
      async () => ((await control('GET', '/__sandbox/faults')).faults as unknown[]).length === 0,
    );
    process.kill(transport.pid as number, 'SIGKILL');
    await Promise.allSettled(calls);
    await client.close().catch(() => undefined);
    // The sandbox finishes the writes it received.
    await until('the sandbox finished the writes', async () => {
      const snap = await control('GET', '/__sandbox/requests');
      return (snap.routes['POST /v2/contacts']?.count ?? 0) >= N;
    });
    const created = sandbox.api
      .table<{ id: number; given_name?: string }>('contacts')
      .all()
      .filter((c) => typeof c.given_name === 'string' && names.includes(c.given_name));
    expect(created).toHaveLength(N);

    const lines = readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, any>);
    const intents = lines.filter((l) => l.kind === 'intent' && l.tool === 'create_contact');
    const db = openStateDb(stateDir);
    const key = loadAuditKey(db);
    db.close();
    // Each write Keap received has its own durable intent (matched by the keyed hash of its name).
    for (const c of created) {
      const h = hashValue(c.given_name as string, key);
      expect(intents.filter((i) => i.args?.given_name === h)).toHaveLength(1);
    }
    expect(intents).toHaveLength(N);
    expect(readFileSync(log, 'utf8')).not.toContain('Wal0x');

    const out = execFileSync(process.execPath, [ENTRY, 'audit', '--file', log, '--tool', 'create_contact'], {
      encoding: 'utf8',
      env: { ...(process.env as Record<string, string>), KEAP_MCP_STATE_DIR: stateDir },
    });
    const rows = out
      .trim()
      .split('\n')
      .filter((l) => l.includes('create_contact'));
    expect(rows).toHaveLength(N);
    for (const row of rows) expect(row.endsWith(UNKNOWN) || /\s201\s.*completed$/.test(row)).toBe(true);
    expect(rows.filter((r) => r.endsWith(UNKNOWN)).length).toBeGreaterThan(0);
  });
});
