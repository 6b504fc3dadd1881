/**
 * The one place that decides what the model reads when a call fails. Every failure becomes
 * `{ error: { category, message, next_step, retryable, status? } }` as structuredContent plus the text
 * "<Category>: <what happened>. <what to do next>." Upstream text is quoted (already sanitized by the
 * client) and capped again; stack traces, headers and tokens never reach the model.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ZodError } from 'zod';
import { sanitize } from './keap/errors.js';
import { pathPlaceholders } from './keap/path.js';
import { type ErrorCategory, KeapError } from './keap/types.js';
import type { AnyToolSpec } from './registry/define.js';

const MAX_UPSTREAM = 500;
const MAX_MESSAGE = 1200;

export interface ModelError {
  readonly category: ErrorCategory;
  readonly message: string;
  readonly next_step: string;
  readonly retryable: boolean;
  readonly status?: number;
}

const LABELS: Record<ErrorCategory, string> = {
  input: 'Input error',
  not_found: 'Not found',
  validation: 'Validation failed',
  permission: 'Permission denied',
  authentication: 'Authentication failed',
  conflict: 'Conflict',
  rate_limited: 'Rate limited',
  unavailable: 'Keap unavailable',
  outcome_unknown: 'Outcome unknown',
  policy: 'Not allowed by server policy',
  confirmation: 'Confirmation failed',
  cancelled: 'Cancelled',
};

/** An error raised by the machinery itself (input checks, policy, confirmation, idempotency). */
export class ToolError extends Error {
  readonly category: ErrorCategory;
  readonly nextStep: string;
  readonly retryable: boolean;
  readonly status: number | undefined;
  constructor(init: {
    category: ErrorCategory;
    message: string;
    nextStep: string;
    retryable?: boolean;
    status?: number;
  }) {
    super(init.message);
    this.name = 'ToolError';
    this.category = init.category;
    this.nextStep = init.nextStep;
    this.retryable = init.retryable ?? false;
    this.status = init.status;
  }
}

/** Control characters stripped, whitespace collapsed, capped: the client's sanitizer, no secrets to redact here. */
function clean(text: string, max: number): string {
  return sanitize(text, [], max);
}

function stripDot(s: string): string {
  return s.replace(/[.\s]+$/u, '');
}

/** "<Category>: <what happened>. <what to do next>." */
export function errorText(e: ModelError): string {
  return `${LABELS[e.category]}: ${stripDot(e.message)}. ${stripDot(e.next_step)}.`;
}

export function errorResult(e: ModelError): CallToolResult {
  const error: Record<string, unknown> = {
    category: e.category,
    message: e.message,
    next_step: e.next_step,
    retryable: e.retryable,
  };
  if (e.status !== undefined) error.status = e.status;
  return { isError: true, content: [{ type: 'text', text: errorText(e) }], structuredContent: { error } };
}

/** The path ids of a call, e.g. "contact_id 12". */
function idPhrase(
  spec: AnyToolSpec | undefined,
  args: Readonly<Record<string, unknown>> | undefined,
): string {
  if (!spec || !args) return '';
  const parts = pathPlaceholders(spec.path)
    .filter((p) => args[p] !== undefined)
    .map((p) => `${p} ${String(args[p])}`);
  return parts.join(', ');
}

function quoted(upstream: string | undefined): string {
  if (!upstream) return '';
  return ` Keap said: "${clean(upstream, MAX_UPSTREAM).replace(/"/g, "'")}"`;
}

function zodMessage(err: ZodError): string {
  const parts = err.issues.slice(0, 5).map((i) => {
    const field = i.path.length > 0 ? i.path.map(String).join('.') : '(arguments)';
    return `${field}: ${i.message}`;
  });
  return `invalid arguments (${parts.join('; ')})`;
}

