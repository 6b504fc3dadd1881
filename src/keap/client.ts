/**
 * The one HTTP module that talks to Keap (API calls and the OAuth token endpoint). undici keep-alive pool per
 * origin with connect/headers/body timeouts, JSON in and out, per-credential rate limits (limiter.ts), the retry
 * ladder (retry.ts), error mapping (errors.ts), OAuth refresh (single-flight per credential) and a request id per
 * call in the debug logs. Secrets never reach a log line or an error message.
 *
 * undici and the OAuth code (oauth4webapi) load on first use — the first Keap call, the first token refresh —
 * not when the server starts (a stdio server that is only listed never loads them).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Agent, Dispatcher } from 'undici';
import type { FetchLike } from '../auth/oauth.js';
import type { StoredTokens, TokenStore } from '../auth/token-store.js';
import type { Logger } from '../logger.js';
import { StateUnavailableError } from '../state/errors.js';
import { type CredentialKind, errorFromResponse, OUTCOME_UNKNOWN_MESSAGE, sanitize } from './errors.js';
import { type ClientLimits, CredentialLimiter } from './limiter.js';
import {
  type AttemptOutcome,
  classifyNetworkError,
  DEFAULT_RETRY_POLICY,
  decideRetry,
  describeNetworkError,
  type RetryPolicy,
} from './retry.js';
import {
  type KeapBudget,
  type KeapClientApi,
  KeapError,
  type KeapEvent,
  type KeapRequest,
  type KeapResponse,
  type QueryValue,
} from './types.js';

export type { ClientLimits } from './limiter.js';

export type KeapCredential =
  | { readonly kind: 'pat'; readonly apiKey: string }
  | {
      readonly kind: 'oauth';
      readonly clientId: string;
      readonly clientSecret: string;
      readonly tokenUrl: string;
      readonly tokens: TokenStore;
    };

export interface ClientTimeouts {
  /** TCP/TLS connect (default 10 s). */
  readonly connectMs?: number;
  /** Until the response headers arrive (default 30 s). */
  readonly headersMs?: number;
  /** Between body chunks (default 30 s). */
  readonly bodyMs?: number;
}

export interface CreateKeapClientOptions {
  /** e.g. 'https://api.infusionsoft.com/crm/rest' (real Keap) or the sandbox's base URL. */
  readonly baseUrl: string;
  readonly credential: KeapCredential;
  readonly limits?: Partial<ClientLimits>;
  /** KEAP_MCP_REDIS_URL: one rate-limit budget per credential for all replicas, in this Redis. */
  readonly redisUrl?: string;
  /** Longest wait for a rate-limit slot before failing fast (default 20 s). */
  readonly maxWaitMs?: number;
  readonly timeouts?: ClientTimeouts;
  /** Attempts in total per call (default 4). */
  readonly maxAttempts?: number;
  /** Bound on one call, retries and sleeps included (default 60 s). */
  readonly totalTimeoutMs?: number;
  /** Refresh an OAuth access token this long before it expires (default 5 min, at most half its lifetime). */
  readonly refreshSkewMs?: number;
  /** Backoff tuning (tests). */
  readonly retry?: Partial<Pick<RetryPolicy, 'initialDelayMs' | 'maxDelayMs' | 'rateLimitDelayMs'>>;
  readonly logger: Logger;
  readonly userAgent?: string;
}

const DEFAULT_USER_AGENT = 'keap-mcp/0.1.0';

type Undici = typeof import('undici');
let undiciLoading: Promise<Undici> | undefined;
/** undici, imported once on first use. */
function loadUndici(): Promise<Undici> {
  undiciLoading ??= import('undici');
  return undiciLoading;
}

type OAuthModule = typeof import('../auth/oauth.js');
let oauthLoading: Promise<OAuthModule> | undefined;
/** The OAuth code (oauth4webapi), imported once on the first token refresh. */
function loadOAuth(): Promise<OAuthModule> {
  oauthLoading ??= import('../auth/oauth.js');
  return oauthLoading;
}

