import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { browserCommand, runAuthCli } from '../../src/auth/cli.js';
import { openTokenStore } from '../../src/auth/token-store.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { toModelError } from '../../src/errors.js';
import { buildQuery, parseBudget } from '../../src/keap/client.js';
import {
  authenticationHint,
  categoryForStatus,
  errorFromResponse,
  parseErrorBody,
  sanitize,
} from '../../src/keap/errors.js';
import { CredentialLimiter } from '../../src/keap/limiter.js';
import { fillPath } from '../../src/keap/path.js';
import {
  backoffMs,
  classifyNetworkError,
  DEFAULT_RETRY_POLICY,
  decideRetry,
  type RetryInput,
} from '../../src/keap/retry.js';
import { KeapError } from '../../src/keap/types.js';
import { openStateDb } from '../../src/state/db.js';

const base: Omit<RetryInput, 'outcome'> = {
  attempt: 1,
  idempotent: true,
  elapsedMs: 0,
  canRefresh: false,
  policy: DEFAULT_RETRY_POLICY,
  random: () => 0.5,
};

describe('retry ladder', () => {
  it('retries 429 for any method', () => {
    for (const idempotent of [true, false]) {
      const d = decideRetry({ ...base, idempotent, outcome: { kind: 'status', status: 429 } });
      expect(d.action).toBe('retry');
    }
  });
  it('retries 5xx only when idempotent; POST gets outcome_unknown', () => {
    expect(decideRetry({ ...base, outcome: { kind: 'status', status: 500 } }).action).toBe('retry');
    expect(decideRetry({ ...base, idempotent: false, outcome: { kind: 'status', status: 503 } }).action).toBe(
      'outcome_unknown',
    );
  });
  it('501 (not implemented there) is final for every method: nothing was applied, nothing to retry', () => {
    for (const idempotent of [true, false])
      expect(decideRetry({ ...base, idempotent, outcome: { kind: 'status', status: 501 } }).action).toBe(
        'done',
      );
  });
  it('network: not_sent retried for POST, ambiguous is outcome_unknown for POST and retried for GET', () => {
    expect(
      decideRetry({ ...base, idempotent: false, outcome: { kind: 'network', failure: 'not_sent' } }).action,
    ).toBe('retry');
    expect(
      decideRetry({ ...base, idempotent: false, outcome: { kind: 'network', failure: 'ambiguous' } }).action,
    ).toBe('outcome_unknown');
    expect(decideRetry({ ...base, outcome: { kind: 'network', failure: 'ambiguous' } }).action).toBe('retry');
  });
  it('never retries 400/401/403/404/409/422; 401 refreshes once for OAuth', () => {
    for (const status of [400, 401, 403, 404, 409, 422]) {
      expect(decideRetry({ ...base, outcome: { kind: 'status', status } }).action).toBe('done');
    }
    expect(decideRetry({ ...base, canRefresh: true, outcome: { kind: 'status', status: 401 } }).action).toBe(
      'refresh',
    );
  });
  it('is bounded by attempts and total time', () => {
    expect(decideRetry({ ...base, attempt: 4, outcome: { kind: 'status', status: 500 } }).action).toBe(
      'done',
    );
    expect(decideRetry({ ...base, elapsedMs: 59_900, outcome: { kind: 'status', status: 429 } }).action).toBe(
      'done',
    );
    expect(
      decideRetry({ ...base, attempt: 4, outcome: { kind: 'network', failure: 'not_sent' } }).action,
    ).toBe('fail');
  });
  it('backs off exponentially with jitter, capped', () => {
    expect(backoffMs(1, 500, 8000, () => 0)).toBe(500);
    expect(backoffMs(3, 500, 8000, () => 0.999)).toBeGreaterThan(1900);
    expect(backoffMs(3, 500, 8000, () => 0.999)).toBeLessThanOrEqual(2000);
    expect(backoffMs(10, 500, 8000, () => 0.999)).toBeLessThanOrEqual(8000);
  });
  it('classifies network errors by code, through causes', () => {
    expect(classifyNetworkError({ code: 'ECONNREFUSED' })).toBe('not_sent');
    expect(
      classifyNetworkError(new TypeError('fetch failed', { cause: { code: 'UND_ERR_CONNECT_TIMEOUT' } })),
    ).toBe('not_sent');
    expect(classifyNetworkError({ code: 'ECONNRESET' })).toBe('ambiguous');
    expect(classifyNetworkError({ code: 'UND_ERR_SOCKET' })).toBe('ambiguous');
  });
});

