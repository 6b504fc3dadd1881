/**
 * The client's side of a well-behaved MCP server, against the sandbox over real HTTP: events for progress and
 * logging, cancellation (before sending: nothing reaches Keap; after: read cancelled / write outcome unknown),
 * network failures named by their cause, and the OAuth "never logged in" message.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAuthCli } from '../../src/auth/cli.js';
import { openTokenStore } from '../../src/auth/token-store.js';
import { toModelError } from '../../src/errors.js';
import { createKeapClient } from '../../src/keap/client.js';
import { type KeapClientApi, KeapError, type KeapEvent, type KeapRequest } from '../../src/keap/types.js';
import { startSandbox } from '../../src/sandbox/server.js';
import { openStateDb, type StateDb } from '../../src/state/db.js';
import {
  approveInSandbox,
  captureLogger,
  control,
  counters,
  fault,
  findSecrets,
  sandboxOAuth,
} from './helpers.js';

const API_KEY = 'KeapAK-protocol-test-0123456789abcdef';
const CLIENT_ID = 'protocol-client';
const CLIENT_SECRET = 'protocol-secret-for-keap-mcp-tests';
const EMAIL = 'someone.private@example.com';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;
let sb: Sandbox;
const cap = captureLogger();
const returned: string[] = [];
const clients: KeapClientApi[] = [];
const dbs: StateDb[] = [];

/** A fresh credential per client (its own limiter), so tests do not share rate-limit state. */
let keyNo = 0;
function client(extra: Partial<Parameters<typeof createKeapClient>[0]> = {}): KeapClientApi {
  keyNo += 1;
  const c = createKeapClient({
    baseUrl: sb.baseUrl,
    credential: { kind: 'pat', apiKey: keyNo === 1 ? API_KEY : `${API_KEY}-${keyNo}` },
    logger: cap.logger,
    retry: { initialDelayMs: 50, rateLimitDelayMs: 200 },
    ...extra,
  });
  clients.push(c);
  return c;
}

/** Runs a request, recording its events; resolves with the response or the KeapError. */
async function run(
  c: KeapClientApi,
  req: KeapRequest,
  events: KeapEvent[] = [],
): Promise<{ r: Awaited<ReturnType<KeapClientApi['request']>> | KeapError; events: KeapEvent[] }> {
  try {
    const r = await c.request({ ...req, onEvent: (e) => events.push(e) });
    returned.push(JSON.stringify(events));
    return { r, events };
  } catch (e) {
    if (!(e instanceof KeapError)) throw e;
    returned.push(e.message, String(e.reason), JSON.stringify(events));
    return { r: e, events };
  }
}

const getTags: KeapRequest = { method: 'GET', path: '/v2/tags', idempotent: true, priority: 'read' };
const searchByEmail: KeapRequest = {
  method: 'GET',
  path: '/v2/contacts',
  query: { filter: `email==${EMAIL}` },
  idempotent: true,
  priority: 'read',
};
const postTag = (name: string): KeapRequest => ({
  method: 'POST',
  path: '/v2/tags',
  body: { name, description: EMAIL },
  idempotent: false,
  priority: 'write',
});

const route = async (r: string): Promise<number> => (await counters(sb.baseUrl)).routes[r]?.count ?? 0;
const tagsNamed = (name: string): number =>
  sb.api
    .table<{ id: number; name: string }>('tags')
    .all()
    .filter((t) => t.name === name).length;

beforeAll(async () => {
  sb = await startSandbox({
    port: 0,
    control: true,
    apiKeys: [API_KEY, ...Array.from({ length: 40 }, (_, i) => `${API_KEY}-${i + 2}`)],
    oauthClients: [{ id: CLIENT_ID, secret: CLIENT_SECRET }],
    accessTokenTtlSec: 3600,
  });
});

afterAll(async () => {
  for (const c of clients) await c.close();
  for (const d of dbs) d.close();
  await sb.close();
  const secrets = [
    API_KEY,
    CLIENT_SECRET,
    EMAIL,
    ...Array.from({ length: 40 }, (_, i) => `${API_KEY}-${i + 2}`),
  ];
  expect(findSecrets([cap.text(), ...returned], secrets)).toEqual([]);
});

