/**
 * `--http --stateless` on Redis: two real server processes; a client that initialized on one sends its next
 * request to the other with no session at all, and a confirmation token issued by one is used on the other.
 * And: Redis unreachable at start → the server refuses to start (exit 1), naming the URL without its password.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, type Spawned, spawnKeapMcp } from '../console/spawn.js';
import { MCP_POST_HEADERS } from '../helpers/mcp-http.js';
import { type RedisServer, redisSkipReason, startRedis } from '../helpers/redis-server.js';
import { counts, data, type Env, resetCounts, startEnv, text, writes } from '../safety/harness.js';
import { sha, tmpDir, writeJson } from '../safety/helpers.js';

const skip = redisSkipReason();
const AGENT_TOKEN = 'stateless-agent-token-91c2';

let rpcId = 0;
async function rpc(
  url: string,
  method: string,
  params: unknown,
): Promise<{ status: number; body: unknown; session: string | null }> {
  const r = await fetch(url, {
    method: 'POST',
    headers: {
      ...MCP_POST_HEADERS,
      authorization: `Bearer ${AGENT_TOKEN}`,
      'mcp-protocol-version': '2025-06-18',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: ++rpcId, method, params }),
  });
  const raw = await r.text();
  // JSON, or SSE events (notifications first, then the response with our id).
  const msgs = raw.startsWith('{')
    ? [JSON.parse(raw) as { id?: unknown }]
    : [...raw.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1] as string) as { id?: unknown });
  const json = msgs.find((m) => m.id === rpcId) ?? null;
  return { status: r.status, body: json, session: r.headers.get('mcp-session-id') };
}

const result = (b: unknown) => (b as { result: CallToolResult }).result;

describe.skipIf(skip !== undefined)('stateless HTTP on Redis', () => {
  let redis: RedisServer;
  let env: Env;
  const servers: Spawned[] = [];
  const urls: string[] = [];

  beforeAll(async () => {
    ensureBuilt();
    redis = await startRedis();
    env = await startEnv();
    const dir = tmpDir('keap-stateless-');
    const policy = writeJson(dir, 'policy.json', {
      agents: { ops: { token_sha256: sha(AGENT_TOKEN), grants: { '*': 'write' } } },
    });
    for (let i = 0; i < 2; i++) {
      const s = spawnKeapMcp(
        ['--http', '--stateless', '--port', '0'],
        {
          KEAP_API_KEY: 'test-key',
          KEAP_API_BASE_URL: env.sb.baseUrl,
          KEAP_POLICY: policy,
          KEAP_MCP_STATE_DIR: `${dir}/r${i}`,
          KEAP_MCP_REDIS_URL: redis.url,
          KEAP_MCP_LOG_LEVEL: 'warn',
        },
        dir,
      );
      servers.push(s);
      urls.push(
        (await s.waitFor(/MCP over Streamable HTTP at (http:\/\/127\.0\.0\.1:\d+\/mcp)/))[1] as string,
      );
    }
  }, 120_000);

  afterAll(async () => {
    for (const s of servers) await s.stop();
    await env?.close();
    await redis?.stop();
  });

  it('no session ids; a request goes to either replica; a token from one confirms on the other, once', async () => {
    const [a, b] = urls as [string, string];
    const init = await rpc(a, 'initialize', {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: { name: 'lb-client', version: '1' },
    });
    expect(init.status).toBe(200);
    expect(init.session).toBeNull();
    // The next requests go to the other replica, without initializing there.
    const list = await rpc(b, 'tools/list', {});
    expect(list.status).toBe(200);
    expect((list.body as { result: { tools: unknown[] } }).result.tools.length).toBeGreaterThan(10);
    const created = result(
      (
        await rpc(b, 'tools/call', {
          name: 'create_contact',
          arguments: {
            given_name: 'Sam',
            family_name: 'Stateless',
            email_addresses: [{ email: 'sam.sl@example.com', field: 'EMAIL1' }],
          },
        })
      ).body,
    );
    expect(created.isError, text(created)).toBeFalsy();
    const id = data(created).id as string;
    await resetCounts(env.sb);
    const first = result(
      (await rpc(a, 'tools/call', { name: 'delete_contact', arguments: { contact_id: id } })).body,
    );
    const token = data(first).confirmation_token as string;
    expect(typeof token).toBe('string');
    const second = result(
      (
        await rpc(b, 'tools/call', {
          name: 'delete_contact',
          arguments: { contact_id: id, confirmation_token: token },
        })
      ).body,
    );
    expect(second.isError, text(second)).toBeFalsy();
    const replay = result(
      (
        await rpc(a, 'tools/call', {
          name: 'delete_contact',
          arguments: { contact_id: id, confirmation_token: token },
        })
      ).body,
    );
    expect(replay.isError).toBe(true);
    expect(writes(await counts(env.sb))).toBe(1);
    // No GET stream in stateless mode.
    const get = await fetch(a, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${AGENT_TOKEN}` },
    });
    expect(get.status).toBe(405);
  }, 60_000);
});

describe('Redis unreachable at start', () => {
  it('refuses to start: exit 1, a clear message, the URL without its password', async () => {
    ensureBuilt();
    const dir = tmpDir('keap-redis-down-');
    const s = spawnKeapMcp(
      ['--http', '--port', '0', '--sandbox'],
      { KEAP_MCP_REDIS_URL: 'redis://app:very-secret-pw@127.0.0.1:1/0', KEAP_MCP_STATE_DIR: dir },
      dir,
    );
    const e = await s.exited;
    expect(e.code).toBe(1);
    expect(s.stderr()).toMatch(/cannot reach Redis at redis:\/\/app:\*\*\*@127\.0\.0\.1:1\/0/);
    expect(s.stderr()).toMatch(/does not start/);
    expect(s.stderr()).not.toContain('very-secret-pw');
  }, 30_000);
});
