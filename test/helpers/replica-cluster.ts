/**
 * Scale-out set-up shared by test/scale/* and bench/replicas.bench-test.ts: one throw-away Redis, the sandbox as a
 * process of its own (`keap-mcp sandbox --control`: its clock and event loop are not the test's, as Keap's are
 * not the replicas'), with Keap OAuth (its default client), `auth login` storing the pair in Redis, then N real server processes
 * (`node dist/src/index.js --http`) on that Redis, each with its own state dir and audit log, and one MCP client
 * (Streamable HTTP, bearer token) per replica.
 *
 *   const cl = await startCluster({ replicas: 3, limits: NO_LIMITS });
 *   await cl.call(i, 'list_tags', {});       // on replica i % replicas
 *   await cl.close();
 */
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { runAuthCli } from '../../src/auth/cli.js';
import type { StoredTokens } from '../../src/auth/token-store.js';
import type { SandboxLimits } from '../../src/sandbox/core/types.js';
import { openState } from '../../src/state/index.js';
import { approveInSandbox, control, sandboxOAuth } from '../client/helpers.js';
import { ensureBuilt, type Spawned, spawnKeapMcp } from '../console/spawn.js';
import { sha, tmpDir, writeJson } from '../safety/helpers.js';
import { type RedisServer, startRedis } from './redis-server.js';

export const CLIENT_ID = 'sandbox-client';
/** The standalone sandbox's OAuth client (`keap-mcp sandbox` has no option for another). */
export const CLIENT_SECRET = 'sandbox-secret';
export const AGENT_TOKEN = 'replica-agent-token-0f3a';
export interface RunningSandbox {
  /** http://127.0.0.1:<port> */
  readonly baseUrl: string;
  close(): Promise<void>;
}

/** `keap-mcp sandbox --port 0 --control` as a child process; its base URL is the first line it prints. */
async function spawnSandbox(home: string): Promise<RunningSandbox> {
  const proc = spawnKeapMcp(['sandbox', '--port', '0', '--control'], {}, home);
  const baseUrl = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`sandbox did not start: ${proc.stderr()}`)), 20_000);
    proc.child.stdout?.on('data', (b: Buffer) => {
      out += b.toString('utf8');
      const m = /^(http:\/\/127\.0\.0\.1:\d+)\s*$/m.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    });
    void proc.exited.then(() => reject(new Error(`sandbox exited: ${proc.stderr()}`)));
  });
  return { baseUrl, close: async () => void (await proc.stop()) };
}

export interface ClusterOptions {
  readonly replicas: number;
  /** Sandbox limits (default: Keap's). */
  readonly limits?: Partial<SandboxLimits> | undefined;
  /** Extra sandbox options (hook timing). */
  readonly sandbox?: { hookDelayMs?: number; hookRetryDelaysMs?: number[] } | undefined;
  /** Extra environment for every replica. */
  readonly env?: Record<string, string> | undefined;
  /** The operator console's token (policy operator_token_sha256): confirmations become console approvals. */
  readonly operatorToken?: string | undefined;
}

export interface Replica {
  readonly proc: Spawned;
  /** http://127.0.0.1:<port>/mcp */
  readonly url: string;
  /** http://127.0.0.1:<port> */
  readonly origin: string;
  readonly auditLog: string;
  readonly client: Client;
}

export interface Cluster {
  readonly redis: RedisServer;
  readonly sb: RunningSandbox;
  readonly dir: string;
  readonly replicas: Replica[];
  /** A tool call on replica `i % replicas` (its own client). */
  call(i: number, name: string, args: Record<string, unknown>): Promise<CallToolResult>;
  /** Another MCP session on replica i (closed by close()). */
  connect(i: number, setup?: (c: Client) => void): Promise<Client>;
  pairInRedis(): Promise<StoredTokens | undefined>;
  putPair(t: StoredTokens): Promise<void>;
  close(): Promise<void>;
}

