/**
 * The chokepoint: every tool call runs through runTool(), as a sequence of named stages over one Call object
 * (src/pipeline/stages.ts): policy → build → dry run → replay → confirm → claim → intent → send → shape →
 * outcome. A stage returns undefined to continue or the final result. Any thrown error becomes a model-facing
 * result through src/errors.ts (failed() below); never a stack trace.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ZodError } from 'zod';
import { ToolError, toErrorResult } from './errors.js';
import { forgetModel } from './inputs/custom-fields.js';
import { takeNotes } from './inputs/prepare.js';
import { KeapError } from './keap/types.js';
import { auditCall, type Call, type CallExtra, type PipelineContext } from './pipeline/call.js';
import { noticeDecision } from './pipeline/notices.js';
import { STAGES } from './pipeline/stages.js';
import type { AnyToolSpec } from './registry/define.js';
import { stripSafetyFields } from './safety/canonical.js';
import { type AuditDecision, type AuditRecord, AuditUnavailableError } from './safety/types.js';
import { StateUnavailableError } from './state/errors.js';

export type { CallExtra, PipelineContext } from './pipeline/call.js';

export const DEFAULT_PAGE_SIZE = 25;

/** Fills machinery defaults: list tools page 25 items unless told otherwise. */
export function withDefaults(spec: AnyToolSpec, args: Record<string, unknown>): Record<string, unknown> {
  if ('page_size' in spec.input && args.page_size === undefined)
    return { ...args, page_size: DEFAULT_PAGE_SIZE };
  return args;
}

/** True when a failed write definitely did not change anything at Keap. */
function definitelyNotApplied(err: unknown): boolean {
  if (!(err instanceof KeapError)) return false;
  if (err.notSent || err.category === 'input') return true;
  if (err.status === 501) return true; // not implemented: nothing was applied
  return err.status !== undefined && err.status >= 400 && err.status < 500 && err.status !== 408;
}

function logFailure(call: Call, err: unknown): void {
  call.ctx.logger.error(
    { err: err instanceof Error ? err.message : String(err), tool: call.spec.name },
    'tool failed',
  );
}

/** A stage threw: bookkeeping (idempotency, custom field cache), one audit record, the model-facing error. */
async function failed(call: Call, caught: unknown): Promise<CallToolResult> {
  const { spec, ctx } = call;
  let err = caught;
  if (err instanceof StateUnavailableError) {
    // The shared state (Redis) could not be read or written: stop before Keap, say it passes.
    err = new ToolError({
      category: 'unavailable',
      message: `${err.message}${/nothing was sent/.test(err.message) ? '' : '; nothing was sent to Keap'}`,
      nextStep:
        'Retry in a few seconds (the server reconnects by itself); if it keeps failing tell the user the server cannot reach its shared state store',
      retryable: true,
    });
  } else if (err instanceof AuditUnavailableError) {
    // The intent could not be made durable, so the request was never sent.
    err = new ToolError({
      category: 'unavailable',
      message: err.message,
      nextStep:
        'Tell the user the server cannot write its audit log; an operator must fix it before calls can run',
    });
  }
  if (
    call.extra.signal?.aborted === true &&
    !(err instanceof KeapError) &&
    !(err instanceof ToolError) &&
    !call.sent
  ) {
    // The client cancelled (notifications/cancelled) before anything left for Keap.
    err = new ToolError({
      category: 'cancelled',
      message: `${spec.name} was cancelled before anything was sent to Keap`,
      nextStep: 'Nothing to do unless the user still wants it; then call again',
      retryable: true,
    });
  }
  if (
    !call.sent &&
    !(err instanceof KeapError) &&
    !(err instanceof ToolError) &&
    !(err instanceof ZodError)
  ) {
    logFailure(call, err);
    err = new ToolError({
      category: 'unavailable',
      message: 'the server failed before contacting Keap; nothing was sent',
      nextStep: 'Retry once; if it fails again tell the user',
      retryable: true,
    });
  }
  call.failure = err;
  // Keap refused a write's input on a model: its cached custom field definitions may be stale.
  if (
    call.sent &&
    spec.access === 'write' &&
    err instanceof KeapError &&
    err.status !== undefined &&
    err.status >= 400 &&
    err.status < 500 &&
    (err.category === 'validation' || err.category === 'input' || /custom/i.test(err.upstreamMessage ?? ''))
  ) {
    forgetModel(ctx.client, spec.resource);
  }
  if (call.claimed && call.idemKey !== undefined) {
    try {
      if (!call.sent || definitelyNotApplied(err))
        await ctx.safety.idempotency.release(ctx.agent, call.idemKey);
      else await ctx.safety.idempotency.markUnknown(ctx.agent, call.idemKey);
    } catch (e) {
      ctx.logger.error({ err: String(e), tool: spec.name }, 'idempotency bookkeeping failed');
    }
  }
  if (!(err instanceof KeapError) && !(err instanceof ToolError)) logFailure(call, err);
  auditCall(call);
  return toErrorResult(err, spec, call.args);
}

