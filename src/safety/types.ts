/**
 * Contract between the chokepoint (src/pipeline.ts) and the safety layer (src/safety/*).
 * The pipeline calls, in order: authorize → (dry_run) → confirm → idempotency.begin → Keap → idempotency.complete,
 * and writes one audit record per call and decision.
 */

import type { ErrorCategory, KeapBudget } from '../keap/types.js';
import type { AnyToolSpec, Resource } from '../registry/define.js';
import type { ApprovalsApi } from './approvals.js';

export type Grant = 'none' | 'read' | 'write';
export type ConfirmationMode = 'none' | 'confirm' | 'human_secret';

/** Input fields the machinery adds to tool schemas; never sent to Keap. */
export const SAFETY_FIELDS = [
  'dry_run',
  'idempotency_key',
  'confirmation_token',
  'human_secret',
  'approval_id',
] as const;

export interface PolicyApi {
  /** Agent names known to the policy. */
  agents(): readonly string[];
  defaultAgent(): string;
  /** Agent for an HTTP bearer token (compared by SHA-256), or undefined. */
  agentForToken(token: string): string | undefined;
  /** True when the policy has at least one agent with a token (HTTP must then require one). */
  requiresTokens(): boolean;
  /** Agents that have an HTTP token (for the per-agent session share). */
  tokenAgents?(): readonly string[];
  /** Tool is listed for and callable by the agent. */
  isAllowed(agent: string, spec: AnyToolSpec): boolean;
  /** Why not (for the "not allowed by server policy" message). */
  denialReason(agent: string, spec: AnyToolSpec): string;
  confirmationMode(agent: string, spec: AnyToolSpec): ConfirmationMode;
  /**
   * Which channel may confirm: 'any' (the client's form when it has one, else the two-step token) or 'human'
   * (only the client's form; the model-held token is never issued). Policy: `confirm_via` / `human_confirm_tools`.
   */
  confirmChannel?(agent: string, spec: AnyToolSpec): ConfirmChannel;
  /** The agent's effective grant on a resource (what the model may be told in a preview). */
  grantFor?(agent: string, resource: Resource): Grant;
  /** The agent's confirmations are pending approvals decided in the operator console (confirm_via "console"). */
  consoleConfirm?(agent: string): boolean;
}

export type ConfirmChannel = 'any' | 'human';

export interface ElicitResult {
  readonly action: 'accept' | 'decline' | 'cancel';
  readonly content?: Readonly<Record<string, unknown>>;
}
/** Sends an MCP form elicitation to the client. Absent when the client lacks the capability. */
export type Elicit = (message: string, requestedSchema: Record<string, unknown>) => Promise<ElicitResult>;

export interface ConfirmCall {
  readonly agent: string;
  readonly spec: AnyToolSpec;
  /** Canonical arguments: the validated input without SAFETY_FIELDS. */
  readonly args: Readonly<Record<string, unknown>>;
  /** Plain-words preview of the effect (who is charged how much, who gets which email, what is deleted). */
  readonly preview: string;
  readonly mode: Exclude<ConfirmationMode, 'none'>;
  readonly token?: string;
  readonly humanSecret?: string;
  readonly elicit?: Elicit;
}

export type ConfirmOutcome =
  | { readonly kind: 'proceed'; readonly via: 'elicitation' | 'token' }
  | {
      readonly kind: 'required';
      readonly token: string;
      readonly expiresAt: string;
      readonly needsHumanSecret: boolean;
    }
  | { readonly kind: 'declined'; readonly action: 'decline' | 'cancel' }
  | {
      readonly kind: 'rejected';
      readonly reason: string;
      /** What the model should do next, when the generic "call again without a token" would be wrong. */
      readonly nextStep?: string;
    };

export interface ConfirmerApi {
  confirm(call: ConfirmCall): Promise<ConfirmOutcome>;
}

export type IdempotencyBegin =
  | { readonly state: 'new' }
  | { readonly state: 'replay'; readonly result: unknown }
  | { readonly state: 'conflict' }
  /** A record exists whose call never finished (crash / ambiguous failure): outcome unknown. */
  | { readonly state: 'unknown' };

export interface IdempotencyApi {
  /** Atomically claims (agent, key) for this tool + arguments hash, 24 h. */
  begin(agent: string, key: string, tool: string, argsHash: string): Promise<IdempotencyBegin>;
  /** Reads without claiming ('new' = no record): lets a replay skip confirmation, since it sends nothing. */
  peek(agent: string, key: string, tool: string, argsHash: string): Promise<IdempotencyBegin>;
  /** Stores the result for replays. */
  complete(agent: string, key: string, result: unknown): Promise<void>;
  /** The call definitely did not happen (rejected before Keap / 4xx): forget the claim. */
  release(agent: string, key: string): Promise<void>;
  /** Ambiguous failure: keep the record as outcome-unknown. */
  markUnknown(agent: string, key: string): Promise<void>;
}

export type AuditDecision =
  | 'allowed'
  | 'denied'
  | 'confirmation_required'
  | 'confirmed'
  | 'declined'
  | 'dry_run'
  | 'idempotent_replay'
  /** The client cancelled the call (notifications/cancelled) before it completed. */
  | 'cancelled'
  /** A record read from Keap to show the human what a call does, before asking (policy-exempt). */
  | 'preview_read'
  /** The call became a pending approval for the operator console; nothing was sent. */
  | 'approval_pending';

