/**
 * The ONLY file that registers tools. For one agent it registers every catalog spec the policy allows,
 * with derived annotations and `_meta`, the machinery's input fields, and a handler that is nothing but
 * `runTool(spec, args, ctx, extra)` — so no tool can bypass the chokepoint.
 *
 * It also wraps the SDK's tools/call and tools/list handlers: only the tools registered here are listed or
 * run (a tool registered on the McpServer any other way is invisible and refused); calls to catalog tools the agent may not use
 * get "Not allowed by server policy" (and an audit record) instead of "tool not found"; argument errors come
 * back in the one error format; and the per-tool "$schema" key is dropped from tools/list.
 */
import { randomUUID } from 'node:crypto';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  type CallToolResult,
  ErrorCode,
  ListToolsRequestSchema,
  type ListToolsResult,
  McpError,
  type ProgressToken,
  type RequestId,
  type ServerNotification,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { ToolError, toErrorResult } from '../errors.js';
import { createHooksFront } from '../hooks/agent.js';
import { deeperThan, MAX_ARGS_DEPTH } from '../inputs/bounds.js';
import { createInputChecker, type InputChecker, nearName } from '../inputs/prepare.js';
import { describeValue, parseJsonText } from '../inputs/validate.js';
import { createLongtail } from '../longtail/run.js';
import { type CallExtra, type PipelineContext, rejectInput, runTool } from '../pipeline.js';
import type { ConfirmationMode } from '../safety/types.js';
import { deriveAnnotations, deriveMeta } from './annotations.js';
import type { AnyToolSpec } from './define.js';

/** Machinery input fields (one wording each, shared by every tool). */
export const MACHINE_FIELDS = {
  dry_run: z.boolean().optional().describe('true: return the exact request and a preview; nothing is sent'),
  idempotency_key: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe('Unique key you choose; a retry with the same key and arguments returns the first result'),
  confirmation_token: z
    .string()
    .optional()
    .describe('From a confirmation_required result, once the user agreed; repeat identical arguments'),
  human_secret: z.string().optional().describe('Secret the user typed to confirm; ask the user, never guess'),
  approval_id: z
    .string()
    .max(64)
    .optional()
    .describe('From an approval_pending result, once the operator approved; repeat identical arguments'),
} as const;

/** A hooks tool on a server that keeps no hooks inbox (a test server, or one built without the receiver). */
function noHooks(spec: AnyToolSpec): ToolError {
  return new ToolError({
    category: 'unavailable',
    message: `${spec.name}: this server keeps no REST hooks inbox`,
    nextStep: 'Nothing was done. Tell the user the server must run with its hooks receiver (keap-mcp --http)',
  });
}

function defType(schema: z.ZodType): string {
  return (schema as unknown as { _zod: { def: { type: string } } })._zod.def.type;
}

/** The schema's type under optional/nullable/default wrappers. */
function baseType(schema: z.ZodType): string {
  let s = schema as unknown as { _zod: { def: { type: string; innerType?: z.ZodType } } };
  for (let i = 0; i < 10; i++) {
    const t = s._zod.def.type;
    if (
      (t === 'optional' || t === 'nullable' || t === 'default' || t === 'prefault') &&
      s._zod.def.innerType
    ) {
      s = s._zod.def.innerType as unknown as typeof s;
    } else {
      return t;
    }
  }
  return defType(schema);
}

/**
 * What models often get wrong, normalised before validation: objects/arrays sent as JSON strings, numbers as
 * numeric strings ("25"), booleans as "true"/"false". Anything else is left for the schema to reject.
 */
function normalising(schema: z.ZodType): z.ZodType {
  const t = baseType(schema);
  if (t === 'object' || t === 'array' || t === 'record') {
    return z.preprocess((v) => parseJsonText(v), schema);
  }
  if (t === 'number') {
    return z.preprocess(
      (v) => (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v),
      schema,
    );
  }
  if (t === 'boolean') {
    return z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), schema);
  }
  return schema;
}

