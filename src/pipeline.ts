/**
 * The chokepoint: every tool call runs through runTool(), in this order:
 *  1 policy (call time) → 2 split safety fields, build the request and preview → 3 dry run →
 *  4 confirmation → 5 idempotency → 6 the Keap client → 7 shape → 8 one audit record.
 * Any thrown error becomes a model-facing result through src/errors.ts; never a stack trace.
 */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ZodError } from 'zod';
import { ToolError, toErrorResult } from './errors.js';
import { forgetModel, observeModelResponse } from './inputs/custom-fields.js';
import { takeNotes } from './inputs/prepare.js';
import { type KeapBudget, type KeapClientApi, KeapError, type KeapResponse } from './keap/types.js';
import type { Logger } from './logger.js';
import type { AnyToolSpec } from './registry/define.js';
import { type BuiltRequest, buildRequest, toKeapRequest } from './registry/request.js';
import { okResult, shapeData, withNotes } from './results.js';
import { argsHash, stripSafetyFields } from './safety/canonical.js';
import type {
  AuditDecision,
  AuditRecord,
  Elicit,
  ElicitResult,
  IdempotencyBegin,
  SafetyApi,
} from './safety/types.js';

export const DEFAULT_PAGE_SIZE = 25;

export interface PipelineContext {
  readonly agent: string;
  readonly client: KeapClientApi;
  readonly safety: SafetyApi;
  readonly logger: Logger;
  /** The low-level MCP server of this session (for elicitation). */
  readonly server?: Server;
}

/** What the pipeline reads from the SDK's per-request `extra`. */
export interface CallExtra {
  readonly sessionId?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

const PREVIEW_BODY_CHARS = 300;

function genericPreview(spec: AnyToolSpec, req: BuiltRequest): string {
  let body = '';
  if (req.body !== undefined && Object.keys(req.body).length > 0) {
    const json = JSON.stringify(req.body);
    body = ` with ${json.length > PREVIEW_BODY_CHARS ? `${json.slice(0, PREVIEW_BODY_CHARS - 1)}…` : json}`;
  }
  return `${spec.title}: ${req.method} ${req.path}${body}`;
}

function elicitFor(server: Server | undefined, signal: AbortSignal | undefined): Elicit | undefined {
  if (!server?.getClientCapabilities()?.elicitation?.form) return undefined;
  return async (message, requestedSchema): Promise<ElicitResult> => {
    const res = await server.elicitInput(
      {
        mode: 'form',
        message,
        requestedSchema: requestedSchema as Parameters<Server['elicitInput']>[0] extends infer P
          ? P extends { requestedSchema: infer S }
            ? S
            : never
          : never,
      },
      signal ? { signal } : undefined,
    );
    return { action: res.action, ...(res.content ? { content: res.content } : {}) };
  };
}

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
  return err.status !== undefined && err.status >= 400 && err.status < 500 && err.status !== 408;
}

