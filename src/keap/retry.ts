/**
 * The retry ladder: a small pure function that decides what to do after one attempt. Modelled on stripe-node's
 * `_shouldRetry` / `_getSleepTimeInMS`, adapted to what Keap does (keap-api.md §3.6, §4):
 *
 *   1. 2xx/3xx                         → done.
 *   2. 401 on an OAuth credential      → refresh the token once, then try again (a second 401 is final).
 *   3. 429                             → retry after a backoff, for ANY method: Keap's gateway rejected the call
 *                                        before it reached the application, so nothing was applied.
 *   4. other 4xx (400/403/404/409/422) → final: the same request would fail the same way; so is 501 (the
 *                                        operation is not implemented there: nothing was applied).
 *   5. 5xx, timeout, connection reset  → the request may have been applied. Retry (exponential backoff + jitter)
 *                                        only when the call is idempotent (GET/PUT/DELETE and catalog-marked
 *                                        calls); a POST/PATCH gets "outcome unknown" so the caller checks first.
 *   6. connection refused / connect timeout / DNS failure
 *                                      → the request provably never reached Keap: retry for any method.
 *
 * Every retry is bounded twice: by `maxAttempts` and by `totalTimeoutMs` (a retry whose sleep would end after the
 * deadline is not taken).
 */

export type NetworkFailure =
  /** No byte of the request reached Keap (ECONNREFUSED, connect timeout, DNS). */
  | 'not_sent'
  /** Sent, but no (complete) answer: timeout, reset, socket closed, malformed response. */
  | 'ambiguous';

export type AttemptOutcome =
  | { readonly kind: 'status'; readonly status: number; readonly retryAfterSec?: number }
  | { readonly kind: 'network'; readonly failure: NetworkFailure };

export interface RetryPolicy {
  /** Attempts in total, including the first (default 4). */
  readonly maxAttempts: number;
  /** First backoff for 5xx / network failures (stripe-node: 500 ms). */
  readonly initialDelayMs: number;
  /** Cap of one backoff sleep. */
  readonly maxDelayMs: number;
  /** First backoff after a 429 (Keap's spike arrest works in 1 s windows). */
  readonly rateLimitDelayMs: number;
  /** Upper bound on the whole call, sleeps included. */
  readonly totalTimeoutMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 4,
  initialDelayMs: 500,
  maxDelayMs: 8_000,
  rateLimitDelayMs: 1_000,
  totalTimeoutMs: 60_000,
};

export type RetryDecision =
  | { readonly action: 'done' }
  | { readonly action: 'refresh' }
  | { readonly action: 'retry'; readonly delayMs: number; readonly reason: string }
  /** Give up: the call may have been applied (non-idempotent after an ambiguous failure). */
  | { readonly action: 'outcome_unknown' }
  /** Give up: the failure is final (the client maps the status, or 'unavailable' for a network failure). */
  | { readonly action: 'fail' };

export interface RetryInput {
  readonly outcome: AttemptOutcome;
  /** Attempts made so far (1 after the first). */
  readonly attempt: number;
  readonly idempotent: boolean;
  /** Time spent on this call so far. */
  readonly elapsedMs: number;
  /** OAuth credential whose token has not been refreshed for this call yet. */
  readonly canRefresh: boolean;
  readonly policy: RetryPolicy;
  /** Source of jitter in [0, 1) (injectable for tests). */
  readonly random?: () => number;
}

/** stripe-node's backoff: base·2^(n-1) capped, then jittered to [50 %, 100 %], never below the base. */
export function backoffMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const exp = Math.min(baseMs * 2 ** Math.max(0, attempt - 1), maxMs);
  const jittered = exp * 0.5 * (1 + random());
  return Math.round(Math.max(baseMs, Math.min(jittered, maxMs)));
}

