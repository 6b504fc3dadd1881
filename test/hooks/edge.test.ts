/**
 * The receiver as an operator deploys it: kill -9 right after acknowledgements loses nothing acknowledged;
 * `--http --hooks-only` serves only the receiver (no Keap credential, /mcp 404) behind KEAP_HOOKS_PUBLIC_URL, and
 * the events it stores reach a listener in another process sharing the state directory; the Keap sandbox's real
 * handshake and deliveries reach the inbox; retention from the environment; start-up errors.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { HookEvent } from '../../src/hooks/types.js';
import { startSandbox } from '../../src/sandbox/server.js';
import { ENTRY } from '../console/spawn.js';
import {
  type Answer,
  closeStores,
  deliveryBody,
  ensureBuilt,
  freshIds,
  post,
  type Server,
  startServer,
  storeOf,
  tempDir,
  until,
} from './helpers.js';

const running: Server[] = [];
beforeAll(() => ensureBuilt());
afterAll(async () => {
  closeStores();
  for (const s of running) await s.proc.stop();
});

async function start(
  args: readonly string[],
  dir: string,
  env: Record<string, string> = {},
): Promise<Server> {
  const s = await startServer(args, dir, env);
  running.push(s);
  return s;
}

describe('REST hooks at the edge', () => {
  it('kill -9 right after acknowledgements: after a restart everything acknowledged is there', async () => {
    const dir = tempDir('hooks-kill-');
    const s = await start(['--sandbox'], dir);
    const sub = await storeOf(dir).registry.create({ eventKey: 'contact.add', agent: 'assistant' });
    const url = `${s.origin}/hooks/keap/${sub.receiverId}`;
    const batches = Array.from({ length: 60 }, () => freshIds(25));
    const acked: number[][] = [];
    let killed = false;
    const sends = batches.map((ids) =>
      post(url, { body: deliveryBody('contact.add', ids) }).then(
        (r: Answer) => {
          if (r.status !== 200) return;
          acked.push(ids);
          // The moment the 20th acknowledgement arrives, the server dies (others still in flight).
          if (acked.length === 20 && !killed) {
            killed = true;
            s.proc.child.kill('SIGKILL');
          }
        },
        () => undefined,
      ),
    );
    await Promise.all(sends);
    const exit = await s.proc.exited;
    expect(exit.signal).toBe('SIGKILL');
    expect(acked.length).toBeGreaterThanOrEqual(20);
    const ackedIds = acked.flat().map(String);

    const again = await start(['--sandbox'], dir);
    const stored = new Set(
      (await storeOf(dir).inbox.list({ limit: 1000 })).events.map((e: HookEvent) => e.objectId),
    );
    let page = await storeOf(dir).inbox.list({ limit: 1000 });
    while (page.next !== undefined) {
      page = await storeOf(dir).inbox.list({ limit: 1000, after: page.next });
      for (const e of page.events) stored.add(e.objectId);
    }
    expect(ackedIds.filter((id) => !stored.has(id))).toEqual([]);
    // Keap's retries of the acknowledged deliveries are duplicates at the restarted server.
    for (const ids of acked.slice(0, 5)) {
      const r = await post(`${again.origin}/hooks/keap/${sub.receiverId}`, {
        body: deliveryBody('contact.add', ids),
      });
      expect(r.body).toEqual({ ok: true, stored: 0, duplicates: 25 });
    }
  });

  it('--hooks-only serves only the receiver, at KEAP_HOOKS_PUBLIC_URL, and another process sees its events', async () => {
    const dir = tempDir('hooks-only-');
    const s = await start(['--hooks-only'], dir, {
      KEAP_HOOKS_PUBLIC_URL: 'https://hooks.example.test/keap/',
    });
    // No Keap credential was needed; the printed URL is the public one.
    expect(s.proc.stderr()).toContain('https://hooks.example.test/keap/hooks/keap/<receiver id>');
    const mcp = await post(`${s.origin}/mcp`, { body: '{}' });
    expect(mcp.status).toBe(404);
    expect((await post(`${s.origin}/console`, { method: 'GET' })).status).toBe(404);
    expect((await post(`${s.origin}/healthz`, { method: 'GET' })).status).toBe(200);

    // The "stdio server" beside it: the same state directory, a listener on the inbox.
    const reader = storeOf(dir);
    const seen: HookEvent[] = [];
    const off = reader.inbox.onStored((events) => seen.push(...events));
    const sub = await reader.registry.create({ eventKey: 'contact.add', agent: 'assistant' });
    const ids = freshIds(3);
    // Through the reverse proxy: Host is the public name.
    const r = await post(`${s.origin}/hooks/keap/${sub.receiverId}`, {
      body: deliveryBody('contact.add', ids),
      headers: { host: 'hooks.example.test' },
    });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ok: true, stored: 3, duplicates: 0 });
    await until('the listener saw the events', () => seen.length === 3);
    expect(seen.map((e) => e.objectId)).toEqual(ids.map(String));
    off();
    // Other hosts stay refused.
    const foreign = await post(`${s.origin}/hooks/keap/${sub.receiverId}`, {
      body: deliveryBody('contact.add', freshIds(1)),
      headers: { host: 'other.example.test' },
    });
    expect(foreign.status).toBe(403);
  });

  it('the Keap sandbox verifies a hook at the receiver and its deliveries reach the inbox', async () => {
    const dir = tempDir('hooks-sb-');
    const s = await start(['--hooks-only'], dir);
    const key = 'hooks-edge-sandbox-key';
    const sb = await startSandbox({ port: 0, apiKeys: [key], hookDelayMs: 50, hookRetryDelaysMs: [50] });
    try {
      const store = storeOf(dir);
      const sub = await store.registry.create({ eventKey: 'contact.add', agent: 'assistant' });
      const api = async (method: string, path: string, body: unknown) => {
        const res = await fetch(`${sb.baseUrl}${path}`, {
          method,
          headers: { 'content-type': 'application/json', 'x-keap-api-key': key },
          body: JSON.stringify(body),
        });
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      };
      const hook = await api('POST', '/v1/hooks', {
        eventKey: 'contact.add',
        hookUrl: `${s.origin}/hooks/keap/${sub.receiverId}`,
      });
      expect(hook.status).toBe(200);
      expect(hook.body.status).toBe('Verified');
      expect((await store.registry.get(sub.receiverId))?.verifiedAt).toBeTypeOf('number');
      const made: string[] = [];
      for (let i = 0; i < 3; i++) {
        const c = await api('POST', '/v2/contacts', {
          given_name: 'Hooked',
          family_name: `N${i}`,
          email_addresses: [{ email: `hooked.${i}.${Date.now()}@example.com`, field: 'EMAIL1' }],
        });
        expect(c.status).toBe(201);
        made.push(String(c.body.id));
      }
      await until('the sandbox delivered', async () => {
        const evs = (await store.inbox.list({ limit: 100, eventKey: 'contact.add' })).events;
        return made.every((id) => evs.some((e) => e.objectId === id));
      });
      const evs = (await store.inbox.list({ limit: 100 })).events;
      expect(evs.every((e) => e.receiverId === sub.receiverId && e.objectType === 'contact')).toBe(true);
    } finally {
      await sb.close();
    }
  });

  it('retention from the environment drops the oldest events and counts them', async () => {
    const dir = tempDir('hooks-ret-');
    const s = await start(['--sandbox'], dir, { KEAP_HOOKS_RETENTION_EVENTS: '5' });
    const sub = await storeOf(dir).registry.create({ eventKey: 'contact.add', agent: 'assistant' });
    const ids = freshIds(8);
    const url = `${s.origin}/hooks/keap/${sub.receiverId}`;
    expect((await post(url, { body: deliveryBody('contact.add', ids.slice(0, 4)) })).status).toBe(200);
    expect((await post(url, { body: deliveryBody('contact.add', ids.slice(4)) })).status).toBe(200);
    const store = storeOf(dir);
    expect(await store.inbox.stats()).toMatchObject({ stored: 5, dropped: 3 });
    expect((await store.inbox.list({ limit: 10 })).events.map((e) => e.objectId)).toEqual(
      ids.slice(3).map(String),
    );
  });

  it('refuses bad hooks settings at start-up, naming them', () => {
    let err = '';
    try {
      execFileSync(process.execPath, [ENTRY, '--hooks-only'], {
        env: { PATH: process.env.PATH ?? '', HOME: tempDir('hooks-cfg-') },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 20_000,
      });
    } catch (e) {
      expect((e as { status: number }).status).toBe(2);
      err = (e as { stderr: string }).stderr;
    }
    expect(err).toMatch(/--hooks-only .*--http/);
    const load = (env: Record<string, string>) => loadConfig({ http: true, hooksOnly: true }, env);
    expect(() => load({ KEAP_HOOKS_PUBLIC_URL: 'http://hooks.example.test' })).toThrow(
      /KEAP_HOOKS_PUBLIC_URL \(--hooks-public-url\): must use https/,
    );
    expect(() => load({ KEAP_HOOKS_PUBLIC_URL: 'https://hooks.example.test/?a=1' })).toThrow(
      /KEAP_HOOKS_PUBLIC_URL.*without query/,
    );
    expect(() => load({ KEAP_HOOKS_PUBLIC_URL: 'hooks.example.test' })).toThrow(/must be an http\(s\) URL/);
    expect(() => load({ KEAP_HOOKS_RETENTION_DAYS: '0' })).toThrow(
      /KEAP_HOOKS_RETENTION_DAYS: must be an integer 1-3650/,
    );
    expect(() => load({ KEAP_HOOKS_MAX_REQUESTS_PER_MIN: 'x' })).toThrow(/KEAP_HOOKS_MAX_REQUESTS_PER_MIN/);
    const ok = load({
      KEAP_HOOKS_PUBLIC_URL: 'https://hooks.example.test/base/',
      KEAP_HOOKS_RETENTION_DAYS: '2',
      KEAP_HOOKS_RETENTION_EVENTS: '10',
      KEAP_MCP_SANDBOX_STATE_DIR: '~/sb',
    });
    expect(ok.hooks).toEqual({
      only: true,
      publicUrl: 'https://hooks.example.test/base',
      retention: { maxAgeMs: 2 * 86_400_000, maxEvents: 10 },
      ratePerMin: 600,
    });
    expect(ok.sandboxStateDir).toMatch(/\/sb$/);
    expect(ok.sandboxStateDir).not.toContain('~');
    const defaults = loadConfig({ http: true }, {});
    expect(defaults.hooks).toEqual({
      only: false,
      publicUrl: undefined,
      retention: { maxAgeMs: 7 * 86_400_000, maxEvents: 100_000 },
      ratePerMin: 600,
    });
    expect(defaults.sandboxStateDir).toBeUndefined();
  });
});
