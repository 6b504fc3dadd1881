/**
 * The four long-tail tools behind the same gate as the catalog. find/describe answer from the operation facts
 * (policy-checked and audited). call_keap_read / call_keap_write resolve the operation, refuse the wrong
 * direction and uploads, check `arguments` against the operation's facts (the catalog's input checker: unknown
 * names, types, formats, enums, bounds, nesting), then run the call through runTool — under the covering catalog
 * tool's spec when one exists (its preview, confirmation, idempotency), else under a per-call spec derived from
 * the facts. Nothing reaches Keap any other way.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import { ToolError } from '../errors.js';
import { resolveFact } from '../facts/index.js';
import { createInputChecker, type InputChecker, nearName } from '../inputs/prepare.js';
import { describeValue, type Issue, parseJsonText, validateFact } from '../inputs/validate.js';
import { auditAnswered, type CallExtra, type PipelineContext, rejectInput, runTool } from '../pipeline.js';
import { type AnyToolSpec, RESOURCES } from '../registry/define.js';
import { KEAP_DATA_PREAMBLE, okResult } from '../results.js';
import type { ConfirmationMode } from '../safety/types.js';
import { describeOperation } from './describe.js';
import { MAX_FOUND, rankOperations } from './find.js';
import {
  allOperations,
  type Covering,
  coverageOf,
  infoById,
  isUpload,
  type OperationInfo,
  operationInfo,
  summaryOf,
} from './operations.js';

export type ShapeFor = (spec: AnyToolSpec, mode: ConfirmationMode) => z.ZodRawShape;

export interface Longtail {
  /**
   * Runs one of the four long-tail tools for the agent and session of `ctx`. `args` are the tool call's arguments
   * (an object). One Longtail serves every agent and session of a catalog (its checkers are shared).
   */
  run(
    spec: AnyToolSpec,
    args: Readonly<Record<string, unknown>>,
    ctx: PipelineContext,
    extra: CallExtra,
  ): Promise<CallToolResult>;
}

const CALL_KEYS = ['operationId', 'arguments', 'confirmation_token', 'human_secret'] as const;
const WRITE_KEYS = ['dry_run', 'idempotency_key'] as const;