function makeAgent(u: Undici, t: ClientTimeouts | undefined): Agent {
  return new u.Agent({
    connect: { timeout: t?.connectMs ?? 10_000 },
    headersTimeout: t?.headersMs ?? 30_000,
    bodyTimeout: t?.bodyMs ?? 30_000,
    keepAliveTimeout: 10_000,
    connections: 32,
  });
}

function headerValue(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

function num(v: string | undefined): number | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** Reads Keap's x-keap-* budget headers. */
export function parseBudget(h: Record<string, string | string[] | undefined>): KeapBudget {
  const throttleAvailable = num(headerValue(h, 'x-keap-product-throttle-available'));
  const quotaAvailable = num(headerValue(h, 'x-keap-product-quota-available'));
  const quotaExpiryMs = num(headerValue(h, 'x-keap-product-quota-expiry-time'));
  const tenantAvailable = num(headerValue(h, 'x-keap-tenant-throttle-available'));
  return {
    ...(throttleAvailable !== undefined ? { throttleAvailable } : {}),
    ...(quotaAvailable !== undefined ? { quotaAvailable } : {}),
    ...(quotaExpiryMs !== undefined ? { quotaExpiryMs } : {}),
    ...(tenantAvailable !== undefined ? { tenantAvailable } : {}),
  };
}

/** Query string: arrays repeat the parameter (OpenAPI form/explode, Keap's default); undefined is dropped. */
export function buildQuery(query: Readonly<Record<string, QueryValue>> | undefined): string {
  if (!query) return '';
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const item of v) sp.append(k, String(item));
    else sp.append(k, String(v));
  }
  const s = sp.toString();
  return s === '' ? '' : `?${s}`;
}

/**
 * A WHATWG-fetch-shaped function over undici.request on the given dispatcher (for oauth4webapi's customFetch).
 * Keeps the token endpoint traffic inside this module.
 */
export function fetchVia(dispatcher: Dispatcher): FetchLike {
  return async (url, init) => {
    const headers: Record<string, string> = {};
    new Headers(init.headers as ConstructorParameters<typeof Headers>[0]).forEach((v, k) => {
      headers[k] = v;
    });
    const body =
      init.body === undefined || init.body === null
        ? undefined
        : typeof init.body === 'string'
          ? init.body
          : init.body instanceof URLSearchParams
            ? init.body.toString()
            : String(init.body);
    const { request: undiciRequest } = await loadUndici();
    const res = await undiciRequest(url, {
      dispatcher,
      method: init.method as Dispatcher.HttpMethod,
      headers,
      ...(body !== undefined ? { body } : {}),
      ...(init.signal ? { signal: init.signal } : {}),
    });
    const text = await res.body.text();
    const out = new Headers();
    for (const [k, v] of Object.entries(res.headers)) {
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const item of v) out.append(k, item);
      else out.set(k, v);
    }
    const nullBody = res.statusCode === 204 || res.statusCode === 304;
    return new Response(nullBody ? null : text, { status: res.statusCode, headers: out });
  };
}

/** A fetch for the OAuth endpoints outside a client (auth login). Close it when done. */
export function createKeapFetch(timeouts?: ClientTimeouts): { fetch: FetchLike; close(): Promise<void> } {
  let agent: Promise<Agent> | undefined;
  return {
    fetch: async (url, init) => {
      agent ??= loadUndici().then((u) => makeAgent(u, timeouts));
      return fetchVia(await agent)(url, init);
    },
    close: async () => {
      if (agent !== undefined) await (await agent).close();
    },
  };
}

// ---- shared per-credential state (limiter, refresh flight) -------------------------------------------------

interface Shared {
  limiter: CredentialLimiter;
  refreshFlight: Promise<StoredTokens> | undefined;
  refs: number;
}

const sharedByCredential = new Map<string, Shared>();

function credentialKey(baseUrl: string, c: KeapCredential): string {
  const id =
    c.kind === 'pat'
      ? `pat:${createHash('sha256').update(c.apiKey).digest('hex')}`
      : `oauth:${c.tokenUrl}:${c.clientId}:${c.tokens.name}`;
  return `${new URL(baseUrl).origin}|${id}`;
}

/** Thrown inside the client when the caller's signal fires during a wait; mapped to a KeapError. */
class Aborted extends Error {}

