/** OAuth against the sandbox: auth login (loopback and --manual), persistence, status, refresh race, invalid_grant. */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAuthCli } from '../../src/auth/cli.js';
import { openTokenStore, type StoredTokens, type TokenStore } from '../../src/auth/token-store.js';
import { createKeapClient } from '../../src/keap/client.js';
import { type KeapClientApi, KeapError } from '../../src/keap/types.js';
import { startSandbox } from '../../src/sandbox/server.js';
import { openStateDb, type StateDb } from '../../src/state/db.js';
import {
  approveInSandbox,
  captureLogger,
  control,
  counters,
  findSecrets,
  sandboxOAuth,
  tokenPosts,
} from './helpers.js';

const CLIENT_ID = 'sandbox-client';
const CLIENT_SECRET = 'sandbox-secret-for-keap-mcp-tests';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;
let sb: Sandbox;
let stateDir: string;
const cap = captureLogger();
const outputs: string[] = [];
const seenTokens = new Set<string>();
const dbs: StateDb[] = [];
const clients: KeapClientApi[] = [];

function sink(): { write(s: string): boolean; text(): string } {
  let buf = '';
  return {
    write(s: string) {
      buf += s;
      outputs.push(s);
      return true;
    },
    text: () => buf,
  };
}

function config() {
  return {
    oauth: sandboxOAuth(sb.baseUrl, CLIENT_ID, CLIENT_SECRET),
    apiKey: undefined,
    stateDir,
  };
}

/** Plays the browser: follow the authorize URL (auto-approved) to the loopback callback. */
async function browser(url: string): Promise<void> {
  outputs.push(await approveInSandbox(url));
}

async function login(): Promise<{ code: number; out: string; err: string }> {
  const out = sink();
  const err = sink();
  const code = await runAuthCli(['login'], {
    config: config(),
    stdout: out,
    stderr: err,
    openBrowser: browser,
    logger: cap.logger,
  });
  return { code, out: out.text(), err: err.text() };
}

function store(): TokenStore {
  const db = openStateDb(stateDir);
  dbs.push(db);
  return openTokenStore(db);
}

function remember(t: StoredTokens | undefined): void {
  if (t) {
    seenTokens.add(t.accessToken);
    seenTokens.add(t.refreshToken);
  }
}

function client(tokens: TokenStore): KeapClientApi {
  const c = createKeapClient({
    baseUrl: sb.baseUrl,
    credential: {
      kind: 'oauth',
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      tokenUrl: `${sb.baseUrl}/token`,
      tokens,
    },
    logger: cap.logger,
  });
  clients.push(c);
  return c;
}

const get = (c: KeapClientApi) =>
  c.request({ method: 'GET', path: '/v2/tags', idempotent: true, priority: 'read' });

async function settle<T>(ps: Promise<T>[]): Promise<{ ok: T[]; errors: KeapError[] }> {
  const rs = await Promise.allSettled(ps);
  const ok: T[] = [];
  const errors: KeapError[] = [];
  for (const r of rs) {
    if (r.status === 'fulfilled') {
      ok.push(r.value);
      outputs.push(JSON.stringify(r.value));
    } else {
      errors.push(r.reason as KeapError);
      outputs.push(String((r.reason as Error).message));
    }
  }
  return { ok, errors };
}

beforeAll(async () => {
  sb = await startSandbox({
    port: 0,
    control: true,
    oauthClients: [{ id: CLIENT_ID, secret: CLIENT_SECRET }],
    accessTokenTtlSec: 3600,
  });
  stateDir = join(mkdtempSync(join(tmpdir(), 'keap-mcp-oauth-')), 'state');
});

afterAll(async () => {
  for (const c of clients) await c.close();
  for (const d of dbs) d.close();
  await sb.close();
  rmSync(join(stateDir, '..'), { recursive: true, force: true });
  expect(seenTokens.size).toBeGreaterThan(4);
  expect(findSecrets([cap.text(), ...outputs], [CLIENT_SECRET, ...seenTokens])).toEqual([]);
});

