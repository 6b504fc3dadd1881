/**
 * The one object a tool call carries through the chokepoint's stages (src/pipeline/stages.ts): what was asked,
 * what was decided and what happened so far, plus the call's single way of writing its audit record.
 */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type {
  CallToolResult,
  ProgressToken,
  RequestId,
  ServerNotification,
} from '@modelcontextprotocol/sdk/types.js';
import { ToolError } from '../errors.js';
import type { HooksRuntime } from '../hooks/agent.js';
import type { Normalized } from '../inputs/validate.js';
import { type KeapBudget, type KeapClientApi, KeapError, type KeapResponse } from '../keap/types.js';
import type { Logger } from '../logger.js';
import type { AnyToolSpec } from '../registry/define.js';
import type { BuiltRequest } from '../registry/request.js';
import { toOutcome } from '../safety/audit.js';
import type { AuditDecision, AuditRecord, SafetyApi } from '../safety/types.js';
import { noticeDecision } from './notices.js';

export interface PipelineContext {
  readonly agent: string;
  readonly client: KeapClientApi;
  readonly safety: SafetyApi;
  readonly logger: Logger;
  /** The low-level MCP server of this session (for elicitation). */
  readonly server?: Server;
  /** The REST hooks receiver's stores and address (the hooks tools; src/hooks/agent.ts). */
  readonly hooks?: HooksRuntime;
}

/** What the pipeline reads from the SDK's per-request `extra`. */
export interface CallExtra {
  readonly sessionId?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  /** The tools/call request's id: its notifications travel on its own stream over HTTP. */
  readonly requestId?: RequestId | undefined;
  /** `_meta.progressToken` of the tools/call request: the client wants `notifications/progress`. */
  readonly progressToken?: ProgressToken | undefined;
  /** Sends a notification related to this request (the SDK's extra.sendNotification). */
  readonly sendNotification?: ((n: ServerNotification) => Promise<void>) | undefined;
}

export interface Call {
  readonly spec: AnyToolSpec;
  readonly ctx: PipelineContext;
  readonly extra: CallExtra;
  readonly started: number;
  /** The prepared input, machinery fields (dry_run, idempotency_key, …) included. */
  readonly input: Readonly<Record<string, unknown>>;
  /** Values the input checker rewrote (said in the result). */
  readonly notes: readonly Normalized[];
  /** What is sent to Keap: the input without machinery fields, with machinery defaults. */
  readonly args: Record<string, unknown>;
  /** The decision that lets the call go ahead ('allowed', or 'confirmed' after a human's yes). */
  decision: AuditDecision;
  request?: BuiltRequest;
  /** The preview a human judges (whole: facts read from Keap, money, quoted text). */
  preview?: string;
  /** The preview returned to the model: facts about resources the agent may not read reduced to ids. */
  modelPreview?: string;
  argsHash?: string;
  idemKey?: string;
  /** This call owns the idempotency record (begin() returned 'new'). */
  claimed: boolean;
  /** The write-ahead intent's id once it is durable. */
  callId?: string;
  /** The request left for Keap. */
  sent: boolean;
  response?: KeapResponse;
  /** The shaped result data. */
  data?: Record<string, unknown>;
  failure?: unknown;
}

/** A stage either lets the call continue (undefined) or ends it with the result the model reads. */
export type StageResult = CallToolResult | undefined;
export type Stage = (call: Call) => StageResult | Promise<StageResult>;

/** The full record of the call as it stands (decision `d`). */
function recordOf(call: Call, d: AuditDecision): AuditRecord {
  const { response, failure, spec } = call;
  const budget: KeapBudget | undefined =
    response?.budget ?? (failure instanceof KeapError ? failure.budget : undefined);
  return {
    agent: call.ctx.agent,
    session: call.extra.sessionId,
    tool: spec.name,
    resource: spec.resource,
    access: spec.access,
    decision: d,
    ...(spec.operation !== undefined ? { operation: spec.operation } : {}),
    method: spec.method,
    path: spec.path,
    duration_ms: Date.now() - call.started,
    ...(response ? { status: response.status, attempts: response.attempts } : {}),
    ...(failure instanceof KeapError
      ? {
          ...(failure.status !== undefined ? { status: failure.status } : {}),
          attempts: failure.attempts,
          error_category: failure.category,
        }
      : failure instanceof ToolError
        ? { error_category: failure.category }
        : failure !== undefined
          ? { error_category: 'unavailable' as const }
          : {}),
    // Cancelled by the client: said as such, unless a write may have been applied (outcome_unknown stays).
    ...(d === 'cancelled' && !(failure instanceof KeapError && failure.category === 'outcome_unknown')
      ? { error_category: 'cancelled' as const }
      : {}),
    ...(budget ? { budget } : {}),
    args: call.args,
  };
}

/** The client cancelled the call (notifications/cancelled) and it did not complete. */
export function wasCancelled(call: Call): boolean {
  return call.failure !== undefined && call.extra.signal?.aborted === true;
}

/**
 * Writes the call's audit record: the outcome line of its write-ahead intent when one was written, otherwise
 * one complete record (denials, dry runs, replays, confirmation requests, failures before the intent).
 * A call the client cancelled is recorded with decision 'cancelled' (error_category 'cancelled', or
 * 'outcome_unknown' for a write cancelled after it was sent).
 */
export function auditCall(call: Call, decided: AuditDecision = call.decision): void {
  const d: AuditDecision = wasCancelled(call) ? 'cancelled' : decided;
  noticeDecision(call, d);
  const record = recordOf(call, d);
  try {
    if (call.callId !== undefined)
      call.ctx.safety.audit.outcome(call.callId, toOutcome(record, call.decision));
    else call.ctx.safety.audit.write(record);
  } catch (err) {
    call.ctx.logger.error({ err: String(err), tool: call.spec.name }, 'audit write failed');
  }
}