/** The spec's own fields as registered (with the normalisation of common model mistakes). */
export function specInputShape(spec: AnyToolSpec): Record<string, z.ZodType> {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, schema] of Object.entries(spec.input)) shape[key] = normalising(schema as z.ZodType);
  return shape;
}

/** The input shape a tool is registered with: the spec's fields plus the machinery's. */
export function inputShapeFor(spec: AnyToolSpec, mode: ConfirmationMode, approvals = false): z.ZodRawShape {
  const shape = specInputShape(spec);
  if (spec.access === 'write') shape.dry_run = normalising(MACHINE_FIELDS.dry_run);
  if (spec.idempotencyKey) shape.idempotency_key = MACHINE_FIELDS.idempotency_key;
  if (mode !== 'none') shape.confirmation_token = MACHINE_FIELDS.confirmation_token;
  if (mode === 'human_secret') shape.human_secret = MACHINE_FIELDS.human_secret;
  if (mode === 'confirm' && approvals) shape.approval_id = MACHINE_FIELDS.approval_id;
  return shape;
}

/**
 * outputSchema where the shape is stable: a list tool returns either a page (items under Keap's key plus
 * paging fields) or the one error format (`error`; clients validate error results' structuredContent too).
 * Not declared when the policy makes the tool ask for confirmation (that result has another shape).
 */
export function outputSchemaFor(spec: AnyToolSpec, mode: ConfirmationMode): z.ZodObject | undefined {
  if (spec.access !== 'read' || spec.listKey === undefined || mode !== 'none') return undefined;
  const key = spec.listKey === '' ? 'items' : spec.listKey;
  return z.looseObject({
    [key]: z.array(z.unknown()).optional(),
    next_page_token: z.string().optional(),
    next: z.string().optional(),
    hint: z.string().optional(),
    truncated: z.string().optional(),
    error: z
      .looseObject({
        category: z.string(),
        message: z.string(),
        next_step: z.string(),
        retryable: z.boolean(),
      })
      .optional(),
  });
}

const listedCache = new WeakMap<AnyToolSpec, Map<string, Record<string, unknown>>>();

/** The listed schema of a spec under a confirmation mode, computed once per process. */
function cachedListedSchema(spec: AnyToolSpec, mode: string, shape: z.ZodRawShape): Record<string, unknown> {
  let byMode = listedCache.get(spec);
  if (!byMode) {
    byMode = new Map();
    listedCache.set(spec, byMode);
  }
  let json = byMode.get(mode);
  if (!json) {
    json = listedInputSchema(shape);
    byMode.set(mode, json);
  }
  return json;
}

type RequestHandler = (request: unknown, extra: unknown) => Promise<unknown>;
interface CallRequest {
  readonly method: string;
  readonly params?: { readonly name?: unknown; readonly arguments?: unknown; readonly [k: string]: unknown };
}
/** What the pipeline takes from the SDK's per-request `extra` (RequestHandlerExtra). */
interface SdkExtra {
  readonly sessionId?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly requestId?: RequestId | undefined;
  readonly _meta?: { readonly progressToken?: ProgressToken | undefined } | undefined;
  readonly sendNotification?: ((n: ServerNotification) => Promise<void>) | undefined;
}

function handlers(server: McpServer): Map<string, RequestHandler> {
  return (server.server as unknown as { _requestHandlers: Map<string, RequestHandler> })._requestHandlers;
}

function stripSchemaKey(schema: unknown): unknown {
  if (typeof schema !== 'object' || schema === null) return schema;
  const { $schema: _drop, ...rest } = schema as Record<string, unknown>;
  return rest;
}

/** zod's default bounds on integers (±2^53-1): noise in a listed schema; real bounds stay. */
function stripDefaultIntBounds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(stripDefaultIntBounds);
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (
      (k === 'minimum' && v === Number.MIN_SAFE_INTEGER) ||
      (k === 'maximum' && v === Number.MAX_SAFE_INTEGER)
    )
      continue;
    out[k] = stripDefaultIntBounds(v);
  }
  return out;
}

/**
 * The JSON schema tools/list shows for an input shape (the SDK's conversion: draft-7, input side), without
 * the per-tool "$schema" key and without zod's default integer bounds. The catalog's budget measures this.
 */
