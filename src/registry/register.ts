/**
 * The ONLY file that registers tools. createToolRegistry() builds, once per catalog and machinery, what every
 * session shares: per agent (under the current policy) the ready tools/list result — every catalog spec the
 * policy allows, with derived annotations and `_meta` and the machinery's input fields — and the checkers of the
 * agent's tools. install() gives one session its two tool handlers, bound to its agent and server: tools/list
 * answers the ready result; tools/call ends in nothing but `runTool(spec, args, ctx, extra)` (or the long tail's
 * front, which ends there too) — so no tool can bypass the chokepoint.
 *
 * What only a tools/call needs — the pipeline, the input checkers, the long tail's and the hooks tools' fronts —
 * is imported on the first tools/call (once per process), so a server that is started and listed never loads it.
 *
 * Only the tools listed here are listed or run (a tool registered on the McpServer any other way is invisible
 * and refused); calls to catalog tools the agent may not use get "Not allowed by server policy" (and an audit
 * record) instead of "tool not found"; argument errors come back in the one error format.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
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
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { ToolError, toErrorResult } from '../errors.js';
import type { HooksFront, HooksRuntime } from '../hooks/agent.js';
import { deeperThan, MAX_ARGS_DEPTH } from '../inputs/bounds.js';
import type { InputChecker } from '../inputs/prepare.js';
import { describeValue, parseJsonText } from '../inputs/validate.js';
import type { KeapClientApi } from '../keap/types.js';
import type { Logger } from '../logger.js';
import type { Longtail } from '../longtail/run.js';
import type { CallExtra, PipelineContext } from '../pipeline.js';
import type { ConfirmationMode, PolicyApi, SafetyApi } from '../safety/types.js';
import { deriveAnnotations, deriveMeta } from './annotations.js';
import type { AnyToolSpec } from './define.js';

/** Machinery input fields (one wording each, shared by every tool). */
export const MACHINE_FIELDS = {
  dry_run: z.boolean().optional().describe('Preview only'),
  idempotency_key: z.string().min(1).max(200).optional().describe('Retry-safe key'),
  confirmation_token: z.string().optional().describe('From confirmation_required, after the yes'),
  human_secret: z.string().optional().describe('Secret the user typed to confirm; ask the user, never guess'),
  approval_id: z.string().max(64).optional().describe('From approval_pending, once approved'),
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
 * outputSchema where the shape is stable: a list tool's success result is a page, the items under Keap's key
 * (paging keys — next_page_token, hint — follow as the page needs them; the schema stays compact). An error
 * result is `isError` and is not described (clients do not validate it). Not declared when the policy makes the
 * tool ask for confirmation (that result has another shape). Plain JSON Schema, written once per tool.
 */
export function outputSchemaFor(spec: AnyToolSpec, mode: ConfirmationMode): Tool['outputSchema'] {
  if (spec.access !== 'read' || spec.listKey === undefined || mode !== 'none') return undefined;
  const key = spec.listKey === '' ? 'items' : spec.listKey;
  return { type: 'object', properties: { [key]: { type: 'array' } } };
}

/** The modules only a tools/call needs, imported on the first call (once per process). */
interface CallModules {
  readonly pipeline: typeof import('../pipeline.js');
  readonly prepare: typeof import('../inputs/prepare.js');
  readonly longtail: typeof import('../longtail/run.js');
  readonly hooks: typeof import('../hooks/agent.js');
}

let callModules: Promise<CallModules> | undefined;

function loadCallModules(): Promise<CallModules> {
  if (callModules === undefined) {
    const loading = Promise.all([
      import('../pipeline.js'),
      import('../inputs/prepare.js'),
      import('../longtail/run.js'),
      import('../hooks/agent.js'),
    ]).then(([pipeline, prepare, longtail, hooks]) => ({ pipeline, prepare, longtail, hooks }));
    callModules = loading;
    // A failed import fails this call (an error answer) and is tried again by the next one.
    loading.catch(() => {
      if (callModules === loading) callModules = undefined;
    });
  }
  return callModules;
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

function handlers(server: Server): Map<string, RequestHandler> {
  return (server as unknown as { _requestHandlers: Map<string, RequestHandler> })._requestHandlers;
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

/** Freezes a JSON value and everything in it (the shared tools/list result is never changed by anyone). */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * One catalog tool as one agent's policy shows it: its tools/list entry and the checker of its arguments.
 * Depends only on the spec and the variant (confirmation mode, approval_id shown), so agents share them.
 */
interface Variant {
  readonly tool: Tool;
  /** The input shape the checker is compiled from. */
  readonly shape: z.ZodRawShape;
  /** The compiled checker, built on the tool's first call (not on the first tools/list), then shared. */
  checker?: InputChecker;
  /** Declares an outputSchema: a success result must carry structuredContent. */
  readonly output: boolean;
}

const variants = new WeakMap<AnyToolSpec, Map<string, Variant>>();

function variantOf(spec: AnyToolSpec, mode: ConfirmationMode, approvals: boolean): Variant {
  let byKey = variants.get(spec);
  if (byKey === undefined) {
    byKey = new Map();
    variants.set(spec, byKey);
  }
  const key = approvals ? `${mode}+approval` : mode;
  let v = byKey.get(key);
  if (v === undefined) {
    const shape = inputShapeFor(spec, mode, approvals);
    const outputSchema = outputSchemaFor(spec, mode);
    const meta = deriveMeta(spec);
    const tool: Tool = {
      name: spec.name,
      title: spec.title,
      description: spec.description,
      inputSchema: listedInputSchema(shape) as Tool['inputSchema'],
      ...(outputSchema ? { outputSchema } : {}),
      annotations: deriveAnnotations(spec),
      ...(meta ? { _meta: meta } : {}),
    };
    v = {
      tool: deepFreeze(tool),
      shape,
      output: outputSchema !== undefined,
    };
    byKey.set(key, v);
  }
  return v;
}

/** What one agent sees under the current policy: computed once, shared by all its sessions. */
interface AgentView {
  /** The tools/list result, ready (frozen; the same object for every request until the policy changes). */
  readonly result: ListToolsResult;
  readonly allowed: ReadonlyMap<string, Variant>;
  readonly names: readonly string[];
  /** The result as JSON (computed when first needed: tells whether a policy change changed the list). */
  json?: string;
}

/** The shared machinery every session's tool calls run with. */
export interface RegistryDeps {
  readonly client: KeapClientApi;
  readonly safety: SafetyApi;
  readonly logger: Logger;
  /** The REST hooks inbox, registry and public address (the event tools); absent: they answer "no inbox". */
  readonly hooks?: HooksRuntime | undefined;
}

/**
 * The catalog as the server offers it: built once per process (per catalog and machinery), shared by every
 * session. Per agent (under the current policy) it keeps the ready tools/list result and the checkers of the
 * agent's tools; a session only gets two small handlers bound to its agent and its own server.
 */
export interface ToolRegistry {
  readonly tools: readonly AnyToolSpec[];
  readonly deps: RegistryDeps;
  /** The tools/list result of `agent` under the current policy: the same object until the policy changes. */
  list(agent: string): ListToolsResult;
  /**
   * Installs tools/list and tools/call for one session of `agent` on its server (the only tool handlers it
   * has: a tool registered on the McpServer any other way is neither listed nor run). Holds nothing of the
   * session after the session closes.
   */
  install(server: McpServer, agent: string): void;
  /**
   * The policy changed (e.g. reloaded; `safety.policy` may be a new object): every view is recomputed on next
   * use and each open session whose list changed gets `notifications/tools/list_changed`. Resolves to the
   * number of sessions told.
   */
  policyChanged(): Promise<number>;
  /** Initialized sessions that would get list_changed (sessions release themselves on close). */
  openSessions(): number;
}

interface OpenSession {
  readonly server: Server;
  readonly agent: string;
}

export function createToolRegistry(tools: readonly AnyToolSpec[], deps: RegistryDeps): ToolRegistry {
  const { safety } = deps;
  const byName = new Map<string, AnyToolSpec>();
  for (const spec of tools) byName.set(spec.name, spec);
  // The long-tail tools run through their own front (src/longtail/run.ts), which ends in runTool as well.
  let longtail: Longtail | undefined;
  // The hooks tools (subscribe_events, …) run through their front (src/hooks/agent.ts), ending in runTool too;
  // one front per session context, made on its first hooks call.
  const hooksFronts = new WeakMap<PipelineContext, HooksFront>();
  const hooksFrontFor = (m: CallModules, ctx: PipelineContext): HooksFront | undefined => {
    if (ctx.hooks === undefined) return undefined;
    let front = hooksFronts.get(ctx);
    if (front === undefined) {
      front = m.hooks.createHooksFront(tools, ctx, ctx.hooks);
      hooksFronts.set(ctx, front);
    }
    return front;
  };
  const handle = async (
    m: CallModules,
    spec: AnyToolSpec,
    args: Record<string, unknown>,
    ctx: PipelineContext,
    extra: CallExtra,
  ): Promise<CallToolResult> => {
    try {
      if (spec.longtail !== undefined) {
        longtail ??= m.longtail.createLongtail(
          tools.filter((t) => t.longtail === undefined),
          inputShapeFor,
        );
        return await longtail.run(spec, args, ctx, extra);
      }
      if (spec.hooks !== undefined) {
        const front = hooksFrontFor(m, ctx);
        if (front !== undefined) return await front.run(spec, args, extra);
        // list_hooks still works without an inbox (plain Keap list); the event tools need one.
        if (spec.hooks !== 'health') return m.pipeline.rejectInput(spec, args, noHooks(spec), ctx, extra);
      }
      return await m.pipeline.runTool(spec, args, ctx, extra);
    } catch (e) {
      // runTool answers every failure itself; anything else is a defect, answered in the one error format.
      if (e instanceof McpError) throw e;
      deps.logger.error(
        { tool: spec.name, err: e instanceof Error ? e.message : String(e) },
        'tool call failed',
      );
      return toErrorResult(e, spec, args);
    }
  };

  let viewsOf: PolicyApi = safety.policy;
  const views = new Map<string, AgentView>();
  const open = new Set<OpenSession>();

  function buildView(agent: string): AgentView {
    const policy = safety.policy;
    const allowed = new Map<string, Variant>();
    for (const spec of tools) {
      if (!policy.isAllowed(agent, spec)) continue;
      const mode = policy.confirmationMode(agent, spec);
      // approval_id is shown only where the call can become a pending approval of the operator console.
      const approvals =
        safety.approvals?.consoleEnabled === true &&
        (policy.consoleConfirm?.(agent) === true ||
          (policy.confirmChannel?.(agent, spec) ?? 'any') === 'any');
      allowed.set(spec.name, variantOf(spec, mode, approvals));
    }
    const result: ListToolsResult = Object.freeze({
      tools: Object.freeze([...allowed.values()].map((v) => v.tool)) as Tool[],
    });
    return { result, allowed, names: [...allowed.keys()] };
  }

  function view(agent: string): AgentView {
    if (safety.policy !== viewsOf) {
      viewsOf = safety.policy;
      views.clear();
    }
    let v = views.get(agent);
    if (v === undefined) {
      v = buildView(agent);
      views.set(agent, v);
    }
    return v;
  }

  const jsonOf = (v: AgentView): string => {
    v.json ??= JSON.stringify(v.result);
    return v.json;
  };

  /**
   * tools/call, before anything else looks at the arguments: unknown names (look-alikes included) are refused
   * and audited; non-object arguments are a JSON-RPC invalid-params error (audited); arguments nested deeper
   * than MAX_ARGS_DEPTH are an input error (audited) — nothing below ever walks an unbounded structure.
   */
  async function callTool(
    ctx: PipelineContext,
    session: CallExtra,
    request: CallRequest,
  ): Promise<CallToolResult> {
    const params = request.params;
    const name = typeof params?.name === 'string' ? params.name : undefined;
    if (name === undefined)
      throw new McpError(ErrorCode.InvalidParams, 'tools/call: params.name must be a string');
    const m = await loadCallModules();
    const { rejectInput } = m.pipeline;
    const rawArgs: unknown = params?.arguments;
    const spec = byName.get(name);
    const agentView = view(ctx.agent);
    const entry = agentView.allowed.get(name);
    if (!spec) {
      // Not a catalog tool: nothing registered outside this function (so outside runTool) can ever run.
      const near = m.prepare.nearName(name.trim(), agentView.names);
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
        entry ? 'allowed' : 'denied',
      );
      throw new McpError(ErrorCode.InvalidParams, message);
    }
    const args = (rawArgs ?? {}) as Record<string, unknown>;
    // A catalog tool this agent may not use (stale client, guessed name): refused and audited in the chokepoint.
    if (!entry) return handle(m, spec, args, ctx, session);
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
    if (spec.longtail === 'read' || spec.longtail === 'write') return handle(m, spec, args, ctx, session);
    entry.checker ??= m.prepare.createInputChecker(spec, entry.shape);
    const prepared = await entry.checker(args, ctx.client);
    if (!prepared.ok) return rejectInput(spec, args, prepared.error, ctx, session);
    const result = await handle(m, spec, prepared.args, ctx, session);
    if (entry.output && result.isError !== true && result.structuredContent === undefined) {
      // The tool declares an outputSchema: a success without structuredContent would fail the client's check.
      deps.logger.error({ tool: name }, 'tool result without structuredContent');
      return toErrorResult(new Error('result without structured content'), spec, args);
    }
    return result;
  }

  return {
    tools,
    deps,
    list: (agent) => view(agent).result,
    install(mcp, agent) {
      const server = mcp.server;
      // The McpServer's own tool handlers are never installed: a tool registered on it any other way is stored
      // there and never listed or run.
      (mcp as unknown as { _toolHandlersInitialized: boolean })._toolHandlersInitialized = true;
      const ctx: PipelineContext = {
        agent,
        client: deps.client,
        safety,
        logger: deps.logger,
        server,
        ...(deps.hooks ? { hooks: deps.hooks } : {}),
      };
      // Streamable HTTP gives every session an id; stdio (one session per process) gets one here, so every
      // audit record names its session.
      const localSession = `local-${randomUUID().slice(0, 8)}`;
      server.setRequestHandler(ListToolsRequestSchema, () => view(agent).result);
      // Installed as the raw handler (the SDK's own parse of tools/call would answer a non-object `arguments`
      // with an internal error before anything could audit it).
      handlers(server).set('tools/call', (request, extra) => {
        const e = extra as SdkExtra;
        const session: CallExtra = {
          sessionId: e.sessionId ?? localSession,
          signal: e.signal,
          requestId: e.requestId,
          progressToken: e._meta?.progressToken,
          sendNotification: e.sendNotification,
        };
        return callTool(ctx, session, request as CallRequest);
      });
      // Initialized sessions hear about policy changes until they close.
      const entry: OpenSession = { server, agent };
      const initialized = server.oninitialized;
      server.oninitialized = () => {
        open.add(entry);
        initialized?.();
      };
      const closed = server.onclose;
      server.onclose = () => {
        open.delete(entry);
        closed?.();
      };
    },
    async policyChanged() {
      const before = new Map(views);
      viewsOf = safety.policy;
      views.clear();
      const sends: Promise<void>[] = [];
      for (const s of open) {
        const old = before.get(s.agent);
        if (old !== undefined && jsonOf(old) === jsonOf(view(s.agent))) continue;
        sends.push(s.server.sendToolListChanged().catch(() => undefined));
      }
      await Promise.all(sends);
      return sends.length;
    },
    openSessions: () => open.size,
  };
}