/** Resolves with `p`, or rejects with Aborted as soon as `signal` fires (`p` itself keeps running). */
function orAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new Aborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** A sleep that ends early (rejecting with Aborted) when `signal` fires. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const p = new Promise<void>((r) => {
    timer = setTimeout(r, ms);
  });
  return orAbort(p, signal).finally(() => clearTimeout(timer));
}

function authError(message: string): KeapError {
  return new KeapError({ category: 'authentication', message, status: 401, retryable: false, notSent: true });
}

export const LOGIN_HINT = 'Run `keap-mcp auth login` to authorise again.';

/** OAuth is configured but `keap-mcp auth login` never ran (or logout / invalid_grant removed the pair). */
export const NOT_LOGGED_IN_MESSAGE =
  'Keap OAuth is configured (KEAP_OAUTH_CLIENT_ID / KEAP_OAUTH_CLIENT_SECRET) but no tokens are stored: nobody has logged in yet. Run `keap-mcp auth login` once, with the same KEAP_OAUTH_CLIENT_ID, KEAP_OAUTH_CLIENT_SECRET and KEAP_MCP_STATE_DIR as the server, then try again.';

/** The call was cancelled by its caller (KeapRequest.signal). */
function cancelledError(notSent: boolean, attempts: number): KeapError {
  return new KeapError({
    category: 'cancelled',
    message: notSent
      ? 'the call was cancelled before it was sent; nothing reached Keap'
      : 'the call was cancelled while waiting for Keap to answer',
    reason: 'cancelled by the caller',
    retryable: false,
    attempts,
    notSent,
  });
}