export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  ensureBuilt();
  const redis = await startRedis();
  const dir = tmpDir('keap-replicas-');
  const sb = await spawnSandbox(dir);
  const extra: Client[] = [];
  const replicas: Replica[] = [];

  const close = async (): Promise<void> => {
    for (const c of [...replicas.map((r) => r.client), ...extra]) await c.close().catch(() => undefined);
    for (const r of replicas) await r.proc.stop();
    await sb.close();
    await redis.stop();
  };

  try {
    await control(sb.baseUrl, 'POST', '/__sandbox/config', {
      accessTokenTtlSec: 3600,
      ...(opts.limits !== undefined ? { limits: opts.limits } : {}),
      ...(opts.sandbox ?? {}),
    });
    // auth login stores the pair in Redis (KEAP_MCP_REDIS_URL), where every replica reads it.
    const out: string[] = [];
    const code = await runAuthCli(['login'], {
      config: {
        oauth: sandboxOAuth(sb.baseUrl, CLIENT_ID, CLIENT_SECRET),
        apiKey: undefined,
        stateDir: tmpDir('keap-replica-login-'),
        redisUrl: redis.url,
      },
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => out.push(s) },
      openBrowser: async (url) => void (await approveInSandbox(url)),
    });
    if (code !== 0) throw new Error(`auth login failed: ${out.join('')}`);

    const policy = writeJson(dir, 'policy.json', {
      ...(opts.operatorToken !== undefined ? { operator_token_sha256: sha(opts.operatorToken) } : {}),
      agents: { ops: { token_sha256: sha(AGENT_TOKEN), grants: { '*': 'write' } } },
    });
    const procs: { proc: Spawned; auditLog: string }[] = [];
    for (let i = 0; i < opts.replicas; i++) {
      const auditLog = join(dir, `audit-r${i}.jsonl`);
      procs.push({
        auditLog,
        proc: spawnKeapMcp(
          ['--http', '--port', '0'],
          {
            KEAP_API_BASE_URL: sb.baseUrl,
            KEAP_OAUTH_CLIENT_ID: CLIENT_ID,
            KEAP_OAUTH_CLIENT_SECRET: CLIENT_SECRET,
            KEAP_OAUTH_TOKEN_URL: `${sb.baseUrl}/token`,
            KEAP_OAUTH_AUTHORIZE_URL: `${sb.baseUrl}/app/oauth/authorize`,
            KEAP_POLICY: policy,
            KEAP_MCP_STATE_DIR: join(dir, `r${i}`),
            KEAP_AUDIT_LOG: auditLog,
            KEAP_MCP_REDIS_URL: redis.url,
            KEAP_MCP_LOG_LEVEL: 'warn',
            ...(opts.env ?? {}),
          },
          dir,
        ),
      });
    }
    for (const p of procs) {
      const url = (
        await p.proc.waitFor(/MCP over Streamable HTTP at (http:\/\/127\.0\.0\.1:\d+\/mcp)/)
      )[1] as string;
      const client = new Client({ name: 'replica-test', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(url), {
          requestInit: { headers: { authorization: `Bearer ${AGENT_TOKEN}` } },
        }),
      );
      replicas.push({ proc: p.proc, url, origin: new URL(url).origin, auditLog: p.auditLog, client });
    }
    // Processes spawned but not connected (a failure above) are stopped too.
    for (const p of procs)
      if (!replicas.some((r) => r.proc === p.proc)) void p.proc.stop().catch(() => undefined);
  } catch (e) {
    await close().catch(() => undefined);
    throw e;
  }

  const n = opts.replicas;
  return {
    redis,
    sb,
    dir,
    replicas,
    call: async (i, name, args) =>
      (await replicas[i % n]?.client.callTool({ name, arguments: args }, undefined, {
        timeout: 120_000,
      })) as CallToolResult,
    async connect(i, setup) {
      const r = replicas[i % n];
      if (r === undefined) throw new Error(`no replica ${i}`);
      const c = new Client({ name: 'replica-test-extra', version: '1.0.0' });
      setup?.(c);
      await c.connect(
        new StreamableHTTPClientTransport(new URL(r.url), {
          requestInit: { headers: { authorization: `Bearer ${AGENT_TOKEN}` } },
        }),
      );
      extra.push(c);
      return c;
    },
    async pairInRedis() {
      const s = await openState({ stateDir: undefined, redisUrl: redis.url });
      try {
        return await s.tokens.load();
      } finally {
        await s.close();
      }
    },
    async putPair(t) {
      const s = await openState({ stateDir: undefined, redisUrl: redis.url });
      try {
        await s.tokens.save(t);
      } finally {
        await s.close();
      }
    },
    close,
  };
}
