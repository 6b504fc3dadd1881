/**
 * Transports end to end: a spawned stdio process (the built bin, `npm test` builds first), an in-process
 * Streamable HTTP server with per-agent bearer tokens, and the start-up failure without credentials.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { createSafety } from '../../src/safety/index.js';
import { openStateDb } from '../../src/state/db.js';
import { HttpConfigError, type RunningHttp, startHttp } from '../../src/transports/http.js';
import { type HttpFixture, startHttpFixture } from '../helpers/http-server.js';
import { INITIALIZE_BODY, MCP_POST_HEADERS } from '../helpers/mcp-http.js';
import { data } from './harness.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'dist', 'src', 'index.js');
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** Environment for spawned processes: no Keap credentials or settings leak in from the developer's shell, and
 * the state directory (where the audit log goes by default) is a temporary one, never the user's ~/.keap-mcp. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('KEAP_')) env[k] = v;
  }
  const state = join(tmpdir(), `keap-mcp-transports-${process.pid}`);
  return { ...env, KEAP_MCP_LOG_LEVEL: 'warn', KEAP_MCP_STATE_DIR: state, ...extra };
}

describe('stdio (spawned bin)', () => {
  it('keap-mcp --sandbox: initialize, list, call', async () => {
    expect(existsSync(BIN), 'run `npm run build` first').toBe(true);
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, '--sandbox'],
      env: cleanEnv(),
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const client = new Client({ name: 'stdio-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      expect(client.getServerVersion()?.name).toBe('keap-mcp');
      expect(client.getInstructions()).toMatch(/SANDBOX/);
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('list_contacts');
      const r = (await client.callTool({
        name: 'list_contacts',
        arguments: { page_size: 3 },
      })) as CallToolResult;
      expect(r.isError).toBeFalsy();
      expect(data(r).contacts).toHaveLength(3);
      expect(stderr).toMatch(/over stdio .*SANDBOX/);
    } finally {
      await client.close();
    }
  });

  it('over stdio KEAP_AGENT chooses the agent (default: the policy default agent); an unknown one fails', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keap-mcp-stdio-agent-'));
    const policyFile = join(dir, 'policy.json');
    writeFileSync(
      policyFile,
      JSON.stringify({
        default_agent: 'reader',
        agents: {
          reader: { grants: { '*': 'read' } },
          writer: { grants: { contacts: 'write', '*': 'none' } },
        },
      }),
    );
    const toolsFor = async (extra: Record<string, string>) => {
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [BIN, '--sandbox'],
        env: cleanEnv({ KEAP_POLICY: policyFile, ...extra }),
        stderr: 'pipe',
      });
      const client = new Client({ name: 'stdio-agent-test', version: '1.0.0' });
      await client.connect(transport);
      try {
        return (await client.listTools()).tools.map((t) => t.name);
      } finally {
        await client.close();
      }
    };
    try {
      const reader = await toolsFor({});
      expect(reader).toContain('list_tags');
      expect(reader).not.toContain('create_contact');
      const writer = await toolsFor({ KEAP_AGENT: 'writer' });
      expect(writer).toContain('create_contact');
      expect(writer).not.toContain('list_tags');
      const r = spawnSync(process.execPath, [BIN, '--sandbox'], {
        env: cleanEnv({ KEAP_POLICY: policyFile, KEAP_AGENT: 'nobody' }),
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain('KEAP_AGENT "nobody"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('what `npm start` runs (--http --sandbox) prints its URL and serves list_contacts', async () => {
    const child = spawn(process.execPath, [BIN, '--http', '--sandbox', '--port', '0'], {
      env: cleanEnv(),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let err = '';
        const timer = setTimeout(() => reject(new Error(`no URL printed: ${err}`)), 30_000);
        child.stderr.on('data', (c: Buffer) => {
          err += c.toString('utf8');
          const m = /(http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(err);
          if (m?.[1]) {
            clearTimeout(timer);
            expect(err).toMatch(/SANDBOX/);
            expect(err).toMatch(/mcp\.json/);
            resolve(m[1]);
          }
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
      });
      const client = new Client({ name: 'start-test', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(url)));
      const r = (await client.callTool({ name: 'list_contacts', arguments: {} })) as CallToolResult;
      expect(r.isError).toBeFalsy();
      expect((data(r).contacts as unknown[]).length).toBeGreaterThan(0);
      await client.close();
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('without credentials and without --sandbox exits non-zero naming the settings', () => {
    const r = spawnSync(process.execPath, [BIN], { env: cleanEnv(), encoding: 'utf8', timeout: 20_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('KEAP_API_KEY');
    expect(r.stderr).toContain('KEAP_OAUTH_CLIENT_ID');
    expect(r.stderr).toContain('--sandbox');
  });

  it('--http --host 0.0.0.0 without agent tokens refuses to start', () => {
    const r = spawnSync(process.execPath, [BIN, '--http', '--sandbox', '--host', '0.0.0.0', '--port', '0'], {
      env: cleanEnv(),
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Refusing to listen on 0\.0\.0\.0/);
  });

  it('a bad setting fails at start-up naming the variable', () => {
    const r = spawnSync(process.execPath, [BIN, '--sandbox'], {
      env: cleanEnv({ KEAP_MAX_WAIT_MS: 'soon' }),
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('KEAP_MAX_WAIT_MS');
  });
});

describe('Streamable HTTP (in-process, port 0)', () => {
  let fx: HttpFixture;
  let http: RunningHttp;
  const tokens = { reader: 'reader-token-123456', writer: 'writer-token-654321' };
  let auditPath = '';

  beforeAll(async () => {
    fx = await startHttpFixture({
      policy: {
        default_agent: 'reader',
        agents: {
          reader: { token_sha256: sha(tokens.reader), grants: { '*': 'read' } },
          writer: { token_sha256: sha(tokens.writer), grants: { '*': 'write' } },
        },
      },
    });
    ({ http, auditPath } = fx);
  });
  afterAll(async () => {
    await fx?.close();
  });

  async function connect(token: string): Promise<Client> {
    const client = new Client({ name: 'http-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(http.url), {
        requestInit: { headers: { Authorization: `Bearer ${token}` } },
      }),
    );
    return client;
  }

  it('serves /healthz', async () => {
    const res = await fetch(http.url.replace(/\/mcp$/, '/healthz'));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, sandbox: true });
  });

  it('initialize, list, call for an agent; each agent sees its own tools', async () => {
    const reader = await connect(tokens.reader);
    const writer = await connect(tokens.writer);
    try {
      const readerTools = (await reader.listTools()).tools.map((t) => t.name);
      const writerTools = (await writer.listTools()).tools.map((t) => t.name);
      expect(readerTools).toContain('list_contacts');
      expect(readerTools).not.toContain('create_contact');
      expect(writerTools).toContain('create_contact');
      const r = (await reader.callTool({
        name: 'list_contacts',
        arguments: { page_size: 2 },
      })) as CallToolResult;
      expect(data(r).contacts).toHaveLength(2);
      // The audit record names the agent and the HTTP session of the call.
      const sessionId = (reader.transport as StreamableHTTPClientTransport | undefined)?.sessionId;
      expect(sessionId).toBeTruthy();
      const records = readFileSync(auditPath, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(records.at(-1)).toMatchObject({ agent: 'reader', tool: 'list_contacts', session: sessionId });
      const denied = (await reader.callTool({
        name: 'create_contact',
        arguments: { given_name: 'X' },
      })) as CallToolResult;
      expect(denied.isError).toBe(true);
      expect(data(denied).error.category).toBe('policy');
    } finally {
      await reader.close();
      await writer.close();
    }
  });

  it('answers 401 to a missing or unknown token before any MCP message', async () => {
    const body = INITIALIZE_BODY;
    const headers = MCP_POST_HEADERS;
    const none = await fetch(http.url, { method: 'POST', headers, body });
    expect(none.status).toBe(401);
    const wrong = await fetch(http.url, {
      method: 'POST',
      headers: { ...headers, authorization: 'Bearer nope' },
      body,
    });
    expect(wrong.status).toBe(401);
  });

  it('rejects a foreign Host and a foreign Origin', async () => {
    const { request } = await import('node:http');
    const status = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const u = new URL(http.url);
        const req = request(
          { host: u.hostname, port: u.port, path: '/mcp', method: 'POST', headers },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end('{}');
      });
    const auth = { authorization: `Bearer ${tokens.reader}`, 'content-type': 'application/json' };
    expect(await status({ ...auth, host: 'evil.example.com' })).toBe(403);
    expect(await status({ ...auth, origin: 'https://evil.example.com' })).toBe(403);
  });

  it('refuses a non-loopback bind without agent tokens', async () => {
    const db = openStateDb(undefined);
    const safety = createSafety({ readOnly: false, sandbox: true, db, logger: silentLogger });
    await expect(
      startHttp({
        host: '0.0.0.0',
        port: 0,
        policy: safety.policy,
        logger: silentLogger,
        makeServer: () => {
          throw new Error('unreachable');
        },
      }),
    ).rejects.toBeInstanceOf(HttpConfigError);
    db.close();
  });
});
