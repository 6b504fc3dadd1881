/**
 * The chokepoint's stages, in order (STAGES). Each is a small function of the one Call object: it returns
 * undefined to let the call continue, or the final result. A new step (approvals, progress, …) is a new stage.
 */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { ToolError, toErrorResult } from '../errors.js';
import { observeModelResponse } from '../inputs/custom-fields.js';
import { type AnyToolSpec, toolScope } from '../registry/define.js';
import { type BuiltRequest, buildRequest, toKeapRequest } from '../registry/request.js';
import { keapDataResult, okResult, shapeData, withNotes } from '../results.js';
import { argsHash } from '../safety/canonical.js';
import type { Elicit, ElicitResult, IdempotencyBegin } from '../safety/types.js';
import { auditCall, type Call, type Stage, type StageResult } from './call.js';

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

/** Ends the call with a machinery error (audited with `decision`). */
function refuse(call: Call, err: ToolError, decision = call.decision): StageResult {
  call.failure = err;
  auditCall(call, decision);
  return toErrorResult(err, call.spec, call.args);
}

/** 1. Policy, checked again at call time (a stale client may call a tool that is no longer listed). */
export const policy: Stage = (call) => {
  const { safety, agent } = call.ctx;
  const { spec } = call;
  if (safety.policy.isAllowed(agent, spec)) return undefined;
  const reason = safety.policy
    .denialReason(agent, spec)
    .replace(/^Tool "[^"]*" is not allowed by server policy:?\s*/, '')
    .replace(/\.$/, '');
  return refuse(
    call,
    new ToolError({
      category: 'policy',
      message: `${spec.name}: ${reason || 'denied for this agent'}`,
      nextStep: /read-only/.test(reason)
        ? 'Do not retry; tell the user this server runs read-only (--read-only), so no policy can allow writes through it'
        : 'Do not retry; tell the user an operator can grant this in the server policy',
    }),
    'denied',
  );
};

/** 2. The exact request and its preview. */
export const build: Stage = (call) => {
  call.request = buildRequest(call.spec, call.args);
  call.preview = call.spec.preview?.(call.args) ?? genericPreview(call.spec, call.request);
  return undefined;
};

/** 3. Dry run: the exact request, nothing sent, no confirmation needed. */
export const dryRun: Stage = (call) => {
  const { request } = call;
  if (call.spec.access !== 'write' || call.input.dry_run !== true || !request) return undefined;
  auditCall(call, 'dry_run');
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
        preview: call.preview,
      },
      call.notes,
    ),
  );
};

/** A key already used: the stored result (a replay), a conflict or an unfinished call; undefined when new. */
function settled(call: Call, begun: IdempotencyBegin): StageResult {
  const key = call.idemKey;
  if (key === undefined || begun.state === 'new') return undefined;
  if (begun.state === 'replay') {
    auditCall(call, 'idempotent_replay');
    const stored =
      typeof begun.result === 'object' && begun.result !== null && !Array.isArray(begun.result)
        ? (begun.result as Record<string, unknown>)
        : { value: begun.result };
    return keapDataResult({ ...stored, idempotent_replay: true });
  }
  return refuse(
    call,
    begun.state === 'conflict'
      ? new ToolError({
          category: 'conflict',
          message: `idempotency_key "${key}" was already used with different arguments`,
          nextStep:
            'Use a new idempotency_key for a different request, or repeat the original arguments exactly',
        })
      : new ToolError({
          category: 'outcome_unknown',
          message: `an earlier call with idempotency_key "${key}" did not finish, so it may or may not have been applied`,
          nextStep: `Check with ${call.spec.checkWith ?? 'a read tool'} before doing anything else; do not retry blindly`,
        }),
  );
}

/**
 * 4. Replay: a key already used returns the stored result (or refuses a conflict) without sending anything,
 * so it needs no new confirmation.
 */
export const replay: Stage = (call) => {
  call.argsHash = argsHash(call.args);
  const key = call.input.idempotency_key;
  if (!call.spec.idempotencyKey || typeof key !== 'string' || key === '') return undefined;
  call.idemKey = key;
  return settled(
    call,
    call.ctx.safety.idempotency.peek(call.ctx.agent, key, toolScope(call.spec), call.argsHash),
  );
};