export function decideRetry(input: RetryInput): RetryDecision {
  const { outcome, attempt, idempotent, elapsedMs, policy } = input;
  const random = input.random ?? Math.random;
  const attemptsLeft = attempt < policy.maxAttempts;
  const retryAfter = (delayMs: number, reason: string): RetryDecision | undefined =>
    attemptsLeft && elapsedMs + delayMs < policy.totalTimeoutMs
      ? { action: 'retry', delayMs, reason }
      : undefined;

  if (outcome.kind === 'status') {
    const s = outcome.status;
    if (s < 400) return { action: 'done' };
    // (2) one refresh per call; the refreshed attempt does not count against maxAttempts' budget of failures.
    if (s === 401) return input.canRefresh ? { action: 'refresh' } : { action: 'done' };
    // (3) Throttled at the gateway: not processed, safe for every method.
    if (s === 429) {
      const hinted = outcome.retryAfterSec !== undefined ? outcome.retryAfterSec * 1000 : 0;
      const delay = Math.max(hinted, backoffMs(attempt, policy.rateLimitDelayMs, policy.maxDelayMs, random));
      return retryAfter(delay, '429') ?? { action: 'done' };
    }
    // (4) Deterministic client errors, and "not implemented" (the operation does not exist there: nothing applied).
    if (s < 500 || s === 501) return { action: 'done' };
    // (5) Server errors: maybe applied.
    if (!idempotent) return { action: 'outcome_unknown' };
    return (
      retryAfter(backoffMs(attempt, policy.initialDelayMs, policy.maxDelayMs, random), `${s}`) ?? {
        action: 'done',
      }
    );
  }

  // Network failures.
  const delay = backoffMs(attempt, policy.initialDelayMs, policy.maxDelayMs, random);
  if (outcome.failure === 'not_sent') {
    // (6) Never reached Keap: any method may be retried.
    return retryAfter(delay, 'not_sent') ?? { action: 'fail' };
  }
  // (5) Ambiguous: sent, answer lost.
  if (!idempotent) return { action: 'outcome_unknown' };
  return retryAfter(delay, 'ambiguous') ?? { action: 'fail' };
}

/** Error codes (Node / undici) that prove no request byte reached the server. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CONNECT',
  // TLS handshake failures: the handshake comes before any request byte.
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Classifies a thrown network error by its `code` (walking `cause`). */
export function classifyNetworkError(err: unknown): NetworkFailure {
  let e: unknown = err;
  for (let i = 0; i < 5 && typeof e === 'object' && e !== null; i += 1) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NOT_SENT_CODES.has(code)) return 'not_sent';
    e = (e as { cause?: unknown }).cause;
  }
  return 'ambiguous';
}

/** The error codes along `err`'s cause chain (outermost first), plus the error names (TimeoutError, AbortError). */
function codesOf(err: unknown): { codes: string[]; names: string[] } {
  const codes: string[] = [];
  const names: string[] = [];
  let e: unknown = err;
  for (let i = 0; i < 5 && typeof e === 'object' && e !== null; i += 1) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    const name = (e as { name?: unknown }).name;
    if (typeof name === 'string') names.push(name);
    e = (e as { cause?: unknown }).cause;
  }
  return { codes, names };
}

const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|EPROTO$|CERT_|DEPTH_ZERO_|SELF_SIGNED_|UNABLE_TO_(VERIFY|GET)_)/;

/**
 * Names the cause of a failed attempt in plain words, from error codes only (never an error's own message, which
 * may quote a URL with query values). `host` is the host name (no credentials, no path).
 */
export function describeNetworkError(err: unknown, host: string): string {
  const { codes, names } = codesOf(err);
  const has = (...c: string[]): boolean => codes.some((x) => c.includes(x));
  if (has('ENOTFOUND')) return `DNS lookup failed for ${host} (the host name does not resolve)`;
  if (has('EAI_AGAIN')) return `DNS lookup for ${host} failed temporarily (no answer from the DNS resolver)`;
  if (has('ECONNREFUSED')) return `connection refused by ${host} (nothing is listening on that port)`;
  if (has('EHOSTUNREACH', 'ENETUNREACH')) return `${host} is unreachable from this network`;
  if (has('UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT'))
    return `connection to ${host} timed out (no answer to the connection attempt)`;
  const tls = codes.find((c) => TLS_CODE.test(c));
  if (tls !== undefined) return `TLS error with ${host} (${tls}): the secure connection could not be set up`;
  if (has('UND_ERR_HEADERS_TIMEOUT')) return `timeout: ${host} did not answer in time`;
  if (has('UND_ERR_BODY_TIMEOUT')) return `timeout: ${host} stopped sending its answer`;
  if (names.includes('TimeoutError')) return `timeout: ${host} did not answer within the call's time limit`;
  if (has('ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE'))
    return `connection reset: ${host} closed the connection before answering`;
  if (names.includes('AbortError')) return 'the request was aborted';
  const code = codes[0];
  return code !== undefined
    ? `network error talking to ${host} (${code})`
    : `network error talking to ${host}`;
}