describe('error parsing', () => {
  it('parses the four envelopes', () => {
    expect(
      parseErrorBody({
        code: 400,
        message: 'bad email',
        status: 'INVALID_ARGUMENT',
        details: [{ domain: 'field', resource: 'email' }],
      }),
    ).toMatchObject({
      envelope: 'v2',
      code: 'INVALID_ARGUMENT',
      message: 'bad email (field: email)',
    });
    expect(
      parseErrorBody({ code: '429', message: 'Quota Exceeded', status: 'Request Throttled', details: null }),
    ).toMatchObject({
      envelope: 'v2',
      message: 'Quota Exceeded',
    });
    expect(parseErrorBody('{"message":"Input could not be converted to a valid request"}')).toEqual({
      envelope: 'v1',
      message: 'Input could not be converted to a valid request',
    });
    expect(
      parseErrorBody({
        fault: { faultstring: 'Invalid access token', detail: { errorcode: 'oauth.v2.InvalidAccessToken' } },
      }),
    ).toEqual({ envelope: 'gateway', message: 'Invalid access token', code: 'oauth.v2.InvalidAccessToken' });
    expect(parseErrorBody({ error: 'invalid_grant', error_description: 'Invalid refresh token' })).toEqual({
      envelope: 'oauth',
      code: 'invalid_grant',
      message: 'Invalid refresh token',
    });
    expect(parseErrorBody('<html>502 Bad Gateway</html>')).toEqual({
      envelope: 'text',
      message: '<html>502 Bad Gateway</html>',
    });
    expect(parseErrorBody(null)).toEqual({ envelope: 'none' });
  });
  it('sanitizes: control chars, cap, secrets', () => {
    const s = sanitize(`a\u0000b\u001b[31mc\nd ${'x'.repeat(1000)} SECRETKEY`, ['SECRETKEY']);
    expect([...s].some((ch) => (ch.codePointAt(0) ?? 0) < 0x20)).toBe(false);
    expect(s.length).toBeLessThanOrEqual(500);
    expect(sanitize('token SECRETKEY here', ['SECRETKEY'])).toBe('token [redacted] here');
  });
  it('maps statuses to categories', () => {
    const m = Object.fromEntries(
      [400, 401, 403, 404, 409, 422, 429, 500, 503].map((s) => [s, categoryForStatus(s)]),
    );
    expect(m).toEqual({
      400: 'validation',
      401: 'authentication',
      403: 'permission',
      404: 'not_found',
      409: 'conflict',
      422: 'validation',
      429: 'rate_limited',
      500: 'unavailable',
      503: 'unavailable',
    });
  });
  it('401 names the credential kind and never echoes the secret', () => {
    const e = errorFromResponse({
      status: 401,
      body: { fault: { faultstring: 'Invalid ApiKey KEY-123456', detail: { errorcode: 'x' } } },
      method: 'GET',
      path: '/v2/contacts',
      credentialKind: 'pat',
      secrets: ['KEY-123456'],
    });
    expect(e).toBeInstanceOf(KeapError);
    expect(e.category).toBe('authentication');
    expect(e.message).toMatch(/X-Keap-API-Key/);
    expect(e.message).toMatch(/KEAP_API_KEY/);
    expect(e.message).not.toContain('KEY-123456');
    // What the model reads keeps that sentence (which credential, how to fix it) and quotes Keap once.
    const m = toModelError(e);
    expect(m.category).toBe('authentication');
    expect(m.message).toContain('personal access token');
    expect(m.message).toContain('KEAP_API_KEY');
    expect(m.message.match(/Invalid ApiKey/g)).toHaveLength(1);
    expect(m.message).not.toContain('KEY-123456');
    const oauth = toModelError(
      new KeapError({ category: 'authentication', message: authenticationHint('oauth'), retryable: false }),
    );
    expect(oauth.message).toContain('keap-mcp auth login');
  });
});

