/**
 * Load only what the mode needs (issue 13): the built bin, spawned with a preload (record-loads.mjs) that writes
 * down every module the process loads, and the heavy modules a mode does not need must be absent:
 *  - `--version` loads neither the server nor any heavy package;
 *  - a stdio server with a PAT (initialize + tools/list) never loads the HTTP transport, the operator console,
 *    the sandbox, undici, the OAuth code or an HTTP framework;
 *  - `--sandbox` over stdio loads the sandbox (and undici) with the first Keap call, and never the HTTP
 *    transport or the console;
 *  - `auth`, `audit` and `sandbox` load their own modules, not the MCP server.
 * The recorder is checked too (what the mode does load is listed), so an empty record cannot pass.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'dist', 'src', 'index.js');
const RECORDER = join(import.meta.dirname, 'record-loads.mjs');

/** What a stdio server with a key must never load, by name → how it shows in a loaded module's path or URL. */
const HEAVY: Readonly<Record<string, RegExp>> = {
  'HTTP transport (src/transports/http.ts)': /\/dist\/src\/transports\/http\.js$/,
  'operator console (src/console/*)': /\/dist\/src\/console\//,
  'sandbox (src/sandbox/*)': /\/dist\/src\/sandbox\//,
  undici: /\/node_modules\/undici\//,
  oauth4webapi: /\/node_modules\/oauth4webapi\//,
  'OAuth code (src/auth/oauth.ts)': /\/dist\/src\/auth\/oauth\.js$/,
  'auth CLI (src/auth/cli.ts)': /\/dist\/src\/auth\/cli\.js$/,
  'SDK Streamable HTTP server': /\/@modelcontextprotocol\/sdk\/dist\/[^/]+\/server\/streamableHttp\.js$/,
  express: /\/node_modules\/express\//,
  hono: /\/node_modules\/(hono|@hono\/[^/]+)\//,
  'Redis (ioredis, src/state/redis/*)':
    /\/node_modules\/ioredis\/|\/dist\/src\/state\/redis\/(connection|hooks|stores)\.js$/,
};

/** Nothing of the MCP server: what `--version` and the subcommands must not load either. */
const SERVER: Readonly<Record<string, RegExp>> = {
  'MCP SDK': /\/node_modules\/@modelcontextprotocol\/sdk\//,
  'tool catalog (tools/)': /\/dist\/tools\//,
  'registry (src/registry/*)': /\/dist\/src\/registry\//,
  'serve (src/serve.ts)': /\/dist\/src\/serve\.js$/,
};

let dir: string;
beforeAll(() => {
  expect(existsSync(BIN), 'run `npm run build` first').toBe(true);
  dir = mkdtempSync(join(tmpdir(), 'keap-mcp-loading-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

let runs = 0;
/** A fresh record file and environment: no KEAP_* from the developer's shell, an isolated state dir. */
function setup(extra: Record<string, string> = {}): { record: string; env: Record<string, string> } {
  runs += 1;
  const record = join(dir, `loads-${runs}.txt`);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('KEAP_')) env[k] = v;
  return {
    record,
    env: {
      ...env,
      KEAP_MCP_LOG_LEVEL: 'warn',
      KEAP_MCP_STATE_DIR: join(dir, `state-${runs}`),
      KEAP_MCP_TEST_LOADS: record,
      ...extra,
    },
  };
}

function loaded(record: string): string[] {
  return existsSync(record) ? readFileSync(record, 'utf8').split('\n').filter(Boolean) : [];
}

/** The names of `rules` that some loaded module matches, with the first match (for the failure message). */
function present(mods: readonly string[], rules: Readonly<Record<string, RegExp>>): string[] {
  return Object.entries(rules).flatMap(([name, re]) => {
    const hit = mods.find((m) => re.test(m));
    return hit === undefined ? [] : [`${name}: ${hit}`];
  });
}

function has(mods: readonly string[], re: RegExp): boolean {
  return mods.some((m) => re.test(m));
}

async function stdioClient(args: readonly string[], env: Record<string, string>) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['--import', RECORDER, BIN, ...args],
    env,
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
  });
  const client = new Client({ name: 'loading-test', version: '1.0.0' });
  await client.connect(transport);
  return { client, stderr: () => stderr };
}

function runBin(args: readonly string[], env: Record<string, string>) {
  return spawnSync(process.execPath, ['--import', RECORDER, BIN, ...args], {
    env,
    encoding: 'utf8',
    input: '',
    timeout: 30_000,
  });
}