describe('events', () => {
  it('a call waiting behind the rate limit reports rate_wait (at the start, then about every second)', async () => {
    const c = client({ limits: { perSecond: 1, minGapMs: 0 } });
    const [a, b, third] = await Promise.all([
      run(c, searchByEmail),
      run(c, searchByEmail),
      run(c, searchByEmail),
    ]);
    for (const x of [a, b, third]) expect(x.r).not.toBeInstanceOf(KeapError);
    // The first call leaves at once: no wait to report, one 'sent'.
    expect(a.events.map((e) => e.kind)).toEqual(['sent']);
    // The third waits two 1 s windows: reported when its wait starts and again while it still waits.
    const waits = third.events.filter((e) => e.kind === 'rate_wait');
    expect(waits.length).toBeGreaterThanOrEqual(2);
    expect(waits[0]).toMatchObject({ kind: 'rate_wait', reason: expect.stringMatching(/queue|per_second/) });
    expect((waits[0] as { waitMs: number }).waitMs).toBeGreaterThan(0);
    expect(third.events.at(-1)).toEqual({ kind: 'sent', attempt: 1 });
    // Events never carry a query value, a key or a header.
    const text = JSON.stringify([a, b, third].map((x) => x.events));
    expect(text).not.toContain(EMAIL);
    expect(text).not.toContain('KeapAK');
  });

  it('429 then 200: a retry event with the attempt, delay and cause, and one sent event per attempt', async () => {
    const c = client();
    await fault(sb.baseUrl, { method: 'GET', path: '/v2/tags', status: 429, count: 1 });
    try {
      const { r, events } = await run(c, getTags);
      expect(r).not.toBeInstanceOf(KeapError);
      expect(events.map((e) => e.kind)).toEqual(['sent', 'retry', 'sent']);
      expect(events[1]).toMatchObject({ kind: 'retry', attempt: 2, cause: expect.stringMatching(/429/) });
      expect((events[1] as { delayMs: number }).delayMs).toBeGreaterThan(0);
      expect(events[2]).toEqual({ kind: 'sent', attempt: 2 });
    } finally {
      await control(sb.baseUrl, 'DELETE', '/__sandbox/faults');
    }
  });

  it('a listener that throws does not break the call', async () => {
    const c = client();
    const r = await c.request({
      ...getTags,
      onEvent: () => {
        throw new Error('listener bug');
      },
    });
    expect(r.status).toBe(200);
  });
});

