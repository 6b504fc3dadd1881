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
  readonly signal?: AbortSignal;
}

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
  | 'confirmation';

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
  }
}

export interface KeapClientApi {
  request(req: KeapRequest): Promise<KeapResponse>;
  close(): Promise<void>;
}