describe('OAuth', () => {
  it('auth login completes via the loopback callback; the state dir is private', async () => {
    const before = await tokenPosts(sb.baseUrl);
    const r = await login();
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('/app/oauth/authorize?');
    expect(r.out).toContain('state=');
    expect(r.out).toContain('Logged in');
    expect((await tokenPosts(sb.baseUrl)) - before).toBe(1);
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(stateDir, 'state.sqlite')).mode & 0o777).toBe(0o600);
    const t = await store().load();
    expect(t?.accessToken).toMatch(/^sbx_at_/);
    for (const f of readdirSync(stateDir))
      expect(`${f} ${(statSync(join(stateDir, f)).mode & 0o777).toString(8)}`).toBe(`${f} 600`);
    remember(t);
  });

  it('tokens persist across a restart (new client, same state dir): no new token request', async () => {
    const before = await tokenPosts(sb.baseUrl);
    const c = client(store());
    const r = await get(c);
    expect(r.status).toBe(200);
    expect((await tokenPosts(sb.baseUrl)) - before).toBe(0);
    await c.close();
  });

  it('auth status shows the credential and expiry but no secret', async () => {
    const out = sink();
    const code = await runAuthCli(['status'], { config: config(), stdout: out, stderr: sink() });
    expect(code).toBe(0);
    expect(out.text()).toMatch(/OAuth 2\.0 \(client id sandbox-client\)/);
    expect(out.text()).toMatch(/valid until/);
    expect(out.text()).toMatch(/Last refresh: never/);
    expect(findSecrets([out.text()], [CLIENT_SECRET, ...seenTokens])).toEqual([]);
  });

  it('refresh race: expired token, 50 concurrent calls → exactly 1 POST /token, all succeed', async () => {
    await control(sb.baseUrl, 'POST', '/__sandbox/config', { accessTokenTtlSec: 1 });
    expect((await login()).code).toBe(0);
    await control(sb.baseUrl, 'POST', '/__sandbox/config', { accessTokenTtlSec: 3600 });
    const s = store();
    const expiredPair = await s.load();
    remember(expiredPair);
    await new Promise((r) => setTimeout(r, 1200)); // the access token is now expired at the sandbox too
    await control(sb.baseUrl, 'DELETE', '/__sandbox/requests');
    const before = await tokenPosts(sb.baseUrl);
    const c = client(s);
    const started = Date.now();
    const { ok, errors } = await settle(Array.from({ length: 50 }, () => get(c)));
    const elapsed = Date.now() - started;
    expect(errors.map((e) => e.message)).toEqual([]);
    expect(ok).toHaveLength(50);
    expect((await tokenPosts(sb.baseUrl)) - before).toBe(1);
    const n = await counters(sb.baseUrl);
    expect(n.routes['POST /token']).toMatchObject({ count: 1, effective: 1, byStatus: { '200': 1 } });
    expect(n.totals.authFailed).toBe(0);
    expect(n.totals.rateLimited).toBe(0);
    const after = await s.load();
    remember(after);
    expect(after?.refreshToken).not.toBe(expiredPair?.refreshToken);
    expect(after?.lastRefreshAt).toBeTypeOf('number');
    cap.logger.info({ elapsedMs: elapsed }, 'refresh race done');
    (globalThis as { __raceMs?: number }).__raceMs = elapsed;

    // Reused refresh token: put the pre-race pair (its refresh token is burnt) back, expired.
    if (!expiredPair) throw new Error('no pair');
    await s.save({ ...expiredPair, expiresAt: Date.now() - 1000 });
    const before2 = await tokenPosts(sb.baseUrl);
    const c2 = client(s);
    const r1 = await settle([get(c2)]);
    expect(r1.errors).toHaveLength(1);
    const e = r1.errors[0] as KeapError;
    expect(e).toBeInstanceOf(KeapError);
    expect(e.category).toBe('authentication');
    expect(e.message).toMatch(/invalid_grant/);
    expect(e.message).toMatch(/keap-mcp auth login/);
    expect(await s.load()).toBeUndefined(); // pair cleared
    // No loop: a second call fails at once without another token request.
    const r2 = await settle([get(c2), get(c2)]);
    expect(r2.errors.map((x) => x.category)).toEqual(['authentication', 'authentication']);
    expect(r2.errors[0]?.message).toMatch(/keap-mcp auth login/);
    expect((await tokenPosts(sb.baseUrl)) - before2).toBe(1);
    expect((await counters(sb.baseUrl)).routes['POST /token']?.byStatus).toEqual({ '200': 1, '400': 1 });
  });

  it('the refreshed pair is on disk (committed, seen by another connection) before its access token is used', async () => {
    await control(sb.baseUrl, 'POST', '/__sandbox/config', { accessTokenTtlSec: 1 });
    expect((await login()).code).toBe(0);
    await control(sb.baseUrl, 'POST', '/__sandbox/config', { accessTokenTtlSec: 3600 });
    const s = store();
    const old = await s.load();
    remember(old);
    await new Promise((r) => setTimeout(r, 1200));
    // A proxy in front of the API (not of /token): for every bearer it forwards, it reads the token store through
    // its OWN connection to the state file, i.e. what a crash right now would leave behind.
    const onDisk = store();
    const seen: string[] = [];
    const violations: string[] = [];
    const proxy = createHttpServer(async (req, res) => {
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (bearer) {
        seen.push(bearer);
        if ((await onDisk.load())?.accessToken !== bearer)
          violations.push(`used before persisted (#${seen.length})`);
      }
      const up = await fetch(`${sb.baseUrl}${req.url}`, {
        method: req.method,
        headers: { authorization: req.headers.authorization ?? '' },
      });
      res.writeHead(up.status, Object.fromEntries(up.headers));
      res.end(Buffer.from(await up.arrayBuffer()));
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const { port } = proxy.address() as AddressInfo;
    try {
      const c = createKeapClient({
        baseUrl: `http://127.0.0.1:${port}`,
        credential: {
          kind: 'oauth',
          clientId: CLIENT_ID,
          clientSecret: CLIENT_SECRET,
          tokenUrl: `${sb.baseUrl}/token`,
          tokens: s,
        },
        logger: cap.logger,
      });
      clients.push(c);
      const { ok, errors } = await settle(Array.from({ length: 5 }, () => get(c)));
      expect(errors.map((e) => e.message)).toEqual([]);
      expect(ok).toHaveLength(5);
      const now = await onDisk.load();
      remember(now);
      expect(now?.accessToken).not.toBe(old?.accessToken);
      expect(seen.length).toBeGreaterThanOrEqual(5);
      expect(seen.every((t) => t === now?.accessToken)).toBe(true); // the expired token was never sent
      expect(violations).toEqual([]);
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });

  it('a 401 on a token we thought valid → exactly one refresh for 20 concurrent calls', async () => {
    await control(sb.baseUrl, 'POST', '/__sandbox/config', { accessTokenTtlSec: 1 });
    expect((await login()).code).toBe(0);
    await control(sb.baseUrl, 'POST', '/__sandbox/config', { accessTokenTtlSec: 3600 });
    const s = store();
    const t = await s.load();
    remember(t);
    if (!t) throw new Error('no pair');
    await s.save({ ...t, expiresAt: Date.now() + 3_600_000 }); // our clock says fresh; the sandbox will say 401
    await new Promise((r) => setTimeout(r, 1200));
    await control(sb.baseUrl, 'DELETE', '/__sandbox/requests');
    const before = await tokenPosts(sb.baseUrl);
    const c = client(s);
    const { ok, errors } = await settle(Array.from({ length: 20 }, () => get(c)));
    expect(errors.map((e) => e.message)).toEqual([]);
    expect(ok).toHaveLength(20);
    expect((await tokenPosts(sb.baseUrl)) - before).toBe(1);
    expect((await counters(sb.baseUrl)).totals.authFailed).toBeGreaterThanOrEqual(1);
    remember(await s.load());
  });

  it('auth login --manual reads the pasted redirect URL', async () => {
    const out = sink();
    const stdin = new PassThrough();
    const err = sink();
    const run = runAuthCli(['login', '--manual', '--redirect-uri', 'http://127.0.0.1:9/keap/callback'], {
      config: config(),
      stdout: out,
      stderr: err,
      stdin,
    });
    for (let i = 0; i < 100 && !out.text().includes('state='); i += 1)
      await new Promise((r) => setTimeout(r, 10));
    const url = /https?:\/\/\S+/.exec(out.text())?.[0] as string;
    const r = await fetch(url, { redirect: 'manual' });
    const loc = r.headers.get('location') as string;
    expect(loc).toContain('http://127.0.0.1:9/keap/callback?');
    stdin.write(`${loc}\n`);
    const code = await run;
    expect(err.text()).toBe('');
    expect(code).toBe(0);
    remember(await store().load());
  });

  it('a forged state is refused', async () => {
    const err = sink();
    const code = await runAuthCli(['login'], {
      config: config(),
      stdout: sink(),
      stderr: err,
      openBrowser: async (url) => {
        const u = new URL(url);
        u.searchParams.set('state', 'forged');
        await browser(u.toString()).catch(() => undefined);
      },
    });
    expect(code).toBe(1);
    expect(err.text()).toMatch(/auth login failed/);
  });

  it('auth logout clears the pair', async () => {
    const out = sink();
    expect(await runAuthCli(['logout'], { config: config(), stdout: out, stderr: sink() })).toBe(0);
    expect(out.text()).toMatch(/Removed/);
    expect(await store().load()).toBeUndefined();
    const st = sink();
    expect(await runAuthCli(['status'], { config: config(), stdout: st, stderr: sink() })).toBe(1);
    expect(st.text()).toMatch(/not logged in/);
  });
});
