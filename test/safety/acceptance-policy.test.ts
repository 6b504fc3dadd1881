/** Acceptance: the policy matrix over the whole catalog, through a real MCP client; HTTP agents by token. */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { RESOURCES } from '../../src/registry/define.js';
import { createSafety } from '../../src/safety/index.js';
import type { Grant } from '../../src/safety/types.js';
import { createServer } from '../../src/server.js';
import { openStateDb } from '../../src/state/db.js';
import { startHttp } from '../../src/transports/http.js';
import { ALL_TOOLS } from '../../tools/index.js';
import { INITIALIZE_BODY, MCP_POST_HEADERS } from '../helpers/mcp-http.js';
import { connect, counts, type Env, resetCounts, startEnv, text } from './harness.js';
import { sha, tmpDir, writeJson } from './helpers.js';

const RANK: Record<Grant, number> = { none: 0, read: 1, write: 2 };
const LEVELS: Grant[] = ['none', 'read', 'write'];
const REFUSED = /not allowed by server policy/i;

let env: Env;
beforeAll(async () => {
  env = await startEnv();
});
afterAll(async () => {
  await env.close();
});

describe('policy matrix: 59 tools × {none, read, write}', () => {
  it('the catalog has 59 tools', () => {
    expect(ALL_TOOLS).toHaveLength(59);
  });

  for (const level of LEVELS) {
    it(`per resource at ${level}: listed exactly when allowed; others refused with zero Keap requests`, async () => {
      await resetCounts(env.sb);
      for (const resource of RESOURCES) {
        const conn = await connect(env, { policy: { agents: { bot: { grants: { [resource]: level } } } } });
        const expected = ALL_TOOLS.filter((t) => t.resource === resource && RANK[level] >= RANK[t.access])
          .map((t) => t.name)
          .sort();
        expect(await conn.listNames(), `${resource}=${level}`).toEqual(expected);
        for (const t of ALL_TOOLS) {
          const allowed = expected.includes(t.name);
          if (!allowed) {
            const r = await conn.call(t.name, {});
            expect(r.isError, t.name).toBe(true);
            expect(text(r), t.name).toMatch(REFUSED);
          } else if (t.access === 'write') {
            // allowed: not refused (dry run sends nothing)
            const r = await conn.call(t.name, { dry_run: true });
            expect(text(r), t.name).not.toMatch(REFUSED);
          }
        }
        const bogus = await conn.call('no_such_tool', {});
        expect(bogus.isError).toBe(true);
        await conn.close();
      }
      expect((await counts(env.sb)).total).toBe(0);
    });
  }

  it('"*" at each level; allowed read calls reach Keap, refused ones never do', async () => {
    for (const level of LEVELS) {
      const conn = await connect(env, { policy: { agents: { bot: { grants: { '*': level } } } } });
      const expected = ALL_TOOLS.filter((t) => RANK[level] >= RANK[t.access]).map((t) => t.name);
      expect(await conn.listNames()).toEqual([...expected].sort());
      if (level === 'read') {
        await resetCounts(env.sb);
        const r = await conn.call('list_contacts', {});
        expect(r.isError).toBeFalsy();
        expect((await counts(env.sb)).total).toBe(1);
        await resetCounts(env.sb);
        const w = await conn.call('create_contact', {
          given_name: 'X',
          email_addresses: [{ email: 'x@example.com', field: 'EMAIL1' }],
        });
        expect(text(w)).toMatch(REFUSED);
        expect((await counts(env.sb)).total).toBe(0);
      }
      await conn.close();
    }
  });

  it('deny_tools and --read-only apply to listing and calls', async () => {
    const conn = await connect(env, {
      policy: { agents: { bot: { grants: { '*': 'write' }, deny_tools: ['delete_contact', 'list_users'] } } },
      readOnly: true,
    });
    const names = await conn.listNames();
    expect(names).toEqual(
      ALL_TOOLS.filter((t) => t.access === 'read' && t.name !== 'list_users')
        .map((t) => t.name)
        .sort(),
    );
    await resetCounts(env.sb);
    expect(text(await conn.call('list_users', {}))).toMatch(/deny list/);
    expect(text(await conn.call('delete_contact', { contact_id: '1' }))).toMatch(REFUSED);
    expect(text(await conn.call('update_contact', { contact_id: '1' }))).toMatch(/read-only/);
    expect((await counts(env.sb)).total).toBe(0);
    await conn.close();
  });

  it('no policy: the default agent reads everything and writes nothing (outside the sandbox)', async () => {
    const conn = await connect(env, { sandbox: false });
    expect(await conn.listNames()).toEqual(
      ALL_TOOLS.filter((t) => t.access === 'read')
        .map((t) => t.name)
        .sort(),
    );
    await conn.close();
    const sandboxed = await connect(env, { sandbox: true });
    expect(await sandboxed.listNames()).toHaveLength(ALL_TOOLS.length);
    await sandboxed.close();
  });
});

describe('HTTP: agents by bearer token', () => {
  it('two agents see different lists; no or wrong token → 401', async () => {
    const file = writeJson(tmpDir(), 'policy.json', {
      default_agent: 'sales',
      agents: {
        sales: { token_sha256: sha('token-sales'), grants: { contacts: 'write', tags: 'read' } },
        books: { token_sha256: sha('token-books'), grants: { orders: 'read', payments: 'read' } },
      },
    });
    const safety = createSafety({
      policyFile: file,
      readOnly: false,
      sandbox: true,
      db: openStateDb(undefined),
      logger: silentLogger,
    });
    const http = await startHttp({
      host: '127.0.0.1',
      port: 0,
      policy: safety.policy,
      logger: silentLogger,
      makeServer: (agent) =>
        createServer({ agent, client: env.keap, safety, logger: silentLogger, sandbox: true }),
    });
    try {
      const list = async (token: string) => {
        const client = new Client({ name: 't', version: '1' });
        await client.connect(
          new StreamableHTTPClientTransport(new URL(http.url), {
            requestInit: { headers: { authorization: `Bearer ${token}` } },
          }),
        );
        const catalog = new Set(ALL_TOOLS.map((t) => t.name));
        const names = (await client.listTools()).tools
          .map((t) => t.name)
          .filter((n) => catalog.has(n))
          .sort();
        const refused = await client.callTool({ name: 'list_orders', arguments: {} });
        await client.close();
        return { names, refused };
      };
      const sales = await list('token-sales');
      const books = await list('token-books');
      const pick = (f: (t: (typeof ALL_TOOLS)[number]) => boolean) =>
        ALL_TOOLS.filter(f)
          .map((t) => t.name)
          .sort();
      expect(sales.names).toEqual(
        pick((t) => t.resource === 'contacts' || (t.resource === 'tags' && t.access === 'read')),
      );
      expect(books.names).toEqual(
        pick((t) => (t.resource === 'orders' || t.resource === 'payments') && t.access === 'read'),
      );
      expect(text(sales.refused as never)).toMatch(REFUSED);
      expect((books.refused as { isError?: boolean }).isError).toBeFalsy();

      const variants: Record<string, string>[] = [
        {},
        { authorization: 'Bearer wrong' },
        { authorization: 'Basic dG9rZW4tc2FsZXM=' },
      ];
      for (const headers of variants) {
        const r = await fetch(http.url, {
          method: 'POST',
          headers: { ...MCP_POST_HEADERS, ...headers },
          body: INITIALIZE_BODY,
        });
        expect(r.status).toBe(401);
      }
    } finally {
      await http.close();
    }
  });
});