describe('load only what the mode needs', () => {
  it('--version: nothing of the server, no heavy package', () => {
    const { record, env } = setup();
    const r = runBin(['--version'], env);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    const mods = loaded(record);
    expect(has(mods, /\/dist\/src\/index\.js$/), 'the recorder saw the entry point').toBe(true);
    expect(present(mods, { ...HEAVY, ...SERVER })).toEqual([]);
    expect(present(mods, { 'better-sqlite3': /better-sqlite3/, pino: /\/node_modules\/pino\// })).toEqual([]);
  });

  it.each([
    ['an API key', { KEAP_API_KEY: 'KeapAK-loading-test-0123456789abcdef' }],
    [
      'OAuth',
      { KEAP_OAUTH_CLIENT_ID: 'loading-test-client', KEAP_OAUTH_CLIENT_SECRET: 'loading-test-secret-42' },
    ],
  ])(
    'stdio with %s (initialize + tools/list): no HTTP transport, console, sandbox, undici or OAuth code',
    async (_kind, credentials) => {
      const { record, env } = setup(credentials);
      const { client, stderr } = await stdioClient([], env);
      try {
        const { tools } = await client.listTools();
        expect(tools.map((t) => t.name)).toContain('list_contacts');
        expect(stderr()).toMatch(/MCP over stdio/);
        const mods = loaded(record);
        // The recorder works: the stdio transport and the server are listed.
        expect(has(mods, /\/dist\/src\/transports\/stdio\.js$/)).toBe(true);
        expect(has(mods, /\/@modelcontextprotocol\/sdk\/dist\/[^/]+\/server\/stdio\.js$/)).toBe(true);
        expect(has(mods, /\/dist\/src\/serve\.js$/)).toBe(true);
        expect(present(mods, HEAVY)).toEqual([]);
        // Nothing is logged at the default level while starting, so pino (≈ 9 MiB RSS) is not loaded either.
        expect(present(mods, { pino: /\/node_modules\/pino\// })).toEqual([]);
      } finally {
        await client.close();
      }
    },
  );

  it('stdio --sandbox: the sandbox and undici load with the first Keap call; never the HTTP transport or console', async () => {
    const { record, env } = setup();
    const { client, stderr } = await stdioClient(['--sandbox'], env);
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('list_tags');
      expect(stderr()).toMatch(/SANDBOX/);
      const atStart = loaded(record);
      expect(has(atStart, /\/dist\/src\/serve\.js$/), 'the recorder saw the server').toBe(true);
      expect(present(atStart, HEAVY)).toEqual([]);

      const r = (await client.callTool({ name: 'list_tags', arguments: { page_size: 1 } })) as CallToolResult;
      expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
      const afterCall = loaded(record);
      expect(has(afterCall, /\/dist\/src\/sandbox\/server\.js$/), 'the sandbox is loaded').toBe(true);
      expect(has(afterCall, HEAVY.undici as RegExp), 'undici loads with the first Keap call').toBe(true);
      const { 'sandbox (src/sandbox/*)': _sandbox, undici: _undici, ...rest } = HEAVY;
      expect(present(afterCall, rest)).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it('`audit`, `auth status` and `sandbox --help` load their own modules, not the MCP server', () => {
    const audit = setup();
    const a = runBin(['audit'], audit.env);
    expect(a.stderr).not.toMatch(/\n\s+at /);
    const auditMods = loaded(audit.record);
    expect(has(auditMods, /\/dist\/src\/safety\/audit-cli\.js$/)).toBe(true);
    expect(present(auditMods, { ...HEAVY, ...SERVER })).toEqual([]);

    const auth = setup();
    const s = runBin(['auth', 'status'], auth.env);
    expect(s.stderr).not.toMatch(/\n\s+at /);
    const authMods = loaded(auth.record);
    expect(has(authMods, /\/dist\/src\/auth\/cli\.js$/)).toBe(true);
    // `auth` loads its own OAuth code; `status` only reads the token store, so no HTTP client (undici).
    const {
      'auth CLI (src/auth/cli.ts)': _cli,
      'OAuth code (src/auth/oauth.ts)': _oauth,
      oauth4webapi: _o4w,
      ...notForStatus
    } = HEAVY;
    expect(present(authMods, { ...notForStatus, ...SERVER })).toEqual([]);

    const sandbox = setup();
    const h = runBin(['sandbox', '--help'], sandbox.env);
    expect(h.status, h.stderr).toBe(0);
    const sandboxMods = loaded(sandbox.record);
    expect(has(sandboxMods, /\/dist\/src\/sandbox\/server\.js$/)).toBe(true);
    const { 'sandbox (src/sandbox/*)': _sb, ...notSandbox } = HEAVY;
    expect(
      present(sandboxMods, {
        ...notSandbox,
        ...SERVER,
        'Keap client (src/keap/*)': /\/dist\/src\/keap\//,
        'safety (src/safety/*)': /\/dist\/src\/safety\//,
      }),
    ).toEqual([]);
  });
});