export function createKeapClient(opts: CreateKeapClientOptions): KeapClientApi {
  const log = opts.logger.child({ component: 'keap-client' });
  const base = new URL(opts.baseUrl);
  const basePath = base.pathname.replace(/\/+$/, '');
  const cred = opts.credential;
  const kind: CredentialKind = cred.kind;
  /** The OAuth pair this client last read or stored (kept for redaction: secrets() is synchronous). */
  let lastPair: StoredTokens | undefined;
  async function loadPair(c: { readonly tokens: TokenStore }): Promise<StoredTokens | undefined> {
    const t = await c.tokens.load();
    if (t !== undefined) lastPair = t;
    return t;
  }
  /** Everything that must never reach an error or a log line: the key or client secret and the OAuth pair in use. */
  function secrets(extra: readonly (string | undefined)[] = []): string[] {
    if (cred.kind === 'pat') return [cred.apiKey];
    const stored = lastPair;
    return [cred.clientSecret, stored?.accessToken, stored?.refreshToken, ...extra].filter(
      (s): s is string => s !== undefined,
    );
  }
  /** undici and the connection pool, loaded and made on the first call (`ready()`). */
  interface Pool {
    readonly request: Undici['request'];
    readonly agent: Agent;
  }
  let poolLoading: Promise<Pool> | undefined;
  function ready(): Promise<Pool> {
    poolLoading ??= loadUndici().then((u) => ({ request: u.request, agent: makeAgent(u, opts.timeouts) }));
    return poolLoading;
  }
  const tokenFetch: FetchLike = async (url, init) => fetchVia((await ready()).agent)(url, init);
  const policy: RetryPolicy = {
    ...DEFAULT_RETRY_POLICY,
    ...(opts.retry ?? {}),
    maxAttempts: opts.maxAttempts ?? DEFAULT_RETRY_POLICY.maxAttempts,
    totalTimeoutMs: opts.totalTimeoutMs ?? DEFAULT_RETRY_POLICY.totalTimeoutMs,
  };
  const refreshSkewMs = opts.refreshSkewMs ?? 5 * 60_000;
  const key = credentialKey(opts.baseUrl, cred);
  let shared = sharedByCredential.get(key);
  if (!shared) {
    shared = {
      limiter: new CredentialLimiter(
        kind,
        opts.limits,
        opts.maxWaitMs ?? 20_000,
        Date.now,
        opts.redisUrl
          ? // The Redis keys name the credential by a hash of its key (never the secret).
            {
              shared: {
                redisUrl: opts.redisUrl,
                id: createHash('sha256').update(key).digest('hex').slice(0, 32),
              },
            }
          : {},
      ),
      refreshFlight: undefined,
      refs: 0,
    };
    sharedByCredential.set(key, shared);
  }
  shared.refs += 1;
  const sh = shared;
  sh.limiter.onRate ??= (rate, signal) =>
    log.debug(
      { rate: Math.round(rate * 100) / 100, signal },
      signal === 'loss'
        ? 'keap 429: another consumer shares the credential; sending slower'
        : 'keap counters: another consumer shares the credential; sending slower',
    );
  let closed = false;

  // ---- OAuth tokens ----
  function isFresh(t: StoredTokens, now: number): boolean {
    const lifetime = Math.max(0, t.expiresAt - t.obtainedAt);
    const skew = Math.min(refreshSkewMs, lifetime / 2);
    return t.expiresAt - skew > now;
  }

  /** Single-flight refresh: every caller that finds `staleAccess` in use shares one POST /token. */
  function refresh(staleAccess: string): Promise<StoredTokens> {
    if (cred.kind !== 'oauth') throw new Error('not an OAuth credential');
    if (sh.refreshFlight) return sh.refreshFlight;
    const c = cred;
    const locked = <T>(fn: () => Promise<T>): Promise<T> =>
      c.tokens.withRefreshLock !== undefined ? c.tokens.withRefreshLock(fn) : fn();
    const flight = locked(async (): Promise<StoredTokens> => {
      const cur = await loadPair(c);
      if (!cur) throw authError(NOT_LOGGED_IN_MESSAGE);
      // Another client (or process) already rotated the pair: use it.
      if (cur.accessToken !== staleAccess && isFresh(cur, Date.now())) return cur;
      const started = Date.now();
      let oauth: OAuthModule | undefined;
      try {
        oauth = await loadOAuth();
        const next = await oauth.refreshTokens(
          {
            clientId: c.clientId,
            clientSecret: c.clientSecret,
            tokenUrl: c.tokenUrl,
            authorizeUrl: c.tokenUrl,
          },
          cur,
          tokenFetch,
        );
        await c.tokens.save(next); // persisted atomically before anyone uses it
        lastPair = next;
        log.info(
          { expiresAt: new Date(next.expiresAt).toISOString(), ms: Date.now() - started },
          'oauth tokens refreshed',
        );
        return next;
      } catch (e) {
        if (
          oauth !== undefined &&
          e instanceof oauth.OAuthGrantError &&
          (e.error === 'invalid_grant' || e.error === 'invalid_client')
        ) {
          const again = await loadPair(c);
          if (again && again.refreshToken !== cur.refreshToken) return again; // rotated by someone else meanwhile
          if (e.error === 'invalid_grant') await c.tokens.clear();
          log.warn({ error: e.error }, 'oauth refresh rejected');
          throw authError(
            e.error === 'invalid_grant'
              ? `Keap rejected the stored refresh token (invalid_grant: it was already used, revoked or expired); the stored tokens were removed. ${LOGIN_HINT}`
              : 'Keap rejected the OAuth client credentials (invalid_client). Check KEAP_OAUTH_CLIENT_ID / KEAP_OAUTH_CLIENT_SECRET.',
          );
        }
        if (e instanceof KeapError) throw e;
        log.warn(
          {
            err: sanitize(
              e instanceof Error ? e.message : String(e),
              secrets([cur.accessToken, cur.refreshToken]),
            ),
          },
          'oauth refresh failed',
        );
        throw new KeapError({
          category: 'unavailable',
          message:
            'Could not refresh the Keap OAuth token (token endpoint unreachable or failing); try again shortly.',
          retryable: true,
          notSent: true,
        });
      }
    });
    sh.refreshFlight = flight;
    flight.then(
      () => {
        if (sh.refreshFlight === flight) sh.refreshFlight = undefined;
      },
      () => {
        if (sh.refreshFlight === flight) sh.refreshFlight = undefined;
      },
    );
    return flight;
  }

  /** Waits for a refresh on behalf of one call: reports it, stops waiting (not the refresh) on cancel. */
  async function refreshFor(
    flight: Promise<StoredTokens>,
    req: KeapRequest,
    emit: (e: KeapEvent) => void,
  ): Promise<StoredTokens> {
    try {
      const t = await orAbort(flight, req.signal);
      emit({ kind: 'token_refresh', outcome: 'refreshed' });
      return t;
    } catch (e) {
      if (!(e instanceof Aborted)) emit({ kind: 'token_refresh', outcome: 'failed' });
      throw e;
    }
  }

  async function authHeaders(
    req: KeapRequest,
    emit: (e: KeapEvent) => void,
  ): Promise<{ headers: Record<string, string>; accessToken?: string }> {
    if (cred.kind === 'pat') return { headers: { 'x-keap-api-key': cred.apiKey } };
    if (sh.refreshFlight) {
      const t = await refreshFor(sh.refreshFlight, req, emit);
      return { headers: { authorization: `Bearer ${t.accessToken}` }, accessToken: t.accessToken };
    }
    let t = await loadPair(cred);
    if (!t) throw authError(NOT_LOGGED_IN_MESSAGE);
    if (!isFresh(t, Date.now())) t = await refreshFor(refresh(t.accessToken), req, emit);
    return { headers: { authorization: `Bearer ${t.accessToken}` }, accessToken: t.accessToken };
  }

  // ---- one attempt ----
  interface Sent {
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: unknown;
    malformed: boolean;
  }

  async function send(
    pool: Pool,
    req: KeapRequest,
    auth: Record<string, string>,
    signal: AbortSignal,
    onSent: () => void,
  ): Promise<Sent> {
    const url = `${base.origin}${basePath}${req.path}${buildQuery(req.query)}`;
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': opts.userAgent ?? DEFAULT_USER_AGENT,
      ...(req.headers ?? {}),
      ...auth,
    };
    let body: string | undefined;
    if (req.body !== undefined) {
      body = JSON.stringify(req.body);
      headers['content-type'] = 'application/json';
    }
    onSent();
    const res = await pool.request(url, {
      dispatcher: pool.agent,
      method: req.method,
      headers,
      ...(body !== undefined ? { body } : {}),
      signal,
    });
    if (req.download && res.statusCode >= 200 && res.statusCode < 300) {
      // A file's bytes: counted, never decoded or passed on.
      const bytes = (await res.body.arrayBuffer()).byteLength;
      const type = res.headers['content-type'];
      return {
        status: res.statusCode,
        headers: res.headers,
        body: {
          content_type: typeof type === 'string' ? type.slice(0, 200) : 'unknown',
          size_bytes: bytes,
        },
        malformed: false,
      };
    }
    const text = await res.body.text();
    let parsed: unknown = null;
    let malformed = false;
    if (text.trim() !== '') {
      try {
        parsed = JSON.parse(text) as unknown;
      } catch {
        parsed = text;
        malformed = res.statusCode < 300;
      }
    }
    return { status: res.statusCode, headers: res.headers, body: parsed, malformed };
  }

  /** A send slot; this attempt has not been sent when this throws, so a cancellation here is never "outcome
   * unknown" (`notSent` tells whether an earlier attempt may have been applied). */
  async function acquireSlot(
    req: KeapRequest,
    deadline: number,
    attempts: number,
    notSent: boolean,
    emit: (e: KeapEvent) => void,
  ): Promise<number> {
    try {
      return await sh.limiter.acquire(
        req.priority,
        req.signal,
        Math.max(0, deadline - Date.now()),
        // No listener, no timers: the hot path stays as it was.
        req.onEvent ? (waitMs, reason) => emit({ kind: 'rate_wait', waitMs, reason }) : undefined,
      );
    } catch (e) {
      if (e instanceof KeapError) throw e;
      if (req.signal?.aborted) throw cancelledError(notSent, attempts);
      throw new KeapError({
        category: 'unavailable',
        message: 'the Keap client is shutting down; nothing was sent to Keap',
        retryable: false,
        attempts,
        notSent,
      });
    }
  }

  async function request(req: KeapRequest): Promise<KeapResponse> {
    if (closed)
      throw new KeapError({
        category: 'unavailable',
        message: 'the Keap client is closed',
        retryable: false,
        notSent: true,
      });
    if (!/^\/v[12]\//.test(req.path)) {
      throw new KeapError({
        category: 'input',
        message: `path must start with /v1/ or /v2/: ${req.path}`,
        retryable: false,
        notSent: true,
      });
    }
    const requestId = randomUUID();
    const started = Date.now();
    const deadline = started + policy.totalTimeoutMs;
    const emit = (e: KeapEvent): void => {
      if (!req.onEvent) return;
      try {
        req.onEvent(e);
      } catch {
        // a listener never breaks the call
      }
    };
    let attempt = 0;
    let refreshed = false;
    /** Some attempt may have been applied by Keap: any answer but 429/401 (refused before processing), or a
     * failure after the request may have left (timeout, reset). A refused connect or DNS failure is not. */
    let mayBeApplied = false;
    let budget: KeapBudget = sh.limiter.budget();
    if (req.signal?.aborted) throw cancelledError(true, 0);
    // undici loads with the first call, before its rate-limit slot is taken (the slot time is the send time).
    const pool = await ready();
    for (;;) {
      // Token first (it may wait for a refresh), then the rate-limit slot, then send at once: the slot time must
      // be the send time or the per-second accounting drifts.
      let auth: Awaited<ReturnType<typeof authHeaders>>;
      try {
        auth = await authHeaders(req, emit);
      } catch (e) {
        if (e instanceof Aborted) throw cancelledError(!mayBeApplied, attempt);
        if (e instanceof StateUnavailableError) {
          // The shared token store (Redis) is down: no token, no request (and never a refresh without its lock).
          // Before anything was sent the pipeline says so in its own words (retryable, Redis named).
          if (!mayBeApplied) throw e;
          throw new KeapError({
            category: 'unavailable',
            message: e.message,
            retryable: !mayBeApplied,
            notSent: !mayBeApplied,
          });
        }
        throw e;
      }
      const slot = await acquireSlot(req, deadline, attempt, !mayBeApplied, emit);
      attempt += 1;
      const attemptStart = Date.now();
      const remaining = Math.max(1, deadline - attemptStart);
      const timeout = AbortSignal.timeout(remaining);
      const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
      let outcome: AttemptOutcome;
      let res: Sent | undefined;
      /** The cause of a network failure in plain words (no secrets, no URL). */
      let cause: string | undefined;
      const thisAttempt = attempt;
      try {
        res = await send(pool, req, auth.headers, signal, () => emit({ kind: 'sent', attempt: thisAttempt }));
        sh.limiter.arrived(slot, Date.now());
        if (res.status !== 429 && res.status !== 401) mayBeApplied = true;
        budget = parseBudget(res.headers);
        sh.limiter.observe(budget, {
          sentAt: slot,
          status: res.status,
          throttleLimit: num(headerValue(res.headers, 'x-keap-product-throttle-limit')),
        });
        outcome = res.malformed
          ? { kind: 'network', failure: 'ambiguous' }
          : { kind: 'status', status: res.status };
        if (res.status === 429) sh.limiter.throttled(policy.rateLimitDelayMs);
        log.debug(
          {
            requestId,
            method: req.method,
            path: req.path,
            attempt,
            status: res.status,
            ms: Date.now() - attemptStart,
            budget,
          },
          'keap response',
        );
      } catch (e) {
        if (req.signal?.aborted) {
          log.debug(
            { requestId, method: req.method, path: req.path, attempt },
            'keap call cancelled in flight',
          );
          // Sent: a read simply stops; a write may have been applied (whatever its idempotency).
          if (req.priority === 'read') throw cancelledError(false, attempt);
          throw new KeapError({
            category: 'outcome_unknown',
            message: `${req.method} ${req.path} was cancelled after it was sent. ${OUTCOME_UNKNOWN_MESSAGE}`,
            reason: 'cancelled by the caller after the request was sent',
            retryable: false,
            attempts: attempt,
          });
        }
        outcome = { kind: 'network', failure: classifyNetworkError(e) };
        if (outcome.failure !== 'not_sent') mayBeApplied = true;
        cause = describeNetworkError(e, base.hostname);
        log.debug(
          {
            requestId,
            method: req.method,
            path: req.path,
            attempt,
            failure: outcome.failure,
            code: errorCode(e),
            cause,
            ms: Date.now() - attemptStart,
          },
          'keap request failed',
        );
      }
      const decision = decideRetry({
        outcome,
        attempt,
        idempotent: req.idempotent,
        elapsedMs: Date.now() - started,
        canRefresh: cred.kind === 'oauth' && !refreshed,
        policy,
      });
      switch (decision.action) {
        case 'done': {
          const r = res as Sent;
          if (r.status < 400) {
            return {
              status: r.status,
              body: r.body,
              attempts: attempt,
              durationMs: Date.now() - started,
              budget,
              requestId,
            };
          }
          throw errorFromResponse({
            status: r.status,
            body: r.body,
            method: req.method,
            path: req.path,
            credentialKind: kind,
            attempts: attempt,
            budget,
            ...(r.status === 429 ? { retryAfterSec: Math.ceil(policy.rateLimitDelayMs / 1000) } : {}),
            secrets: secrets([auth.accessToken]),
          });
        }
        case 'refresh':
          refreshed = true;
          log.debug({ requestId }, 'keap 401: refreshing the oauth token once');
          try {
            await refreshFor(refresh(auth.accessToken ?? ''), req, emit);
          } catch (e) {
            if (e instanceof Aborted) throw cancelledError(!mayBeApplied, attempt);
            throw e;
          }
          continue;
        case 'retry': {
          const retryCause = cause ?? (res ? retryCauseForStatus(res.status) : decision.reason);
          log.debug({ requestId, attempt, delayMs: decision.delayMs, reason: decision.reason }, 'keap retry');
          emit({ kind: 'retry', attempt: attempt + 1, delayMs: decision.delayMs, cause: retryCause });
          try {
            await sleep(decision.delayMs, req.signal);
          } catch (e) {
            if (e instanceof Aborted) throw cancelledError(!mayBeApplied, attempt);
            throw e;
          }
          continue;
        }
        case 'outcome_unknown': {
          log.warn({ requestId, method: req.method, path: req.path, attempt }, 'keap outcome unknown');
          const what = res
            ? `HTTP ${res.status}${res.malformed ? ', unreadable body' : ''}`
            : (cause ?? 'connection lost or timed out');
          throw new KeapError({
            category: 'outcome_unknown',
            message: `${req.method} ${req.path} failed after it was sent (${what}). ${OUTCOME_UNKNOWN_MESSAGE}`,
            ...(res ? { status: res.status } : {}),
            reason: what,
            retryable: false,
            attempts: attempt,
            budget,
          });
        }
        case 'fail':
          throw new KeapError({
            category: 'unavailable',
            message: `Keap could not be reached for ${req.method} ${req.path} after ${attempt} attempt(s): ${cause ?? 'network error'}. Try again later.`,
            ...(res ? { status: res.status } : {}),
            ...(cause !== undefined ? { reason: cause } : {}),
            retryable: true,
            attempts: attempt,
            budget,
            notSent: !mayBeApplied,
          });
      }
    }
  }

  return {
    request,
    budget: () => ({ ...sh.limiter.budget(), at: sh.limiter.budgetAt() }),
    async close() {
      if (closed) return;
      closed = true;
      sh.refs -= 1;
      if (sh.refs <= 0) {
        sharedByCredential.delete(key);
        await sh.limiter.stop();
      }
      if (poolLoading !== undefined) await (await poolLoading).agent.close();
    },
  };
}

/** The cause of a retried answer, for retry events. */
function retryCauseForStatus(status: number): string {
  if (status === 429) return 'rate limited by Keap (429)';
  if (status === 401) return 'access token rejected (401)';
  return `Keap answered HTTP ${status}`;
}

function errorCode(e: unknown): string | undefined {
  let x: unknown = e;
  for (let i = 0; i < 4 && typeof x === 'object' && x !== null; i += 1) {
    const c = (x as { code?: unknown }).code;
    if (typeof c === 'string') return c;
    x = (x as { cause?: unknown }).cause;
  }
  return undefined;
}
