import { describe, expect, it } from 'vitest';
import { NO_LIMITS, startSandbox } from '../../src/sandbox/server.js';
import { call, control, expectDoc, useSandbox } from './core-http.js';

let base: string;
useSandbox((sb) => {
  base = sb.baseUrl;
});

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

async function authorize(state = 'xyz'): Promise<string> {
  const r = await call(base, 'GET', '/app/oauth/authorize', {
    key: null,
    query: {
      client_id: 'sandbox-client',
      redirect_uri: 'https://app.example.com/cb',
      response_type: 'code',
      scope: 'full',
      state,
    },
  });
  expect(r.status).toBe(302);
  const loc = new URL(r.headers.get('location')!);
  expect(loc.origin + loc.pathname).toBe('https://app.example.com/cb');
  expect(loc.searchParams.get('state')).toBe(state);
  return loc.searchParams.get('code')!;
}

async function exchange(code: string) {
  return call(base, 'POST', '/token', {
    key: null,
    form: {
      grant_type: 'authorization_code',
      code,
      client_id: 'sandbox-client',
      client_secret: 'sandbox-secret',
      redirect_uri: 'https://app.example.com/cb',
    },
  });
}

async function refresh(token: string, auth = basic('sandbox-client', 'sandbox-secret')) {
  return call(base, 'POST', '/token', {
    key: null,
    headers: { authorization: auth },
    form: { grant_type: 'refresh_token', refresh_token: token },
  });
}