export async function runTool(
  spec: AnyToolSpec,
  rawArgs: Readonly<Record<string, unknown>> | undefined,
  ctx: PipelineContext,
  extra: CallExtra = {},
): Promise<CallToolResult> {
  const started = Date.now();
  // Values the input checker rewrote (e.g. a midnight-UTC date-time for a date field), said in the result.
  const { args: input, notes } = takeNotes(rawArgs ?? {});
  const args = withDefaults(spec, stripSafetyFields(input));
  const { agent, safety } = ctx;
  let decision: AuditDecision = 'allowed';
  let request: BuiltRequest | undefined;
  let response: KeapResponse | undefined;
  let failure: unknown;

  const audit = (d: AuditDecision, more: Partial<AuditRecord> = {}): void => {
    const budget: KeapBudget | undefined =
      response?.budget ?? (failure instanceof KeapError ? failure.budget : undefined);
    const record: AuditRecord = {
      agent,
      session: extra.sessionId,
      tool: spec.name,
      resource: spec.resource,
      access: spec.access,
      decision: d,
      method: spec.method,
      path: spec.path,
      duration_ms: Date.now() - started,
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
      ...(budget ? { budget } : {}),
      args,
      ...more,
    };
    try {
      safety.audit.write(record);
    } catch (err) {
      ctx.logger.error({ err: String(err), tool: spec.name }, 'audit write failed');
    }
  };

  // 1. Policy, checked again at call time (a stale client may call a tool that is no longer listed).
  if (!safety.policy.isAllowed(agent, spec)) {
    failure = new ToolError({
      category: 'policy',
      message: `${spec.name}: ${
        safety.policy
          .denialReason(agent, spec)
          .replace(/^Tool "[^"]*" is not allowed by server policy:?\s*/, '')
          .replace(/\.$/, '') || 'denied for this agent'
      }`,
      nextStep: 'Do not retry; tell the user an operator can grant this in the server policy',
    });
    audit('denied');
    return toErrorResult(failure, spec, args);
  }

  let idemKey: string | undefined;
  /** This call owns the idempotency record (begin() returned 'new'). */
  let claimed = false;
  let sent = false;
  try {
    // 2. The exact request and its preview.
    request = buildRequest(spec, args);
    const preview = spec.preview?.(args) ?? genericPreview(spec, request);

    // 3. Dry run: the exact request, nothing sent, no confirmation needed.
    if (spec.access === 'write' && input.dry_run === true) {
      audit('dry_run');
      return okResult(
        withNotes(
          {
            dry_run: true,
            request: {
              method: request.method,
              path: request.path,
              query: request.query,
              ...(request.body !== undefined ? { body: request.body } : {}),
            },
            preview,
          },
          notes,
        ),
      );
    }

    // 4a. A key already used: replaying the stored result (or refusing a conflict) sends nothing,
    // so it needs no new confirmation.
    const hash = argsHash(args);
    if (spec.idempotencyKey && typeof input.idempotency_key === 'string' && input.idempotency_key !== '') {
      idemKey = input.idempotency_key;
    }
    const settled = (begun: IdempotencyBegin): CallToolResult | undefined => {
      if (idemKey === undefined || begun.state === 'new') return undefined;
      if (begun.state === 'replay') {
        audit('idempotent_replay');
        const stored =
          typeof begun.result === 'object' && begun.result !== null && !Array.isArray(begun.result)
            ? (begun.result as Record<string, unknown>)
            : { value: begun.result };
        return okResult({ ...stored, idempotent_replay: true });
      }
      failure =
        begun.state === 'conflict'
          ? new ToolError({
              category: 'conflict',
              message: `idempotency_key "${idemKey}" was already used with different arguments`,
              nextStep:
                'Use a new idempotency_key for a different request, or repeat the original arguments exactly',
            })
          : new ToolError({
              category: 'outcome_unknown',
              message: `an earlier call with idempotency_key "${idemKey}" did not finish, so it may or may not have been applied`,
              nextStep: `Check with ${spec.checkWith ?? 'a read tool'} before doing anything else; do not retry blindly`,
            });
      audit(decision);
      return toErrorResult(failure, spec, args);
    };
    if (idemKey !== undefined) {
      const early = settled(safety.idempotency.peek(agent, idemKey, spec.name, hash));
      if (early) return early;
    }

    // 4b. Human confirmation.
    const mode = safety.policy.confirmationMode(agent, spec);
    if (mode !== 'none') {
      const token = typeof input.confirmation_token === 'string' ? input.confirmation_token : undefined;
      const humanSecret = typeof input.human_secret === 'string' ? input.human_secret : undefined;
      const elicit = elicitFor(ctx.server, extra.signal);
      const outcome = await safety.confirmer.confirm({
        agent,
        spec,
        args,
        preview,
        mode,
        ...(token !== undefined ? { token } : {}),
        ...(humanSecret !== undefined ? { humanSecret } : {}),
        ...(elicit ? { elicit } : {}),
      });
      if (outcome.kind === 'required') {
        audit('confirmation_required');
        const secretStep = outcome.needsHumanSecret
          ? ' The user must also type the operator-issued confirmation secret; pass it as human_secret (never guess it).'
          : '';
        return okResult({
          confirmation_required: true,
          preview,
          confirmation_token: outcome.token,
          expires_at: outcome.expiresAt,
          instructions: `Nothing was done yet. Show the preview to the user and ask; if they agree call again with identical arguments and confirmation_token.${secretStep}`,
        });
      }
      if (outcome.kind === 'declined') {
        audit('declined');
        return okResult({
          declined: true,
          action: outcome.action,
          message: 'The user did not confirm; nothing was sent to Keap. Do not retry unless the user asks.',
        });
      }
      if (outcome.kind === 'rejected') {
        failure = new ToolError({
          category: 'confirmation',
          message: outcome.reason,
          nextStep:
            'Nothing was done; call again without confirmation_token to get a fresh preview and token, then ask the user',
        });
        audit('declined');
        return toErrorResult(failure, spec, args);
      }
      decision = 'confirmed';
    }

    // 5. Idempotency: claim the key (written before the Keap call, so a crash reads as outcome unknown).
    if (idemKey !== undefined) {
      const early = settled(safety.idempotency.begin(agent, idemKey, spec.name, hash));
      if (early) return early;
      claimed = true;
    }

    // 6. Keap.
    sent = true;
    response = await ctx.client.request(toKeapRequest(spec, request, extra.signal));

    // 7. Shape (and remember custom field definitions the model just read).
    observeModelResponse(ctx.client, request.method, request.path, response.body);
    const data = withNotes(shapeData(spec, response), notes);
    if (claimed && idemKey !== undefined) safety.idempotency.complete(agent, idemKey, data);
    audit(decision);
    return okResult(data);
  } catch (caught) {
    let err = caught;
    if (!sent && !(err instanceof KeapError) && !(err instanceof ToolError) && !(err instanceof ZodError)) {
      ctx.logger.error(
        { err: err instanceof Error ? err.message : String(err), tool: spec.name },
        'tool failed',
      );
      err = new ToolError({
        category: 'unavailable',
        message: 'the server failed before contacting Keap; nothing was sent',
        nextStep: 'Retry once; if it fails again tell the user',
        retryable: true,
      });
    }
    failure = err;
    // Keap refused a write's input on a model: its cached custom field definitions may be stale.
    if (
      sent &&
      spec.access === 'write' &&
      err instanceof KeapError &&
      err.status !== undefined &&
      err.status >= 400 &&
      err.status < 500 &&
      (err.category === 'validation' || err.category === 'input' || /custom/i.test(err.upstreamMessage ?? ''))
    ) {
      forgetModel(ctx.client, spec.resource);
    }
    if (claimed && idemKey !== undefined) {
      try {
        if (definitelyNotApplied(err)) safety.idempotency.release(agent, idemKey);
        else safety.idempotency.markUnknown(agent, idemKey);
      } catch (e) {
        ctx.logger.error({ err: String(e), tool: spec.name }, 'idempotency bookkeeping failed');
      }
    }
    if (!(err instanceof KeapError) && !(err instanceof ToolError)) {
      ctx.logger.error(
        { err: err instanceof Error ? err.message : String(err), tool: spec.name },
        'tool failed',
      );
    }
    audit(decision);
    return toErrorResult(err, spec, args);
  }
}

/** Arguments that failed validation: nothing is sent, but the call is audited like every other. */
export function rejectInput(
  spec: AnyToolSpec,
  rawArgs: Readonly<Record<string, unknown>>,
  err: unknown,
  ctx: PipelineContext,
  extra: CallExtra = {},
): CallToolResult {
  try {
    ctx.safety.audit.write({
      agent: ctx.agent,
      session: extra.sessionId,
      tool: spec.name,
      resource: spec.resource,
      access: spec.access,
      decision: 'allowed',
      method: spec.method,
      path: spec.path,
      duration_ms: 0,
      error_category: 'input',
      args: stripSafetyFields(rawArgs),
    });
  } catch (e) {
    ctx.logger.error({ err: String(e), tool: spec.name }, 'audit write failed');
  }
  return toErrorResult(err, spec, rawArgs);
}
