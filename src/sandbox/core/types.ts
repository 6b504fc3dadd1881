/**
 * Contract shared by the sandbox's own modules (core + resources). The sandbox is an
 * independent Keap: nothing under src/sandbox may import from src/ outside src/sandbox or from tools/.
 */
import type { IncomingHttpHeaders } from 'node:http';

export type SbMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export interface SbRequest {
  readonly method: SbMethod;
  /** Path after the base URL, e.g. '/v2/contacts/12' (no query string). */
  readonly path: string;
  /** Path parameters by the placeholder names of the route, e.g. { contact_id: '12' }. */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** Parsed JSON body (undefined when none). Form bodies (OAuth /token) are in `form`. */
  readonly body: unknown;
  readonly form?: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  /** The authenticated credential (set by core auth before the handler runs). */
  readonly auth: { readonly credentialId: string; readonly kind: 'pat' | 'oauth'; readonly userId: number };
}

export interface SbResponse {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export type SbHandler = (req: SbRequest, sb: SandboxApi) => SbResponse | Promise<SbResponse>;

export interface SbRoute {
  readonly method: SbMethod;
  /** Keap's documented path with placeholders, e.g. '/v2/contacts/{contact_id}' or '/v2/subscriptions/{subscription_id}:deactivate'. */
  readonly path: string;
  readonly handler: SbHandler;
}

/** A record of something that would have been real (email, charge, subscription start/cancel). */
export interface LedgerEntry {
  readonly kind:
    | 'email_sent'
    | 'charge'
    | 'payment_recorded'
    | 'subscription_started'
    | 'subscription_cancelled';
  readonly at: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** In-memory table keyed by numeric id, insertion-ordered. */
export interface SbTable<T extends { id: number }> {
  nextId(): number;
  insert(row: T): T;
  get(id: number): T | undefined;
  update(id: number, patch: Partial<T>): T | undefined;
  delete(id: number): boolean;
  all(): T[];
  size(): number;
}

/** What resource modules see of the running sandbox. */
export interface SandboxApi {
  /** Base URL the sandbox serves on, e.g. 'http://127.0.0.1:4321' (used for hook apiUrl). */
  readonly baseUrl: string;
  /** Named table, created on first use. Tables are wiped by reset(). */
  table<T extends { id: number }>(name: string): SbTable<T>;
  /** Deterministic PRNG in [0,1) for seeding (seeded by the sandbox seed number). */
  random(): number;
  /** Current time (ISO strings are produced from this). */
  now(): Date;
  /** Record a REST Hook event for object id (delivered by the hooks module to verified hooks). */
  emit(eventKey: string, objectType: string, id: number | string): void;
  /** Append to the ledger. */
  record(kind: LedgerEntry['kind'], data: Record<string, unknown>): void;
  /** Subscribe to emitted events (the hooks module does). Returns an unsubscribe function. */
  onEvent(listener: (event: SbEvent) => void): () => void;
  /** Current runtime configuration (changeable through POST /__sandbox/config). Added by core. */
  config(): SandboxConfig;
}

/** Runtime configuration (read through SandboxApi.config(); changed by POST /__sandbox/config). */
export interface SandboxConfig {
  readonly seed: number;
  readonly limits: SandboxLimits;
  readonly accessTokenTtlSec: number;
  /** Delay before a hook batch is delivered (default 1000 ms; ignored when hookSchedule is 'keap'). */
  readonly hookDelayMs: number;
  /** Delays of the retries after a failed delivery (default [1000, 2000, 4000]; ignored when hookSchedule is 'keap'). */
  readonly hookRetryDelaysMs: readonly number[];
  /** How long a hook receiver may take before the attempt counts as failed (default 30 000 ms, as Keap). */
  readonly hookTimeoutMs: number;
  /** Hook timing: 'fast' (hookDelayMs / hookRetryDelaysMs, the default) or 'keap' (Keap's real schedule). */
  readonly hookSchedule: HookSchedule;
}

/**
 * 'fast': deliver `hookDelayMs` after the first event of a batch, retry after `hookRetryDelaysMs[n]`.
 * 'keap': Keap's real schedule — first attempt 30–60 s after the change, retries +30–60 s, +5 min, +30 min.
 */
export type HookSchedule = 'fast' | 'keap';

export interface SbEvent {
  readonly eventKey: string;
  readonly objectType: string;
  readonly id: number | string;
  /** ISO time of the change. */
  readonly at: string;
}

/** A resource module: its routes and how it seeds its part of the demo account. */
export interface SbModule {
  readonly name: string;
  readonly routes: readonly SbRoute[];
  /** Seed this module's tables. Modules are seeded in array order (users, tags, companies, contacts, …). */
  seed?(sb: SandboxApi): void;
  /** Called once when the server starts listening; may return a stopper called on close(). */
  start?(sb: SandboxApi): (() => void | Promise<void>) | undefined;
}

/** Options of startSandbox() (src/sandbox/server.ts). */
export interface SandboxOptions {
  readonly host?: string;
  /** 0 = ephemeral. */
  readonly port?: number;
  /** Seed number for the deterministic demo account (default 42). */
  readonly seed?: number;
  /** Enable the /__sandbox/ control surface (default false). */
  readonly control?: boolean;
  /** When set, only these API keys are accepted; otherwise any non-empty key is a PAT. */
  readonly apiKeys?: readonly string[];
  /** OAuth clients allowed at /token (default: one client 'sandbox-client' / 'sandbox-secret'). */
  readonly oauthClients?: readonly { readonly id: string; readonly secret: string }[];
  /** Access-token lifetime in seconds (default 86400). */
  readonly accessTokenTtlSec?: number;
  /** Rate limits, each overridable (defaults: Keap's). */
  readonly limits?: Partial<SandboxLimits>;
  /** Delay before a hook batch is delivered (default 1000 ms) and the retry delays after a failure. */
  readonly hookDelayMs?: number;
  readonly hookRetryDelaysMs?: readonly number[];
  /** Hook receiver timeout in ms (default 30 000, as Keap): a slower answer is a failed delivery, retried. */
  readonly hookTimeoutMs?: number;
  /** Hook delivery timing (default 'fast'; 'keap' = Keap's real 30 s – 30 min schedule). */
  readonly hookSchedule?: HookSchedule;
  /** Log one line per request to stderr (method, path, status, ms; never credentials). Default false. */
  readonly logRequests?: boolean;
}

export interface SandboxLimits {
  readonly patPerSecond: number; // 10
  readonly patPerMinute: number; // 240
  readonly patPerDay: number; // 30000
  readonly oauthPerMinute: number; // 1500
  readonly oauthPerDay: number; // 150000
  readonly spikePerSecond: number; // 25
  readonly tenantPerMinute: number; // 10000
}

export interface RunningSandbox {
  readonly baseUrl: string;
  readonly api: SandboxApi;
  close(): Promise<void>;
}