describe('auth', () => {
  it('code → tokens → API call → refresh (rotating, single use)', async () => {
    await control(base, 'DELETE', '/requests');
    const code = await authorize('s1');
    const t1 = await exchange(code);
    expect(t1.status, t1.text).toBe(200);
    expect(t1.body).toMatchObject({
      access_token: expect.any(String),
      refresh_token: expect.any(String),
      expires_in: 86400,
      token_type: 'bearer',
      scope: 'full|sandbox.infusionsoft.com',
    });
    const me = await call(base, 'GET', '/v2/oauth/connect/userinfo', { bearer: t1.body.access_token });
    expect(me.status).toBe(200);
    expectDoc('v2', 'GET', '/v2/oauth/connect/userinfo', me);

    // a code is single-use
    const again = await exchange(code);
    expect(again.status).toBe(400);
    expect(again.body.error).toBe('invalid_grant');

    const t2 = await refresh(t1.body.refresh_token);
    expect(t2.status, t2.text).toBe(200);
    expect(t2.body.refresh_token).not.toBe(t1.body.refresh_token);
    expect(t2.body.access_token).not.toBe(t1.body.access_token);
    const ok = await call(base, 'GET', '/v2/users', { bearer: t2.body.access_token });
    expect(ok.status).toBe(200);

    const reused = await refresh(t1.body.refresh_token);
    expect(reused.status).toBe(400);
    expect(reused.body).toEqual({ error: 'invalid_grant', error_description: 'Invalid refresh token' });

    const badClient = await refresh(t2.body.refresh_token, basic('sandbox-client', 'wrong'));
    expect(badClient.status).toBe(401);
    expect(badClient.body.error).toBe('invalid_client');
    // the failed attempt did not burn the token
    const t3 = await refresh(t2.body.refresh_token);
    expect(t3.status).toBe(200);

    const unsupported = await call(base, 'POST', '/token', {
      key: null,
      form: { grant_type: 'client_credentials' },
    });
    expect(unsupported.status).toBe(400);
    expect(unsupported.body.error).toBe('unsupported_grant_type');

    // the OAuth endpoints are counted like API routes, failed grants included
    const c = (await control(base, 'GET', '/requests')).body;
    expect(c.routes['GET /app/oauth/authorize']).toMatchObject({
      count: 1,
      effective: 1,
      byStatus: { 302: 1 },
    });
    expect(c.routes['POST /token']).toMatchObject({
      count: 7,
      effective: 3,
      noEffect: 4,
      byStatus: { 200: 3, 400: 3, 401: 1 },
    });
  });

  it('counts a bad authorize request and a non-form /token body', async () => {
    await control(base, 'DELETE', '/requests');
    const bad = await call(base, 'GET', '/app/oauth/authorize', { key: null, query: { client_id: 'nope' } });
    expect(bad.status).toBe(400);
    const junk = await call(base, 'POST', '/token', {
      key: null,
      headers: { 'content-type': 'application/json' },
      body: undefined,
    });
    expect(junk.status).toBeGreaterThanOrEqual(400);
    const c = (await control(base, 'GET', '/requests')).body;
    expect(c.routes['GET /app/oauth/authorize']).toMatchObject({
      count: 1,
      noEffect: 1,
      byStatus: { 400: 1 },
    });
    expect(c.routes['POST /token']).toMatchObject({ count: 1, effective: 0, noEffect: 1 });
    expect(c.total).toBe(2);
  });

  it('an expired access token gets the gateway 401 fault', async () => {
    await control(base, 'POST', '/config', { accessTokenTtlSec: 1 });
    try {
      const t = await exchange(await authorize());
      expect(t.body.expires_in).toBe(1);
      const live = await call(base, 'GET', '/v2/users', { bearer: t.body.access_token });
      expect(live.status).toBe(200);
      await new Promise((r) => setTimeout(r, 1100));
      const dead = await call(base, 'GET', '/v2/users', { bearer: t.body.access_token });
      expect(dead.status).toBe(401);
      expect(dead.body).toEqual({
        fault: {
          faultstring: 'Access Token expired',
          detail: { errorcode: 'keymanagement.service.access_token_expired' },
        },
      });
    } finally {
      await control(base, 'POST', '/config', { accessTokenTtlSec: 86400 });
    }
  });

  it('missing or unknown credentials get the gateway 401, counted as auth failures without effect', async () => {
    await control(base, 'DELETE', '/requests');
    const none = await call(base, 'POST', '/v2/contacts', {
      key: null,
      body: { given_name: 'Nobody', email_addresses: [{ email: 'nobody@example.com', field: 'EMAIL1' }] },
    });
    expect(none.status).toBe(401);
    expect(none.body).toEqual({
      fault: { faultstring: 'Invalid access token', detail: { errorcode: 'oauth.v2.InvalidAccessToken' } },
    });
    const bogus = await call(base, 'GET', '/v2/contacts', { bearer: 'not-a-token' });
    expect(bogus.status).toBe(401);
    expect(bogus.body.fault.detail.errorcode).toBe('oauth.v2.InvalidAccessToken');
    const c = (await control(base, 'GET', '/requests')).body;
    expect(c.routes['POST /v2/contacts']).toMatchObject({
      count: 1,
      authFailed: 1,
      effective: 0,
      noEffect: 1,
    });
    expect(c.totals.authFailed).toBe(2);
    const found = await call(base, 'GET', '/v2/contacts', { query: { filter: 'given_name==Nobody' } });
    expect(found.body.contacts).toEqual([]);
  });

  it('a configured key list restricts API keys', async () => {
    const r = await startSandbox({ port: 0, apiKeys: ['good-key'], limits: NO_LIMITS });
    try {
      expect((await call(r.baseUrl, 'GET', '/v2/users', { key: 'good-key' })).status).toBe(200);
      const bad = await call(r.baseUrl, 'GET', '/v2/users', { key: 'bad-key' });
      expect(bad.status).toBe(401);
      expect(bad.body.fault.detail.errorcode).toBe(
        'keymanagement.service.InvalidAPICallAsNoApiProductMatchFound',
      );
      // no control surface unless enabled
      expect((await call(r.baseUrl, 'GET', '/__sandbox/requests', { key: null })).status).toBe(404);
    } finally {
      await r.close();
    }
  });
});