describe('cancellation', () => {
  it('queued for a rate-limit slot: cancelled, notSent, and nothing reaches Keap', async () => {
    const c = client({ limits: { perSecond: 1, minGapMs: 0 } });
    await run(c, getTags); // uses the only slot of this second
    await control(sb.baseUrl, 'DELETE', '/__sandbox/requests');
    const ac = new AbortController();
    const events: KeapEvent[] = [];
    const pending = run(c, { ...postTag('never-sent-queued'), signal: ac.signal }, events);
    setTimeout(() => ac.abort(), 100);
    const { r } = await pending;
    expect(r).toBeInstanceOf(KeapError);
    const e = r as KeapError;
    expect(e.category).toBe('cancelled');
    expect(e.notSent).toBe(true);
    expect(e.message).toMatch(/nothing reached Keap/);
    expect(events.some((x) => x.kind === 'sent')).toBe(false);
    expect(await route('POST /v2/tags')).toBe(0);
    expect(tagsNamed('never-sent-queued')).toBe(0);
    // What the model reads.
    const m = toModelError(e);
    expect(m.category).toBe('cancelled');
    expect(m.message).toMatch(/before anything was sent/);
  });

  it('already aborted before the call: cancelled at once, nothing sent', async () => {
    const c = client();
    await control(sb.baseUrl, 'DELETE', '/__sandbox/requests');
    const { r, events } = await run(c, { ...postTag('never-sent-pre'), signal: AbortSignal.abort() });
    expect((r as KeapError).category).toBe('cancelled');
    expect((r as KeapError).notSent).toBe(true);
    expect(events).toEqual([]);
    expect(await route('POST /v2/tags')).toBe(0);
  });

  it('waiting between retries (after a 429): cancelled, notSent, and the retry never leaves', async () => {
    const c = client({ retry: { rateLimitDelayMs: 5000, maxDelayMs: 8000 } });
    await control(sb.baseUrl, 'DELETE', '/__sandbox/requests');
    await fault(sb.baseUrl, { method: 'POST', path: '/v2/tags', status: 429, count: 1 });
    try {
      const ac = new AbortController();
      const events: KeapEvent[] = [];
      const pending = run(
        c,
        {
          ...postTag('never-sent-retry'),
          signal: ac.signal,
        },
        events,
      );
      // Abort as soon as the client announces the retry (it now sleeps ≥ 5 s).
      await new Promise<void>((resolve) => {
        const t = setInterval(() => {
          if (events.some((e) => e.kind === 'retry')) {
            clearInterval(t);
            resolve();
          }
        }, 10);
      });
      ac.abort();
      const { r } = await pending;
      const e = r as KeapError;
      expect(e).toBeInstanceOf(KeapError);
      expect(e.category).toBe('cancelled');
      expect(e.notSent).toBe(true); // a 429 is refused at the gateway: nothing was applied
      expect(e.attempts).toBe(1);
      expect(events.filter((x) => x.kind === 'sent')).toHaveLength(1);
      expect(await route('POST /v2/tags')).toBe(1); // the 429 only
      expect(tagsNamed('never-sent-retry')).toBe(0);
    } finally {
      await control(sb.baseUrl, 'DELETE', '/__sandbox/faults');
    }
  });

  it('in flight (slow Keap): a read stops waiting and reports cancelled; a write reports outcome unknown', async () => {
    const c = client();
    await fault(sb.baseUrl, { method: 'GET', path: '/v2/tags', latencyMs: 1500, count: 1 });
    await fault(sb.baseUrl, { method: 'POST', path: '/v2/tags', latencyMs: 1500, count: 1 });
    try {
      const cancelAfterSent = async (req: KeapRequest): Promise<{ e: KeapError; events: KeapEvent[] }> => {
        const ac = new AbortController();
        const events: KeapEvent[] = [];
        const pending = run(c, { ...req, signal: ac.signal }, events);
        await new Promise<void>((resolve) => {
          const t = setInterval(() => {
            if (events.some((x) => x.kind === 'sent')) {
              clearInterval(t);
              setTimeout(resolve, 200);
            }
          }, 10);
        });
        ac.abort();
        const { r } = await pending;
        expect(r).toBeInstanceOf(KeapError);
        return { e: r as KeapError, events };
      };
      const read = await cancelAfterSent(getTags);
      expect(read.e.category).toBe('cancelled');
      expect(read.e.notSent).toBe(false);
      expect(read.e.message).toMatch(/while waiting for Keap to answer/);

      const write = await cancelAfterSent(postTag('maybe-applied'));
      expect(write.e.category).toBe('outcome_unknown');
      expect(write.e.notSent).toBe(false);
      expect(write.e.message).toMatch(/cancelled after it was sent/);
      expect(toModelError(write.e).next_step).toMatch(/before retrying/);
      // It did reach Keap (the sandbox applies it after the latency): exactly one, never retried.
      await new Promise((r) => setTimeout(r, 1800));
      expect(tagsNamed('maybe-applied')).toBe(1);
    } finally {
      await control(sb.baseUrl, 'DELETE', '/__sandbox/faults');
    }
  });
});