function inputError(message: string, nextStep: string): ToolError {
  return new ToolError({ category: 'input', message, nextStep });
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A result with `prefer_tool` (a catalog tool covers the operation), in structuredContent and the text. */
function preferring(result: CallToolResult, tool: string): CallToolResult {
  const data = isPlain(result.structuredContent) ? result.structuredContent : {};
  const withTool = { ...data, prefer_tool: tool };
  const first = result.content[0];
  const text = first?.type === 'text' ? first.text : '';
  let newText: string;
  if (result.isError) {
    newText = `${text} (The catalog tool ${tool} covers this operation.)`;
  } else if (text.startsWith(KEAP_DATA_PREAMBLE)) {
    newText = `${KEAP_DATA_PREAMBLE}\n${JSON.stringify(withTool)}`;
  } else newText = JSON.stringify(withTool);
  return {
    ...result,
    content: [{ type: 'text', text: newText }, ...result.content.slice(1)],
    structuredContent: withTool,
  };
}

export function createLongtail(catalog: readonly AnyToolSpec[], shapeFor: ShapeFor): Longtail {
  // Built on the first long-tail call (it reads the operation facts), not when the server starts.
  let coverageMap: ReadonlyMap<string, Covering> | undefined;
  const coverage = (): ReadonlyMap<string, Covering> => {
    coverageMap ??= coverageOf(catalog);
    return coverageMap;
  };
  const checkers = new WeakMap<AnyToolSpec, Map<ConfirmationMode, InputChecker>>();
  const checkerFor = (spec: AnyToolSpec, ctx: PipelineContext): InputChecker => {
    const mode = ctx.safety.policy.confirmationMode(ctx.agent, spec);
    let byMode = checkers.get(spec);
    if (!byMode) {
      byMode = new Map();
      checkers.set(spec, byMode);
    }
    let check = byMode.get(mode);
    if (!check) {
      check = createInputChecker(spec, shapeFor(spec, mode));
      byMode.set(mode, check);
    }
    return check;
  };

  /** The spec the policy applies to an operation: the covering catalog tool's, else the per-call spec. */
  const effective = (info: OperationInfo): AnyToolSpec =>
    coverage().get(info.op.operationId)?.spec ?? info.spec;

  /** The record of a long-tail tool's own answer (the operation index); its Keap calls are audited by runTool. */
  const audited = (
    spec: AnyToolSpec,
    args: Readonly<Record<string, unknown>>,
    started: number,
    ctx: PipelineContext,
    extra: CallExtra,
  ) =>
    auditAnswered(spec, ctx, extra, {
      decision: 'allowed',
      ...(spec.operation !== undefined ? { operation: spec.operation } : {}),
      duration_ms: Date.now() - started,
      args,
    });

  const unknownOperation = (id: unknown): ToolError => {
    if (typeof id !== 'string' || id.trim() === '') {
      return inputError(
        `operationId: required (a string), got ${describeValue(id)}`,
        'Find one with find_keap_operations',
      );
    }
    const near = nearName(
      id.trim(),
      allOperations().map((o) => o.operationId),
    );
    return inputError(
      `operationId: "${id.slice(0, 100)}" is not one of Keap's operations${near !== undefined ? ` (did you mean ${near}?)` : ''}`,
      'Nothing was sent. Find the operationId with find_keap_operations',
    );
  };

  const find = (
    spec: AnyToolSpec,
    args: Readonly<Record<string, unknown>>,
    ctx: PipelineContext,
    extra: CallExtra,
  ): CallToolResult => {
    const { policy } = ctx.safety;
    const started = Date.now();
    const query = String(args.query ?? '');
    const resource = args.resource;
    if (resource !== undefined && !(RESOURCES as readonly unknown[]).includes(resource)) {
      return rejectInput(
        spec,
        args,
        inputError(
          `resource: ${describeValue(resource)} is not a resource (use one of ${RESOURCES.join(', ')})`,
          'Call again with one of the named resources, or without resource',
        ),
        ctx,
        extra,
      );
    }
    const all = allOperations();
    const pool = all.filter((op) => {
      const eff = effective(operationInfo(op));
      return (
        (resource === undefined || eff.resource === resource) &&
        (args.access === undefined || eff.access === args.access)
      );
    });
    const found = rankOperations(pool, all, query, MAX_FOUND).map((op) => {
      const info = operationInfo(op);
      const eff = effective(info);
      const covering = coverage().get(op.operationId)?.spec.name;
      return {
        operationId: op.operationId,
        method: op.method,
        path: op.path,
        resource: eff.resource,
        access: eff.access,
        summary: summaryOf(op),
        ...(covering !== undefined ? { catalog_tool: covering } : {}),
        ...(policy.confirmationMode(ctx.agent, eff) !== 'none' ? { confirm: true } : {}),
        ...(policy.isAllowed(ctx.agent, eff) ? {} : { allowed: false }),
      };
    });
    audited(spec, args, started, ctx, extra);
    return okResult({
      operations: found,
      hint:
        found.length === 0
          ? 'No operation matched: try other words (e.g. "lead source", "discount") or a path fragment (e.g. "/v2/affiliates")'
          : 'allowed:false = not allowed for you; confirm:true = needs a human yes; catalog_tool = prefer that tool. Next: describe_keap_operation, then call_keap_read (GET) or call_keap_write',
    });
  };

  const describe = (
    spec: AnyToolSpec,
    args: Readonly<Record<string, unknown>>,
    ctx: PipelineContext,
    extra: CallExtra,
  ): CallToolResult => {
    const { policy } = ctx.safety;
    const started = Date.now();
    const info = typeof args.operationId === 'string' ? infoById(args.operationId.trim()) : undefined;
    if (!info) return rejectInput(spec, args, unknownOperation(args.operationId), ctx, extra);
    const eff = effective(info);
    const out = describeOperation(info.op, {
      resource: eff.resource,
      access: eff.access,
      summary: summaryOf(info.op),
      risk: info.risk,
      confirm: policy.confirmationMode(ctx.agent, eff) !== 'none',
      allowed: policy.isAllowed(ctx.agent, eff),
      catalogTool: coverage().get(info.op.operationId)?.spec.name,
    });
    audited({ ...spec, operation: info.op.operationId }, args, started, ctx, extra);
    return okResult(out);
  };

  const call = async (
    outer: AnyToolSpec,
    args: Readonly<Record<string, unknown>>,
    ctx: PipelineContext,
    extra: CallExtra,
  ): Promise<CallToolResult> => {
    const { policy } = ctx.safety;
    const write = outer.longtail === 'write';
    const accepted = new Set<string>([...CALL_KEYS, ...(write ? WRITE_KEYS : [])]);
    const info = typeof args.operationId === 'string' ? infoById(args.operationId.trim()) : undefined;
    const auditSpec: AnyToolSpec = info ? { ...outer, operation: info.op.operationId } : outer;
    const reject = (err: ToolError) => rejectInput(auditSpec, args, err, ctx, extra);
    const strays = Object.keys(args).filter((k) => !accepted.has(k));
    if (strays.length > 0) {
      return reject(
        inputError(
          `${outer.name}: ${strays.map((k) => `${k}: not an argument of ${outer.name}`).join('; ')}. Accepted: ${[...accepted].join(', ')}`,
          `Nothing was sent. Put Keap's inputs inside arguments${!write && strays.includes('dry_run') ? '; dry_run is for call_keap_write' : ''}`,
        ),
      );
    }
    if (!info) return reject(unknownOperation(args.operationId));
    const { op } = info;
    if (write && op.method === 'GET') {
      return reject(
        inputError(
          `${op.operationId} is a read (GET ${op.path}); call_keap_write runs writes only`,
          'Nothing was sent. Use call_keap_read for it',
        ),
      );
    }
    if (!write && op.method !== 'GET') {
      return reject(
        inputError(
          `${op.operationId} is a write (${op.method} ${op.path}); call_keap_read runs reads (GET) only`,
          'Nothing was sent. Use call_keap_write for it (it takes dry_run to preview the request)',
        ),
      );
    }
    if (isUpload(op)) {
      return reject(
        inputError(
          `${op.operationId} takes a file upload (${op.body?.contentType}); this server sends JSON only`,
          'Nothing was sent. Upload the file in Keap itself; this operation cannot be called here',
        ),
      );
    }
    const given = args.arguments === undefined ? {} : parseJsonText(args.arguments, 'object');
    if (!isPlain(given)) {
      return reject(
        inputError(
          `arguments: expected an object of Keap inputs, got ${describeValue(args.arguments)}`,
          'Nothing was sent. Send arguments as an object (see describe_keap_operation)',
        ),
      );
    }
    const machine: Record<string, unknown> = {};
    for (const k of [...WRITE_KEYS, 'confirmation_token', 'human_secret']) {
      if (args[k] !== undefined) machine[k] = args[k];
    }
    const covering = coverage().get(op.operationId);
    const spec = covering?.spec ?? info.spec;
    const input = { ...(covering?.fixed ?? {}), ...given, ...machine };
    // Not allowed: refused (and audited) by the chokepoint's policy stage, before any input is judged.
    if (!policy.isAllowed(ctx.agent, spec)) {
      const denied = await runTool(spec, given, ctx, extra);
      return covering ? preferring(denied, covering.spec.name) : denied;
    }
    const prepared = await checkerFor(spec, ctx)(input, ctx.client);
    if (!prepared.ok) {
      const err = rejectInput(spec, given, prepared.error, ctx, extra);
      return covering ? preferring(err, covering.spec.name) : err;
    }
    if (spec.bodyArg !== undefined && op.body) {
      const issues: Issue[] = [];
      const value = prepared.args[spec.bodyArg];
      const out = validateFact(op.body.schema, value, spec.bodyArg, {
        resolve: resolveFact,
        issues,
        notes: [],
      });
      if (issues.length > 0) {
        return rejectInput(
          spec,
          given,
          inputError(
            `${outer.name} ${op.operationId}: ${issues
              .slice(0, 8)
              .map((i) => i.message)
              .join('; ')}`,
            'Nothing was sent. Fix the named argument(s) and call again',
          ),
          ctx,
          extra,
        );
      }
      prepared.args[spec.bodyArg] = out;
    }
    const result = await runTool(spec, prepared.args, ctx, extra);
    return covering ? preferring(result, covering.spec.name) : result;
  };

  return {
    async run(spec, args, ctx, extra) {
      // A tool the agent may not use (stale client): refused and audited by the chokepoint's policy stage (the
      // record names the operation asked for).
      if (!ctx.safety.policy.isAllowed(ctx.agent, spec)) {
        const id = typeof args.operationId === 'string' ? infoById(args.operationId.trim()) : undefined;
        return runTool(id ? { ...spec, operation: id.op.operationId } : spec, args, ctx, extra);
      }
      switch (spec.longtail) {
        case 'find':
          return find(spec, args, ctx, extra);
        case 'describe':
          return describe(spec, args, ctx, extra);
        case 'read':
        case 'write':
          return call(spec, args, ctx, extra);
        default:
          return runTool(spec, args, ctx, extra);
      }
    },
  };
}