/** 5. Human confirmation, when the policy asks for it. */
export const confirm: Stage = async (call) => {
  const { safety, agent } = call.ctx;
  const { spec, input } = call;
  const mode = safety.policy.confirmationMode(agent, spec);
  if (mode === 'none') return undefined;
  const token = typeof input.confirmation_token === 'string' ? input.confirmation_token : undefined;
  const humanSecret = typeof input.human_secret === 'string' ? input.human_secret : undefined;
  const elicit = elicitFor(call.ctx.server, call.extra.signal);
  const preview = call.preview ?? spec.title;
  const outcome = await safety.confirmer.confirm({
    agent,
    spec,
    args: call.args,
    preview,
    mode,
    ...(token !== undefined ? { token } : {}),
    ...(humanSecret !== undefined ? { humanSecret } : {}),
    ...(elicit ? { elicit } : {}),
  });
  switch (outcome.kind) {
    case 'required': {
      auditCall(call, 'confirmation_required');
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
    case 'declined':
      auditCall(call, 'declined');
      return okResult({
        declined: true,
        action: outcome.action,
        message: 'The user did not confirm; nothing was sent to Keap. Do not retry unless the user asks.',
      });
    case 'rejected': {
      // Say "nothing was done" once, and speak of tokens only to a caller that sent one.
      const again =
        token !== undefined
          ? 'call again without confirmation_token to get a fresh preview and token, then ask the user'
          : 'tell the user the confirmation could not be completed, and call again only if they ask';
      const said = /nothing was (done|sent)/i.test(outcome.reason);
      return refuse(
        call,
        new ToolError({
          category: 'confirmation',
          message: outcome.reason,
          nextStep:
            outcome.nextStep ??
            (said ? `${again[0]?.toUpperCase()}${again.slice(1)}` : `Nothing was done; ${again}`),
        }),
        'declined',
      );
    }
    default:
      call.decision = 'confirmed';
      return undefined;
  }
};

/** 6. Claim the idempotency key (written before the Keap call, so a crash reads as outcome unknown). */
export const claim: Stage = (call) => {
  if (call.idemKey === undefined) return undefined;
  const { agent, safety } = call.ctx;
  const early = settled(
    call,
    safety.idempotency.begin(agent, call.idemKey, toolScope(call.spec), call.argsHash ?? argsHash(call.args)),
  );
  if (early) return early;
  call.claimed = true;
  return undefined;
};

/** 7. The write-ahead intent: durable before the request leaves. */
export const intent: Stage = async (call) => {
  const { spec, ctx } = call;
  call.callId = await ctx.safety.audit.intent({
    agent: ctx.agent,
    session: call.extra.sessionId,
    tool: spec.name,
    resource: spec.resource,
    access: spec.access,
    decision: call.decision,
    ...(spec.operation !== undefined ? { operation: spec.operation } : {}),
    method: spec.method,
    path: spec.path,
    args: call.args,
  });
  return undefined;
};

/** 8. Keap. */
export const send: Stage = async (call) => {
  if (!call.request) throw new Error('send without a built request');
  call.sent = true;
  call.response = await call.ctx.client.request(toKeapRequest(call.spec, call.request, call.extra.signal));
  return undefined;
};

/** 9. Shape (and remember custom field definitions the model just read). */
export const shape: Stage = (call) => {
  const { request, response } = call;
  if (!request || !response) throw new Error('shape without a response');
  observeModelResponse(call.ctx.client, request.method, request.path, response.body);
  call.data = withNotes(shapeData(call.spec, response), call.notes);
  if (call.claimed && call.idemKey !== undefined)
    call.ctx.safety.idempotency.complete(call.ctx.agent, call.idemKey, call.data);
  return undefined;
};

/** 10. The outcome: audited, and the result the model reads. */
export const outcome: Stage = (call) => {
  auditCall(call);
  const body = call.response?.body;
  // Records from Keap are marked as data in the text the model reads; an empty answer has none.
  return body === null || body === undefined || body === ''
    ? okResult(call.data ?? {})
    : keapDataResult(call.data ?? {});
};

export const STAGES: readonly Stage[] = [
  policy,
  build,
  dryRun,
  replay,
  confirm,
  claim,
  intent,
  send,
  shape,
  outcome,
];
