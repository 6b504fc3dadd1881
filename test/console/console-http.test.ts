/**
 * Operator console security over plain HTTP (no browser): login, sessions, CSRF, Origin/Host checks, escaping,
 * absent without an operator token. The console is mounted as the HTTP server mounts it.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ConsoleConfigError, startConsoleServer } from '../../src/console/server.js';
import { Approvals } from '../../src/safety/approvals.js';
import { argsHash } from '../../src/safety/canonical.js';
import { Policy, parsePolicy } from '../../src/safety/policy.js';
import { openStateDb } from '../../src/state/db.js';
import { sha } from '../safety/helpers.js';
import {
  AGENT_TOKEN,
  type ConsoleFixture,
  createPaymentApproval,
  login,
  OPERATOR_TOKEN,
  PAYMENT_ARGS,
  startConsoleFixture,
  WRONG_TOKEN,
} from './helpers.js';

let fx: ConsoleFixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const FORM = 'application/x-www-form-urlencoded';

describe('operator console over HTTP', () => {
  it('without a session: pages redirect (303) to the login page, the API answers 401', async () => {
    fx = await startConsoleFixture();
    for (const path of ['/console', '/console/approvals', '/console/audit', '/console/agents']) {
      const r = await fetch(`${fx.base}${path}`, { redirect: 'manual' });
      expect(r.status, path).toBe(303);
      expect(r.headers.get('location'), path).toBe('/console/login');
    }
    const api = await fetch(`${fx.base}/console/api/approvals`);
    expect(api.status).toBe(401);
    const login = await fetch(`${fx.base}/console/login`);
    expect(login.status).toBe(200);
    const html = await login.text();
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('<label for="token">');
    expect(html).toContain('<main');
  });

  it("an agent's bearer token does not open the console", async () => {
    fx = await startConsoleFixture();
    const auth = { authorization: `Bearer ${AGENT_TOKEN}` };
    const api = await fetch(`${fx.base}/console/api/approvals`, { headers: auth });
    expect(api.status).toBe(401);
    expect(await api.text()).not.toContain(AGENT_TOKEN);
    const page = await fetch(`${fx.base}/console/approvals`, { headers: auth, redirect: 'manual' });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/console/login');
    // nor as the login token
    const r = await fetch(`${fx.base}/console/login`, {
      method: 'POST',
      headers: { 'content-type': FORM },
      body: form({ token: AGENT_TOKEN }),
      redirect: 'manual',
    });
    expect(r.status).toBe(401);
  });

  it('is absent (404) without an operator token, and startConsoleServer refuses to start', async () => {
    fx = await startConsoleFixture({ operatorToken: false });
    for (const path of ['/console', '/console/login', '/console/api/approvals']) {
      expect((await fetch(`${fx.base}${path}`, { redirect: 'manual' })).status, path).toBe(404);
    }
    const db = openStateDb(undefined);
    const policy = new Policy(parsePolicy(JSON.stringify({ agents: { a: {} } })), { readOnly: false });
    const base = { approvals: new Approvals({ db }), policy, port: 0 };
    await expect(startConsoleServer({ ...base, operatorTokenSha256: undefined })).rejects.toThrow(
      ConsoleConfigError,
    );
    await expect(startConsoleServer({ ...base, operatorTokenSha256: undefined })).rejects.toThrow(
      /operator_token_sha256.*sha256sum/,
    );
    await expect(
      startConsoleServer({ ...base, host: '0.0.0.0', operatorTokenSha256: sha(OPERATOR_TOKEN) }),
    ).rejects.toThrow(/loopback only/);
    db.close();
  });

  it('a wrong operator token shows the login page again with an error and writes a refusal record', async () => {
    fx = await startConsoleFixture();
    const r = await fetch(`${fx.base}/console/login`, {
      method: 'POST',
      headers: { 'content-type': FORM, origin: fx.base },
      body: form({ token: WRONG_TOKEN }),
      redirect: 'manual',
    });
    expect(r.status).toBe(401);
    expect(r.headers.get('set-cookie')).toBeNull();
    const html = await r.text();
    expect(html).toContain('Wrong operator token.');
    expect(html).toContain('name="token"');
    expect(html).not.toContain(WRONG_TOKEN);
    const lines = readFileSync(fx.auditPath, 'utf8').trim().split('\n');
    const refusal = JSON.parse(lines[lines.length - 1] ?? '{}') as Record<string, unknown>;
    expect(refusal).toMatchObject({ kind: 'refusal', reason: 'wrong_token', source: 'console' });
    expect(readFileSync(fx.auditPath, 'utf8')).not.toContain(WRONG_TOKEN);
  });

  it('login sets a strict session cookie; pages carry CSP, X-Frame-Options and no-store', async () => {
    fx = await startConsoleFixture();
    const r = await fetch(`${fx.base}/console/login`, {
      method: 'POST',
      headers: { 'content-type': FORM, origin: fx.base },
      body: form({ token: OPERATOR_TOKEN }),
      redirect: 'manual',
    });
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('/console/approvals');
    const cookie = r.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^keap_mcp_console=[A-Za-z0-9_-]{43}; /);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    expect(cookie).toContain('Path=/console');
    expect(cookie).not.toContain('Secure'); // plain http on loopback
    const page = await fetch(`${fx.base}/console/approvals`, {
      headers: { cookie: cookie.split(';')[0] ?? '' },
    });
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/script-src 'nonce-[A-Za-z0-9+/=]+'/);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('cache-control')).toBe('no-store');
    const html = await page.text();
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1] ?? '';
    // every script carries the nonce; no inline handlers
    for (const m of html.matchAll(/<script([^>]*)>/g)) expect(m[1]).toContain(`nonce="${nonce}"`);
    expect(html).not.toMatch(/ on[a-z]+=/);
  });

  it('shows a pending approval as escaped text with the exact request; approving it needs the CSRF token', async () => {
    fx = await startConsoleFixture();
    const a = await createPaymentApproval(fx.approvals);
    const { cookie, csrf } = await login(fx.base);
    const html = await (await fetch(`${fx.base}/console/approvals`, { headers: { cookie } })).text();
    expect(html).toContain(
      'Charge payment method 12 of contact 7 $25.00 for order 9\n  note: &lt;script&gt;',
    );
    expect(html).not.toContain('<script>alert');
    expect(html).toContain('&quot;path&quot;: &quot;/v2/orders/9/payments&quot;');
    expect(html).toContain(`action="/console/approvals/${a.id}/approve"`);

    const post = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(`${fx?.base}${path}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': FORM, cookie, origin: fx?.base ?? '', ...headers },
        body: form(fields),
      });
    // CSRF token missing / wrong → 403, nothing decided
    expect((await post(`/console/approvals/${a.id}/approve`, {})).status).toBe(403);
    expect((await post(`/console/approvals/${a.id}/approve`, { csrf: `${csrf}x` })).status).toBe(403);
    // a foreign Origin, even with the right token → 403
    expect(
      (await post(`/console/approvals/${a.id}/approve`, { csrf }, { origin: 'https://evil.example' })).status,
    ).toBe(403);
    // an allowed host name on another port (another origin) → 403; a cross-site Referer without Origin → 403
    expect(
      (await post(`/console/approvals/${a.id}/approve`, { csrf }, { origin: 'http://127.0.0.1:1' })).status,
    ).toBe(403);
    const noOrigin = await fetch(`${fx.base}/console/approvals/${a.id}/approve`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': FORM, cookie, referer: 'http://localhost:9/x' },
      body: form({ csrf }),
    });
    expect(noOrigin.status).toBe(403);
    expect((await fx.approvals.get(a.id))?.status).toBe('pending');

    // the API lists it (for live refresh)
    const api = (await (await fetch(`${fx.base}/console/api/approvals`, { headers: { cookie } })).json()) as {
      count: number;
      version: string;
    };
    expect(api).toMatchObject({ count: 1, version: a.id });

    const ok = await post(`/console/approvals/${a.id}/approve`, { csrf });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/console/approvals?done=approved');
    expect(await fx.approvals.get(a.id)).toMatchObject({
      status: 'approved',
      decidedBy: expect.stringMatching(/^operator:[0-9a-f]{8}$/),
    });
    expect((await fx.approvals.consume(a.id, 'ops', 'create_payment', argsHash(PAYMENT_ARGS))).ok).toBe(true);
    // deciding again changes nothing
    const again = await post(`/console/approvals/${a.id}/deny`, { csrf });
    expect(again.headers.get('location')).toBe('/console/approvals?done=already_decided');
    expect((await fx.approvals.get(a.id))?.status).toBe('consumed');
  });

  it('deny, then logout: the old cookie no longer opens anything; logout needs the CSRF token too', async () => {
    fx = await startConsoleFixture();
    const a = await createPaymentApproval(fx.approvals);
    const { cookie, csrf } = await login(fx.base);
    const post = (path: string, fields: Record<string, string>) =>
      fetch(`${fx?.base}${path}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': FORM, cookie },
        body: form(fields),
      });
    expect((await post(`/console/approvals/${a.id}/deny`, { csrf })).status).toBe(303);
    expect(await fx.approvals.consume(a.id, 'ops', 'create_payment', argsHash(PAYMENT_ARGS))).toMatchObject({
      ok: false,
      reason: 'denied',
    });
    expect((await post('/console/logout', {})).status).toBe(403);
    const out = await post('/console/logout', { csrf });
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0');
    const after = await fetch(`${fx.base}/console/approvals`, { headers: { cookie }, redirect: 'manual' });
    expect(after.status).toBe(303);
    expect((await fetch(`${fx.base}/console/api/approvals`, { headers: { cookie } })).status).toBe(401);
  });

  it('refuses a foreign Host (DNS rebinding) and a foreign Origin on every path, login included', async () => {
    fx = await startConsoleFixture();
    const { cookie } = await login(fx.base);
    const url = new URL(fx.base);
    const raw = (path: string, headers: Record<string, string>, method = 'GET') =>
      new Promise<number>((resolve, reject) => {
        import('node:http').then(({ request }) => {
          const req = request({ host: url.hostname, port: url.port, path, method, headers }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on('error', reject);
          req.end();
        }, reject);
      });
    expect(await raw('/console/approvals', { host: 'evil.example', cookie })).toBe(403);
    expect(await raw('/console/login', { host: `evil.example:${url.port}` })).toBe(403);
    expect(
      await raw('/console/api/approvals', { host: url.host, cookie, origin: 'http://evil.example' }),
    ).toBe(403);
    expect(await raw('/console/login', { host: url.host, origin: 'null' }, 'POST')).toBe(403);
    const refusals = readFileSync(fx.auditPath, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((r) => r.kind === 'refusal');
    expect(refusals.map((r) => r.reason)).toEqual(expect.arrayContaining(['foreign_host', 'foreign_origin']));
  });

  it('too many wrong tokens from one address lock the login for a while', async () => {
    fx = await startConsoleFixture();
    const attempt = () =>
      fetch(`${fx?.base}/console/login`, {
        method: 'POST',
        headers: { 'content-type': FORM },
        body: form({ token: WRONG_TOKEN }),
      });
    for (let i = 0; i < 10; i++) expect((await attempt()).status).toBe(401);
    expect((await attempt()).status).toBe(429);
    // even the right token, until the window ends
    const r = await fetch(`${fx.base}/console/login`, {
      method: 'POST',
      headers: { 'content-type': FORM },
      body: form({ token: OPERATOR_TOKEN }),
      redirect: 'manual',
    });
    expect(r.status).toBe(429);
  });

  it('audit timeline, agents matrix, budget and sessions pages render their data', async () => {
    fx = await startConsoleFixture();
    const { cookie } = await login(fx.base);
    const get = async (path: string) => {
      const r = await fetch(`${fx?.base}${path}`, { headers: { cookie } });
      expect(r.status, path).toBe(200);
      return r.text();
    };
    const audit = await get('/console/audit');
    const rows = [
      ...audit.matchAll(/<tr><td>([^<]*)<\/td><td>([^<]*)<\/td><td>([^<]*)<\/td><td>([^<]*)<\/td>/g),
    ];
    // newest first: the paired payment call, the denial, the read
    expect(rows.map((m) => [m[2], m[3], m[4]])).toEqual([
      ['ops', 'create_payment', 'confirmed'],
      ['reader', 'delete_contact', 'denied'],
      ['ops', 'get_contact', 'allowed'],
    ]);
    expect(audit).toContain('completed');
    const filtered = await get('/console/audit?agent=reader');
    expect([...filtered.matchAll(/<tr><td>/g)]).toHaveLength(1);
    expect(await get('/console/audit?decision=allowed&tool=get_contact')).toContain('get_contact');
    expect(await get('/console/audit?since=nonsense')).toContain('must be an ISO time or a duration');
    // paging: 50 per page
    for (let i = 0; i < 60; i++) {
      fx.audit.write({
        agent: 'ops',
        session: undefined,
        tool: 'list_tags',
        resource: 'tags',
        access: 'read',
        decision: 'allowed',
        args: {},
      });
    }
    const p1 = await get('/console/audit');
    expect([...p1.matchAll(/<tr><td>/g)]).toHaveLength(50);
    expect(p1).toContain('Page 1 of 2 (63 records');
    const p2 = await get('/console/audit?page=2');
    expect([...p2.matchAll(/<tr><td>/g)]).toHaveLength(13);

    const agents = await get('/console/agents');
    expect(agents).toMatch(/<th scope="row">ops <span class="meta">\(console approvals\)<\/span><\/th>/);
    expect(agents).toMatch(/<th scope="row">reader<\/th><td class="grant-read">read/);
    expect(agents).toContain('<td class="grant-none">none<br><span class="meta">0/4</span>');

    const budget = await get('/console/budget');
    expect(budget).toContain('149870');
    const sessions = await get('/console/sessions');
    expect(sessions).toContain('3f2a9c1e');
    expect(sessions).toContain('10 min 20 s');
  });
});