describe('path filling', () => {
  it('encodes values and keeps :verb literal', () => {
    expect(fillPath('/v2/contacts/{contact_id}', { contact_id: 12 })).toBe('/v2/contacts/12');
    expect(fillPath('/v2/subscriptions/{subscription_id}:deactivate', { subscription_id: '7' })).toBe(
      '/v2/subscriptions/7:deactivate',
    );
    expect(fillPath('/v2/x/{id}', { id: 'a/b?c#d:e' })).toBe('/v2/x/a%2Fb%3Fc%23d%3Ae');
  });
  it('rejects empty, dot segments and missing values', () => {
    for (const v of ['', ' ', '.', '..', undefined]) {
      expect(() => fillPath('/v2/contacts/{contact_id}', { contact_id: v })).toThrowError(KeapError);
    }
    expect(() => fillPath('/v2/contacts/{contact_id}', { contact_id: { a: 1 } })).toThrow(
      /string or a number/,
    );
  });
});

describe('query and budget headers', () => {
  it('repeats array params and drops undefined', () => {
    expect(buildQuery({ ids: [1, 2], page_size: 5, x: undefined, filter: 'a==b' })).toBe(
      '?ids=1&ids=2&page_size=5&filter=a%3D%3Db',
    );
    expect(buildQuery({})).toBe('');
  });
  it('reads x-keap headers', () => {
    expect(
      parseBudget({
        'x-keap-product-throttle-available': '239',
        'x-keap-product-quota-available': '29999',
        'x-keap-product-quota-expiry-time': '1723680000000',
        'x-keap-tenant-throttle-available': '9999',
      }),
    ).toEqual({
      throttleAvailable: 239,
      quotaAvailable: 29999,
      quotaExpiryMs: 1723680000000,
      tenantAvailable: 9999,
    });
  });
});

describe('limiter arithmetic', () => {
  it('estimates slots for PAT 10/s and follows the headers', async () => {
    let now = 1_000_000;
    const l = new CredentialLimiter('pat', undefined, 20_000, () => now);
    expect(l.estimateWaitMs(1)).toBe(0);
    expect(l.estimateWaitMs(10)).toBe(450); // min gap 50 ms
    expect(l.estimateWaitMs(11)).toBe(1050); // 1 s window + 50 ms margin
    expect(l.estimateWaitMs(21)).toBe(2100);
    // Keap says the minute budget is gone: wait for the next minute.
    l.observe({ throttleAvailable: 0 });
    expect(l.estimateWaitMs(1)).toBe(60_050 - (now % 60_000));
    now += 61_000;
    expect(l.estimateWaitMs(1)).toBe(0);
    l.observe({ quotaAvailable: 0, quotaExpiryMs: now + 3_600_000 });
    expect(l.estimateWaitMs(1)).toBe(3_600_000);
    await expect(l.acquire('read')).rejects.toMatchObject({ category: 'rate_limited', retryAfterSec: 3600 });
    await l.stop();
  });

  it('counts a slot at its estimated arrival: a slow first request (new connection) moves the window', async () => {
    let now = 10_000;
    const l = new CredentialLimiter('pat', undefined, 20_000, () => now);
    const first = await l.acquire('read'); // a new connection: answered after 40 ms
    now = 10_040;
    l.arrived(first, now);
    now = 10_050;
    const second = await l.acquire('read'); // a warm connection: answered within 2 ms
    now = 10_052;
    l.arrived(second, now); // the quickest round trip so far: the first arrived at ≈ 10 038, not 10 000
    for (let i = 2; i < 10; i += 1) {
      now = 10_000 + 50 * i;
      const slot = await l.acquire('read');
      now += 2;
      l.arrived(slot, now);
    }
    // The 11th may leave one window (+ margin) after the first one's estimated ARRIVAL, not after its slot.
    expect(now + l.estimateWaitMs(1)).toBe(10_038 + 1000 + 50);
    await l.stop();
  });

  it('counts sends made after a header observation against the remote budget; OAuth paces at the 25/s spike', async () => {
    let now = 5 * 60_000 + 1_000;
    const l = new CredentialLimiter('pat', undefined, 120_000, () => now);
    l.observe({ throttleAvailable: 2 });
    expect(l.estimateWaitMs(2)).toBe(50);
    expect(l.estimateWaitMs(3)).toBe(60_000 - 1_000 + 50); // third call waits for the next UTC minute
    await l.acquire('write');
    now += 100;
    await l.acquire('write');
    expect(l.estimateWaitMs(1)).toBe(60_000 - 1_100 + 50);
    await l.stop();
    const o = new CredentialLimiter('oauth', undefined, 20_000, () => 0);
    expect(o.estimateWaitMs(25)).toBe(24 * 20);
    expect(o.estimateWaitMs(26)).toBe(1_050);
    await o.stop();
  });
  it('a write takes the next slot even behind 2000 queued reads', async () => {
    const l = new CredentialLimiter('pat', undefined, 1e9);
    const reads = Array.from({ length: 2000 }, () => l.acquire('read').catch(() => 'dropped'));
    await new Promise((r) => setTimeout(r, 30));
    const t0 = Date.now();
    await l.acquire('write');
    const waited = Date.now() - t0;
    await l.stop();
    await Promise.all(reads);
    expect(waited).toBeLessThan(200);
  });
});