describe('network failures name their cause', () => {
  it('an unresolvable host: "DNS lookup failed for <host>", nothing sent, in the model message too', async () => {
    const c = createKeapClient({
      baseUrl: 'http://keap-mcp-test.invalid/crm/rest',
      credential: { kind: 'pat', apiKey: API_KEY },
      logger: cap.logger,
      maxAttempts: 2,
      retry: { initialDelayMs: 10 },
    });
    clients.push(c);
    const { r } = await run(c, postTag('dns'));
    const e = r as KeapError;
    expect(e).toBeInstanceOf(KeapError);
    if (!/DNS lookup failed/.test(e.message)) {
      // Some resolvers answer EAI_AGAIN (temporary failure) for .invalid instead of NXDOMAIN.
      expect(e.message).toMatch(/DNS lookup for keap-mcp-test\.invalid failed temporarily/);
    } else {
      expect(e.message).toMatch(/DNS lookup failed for keap-mcp-test\.invalid/);
    }
    expect(e.category).toBe('unavailable');
    expect(e.notSent).toBe(true);
    expect(e.attempts).toBe(2);
    const m = toModelError(e, undefined, undefined);
    expect(m.message).toMatch(/DNS lookup/);
    expect(m.message).toMatch(/keap-mcp-test\.invalid/);
    expect(m.message).not.toContain(API_KEY);
  });

  it('a closed loopback port: "connection refused"', async () => {
    const c = createKeapClient({
      baseUrl: 'http://127.0.0.1:1',
      credential: { kind: 'pat', apiKey: API_KEY },
      logger: cap.logger,
      maxAttempts: 2,
      retry: { initialDelayMs: 10 },
    });
    clients.push(c);
    const { r, events } = await run(c, getTags);
    const e = r as KeapError;
    expect(e.category).toBe('unavailable');
    expect(e.reason).toMatch(/connection refused by 127\.0\.0\.1/);
    expect(e.message).toMatch(/connection refused/);
    expect(e.notSent).toBe(true);
    expect(events.find((x) => x.kind === 'retry')).toMatchObject({ cause: expect.stringMatching(/refused/) });
    expect(toModelError(e).message).toMatch(/connection refused/);
  });

  it('Keap slower than the timeouts: "timeout" for a read (unavailable) and for a write (outcome unknown)', async () => {
    const c = client({ timeouts: { headersMs: 300 }, maxAttempts: 1 });
    await fault(sb.baseUrl, { method: 'GET', path: '/v2/tags', latencyMs: 2000, count: 1 });
    await fault(sb.baseUrl, { method: 'POST', path: '/v2/tags', latencyMs: 2000, count: 1 });
    try {
      const read = (await run(c, getTags)).r as KeapError;
      expect(read.category).toBe('unavailable');
      expect(read.message).toMatch(/timeout: 127\.0\.0\.1 did not answer in time/);
      expect(toModelError(read).message).toMatch(/timeout/);
      const write = (await run(c, postTag('slow-write'))).r as KeapError;
      expect(write.category).toBe('outcome_unknown');
      expect(write.reason).toMatch(/timeout/);
      expect(toModelError(write).message).toMatch(/timeout/);
    } finally {
      await control(sb.baseUrl, 'DELETE', '/__sandbox/faults');
    }
    // The call's own time limit (totalTimeoutMs) is named as well.
    const bounded = client({ totalTimeoutMs: 400, maxAttempts: 1 });
    await fault(sb.baseUrl, { method: 'GET', path: '/v2/tags', latencyMs: 2000, count: 1 });
    try {
      const e = (await run(bounded, getTags)).r as KeapError;
      expect(e.message).toMatch(/did not answer within the call's time limit/);
    } finally {
      await control(sb.baseUrl, 'DELETE', '/__sandbox/faults');
    }
  });
});

describe('OAuth', () => {
  function oauthClient(db: StateDb): KeapClientApi {
    const c = createKeapClient({
      baseUrl: sb.baseUrl,
      credential: {
        kind: 'oauth',
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        tokenUrl: `${sb.baseUrl}/token`,
        tokens: openTokenStore(db),
      },
      logger: cap.logger,
    });
    clients.push(c);
    return c;
  }

  it('never logged in: says to run `keap-mcp auth login` and names the OAuth settings, not KEAP_API_KEY', async () => {
    const db = openStateDb(undefined);
    dbs.push(db);
    await control(sb.baseUrl, 'DELETE', '/__sandbox/requests');
    const { r } = await run(oauthClient(db), getTags);
    const e = r as KeapError;
    expect(e.category).toBe('authentication');
    expect(e.notSent).toBe(true);
    expect(e.message).toMatch(/keap-mcp auth login/);
    expect(e.message).toMatch(/KEAP_OAUTH_CLIENT_ID/);
    expect(e.message).toMatch(/KEAP_OAUTH_CLIENT_SECRET/);
    expect(e.message).not.toMatch(/KEAP_API_KEY/);
    const m = toModelError(e);
    expect(`${m.message} ${m.next_step}`).toMatch(/keap-mcp auth login/);
    expect(`${m.message} ${m.next_step}`).not.toMatch(/KEAP_API_KEY/);
    expect(await route('GET /v2/tags')).toBe(0);
  });

  it('a refresh on behalf of the call is reported as token_refresh', async () => {
    const db = openStateDb(undefined);
    dbs.push(db);
    const tokens = openTokenStore(db);
    const code = await runAuthCli(['login'], {
      config: {
        oauth: sandboxOAuth(sb.baseUrl, CLIENT_ID, CLIENT_SECRET),
        apiKey: undefined,
        stateDir: '/nonexistent-not-used',
      },
      tokens,
      stdout: { write: (s: string) => returned.push(s) },
      stderr: { write: (s: string) => returned.push(s) },
      openBrowser: async (url) => void returned.push(await approveInSandbox(url)),
      logger: cap.logger,
    });
    expect(code).toBe(0);
    const pair = await tokens.load();
    if (!pair) throw new Error('no pair stored');
    await tokens.save({ ...pair, expiresAt: Date.now() - 1000 }); // expired locally: the next call refreshes first
    const { r, events } = await run(oauthClient(db), getTags);
    expect(r).not.toBeInstanceOf(KeapError);
    expect(events.map((e) => e.kind)).toEqual(['token_refresh', 'sent']);
    expect(events[0]).toEqual({ kind: 'token_refresh', outcome: 'refreshed' });
    expect(JSON.stringify(events)).not.toContain(pair.accessToken.slice(0, 12));
  });
});