export async function runTool(
  spec: AnyToolSpec,
  rawArgs: Readonly<Record<string, unknown>> | undefined,
  ctx: PipelineContext,
  extra: CallExtra = {},
): Promise<CallToolResult> {
  // Values the input checker rewrote (e.g. a midnight-UTC date-time for a date field), said in the result.
  const { args: input, notes } = takeNotes(rawArgs ?? {});
  const call: Call = {
    spec,
    ctx,
    extra,
    started: Date.now(),
    input,
    notes,
    args: withDefaults(spec, stripSafetyFields(input)),
    decision: 'allowed',
    claimed: false,
    sent: false,
  };
  const result = await runStages(call);
  // The outcome line of a call that wrote an intent is durable before its result is returned (group commit:
  // concurrent calls share one fdatasync). Every other record was made durable when it was written.
  if (call.callId !== undefined) await ctx.safety.audit.durable?.();
  return result;
}

async function runStages(call: Call): Promise<CallToolResult> {
  try {
    // The shared state store (Redis) is down: refused before anything is sent (writes always; reads unless the
    // operator opted in), never run without idempotency, confirmation or the refresh lock.
    const down = call.ctx.safety.stateUnavailable?.(call.spec.access === 'write' ? 'write' : 'read');
    if (down !== undefined) throw down;
    for (const stage of STAGES) {
      const before = call.decision;
      const result = await stage(call);
      // A human's yes (via the form or the token) is told to the client as it happens.
      if (call.decision !== before && call.decision === 'confirmed') noticeDecision(call, 'confirmed');
      if (result !== undefined) return result;
    }
    throw new Error('the pipeline ended without a result');
  } catch (err) {
    return failed(call, err);
  }
}

/**
 * The audit record of a call answered here, without a Keap request of its own (bad input; what the hooks and
 * long-tail fronts answer from local state). A failing audit is logged, never thrown over the answer.
 */
export function auditAnswered(
  spec: AnyToolSpec,
  ctx: PipelineContext,
  extra: CallExtra,
  fields: Omit<AuditRecord, 'agent' | 'session' | 'tool' | 'resource' | 'access'>,
): void {
  try {
    ctx.safety.audit.write({
      agent: ctx.agent,
      session: extra.sessionId,
      tool: spec.name,
      resource: spec.resource,
      access: spec.access,
      ...fields,
    });
  } catch (e) {
    ctx.logger.error({ err: String(e), tool: spec.name }, 'audit write failed');
  }
}

/** Arguments that failed validation: nothing is sent, but the call is audited like every other. */
export function rejectInput(
  spec: AnyToolSpec,
  rawArgs: Readonly<Record<string, unknown>>,
  err: unknown,
  ctx: PipelineContext,
  extra: CallExtra = {},
  decision: AuditDecision = 'allowed',
): CallToolResult {
  auditAnswered(spec, ctx, extra, {
    decision,
    ...(spec.operation !== undefined ? { operation: spec.operation } : {}),
    method: spec.method,
    path: spec.path,
    duration_ms: 0,
    error_category: 'input',
    args: stripSafetyFields(rawArgs),
  });
  return toErrorResult(err, spec, rawArgs);
}
