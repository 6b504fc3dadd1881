/**
 * One tools/list per agent view (policy × agent), shared by every session of that agent, over real HTTP with the
 * SDK client: the same result for each session (one object on the server), another for another agent; a policy
 * reload (a new policy object, then policyChanged) gives new lists, tells the open sessions whose list changed
 * (`notifications/tools/list_changed`), and calls follow the new policy; closed sessions are released.
 */
import { createHash } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type CallToolResult, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeapClientApi } from '../../src/keap/types.js';
import { silentLogger } from '../../src/logger.js';
import { parsePolicy } from '../../src/safety/index.js';
import { Policy } from '../../src/safety/policy.js';
import type { PolicyApi, SafetyApi } from '../../src/safety/types.js';
import { toolRegistryFor } from '../../src/server.js';
import type { RunningHttp } from '../../src/transports/http.js';
import { type HttpFixture, startHttpFixture } from '../helpers/http-server.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const TOKENS = { a: 'agent-a-token-0123456789', b: 'agent-b-token-9876543210' } as const;

function policyText(aGrant: 'read' | 'write'): string {
  return JSON.stringify({
    agents: {
      a: { token_sha256: sha(TOKENS.a), grants: { '*': 'read', contacts: aGrant } },
      b: { token_sha256: sha(TOKENS.b), grants: { '*': 'read' } },
    },
  });
}

async function until(what: string, check: () => boolean, limitMs = 15_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let fx: HttpFixture;
let keap: KeapClientApi;
/** The safety layer as a reload would leave it: the same object, a new policy. */
let live: { -readonly [K in keyof SafetyApi]: SafetyApi[K] };
let http: RunningHttp;

beforeAll(async () => {
  fx = await startHttpFixture({
    policy: policyText('write'),
    auditToFile: false,
    // Sessions serve `live` (read when each session starts), set below.
    makeServer: (agent, make) => make(agent, { safety: live }),
  });
  live = { ...fx.safety };
  ({ keap, http } = fx);
});

afterAll(async () => {
  await fx?.close();
});

interface Session {
  readonly client: Client;
  readonly transport: StreamableHTTPClientTransport;
  /** list_changed notifications received. */
  changed: number;
}

async function connect(agent: keyof typeof TOKENS): Promise<Session> {
  const client = new Client({ name: 'shared-list-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(http.url), {
    requestInit: { headers: { Authorization: `Bearer ${TOKENS[agent]}` } },
  });
  const s: Session = { client, transport, changed: 0 };
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    s.changed++;
  });
  await client.connect(transport);
  return s;
}

async function end(s: Session): Promise<void> {
  await s.transport.terminateSession();
  await s.client.close();
}

const registry = () => toolRegistryFor({ client: keap, safety: live, logger: silentLogger });

describe('tools/list shared per agent view', () => {
  it('every session of an agent gets the same list (one result object on the server); another agent its own', async () => {
    const reg = registry();
    // The same registry for every session of these options: the catalog is not rebuilt per session.
    expect(toolRegistryFor({ client: keap, safety: live, logger: silentLogger })).toBe(reg);
    const sessions = [await connect('a'), await connect('a'), await connect('a'), await connect('b')];
    try {
      const lists = await Promise.all(sessions.map((s) => s.client.listTools()));
      const [a1, a2, a3, b1] = lists.map((l) => l.tools);
      expect(a1?.length).toBeGreaterThan(30);
      expect(a2).toEqual(a1);
      expect(a3).toEqual(a1);
      // What the sessions got is the registry's ready result, and that is one object per agent view.
      expect(a1).toEqual(reg.list('a').tools);
      expect(reg.list('a')).toBe(reg.list('a'));
      expect(Object.isFrozen(reg.list('a'))).toBe(true);
      const names = (t: typeof a1) => (t ?? []).map((x) => x.name);
      expect(names(a1)).toContain('create_contact');
      expect(names(b1)).not.toContain('create_contact');
      expect(b1).toEqual(reg.list('b').tools);
      expect(reg.list('b')).not.toBe(reg.list('a'));
      // Both agents list tags the same way: the entry is one object, shared by the two views.
      const entry = (agent: string) => reg.list(agent).tools.find((t) => t.name === 'list_tags');
      expect(entry('a')).toBe(entry('b'));
      expect(reg.openSessions()).toBe(4);
    } finally {
      for (const s of sessions) await end(s);
    }
    await until('closed sessions released', () => registry().openSessions() === 0);
  });

  it('a policy reload: new lists, list_changed to the sessions whose list changed, calls follow the new policy', async () => {
    const reg = registry();
    const a1 = await connect('a');
    const a2 = await connect('a');
    const b1 = await connect('b');
    const old = live.policy;
    try {
      const beforeA = reg.list('a');
      const beforeB = reg.list('b');
      expect((await a1.client.listTools()).tools.map((t) => t.name)).toContain('create_contact');

      live.policy = new Policy(parsePolicy(policyText('read')), { readOnly: false }) as PolicyApi;
      // Agent a lost write on contacts (two sessions told); agent b's list is the same (not told).
      expect(await reg.policyChanged()).toBe(2);
      await until('list_changed at both sessions of a', () => a1.changed === 1 && a2.changed === 1);

      const afterA = reg.list('a');
      expect(afterA).not.toBe(beforeA);
      expect(afterA.tools.map((t) => t.name)).not.toContain('create_contact');
      expect(JSON.stringify(reg.list('b'))).toBe(JSON.stringify(beforeB));
      for (const s of [a1, a2]) {
        const names = (await s.client.listTools()).tools.map((t) => t.name);
        expect(names).not.toContain('create_contact');
        expect(names).toContain('list_contacts');
      }
      // The call path follows the new policy too: refused by policy, nothing sent; reads still run.
      const refused = (await a2.client.callTool({
        name: 'create_contact',
        arguments: { given_name: 'Reload' },
      })) as CallToolResult;
      expect(refused.isError).toBe(true);
      expect((refused.structuredContent as { error: { category: string } }).error.category).toBe('policy');
      const read = (await a1.client.callTool({
        name: 'list_contacts',
        arguments: { page_size: 1 },
      })) as CallToolResult;
      expect(read.isError).not.toBe(true);
      expect(b1.changed).toBe(0);
    } finally {
      live.policy = old;
      await reg.policyChanged();
      for (const s of [a1, a2, b1]) await end(s);
    }
    await until('closed sessions released', () => registry().openSessions() === 0);
  });
});