describe('auth CLI', () => {
  it('opens the browser without a shell that would split the URL at &', () => {
    const url = 'https://accounts.example/authorize?client_id=a&redirect_uri=b&state=c';
    for (const platform of ['win32', 'darwin', 'linux'] as const) {
      const { cmd, args } = browserCommand(platform, url);
      expect(cmd).not.toMatch(/^(cmd|powershell)/i);
      expect(args.at(-1)).toBe(url);
    }
  });

  it('--manual with a bare code reaches the token endpoint; a failure prints no control characters, no secret', async () => {
    const secret = 'cli-client-secret-0123456789';
    // A token endpoint whose error text carries terminal escapes and echoes the client secret.
    const tokenServer = createHttpServer((_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ error: 'invalid_grant', error_description: `\u001b[2J\u001b[31mbad ${secret}` }),
      );
    });
    await new Promise<void>((r) => tokenServer.listen(0, '127.0.0.1', r));
    const { port } = tokenServer.address() as AddressInfo;
    const db = openStateDb(undefined);
    const stdin = new PassThrough();
    const chunks: string[] = [];
    const run = runAuthCli(['login', '--manual'], {
      config: {
        oauth: {
          clientId: 'cli-client',
          clientSecret: secret,
          authorizeUrl: `http://127.0.0.1:${port}/app/oauth/authorize`,
          tokenUrl: `http://127.0.0.1:${port}/token`,
        },
        apiKey: undefined,
        stateDir: '/nonexistent',
      },
      stdin,
      stdout: { write: () => true },
      stderr: { write: (s: string) => chunks.push(s) },
      tokens: openTokenStore(db),
    });
    stdin.end('a-bare-code\n');
    try {
      expect(await run).toBe(1);
    } finally {
      db.close();
      await new Promise<void>((r) => tokenServer.close(() => r()));
    }
    const text = chunks.join('');
    expect(text).toContain('invalid_grant');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the point of the test
    expect(text.trimEnd()).not.toMatch(/[\u0000-\u001f]/);
    expect(text).not.toContain(secret);
  });
});

describe('config: where credentials may travel', () => {
  it('refuses plain http to a non-loopback Keap or token URL, naming the variable', () => {
    for (const name of ['KEAP_API_BASE_URL', 'KEAP_OAUTH_TOKEN_URL', 'KEAP_OAUTH_AUTHORIZE_URL']) {
      expect(() => loadConfig({}, { [name]: 'http://api.infusionsoft.com/crm/rest' })).toThrow(ConfigError);
      expect(() => loadConfig({}, { [name]: 'http://api.infusionsoft.com/crm/rest' })).toThrow(name);
    }
    expect(loadConfig({}, { KEAP_API_BASE_URL: 'http://127.0.0.1:8080/' }).baseUrl).toBe(
      'http://127.0.0.1:8080',
    );
    expect(loadConfig({}, { KEAP_API_BASE_URL: 'http://localhost:8080' }).baseUrl).toBe(
      'http://localhost:8080',
    );
    expect(loadConfig({}, { KEAP_API_BASE_URL: 'https://keap.example/crm/rest' }).baseUrl).toBe(
      'https://keap.example/crm/rest',
    );
  });
});
