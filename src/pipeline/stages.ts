/**
 * The chokepoint's stages, in order (STAGES). Each is a small function of the one Call object: it returns
 * undefined to let the call continue, or the final result. A new step is a new stage.
 */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { ToolError, toErrorResult } from '../errors.js';
import { observeModelResponse } from '../inputs/custom-fields.js';
import { toolScope } from '../registry/define.js';
import { type BuiltRequest, buildRequest, toKeapRequest } from '../registry/request.js';
import { keapDataResult, okResult, shapeData, withNotes } from '../results.js';
import type { Approval } from '../safety/approvals.js';
import { argsHash } from '../safety/canonical.js';
import type { Elicit, ElicitResult, IdempotencyBegin } from '../safety/types.js';
import { auditCall, type Call, type Stage, type StageResult } from './call.js';
import { keapEvents, watchHuman } from './notices.js';
import { checkAmounts, resolvePreview, staticPreview } from './preview.js';

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

/**
 * 2. The exact request and its preview (without reading anything: ids, amounts, the model's text quoted).
 * Money with more precision than cents or absurd amounts are refused here, before anyone is asked.
 */
export const build: Stage = (call) => {
  checkAmounts(call.spec, call.args);
  call.request = buildRequest(call.spec, call.args);
  // The preview is read only by a dry run and by the stages that ask a human: no other call builds it.
  const { safety, agent } = call.ctx;
  if (call.input.dry_run === true || safety.policy.confirmationMode(agent, call.spec) !== 'none') {
    call.preview = staticPreview(call);
    call.modelPreview = call.preview;
  }
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
export const replay: Stage = async (call) => {
  const key = call.input.idempotency_key;
  if (!call.spec.idempotencyKey || typeof key !== 'string' || key === '') return undefined;
  call.idemKey = key;
  call.argsHash = argsHash(call.args);
  return settled(
    call,
    await call.ctx.safety.idempotency.peek(call.ctx.agent, key, toolScope(call.spec), call.argsHash),
  );
};

/** The confirmation's route: the operator console, or the client's form / the two-step token. */
function viaConsole(call: Call): boolean {
  const { safety, agent } = call.ctx;
  const approvals = safety.approvals;
  if (approvals === undefined) return false;
  const mode = safety.policy.confirmationMode(agent, call.spec);
  if (mode !== 'confirm') return false;
  if (safety.policy.consoleConfirm?.(agent) === true) return true;
  // Default fallback: a client without elicitation, a console to decide in, and no stricter channel.
  return (
    approvals.consoleEnabled &&
    elicitFor(call.ctx.server, undefined) === undefined &&
    (safety.policy.confirmChannel?.(agent, call.spec) ?? 'any') === 'any'
  );
}

/**
 * 5. The preview a human can judge: before anyone is asked, the records the call names are read from Keap
 * (policy-exempt, audited as preview_read); a missing target ends the call here, with nothing written and
 * nobody asked. Skipped when nobody will be asked (a repeat with a confirmation token and no form, or with an
 * approval id: the stored request runs).
 */
export const preview: Stage = async (call) => {
  const { safety, agent } = call.ctx;
  const { spec, input } = call;
  if (safety.policy.confirmationMode(agent, spec) === 'none') return undefined;
  const console = viaConsole(call);
  if (console && typeof input.approval_id === 'string' && input.approval_id !== '') return undefined;
  const hasToken = typeof input.confirmation_token === 'string' && input.confirmation_token !== '';
  const form = elicitFor(call.ctx.server, undefined) !== undefined;
  // Nobody will be asked: a token repeat without a form, or a form-only channel without a form (refused).
  if (!console && !form && (hasToken || safety.policy.confirmChannel?.(agent, spec) === 'human'))
    return undefined;
  const p = await resolvePreview(call, (resource) => {
    const g = safety.policy.grantFor?.(agent, resource);
    return g === undefined || g !== 'none';
  });
  call.preview = p.human;
  call.modelPreview = p.model;
  return undefined;
};

const sleep = (ms: number, signal: AbortSignal | undefined) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

/** Proceeds with an approval's stored request (exactly what the operator saw), once. */
function runApproved(call: Call, approval: Approval): StageResult {
  const built = call.request;
  const stored = approval.request;
  call.request = {
    method: stored.method as BuiltRequest['method'],
    path: stored.path,
    query: (stored.query ?? {}) as BuiltRequest['query'],
    body: stored.body as BuiltRequest['body'],
    ...(built?.headers ? { headers: built.headers } : {}),
  };
  call.decision = 'confirmed';
  return undefined;
}

function refuseApproval(call: Call, message: string, nextStep?: string): StageResult {
  return refuse(
    call,
    new ToolError({
      category: 'confirmation',
      message,
      nextStep:
        nextStep ?? 'Nothing was sent. Tell the user; call again without approval_id only if they ask',
    }),
    'declined',
  );
}

/**
 * 6. Console approvals (policy `confirm_via: "console"`, or the fallback for a client without elicitation when
 * an operator console exists): the call becomes a pending approval holding the exact request; the operator
 * decides in the console; the repeat with `approval_id` and identical arguments runs the stored request once.
 * A call carrying a progressToken is held (progress notifications) until the operator decides or the wait ends.
 */
export const approval: Stage = async (call) => {
  if (!viaConsole(call)) return undefined;
  const { ctx, spec, input } = call;
  const setting = ctx.safety.approvals;
  if (setting === undefined || !call.request) return undefined;
  const store = setting.store;
  const hash = call.argsHash ?? argsHash(call.args);
  if (!setting.consoleEnabled) {
    return refuseApproval(
      call,
      'This action must be approved by an operator in the operator console, but no console is configured. Nothing was done.',
      'Do not retry. Tell the user an operator must configure the operator console (an operator token) first',
    );
  }
  const id =
    typeof input.approval_id === 'string' && input.approval_id !== '' ? input.approval_id : undefined;
  if (id !== undefined) {
    const used = await store.consume(id, ctx.agent, spec.name, hash);
    if (!used.ok && used.reason === 'pending') {
      return refuse(
        call,
        new ToolError({
          category: 'confirmation',
          message: used.message,
          nextStep:
            'Nothing was sent. Ask the user to approve it in the operator console, then call again with the same arguments and approval_id',
          retryable: true,
        }),
        'approval_pending',
      );
    }
    if (!used.ok) return refuseApproval(call, used.message);
    return runApproved(call, used.approval);
  }
  const { request } = call;
  const created = await store.create({
    agent: ctx.agent,
    tool: spec.name,
    request: {
      method: request.method,
      path: request.path,
      ...(Object.keys(request.query).length > 0 ? { query: request.query } : {}),
      ...(request.body !== undefined ? { body: request.body } : {}),
    },
    preview: call.preview ?? spec.title,
    argsHash: hash,
    session: call.extra.sessionId,
  });
  const { progressToken, sendNotification, signal } = call.extra;
  if (progressToken !== undefined && sendNotification !== undefined && setting.waitMs > 0) {
    const until = Math.min(Date.now() + setting.waitMs, created.expiresAt);
    let n = 0;
    while (Date.now() < until && !signal?.aborted) {
      const now = await store.get(created.id);
      if (now === undefined || now.status === 'expired') break;
      if (now.status === 'approved') {
        const used = await store.consume(created.id, ctx.agent, spec.name, hash);
        if (!used.ok) return refuseApproval(call, used.message);
        return runApproved(call, used.approval);
      }
      if (now.status === 'denied') {
        auditCall(call, 'declined');
        return okResult({
          declined: true,
          approval_id: created.id,
          message: `The operator denied this action${now.decidedBy !== undefined ? ` (${now.decidedBy})` : ''}; nothing was sent to Keap. Do not retry unless the user asks.`,
        });
      }
      n += 1;
      try {
        await sendNotification({
          method: 'notifications/progress',
          params: {
            progressToken,
            progress: n,
            message: `Waiting for the operator to approve or deny ${spec.name} in the operator console (approval ${created.id})`,
          },
        });
      } catch {
        // The client went away: stop holding, answer with the pending approval.
        break;
      }
      await sleep(setting.pollMs, signal);
    }
  }
  auditCall(call, 'approval_pending');
  return okResult({
    approval_pending: true,
    approval_id: created.id,
    preview: call.modelPreview ?? call.preview,
    expires_at: new Date(created.expiresAt).toISOString(),
    instructions:
      'Nothing was done yet. Ask the user to approve this in the operator console, then call again with the same arguments and approval_id. If the operator denies it, do not retry.',
  });
};

/** 7. Human confirmation, when the policy asks for it. */
export const confirm: Stage = async (call) => {
  const { safety, agent } = call.ctx;
  const { spec, input } = call;
  const mode = safety.policy.confirmationMode(agent, spec);
  // 'confirmed': the operator approved it in the console (approval stage).
  if (mode === 'none' || call.decision === 'confirmed') return undefined;
  const token = typeof input.confirmation_token === 'string' ? input.confirmation_token : undefined;
  const humanSecret = typeof input.human_secret === 'string' ? input.human_secret : undefined;
  const elicit = watchHuman(call, elicitFor(call.ctx.server, call.extra.signal));
  const preview = call.preview ?? spec.title;
  const modelPreview = call.modelPreview ?? preview;
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
        preview: modelPreview,
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

/** 8. Claim the idempotency key (written before the Keap call, so a crash reads as outcome unknown). */
export const claim: Stage = async (call) => {
  if (call.idemKey === undefined) return undefined;
  const { agent, safety } = call.ctx;
  const early = settled(
    call,
    await safety.idempotency.begin(
      agent,
      call.idemKey,
      toolScope(call.spec),
      call.argsHash ?? argsHash(call.args),
    ),
  );
  if (early) return early;
  call.claimed = true;
  return undefined;
};

/** 9. The write-ahead intent: durable before the request leaves. */
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

/** 10. Keap. */
export const send: Stage = async (call) => {
  if (!call.request) throw new Error('send without a built request');
  call.sent = true;
  call.response = await call.ctx.client.request({
    ...toKeapRequest(call.spec, call.request, call.extra.signal),
    onEvent: keapEvents(call),
  });
  return undefined;
};

/** 11. Shape (and remember custom field definitions the model just read). */
export const shape: Stage = async (call) => {
  const { request, response } = call;
  if (!request || !response) throw new Error('shape without a response');
  observeModelResponse(call.ctx.client, request.method, request.path, response.body);
  call.data = withNotes(shapeData(call.spec, response), call.notes);
  if (call.claimed && call.idemKey !== undefined) {
    try {
      await call.ctx.safety.idempotency.complete(call.ctx.agent, call.idemKey, call.data);
    } catch (e) {
      // Keap applied the call: answer with its result. The key stays claimed, so a repeat reads as
      // outcome unknown and is never sent again.
      call.ctx.logger.error({ err: String(e), tool: call.spec.name }, 'idempotency bookkeeping failed');
    }
  }
  return undefined;
};

/** 12. The outcome: audited, and the result the model reads. */
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
  preview,
  approval,
  confirm,
  claim,
  intent,
  send,
  shape,
  outcome,
];