export function listedInputSchema(shape: z.ZodRawShape): Record<string, unknown> {
  const json = z.toJSONSchema(z.object(shape), { target: 'draft-7', io: 'input' });
  return stripDefaultIntBounds(stripSchemaKey(json)) as Record<string, unknown>;
}

/**
 * Registers the catalog for `ctx.agent` on `server`. Returns the names registered.
 */
export function registerTools(
  server: McpServer,
  tools: readonly AnyToolSpec[],
  ctx: PipelineContext,
): readonly string[] {
  const { agent, safety } = ctx;
  // Streamable HTTP gives every session an id; stdio (one session per process) gets one here, so every audit
  // record names its session.
  const localSession = `local-${randomUUID().slice(0, 8)}`;
  const withSession = (extra: SdkExtra): CallExtra => ({
    sessionId: extra.sessionId ?? localSession,
    signal: extra.signal,
    requestId: extra.requestId,
    progressToken: extra._meta?.progressToken,
    sendNotification: extra.sendNotification,
  });
  // The long-tail tools run through their own front (src/longtail/run.ts), which ends in runTool as well.
  const longtail = createLongtail(
    tools.filter((t) => t.longtail === undefined),
    ctx,
    inputShapeFor,
  );
  // The hooks tools (subscribe_events, …) run through theirs (src/hooks/agent.ts), ending in runTool too.
  const hooksFront = ctx.hooks ? createHooksFront(tools, ctx, ctx.hooks) : undefined;
  const handle = (spec: AnyToolSpec, args: Record<string, unknown>, extra: CallExtra) => {
    if (spec.longtail !== undefined) return longtail.run(spec, args, extra);
    if (spec.hooks !== undefined && spec.hooks !== 'health') {
      if (hooksFront) return hooksFront.run(spec, args, extra);
      return rejectInput(spec, args, noHooks(spec), ctx, extra);
    }
    return spec.hooks !== undefined && hooksFront
      ? hooksFront.run(spec, args, extra)
      : runTool(spec, args, ctx, extra);
  };
  const registered = new Map<string, InputChecker>();
  const listed = new Map<string, Record<string, unknown>>();
  const byName = new Map<string, AnyToolSpec>();
  for (const spec of tools) {
    byName.set(spec.name, spec);
    if (!safety.policy.isAllowed(agent, spec)) continue;
    const mode = safety.policy.confirmationMode(agent, spec);
    // approval_id is shown only where the call can become a pending approval of the operator console.
    const approvals =
      safety.approvals?.consoleEnabled === true &&
      (safety.policy.consoleConfirm?.(agent) === true ||
        (safety.policy.confirmChannel?.(agent, spec) ?? 'any') === 'any');
    const shape = inputShapeFor(spec, mode, approvals);
    const outputSchema = outputSchemaFor(spec, mode);
    server.registerTool(
      spec.name,
      {
        title: spec.title,
        description: spec.description,
        inputSchema: shape,
        ...(outputSchema ? { outputSchema } : {}),
        annotations: deriveAnnotations(spec),
        _meta: deriveMeta(spec),
      },
      (args, extra) => handle(spec, args, withSession(extra)),
    );
    registered.set(spec.name, createInputChecker(spec, shape));
    listed.set(spec.name, cachedListedSchema(spec, approvals ? `${mode}+approval` : mode, shape));
  }
  // Arguments reach the SDK already checked and prepared by the tool's input checker (which keeps the documented
  // inputs the listed schema does not show); the SDK's own parse would strip those, so it passes them through.
  (
    server as unknown as { validateToolInput: (tool: unknown, args: unknown) => Promise<unknown> }
  ).validateToolInput = async (_tool, args) => args;

  // Make sure the SDK's tool handlers exist even when the agent may use no tool at all.
  (server as unknown as { setToolRequestHandlers(): void }).setToolRequestHandlers();
  const sdkCall = handlers(server).get('tools/call');
  const sdkList = handlers(server).get('tools/list');
  if (!sdkCall || !sdkList) throw new Error('MCP SDK tool handlers missing');

  const toolNames = [...registered.keys()];
  /**
   * tools/call, before anything else looks at the arguments: unknown names (look-alikes included) are refused
   * and audited; non-object arguments are a JSON-RPC invalid-params error (audited); arguments nested deeper
   * than MAX_ARGS_DEPTH are an input error (audited) — nothing below ever walks an unbounded structure.
   */
  const callTool = async (request: CallRequest, extra: SdkExtra): Promise<CallToolResult> => {
    const params = request.params;
    const name = typeof params?.name === 'string' ? params.name : undefined;
    if (name === undefined)
      throw new McpError(ErrorCode.InvalidParams, 'tools/call: params.name must be a string');
    const rawArgs: unknown = params?.arguments;
    const session = withSession(extra);
    const spec = byName.get(name);
    const check = registered.get(name);
    if (!spec) {
      // Not a catalog tool: nothing registered outside this function (so outside runTool) can ever run.
      const near = nearName(name.trim(), toolNames);
      ctx.safety.audit.refusal({
        reason: 'unknown_tool',
        source: 'mcp',
        tool: name,
        agent: ctx.agent,
        session: session.sessionId,
        ...(near !== undefined ? { detail: `near ${near}` } : {}),
      });
      return toErrorResult(
        new ToolError({
          category: 'input',
          message: `unknown tool "${name.slice(0, 100)}"${near !== undefined ? ` (did you mean ${near}?)` : ''}`,
          nextStep: 'Call tools/list and use one of the listed tools, spelled exactly',
        }),
      );
    }
    if (
      rawArgs !== undefined &&
      (typeof rawArgs !== 'object' || rawArgs === null || Array.isArray(rawArgs))
    ) {
      const message = `${name}: arguments must be a JSON object, got ${describeValue(rawArgs)}`;
      rejectInput(
        spec,
        {},
        new ToolError({ category: 'input', message, nextStep: 'Send an object' }),
        ctx,
        session,
        check ? 'allowed' : 'denied',
      );
      throw new McpError(ErrorCode.InvalidParams, message);
    }
    const args = (rawArgs ?? {}) as Record<string, unknown>;
    // A catalog tool this agent may not use (stale client, guessed name): refused and audited in the chokepoint.
    if (!check) return handle(spec, args, session);
    if (deeperThan(args, MAX_ARGS_DEPTH)) {
      return rejectInput(
        spec,
        args,
        new ToolError({
          category: 'input',
          message: `${name}: arguments are nested more than ${MAX_ARGS_DEPTH} levels deep`,
          nextStep: 'Nothing was sent. Send the arguments the tool schema describes',
        }),
        ctx,
        session,
      );
    }
    // call_keap_read / call_keap_write check their `arguments` against the operation's facts themselves.
    if (spec.longtail === 'read' || spec.longtail === 'write') return handle(spec, args, session);
    const prepared = await check(args, ctx.client);
    if (!prepared.ok) return rejectInput(spec, args, prepared.error, ctx, session);
    return (await sdkCall(
      { ...request, params: { ...params, name, arguments: prepared.args } },
      extra,
    )) as CallToolResult;
  };
  // Installed as the raw handler (the SDK's own parse of tools/call would answer a non-object `arguments`
  // with an internal error before anything could audit it).
  handlers(server).set('tools/call', (request, extra) => callTool(request as CallRequest, extra as SdkExtra));

  server.server.setRequestHandler(
    ListToolsRequestSchema,
    async (request, extra): Promise<ListToolsResult> => {
      const result = (await sdkList(request, extra)) as ListToolsResult;
      return {
        ...result,
        // Only the catalog tools registered above are ever listed.
        tools: result.tools
          .filter((t) => registered.has(t.name))
          .map((t) => ({
            ...t,
            inputSchema: (listed.get(t.name) ?? stripSchemaKey(t.inputSchema)) as typeof t.inputSchema,
            ...(t.outputSchema
              ? { outputSchema: stripSchemaKey(t.outputSchema) as typeof t.outputSchema }
              : {}),
          })),
      };
    },
  );

  return [...registered.keys()];
}
