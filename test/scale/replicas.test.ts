/**
 * Scale-out end to end: three real server processes (`node dist/src/index.js --http`) on one throw-away Redis,
 * against the sandbox over loopback, with Keap OAuth; real MCP clients over Streamable HTTP, one per replica.
 * - the OAuth pair stored by `auth login` in Redis; expired, 60 concurrent calls over the replicas → exactly one
 *   refresh at the token endpoint, no failure;
 * - the same idempotency key sent to two replicas at once → one Keap write;
 * - a confirmation token issued by one replica is accepted by another, once; a third refuses the replay;
 * - Redis stopped mid-run → writes fail with the clear, retryable error and nothing is sent; Redis back → the same
 *   processes serve again.
 * Skipped with a printed reason when redis-server is missing, unless KEAP_MCP_REQUIRE_REDIS=1.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAuthCli } from '../../src/auth/cli.js';
import type { StoredTokens } from '../../src/auth/token-store.js';
import { NO_LIMITS, startSandbox } from '../../src/sandbox/server.js';
import { openState } from '../../src/state/index.js';
import { tokenPosts } from '../client/helpers.js';
import { ensureBuilt, type Spawned, spawnKeapMcp } from '../console/spawn.js';
import { type RedisServer, redisSkipReason, startRedis } from '../helpers/redis-server.js';
import { counts, data, resetCounts, text, writes } from '../safety/harness.js';
import { sha, tmpDir, writeJson } from '../safety/helpers.js';

const skip = redisSkipReason();
const CLIENT_ID = 'sandbox-client';
const CLIENT_SECRET = 'sandbox-secret-for-replica-tests';
const AGENT_TOKEN = 'replica-agent-token-0f3a';
const REPLICAS = 3;
type RunningSandbox = Awaited<ReturnType<typeof startSandbox>>;

describe.skipIf(skip !== undefined)('three replicas on one Redis', () => {
  let redis: RedisServer;
  let sb: RunningSandbox;
  const servers: Spawned[] = [];
  const clients: Client[] = [];

  const oauth = () => ({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    authorizeUrl: `${sb.baseUrl}/app/oauth/authorize`,
    tokenUrl: `${sb.baseUrl}/token`,
  });

  async function pairInRedis(): Promise<StoredTokens | undefined> {
    const s = await openState({ stateDir: undefined, redisUrl: redis.url });
    try {
      return await s.tokens.load();
    } finally {
      await s.close();
    }
  }

  async function putPair(t: StoredTokens): Promise<void> {
    const s = await openState({ stateDir: undefined, redisUrl: redis.url });
    await s.tokens.save(t);
    await s.close();
  }

  const call = async (i: number, name: string, args: Record<string, unknown>) =>
    (await clients[i % REPLICAS]?.callTool({ name, arguments: args }, undefined, {
      timeout: 60_000,
    })) as CallToolResult;

  beforeAll(async () => {
    ensureBuilt();
    redis = await startRedis();
    sb = await startSandbox({
      port: 0,
      control: true,
      limits: NO_LIMITS,
      oauthClients: [{ id: CLIENT_ID, secret: CLIENT_SECRET }],
      accessTokenTtlSec: 3600,
    });
    // auth login stores the pair in Redis (KEAP_MCP_REDIS_URL), where every replica reads it.
    const out: string[] = [];
    const code = await runAuthCli(['login'], {
      config: {
        oauth: oauth(),
        apiKey: undefined,
        stateDir: tmpDir('keap-replica-login-'),
        redisUrl: redis.url,
      },
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => out.push(s) },
      openBrowser: async (url) => {
        const r = await fetch(url, { redirect: 'manual' });
        const loc = r.headers.get('location');
        if (loc === null) throw new Error(`authorize answered ${r.status}`);
        await fetch(loc);
      },
    });
    expect(code, out.join('')).toBe(0);
    expect(await pairInRedis()).toBeDefined();

    const dir = tmpDir('keap-replicas-');
    const policy = writeJson(dir, 'policy.json', {
      agents: { ops: { token_sha256: sha(AGENT_TOKEN), grants: { '*': 'write' } } },
    });
    for (let i = 0; i < REPLICAS; i++) {
      servers.push(
        spawnKeapMcp(
          ['--http', '--port', '0'],
          {
            KEAP_API_BASE_URL: sb.baseUrl,
            KEAP_OAUTH_CLIENT_ID: CLIENT_ID,
            KEAP_OAUTH_CLIENT_SECRET: CLIENT_SECRET,
            KEAP_OAUTH_TOKEN_URL: `${sb.baseUrl}/token`,
            KEAP_OAUTH_AUTHORIZE_URL: `${sb.baseUrl}/app/oauth/authorize`,
            KEAP_POLICY: policy,
            KEAP_MCP_STATE_DIR: `${dir}/r${i}`,
            KEAP_MCP_REDIS_URL: redis.url,
            KEAP_MCP_LOG_LEVEL: 'warn',
          },
          dir,
        ),
      );
    }
    for (const s of servers) {
      const url = (
        await s.waitFor(/MCP over Streamable HTTP at (http:\/\/127\.0\.0\.1:\d+\/mcp)/)
      )[1] as string;
      const c = new Client({ name: 'replica-test', version: '1.0.0' });
      await c.connect(
        new StreamableHTTPClientTransport(new URL(url), {
          requestInit: { headers: { authorization: `Bearer ${AGENT_TOKEN}` } },
        }),
      );
      clients.push(c);
    }
  }, 120_000);

  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    for (const s of servers) await s.stop();
    await sb?.close();
    await redis?.stop();
  });

  it('expired access token, 60 concurrent calls over 3 replicas → exactly 1 refresh, every call succeeds', async () => {
    const pair = await pairInRedis();
    if (pair === undefined) throw new Error('no pair');
    await putPair({ ...pair, expiresAt: Date.now() - 1000 });
    const before = await tokenPosts(sb.baseUrl);
    const rs = await Promise.all(Array.from({ length: 60 }, (_, i) => call(i, 'list_tags', {})));
    const failed = rs.filter((r) => r.isError);
    expect(failed.map(text)).toEqual([]);
    expect((await tokenPosts(sb.baseUrl)) - before).toBe(1);
    const after = await pairInRedis();
    expect(after?.refreshToken).not.toBe(pair.refreshToken);
    expect(after?.expiresAt).toBeGreaterThan(Date.now());
  }, 120_000);

  it('the same idempotency key sent to two replicas at once → one Keap write', async () => {
    await resetCounts(sb);
    const args = {
      given_name: 'Ida',
      family_name: 'Replica',
      email_addresses: [{ email: 'ida.replica@example.com', field: 'EMAIL1' }],
      idempotency_key: 'replica-key-1',
    };
    const [a, b] = await Promise.all([call(0, 'create_contact', args), call(1, 'create_contact', args)]);
    expect(writes(await counts(sb))).toBe(1);
    const ok = [a, b].filter((r) => !r.isError);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    // The loser either replays the stored result or says the first call is still in flight (outcome unknown).
    for (const r of [a, b].filter((x) => x.isError)) expect(text(r)).toMatch(/did not finish|outcome/i);
    // A later repeat on the third replica replays without writing.
    const c = await call(2, 'create_contact', args);
    expect(c.isError, text(c)).toBeFalsy();
    expect(data(c).idempotent_replay).toBe(true);
    expect(writes(await counts(sb))).toBe(1);
  }, 60_000);

  it('a confirmation token issued by one replica confirms on another, once; the third refuses it', async () => {
    const created = await call(0, 'create_contact', {
      given_name: 'Del',
      family_name: 'Replica',
      email_addresses: [{ email: 'del.replica@example.com', field: 'EMAIL1' }],
    });
    expect(created.isError, text(created)).toBeFalsy();
    const id = data(created).id as string | number;
    await resetCounts(sb);
    const first = await call(0, 'delete_contact', { contact_id: id });
    expect(first.isError, text(first)).toBeFalsy();
    const token = data(first).confirmation_token as string;
    expect(typeof token).toBe('string');
    const second = await call(1, 'delete_contact', { contact_id: id, confirmation_token: token });
    expect(second.isError, text(second)).toBeFalsy();
    const third = await call(2, 'delete_contact', { contact_id: id, confirmation_token: token });
    expect(third.isError).toBe(true);
    expect(text(third)).toMatch(/already used/);
    expect(writes(await counts(sb))).toBe(1);
  }, 60_000);

  it('Redis stopped mid-run: writes refused with a clear retryable error, nothing sent; back → served again without a restart', async () => {
    const pair = await pairInRedis();
    if (pair === undefined) throw new Error('no pair');
    await resetCounts(sb);
    await redis.stop();
    const args = {
      given_name: 'Ola',
      family_name: 'Outage',
      email_addresses: [{ email: 'ola.outage@example.com', field: 'EMAIL1' }],
    };
    const down = await Promise.all([0, 1, 2].map((i) => call(i, 'create_contact', args)));
    for (const r of down) {
      expect(r.isError).toBe(true);
      expect(text(r)).toMatch(/Redis/);
      expect(text(r)).toMatch(/unavailable/);
      expect(text(r)).toMatch(/retry/i);
    }
    // Reads are refused too (KEAP_MCP_REDIS_READS_WHEN_DOWN not set).
    expect((await call(0, 'list_tags', {})).isError).toBe(true);
    expect(writes(await counts(sb))).toBe(0);
    // Redis is back (the test server keeps no data: the pair is put back, as Redis' persistence would).
    await redis.restart();
    await putPair(pair);
    await expect
      .poll(
        async () =>
          (await call(1, 'create_contact', { ...args, idempotency_key: 'after-outage' })).isError === true,
        {
          timeout: 15_000,
          interval: 500,
        },
      )
      .toBe(false);
    expect(writes(await counts(sb))).toBe(1);
    for (const s of servers) expect(s.child.exitCode).toBeNull();
  }, 60_000);
});