function fromKeapError(
  err: KeapError,
  spec: AnyToolSpec | undefined,
  args: Readonly<Record<string, unknown>> | undefined,
): ModelError {
  const status = err.status !== undefined ? { status: err.status } : {};
  const up = quoted(err.upstreamMessage);
  const isWrite = spec?.access === 'write';
  const checkWith = spec?.checkWith;
  const name = spec ? spec.name : 'the call';
  switch (err.category) {
    case 'not_found': {
      const ids = idPhrase(spec, args);
      const find = spec?.findWith ? `; use ${spec.findWith} to find valid ids` : '';
      return {
        category: 'not_found',
        message: `Keap has nothing at ${ids || (spec?.path ?? 'that path')}.${up}`,
        next_step: `Check the id${find}`,
        retryable: false,
        ...status,
      };
    }
    case 'validation':
      return {
        category: 'validation',
        message: `Keap rejected the ${name} request.${up}`,
        next_step: 'Fix the named field(s) and call again; do not repeat the same arguments',
        retryable: false,
        ...status,
      };
    case 'authentication':
      return {
        category: 'authentication',
        // The client's own sentence names the credential that failed and how to fix it (never a secret);
        // it already quotes Keap's sanitized text.
        message: clean(err.message, MAX_MESSAGE),
        // The client's message names the credential kind; the next step repeats only the fix that applies.
        next_step: /auth login|OAuth/.test(err.message)
          ? 'Stop and tell the user: the operator must run `keap-mcp auth login` (Keap OAuth); retrying will not help'
          : /KEAP_API_KEY/.test(err.message)
            ? 'Stop and tell the user: the operator must fix KEAP_API_KEY; retrying will not help'
            : 'Stop and tell the user: the operator must fix KEAP_API_KEY or run `keap-mcp auth login`; retrying will not help',
        retryable: false,
        ...status,
      };
    case 'permission':
      return {
        category: 'permission',
        message: `The connected Keap user lacks access to this.${up}`,
        next_step: 'Retrying will not help; tell the user which access is missing',
        retryable: false,
        ...status,
      };
    case 'conflict':
      return {
        category: 'conflict',
        message: `Keap reported a conflict.${up}`,
        next_step: `Refetch the current record${checkWith ? ` with ${checkWith}` : ''}, resolve the difference and call again`,
        retryable: false,
        ...status,
      };
    case 'rate_limited': {
      const wait = Math.max(1, Math.ceil(err.retryAfterSec ?? 60));
      return {
        category: 'rate_limited',
        message: `Keap's rate limit was reached.${up}`,
        next_step: `Wait ${wait} s, then call again`,
        retryable: true,
        ...status,
      };
    }
    case 'unavailable':
      return {
        category: 'unavailable',
        // The cause in plain words (DNS, refused, TLS, timeout, reset) when it was a network failure.
        message: `Keap did not answer successfully${err.status ? ` (HTTP ${err.status})` : ''}${err.reason ? `: ${err.reason}` : ''}.${up}`,
        next_step:
          isWrite && !err.notSent
            ? `The change may or may not have been applied; check with ${checkWith ?? 'a read tool'} before retrying`
            : isWrite
              ? 'Nothing reached Keap; fix the cause if it is on this side (network, DNS, base URL), then retry'
              : 'Retry in a minute',
        retryable: !isWrite || err.notSent,
        ...status,
      };
    case 'outcome_unknown':
      return {
        category: 'outcome_unknown',
        message: `The outcome of ${name} is unknown: the request may have reached Keap${err.reason ? ` (${err.reason})` : ''}.${up}`,
        next_step: `Check with ${checkWith ?? 'a read tool'} before retrying`,
        retryable: false,
        ...status,
      };
    case 'cancelled':
      return {
        category: 'cancelled',
        message: err.notSent
          ? `${name} was cancelled before anything was sent to Keap`
          : `${name} was cancelled while waiting for Keap's answer`,
        next_step: 'Nothing to do unless the user still wants it; then call again',
        retryable: true,
      };
    default:
      return {
        category: err.category,
        message: `${clean(err.message, MAX_UPSTREAM)}.${up}`,
        next_step: err.retryable ? 'Retry later' : 'Fix the arguments and call again',
        retryable: err.retryable,
        ...status,
      };
  }
}

/** Any thrown value → the one model-facing format. Unknown errors get a generic message (details go to logs). */
export function toModelError(
  err: unknown,
  spec?: AnyToolSpec,
  args?: Readonly<Record<string, unknown>>,
): ModelError {
  let e: ModelError;
  if (err instanceof ToolError) {
    e = {
      category: err.category,
      message: err.message,
      next_step: err.nextStep,
      retryable: err.retryable,
      ...(err.status !== undefined ? { status: err.status } : {}),
    };
  } else if (err instanceof KeapError) {
    e = fromKeapError(err, spec, args);
  } else if (err instanceof ZodError) {
    e = {
      category: 'input',
      message: zodMessage(err),
      next_step: 'Fix the named field(s) as described in the tool schema and call again',
      retryable: false,
    };
  } else {
    e = {
      category: spec?.access === 'write' ? 'outcome_unknown' : 'unavailable',
      message: 'the server failed while handling the call',
      next_step:
        spec?.access === 'write'
          ? `Check with ${spec.checkWith ?? 'a read tool'} whether the change happened before retrying`
          : 'Retry in a minute',
      retryable: spec?.access !== 'write',
    };
  }
  return { ...e, message: clean(e.message, MAX_MESSAGE), next_step: clean(e.next_step, 400) };
}

export function toErrorResult(
  err: unknown,
  spec?: AnyToolSpec,
  args?: Readonly<Record<string, unknown>>,
): CallToolResult {
  return errorResult(toModelError(err, spec, args));
}
