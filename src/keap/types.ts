/** Contract of the single module that talks HTTP to Keap (src/keap/client.ts). */
export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export type QueryValue = string | number | boolean | readonly (string | number)[] | undefined;

export interface KeapRequest {
  readonly method: HttpMethod;
  /** Path with placeholders already filled and encoded, starting with '/v1/' or '/v2/'. */
  readonly path: string;
  readonly query?: Readonly<Record<string, QueryValue>>;
  /** JSON body (omitted when undefined). */
  readonly body?: unknown;
  /** Extra request headers (never auth headers: the client adds those). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Safe to retry after an ambiguous failure (GET/PUT/DELETE and catalog-marked calls). */
  readonly idempotent: boolean;
  /** Reads and writes share the budget; writes never queue behind thousands of reads. */
  readonly priority: 'read' | 'write';
  /**
   * Cancels the call. Not sent yet (queued for a rate-limit slot, waiting between retries or for a token
   * refresh): KeapError 'cancelled' with notSent, nothing reaches Keap. Already sent: the client stops waiting;
   * a read reports 'cancelled', a write 'outcome_unknown' (it may have been applied).
   */
  readonly signal?: AbortSignal;
  /**
   * Progress and logging hook (e.g. MCP progress / log notifications). Called synchronously; an exception thrown
   * by it is ignored. Events never carry a secret or a query/body value.
   */
  readonly onEvent?: (e: KeapEvent) => void;
  /**
   * The answer is a file's bytes: a 2xx body is read and counted, never decoded, and reported as
   * `{ content_type, size_bytes }`.
   */
  readonly download?: boolean;
}

/** Why a call waits for a send slot. */
export type RateWaitReason =
  /** Keap's per-second limit (PAT 10/s) or spike arrest (25/s), including the minimum gap between sends. */
  | 'per_second'
  | 'per_minute'
  | 'per_day'
  /** Keap's own budget headers say the window is used up (another process uses the same credential). */
  | 'keap_budget'
  /** A 429 from Keap holds every send of the credential for a moment. */
  | 'throttled'
  /** Other calls of this credential hold the earlier slots (writes go first). */
  | 'queue';

/** What the client reports about one call while it runs (KeapRequest.onEvent). No secrets, no personal data. */
export type KeapEvent =
  /** The call waits for a rate-limit slot: once when the wait starts, then about every second while waiting. */
  | { readonly kind: 'rate_wait'; readonly waitMs: number; readonly reason: RateWaitReason }
  /** About to sleep `delayMs`, then make attempt number `attempt` (2 = the first retry). */
  | { readonly kind: 'retry'; readonly attempt: number; readonly delayMs: number; readonly cause: string }
  /** An OAuth token refresh happened on behalf of this call (its own or one it joined). */
  | { readonly kind: 'token_refresh'; readonly outcome: 'refreshed' | 'failed' }
  /** Attempt number `attempt` leaves for Keap now (from here on a write may be applied). */
  | { readonly kind: 'sent'; readonly attempt: number };

/** Keap's remaining budget as last reported by the x-keap-* headers. */
export interface KeapBudget {
  readonly throttleAvailable?: number;
  readonly quotaAvailable?: number;
  readonly quotaExpiryMs?: number;
  readonly tenantAvailable?: number;
}

export interface KeapResponse {
  readonly status: number;
  /** Parsed JSON body; null for empty bodies (202/204). */
  readonly body: unknown;
  readonly attempts: number;
  readonly durationMs: number;
  readonly budget: KeapBudget;
  /** Our request id (also in logs). */
  readonly requestId: string;
}

export type ErrorCategory =
  | 'input'
  | 'not_found'
  | 'validation'
  | 'permission'
  | 'authentication'
  | 'conflict'
  | 'rate_limited'
  | 'unavailable'
  | 'outcome_unknown'
  | 'policy'
  | 'confirmation'
  /** The caller cancelled the call (see KeapRequest.signal); `notSent` says whether anything reached Keap. */
  | 'cancelled';

/** Every failure the client reports. Messages never contain secrets, headers or stack traces. */
export class KeapError extends Error {
  readonly category: ErrorCategory;
  readonly status: number | undefined;
  /** Keap's own message, sanitized (control chars stripped) and capped (~500 chars). */
  readonly upstreamMessage: string | undefined;
  readonly retryable: boolean;
  readonly retryAfterSec: number | undefined;
  readonly attempts: number;
  readonly budget: KeapBudget | undefined;
  /** True only when nothing provably reached Keap (rate-limit wait refused, cancelled before sending, every
   * attempt refused at connect, no usable token): the caller may release claims such as idempotency keys. */
  readonly notSent: boolean;
  /** The cause in plain words (network failure, timeout, cancellation), e.g. "DNS lookup failed for
   * api.example.invalid". Never a secret, URL query or body value. */
  readonly reason: string | undefined;
  constructor(init: {
    category: ErrorCategory;
    message: string;
    status?: number;
    upstreamMessage?: string;
    retryable: boolean;
    retryAfterSec?: number;
    attempts?: number;
    budget?: KeapBudget;
    notSent?: boolean;
    reason?: string;
  }) {
    super(init.message);
    this.name = 'KeapError';
    this.category = init.category;
    this.status = init.status;
    this.upstreamMessage = init.upstreamMessage;
    this.retryable = init.retryable;
    this.retryAfterSec = init.retryAfterSec;
    this.attempts = init.attempts ?? 0;
    this.budget = init.budget;
    this.notSent = init.notSent ?? false;
    this.reason = init.reason;
  }
}

export interface KeapClientApi {
  request(req: KeapRequest): Promise<KeapResponse>;
  /** Keap's budget as last reported for this client's credential (`at`: when; undefined = not yet). */
  budget?(): KeapBudget & { readonly at?: number | undefined };
  close(): Promise<void>;
}