export interface AuditRecord {
  readonly agent: string;
  readonly session: string | undefined;
  readonly tool: string;
  readonly resource: string;
  readonly access: string;
  readonly decision: AuditDecision;
  /** Keap's operationId of a long-tail call (call_keap_read / call_keap_write). */
  readonly operation?: string;
  readonly method?: string;
  /** Path template, e.g. '/v2/contacts/{contact_id}'. */
  readonly path?: string;
  readonly status?: number;
  readonly attempts?: number;
  readonly duration_ms?: number;
  readonly error_category?: ErrorCategory;
  readonly budget?: KeapBudget;
  /** Raw validated arguments; the audit module hashes personal data before writing. */
  readonly args: Readonly<Record<string, unknown>>;
}

/**
 * Write-ahead intent of a call about to be sent to Keap: what is about to happen, before it happens.
 * The outcome follows as a second line with the same call id (see AuditApi.outcome).
 */
export interface AuditIntent {
  readonly agent: string;
  readonly session: string | undefined;
  readonly tool: string;
  readonly resource: string;
  readonly access: string;
  /** The decision that let the call go ahead: 'allowed' or 'confirmed'. */
  readonly decision: AuditDecision;
  /** Keap's operationId of a long-tail call (call_keap_read / call_keap_write). */
  readonly operation?: string;
  readonly method: string;
  /** Path template, e.g. '/v2/contacts/{contact_id}'. */
  readonly path: string;
  /** Raw validated arguments; redacted before writing. */
  readonly args: Readonly<Record<string, unknown>>;
}

export interface AuditOutcome {
  readonly status?: number;
  readonly attempts?: number;
  readonly error_category?: ErrorCategory;
  readonly duration_ms: number;
  /** Only when it differs from the intent's. */
  readonly decision?: AuditDecision;
  readonly budget?: KeapBudget;
}

export type RefusalReason =
  | 'unknown_tool'
  | 'missing_token'
  | 'wrong_token'
  | 'foreign_host'
  | 'foreign_origin'
  | 'session_agent_mismatch';

export interface AuditRefusal {
  readonly reason: RefusalReason;
  /** Where it was refused: 'http' (transport guard), 'mcp' (tool call), … */
  readonly source: string;
  /** The name as presented (sanitized: a well-formed name is kept, anything else hashed). */
  readonly tool?: string;
  readonly agent?: string;
  readonly session?: string;
  /** Remote address of the HTTP peer. */
  readonly remote?: string;
  /** Short, non-secret detail (e.g. the foreign Host); capped and sanitized. NEVER a presented token. */
  readonly detail?: string;
}

/** Thrown by AuditApi.intent when the intent could not be made durable: the call must not be sent. */
export class AuditUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuditUnavailableError';
  }
}

export interface AuditApi {
  /**
   * Appends one JSON line and flushes it to disk before returning. Adds `time`. Never throws: a failure is
   * logged (for single-record decisions such as refusals, denials and dry runs, where nothing is sent).
   */
  write(record: AuditRecord): void;
  /**
   * Write-ahead: appends the intent line and fdatasyncs it; resolves with the call id once the line is durable
   * (a read's intent: once appended; it becomes durable with its outcome). Rejects with AuditUnavailableError
   * when it cannot be made durable — the caller must then NOT send the request.
   */
  intent(record: AuditIntent): Promise<string>;
  /**
   * Appends the outcome line of the call `callId` (from intent()). Never throws. The line is durable once
   * durable() resolves: the caller awaits that before it returns the call's result.
   */
  outcome(callId: string, outcome: AuditOutcome): void;
  /** Resolves once every line appended so far is on disk (one fdatasync for concurrent calls). Never rejects. */
  durable?(): Promise<void>;
  /**
   * A refused request (unknown tool, rejected login, foreign Host/Origin), rate-limited per source+remote/agent.
   * Returns false when the record was suppressed by the limit (a counted summary follows). Never throws.
   */
  refusal(refusal: AuditRefusal): boolean;
  close(): void;
}

/** Confirmations decided in the operator console (src/safety/approvals.ts). */
export interface ApprovalsSetting {
  readonly store: ApprovalsApi;
  /** An operator token is configured: the console exists, so approvals can be decided. */
  readonly consoleEnabled: boolean;
  /** How long a call carrying a progressToken is held waiting for the operator (KEAP_APPROVAL_WAIT_S). */
  readonly waitMs: number;
  /** How often a held call looks at the store. */
  readonly pollMs: number;
}

export interface SafetyApi {
  readonly policy: PolicyApi;
  readonly confirmer: ConfirmerApi;
  readonly idempotency: IdempotencyApi;
  readonly audit: AuditApi;
  readonly approvals?: ApprovalsSetting;
  /**
   * The shared state store (Redis) is down: why a call of this access may not run now (refused before anything is
   * sent, retryable), or undefined. Absent with the embedded store.
   */
  readonly stateUnavailable?: (access: 'read' | 'write') => Error | undefined;
}
