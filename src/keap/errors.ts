/**
 * Status + body → KeapError. Keap answers errors in four envelopes (keap-api.md §3.3):
 *  - v2 `Error`: `{code, message, status, details:[{domain, resource}]}` (code sometimes a string);
 *  - v1: `{message}`;
 *  - gateway (Apigee) faults: `{fault:{faultstring, detail:{errorcode}}}` (401 bad token, 429 throttled);
 *  - OAuth token endpoint: `{error, error_description}`.
 * The upstream text is sanitized (control characters stripped, whitespace collapsed, capped) and never includes
 * request headers or tokens; any configured secret that Keap echoes back is replaced by `[redacted]`.
 */
import { type ErrorCategory, type KeapBudget, KeapError } from './types.js';

export const MAX_UPSTREAM_CHARS = 500;

export type CredentialKind = 'pat' | 'oauth';

/** Strips control characters, collapses whitespace, redacts known secrets and caps the length. */
export function sanitize(text: string, secrets: readonly string[] = [], max = MAX_UPSTREAM_CHARS): string {
  let s = text;
  for (const secret of secrets) {
    if (secret.length >= 4) s = s.split(secret).join('[redacted]');
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  s = s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ');
  s = s.replace(/\s+/g, ' ').trim();
  if (s.length > max) s = `${s.slice(0, max - 1)}…`;
  return s;
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string' && v.trim() !== '') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

function rec(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

export interface ParsedErrorBody {
  /** Human text from the envelope (unsanitized). */
  readonly message?: string;
  /** Machine code: v2 status name, gateway errorcode, or OAuth `error`. */
  readonly code?: string;
  readonly envelope: 'v2' | 'v1' | 'gateway' | 'oauth' | 'text' | 'none';
}

/** Recognises Keap's error envelopes. `body` is parsed JSON, raw text, or null. */
export function parseErrorBody(body: unknown): ParsedErrorBody {
  if (typeof body === 'string') {
    const t = body.trim();
    if (t === '') return { envelope: 'none' };
    try {
      return parseErrorBody(JSON.parse(t) as unknown);
    } catch {
      return { message: t, envelope: 'text' };
    }
  }
  const o = rec(body);
  if (!o) return { envelope: 'none' };
  const fault = rec(o.fault);
  if (fault) {
    const detail = rec(fault.detail);
    const code = str(detail?.errorcode);
    const message = str(fault.faultstring);
    return { envelope: 'gateway', ...(message ? { message } : {}), ...(code ? { code } : {}) };
  }
  const oauthError = str(o.error);
  if (oauthError !== undefined && (o.error_description !== undefined || o.message === undefined)) {
    const description = str(o.error_description);
    return { envelope: 'oauth', code: oauthError, message: description ?? oauthError };
  }
  const message = str(o.message);
  if (o.status !== undefined || o.code !== undefined || o.details !== undefined) {
    const status = str(o.status);
    let text = message;
    const details = Array.isArray(o.details) ? o.details : [];
    const parts: string[] = [];
    for (const d of details) {
      const dr = rec(d);
      const dom = str(dr?.domain);
      const res = str(dr?.resource);
      if (dom || res) parts.push([dom, res].filter(Boolean).join(': '));
    }
    if (parts.length > 0) text = `${text ?? ''} (${parts.join('; ')})`.trim();
    return { envelope: 'v2', ...(text ? { message: text } : {}), ...(status ? { code: status } : {}) };
  }
  if (message !== undefined) return { envelope: 'v1', message };
  return { envelope: 'none' };
}

/** HTTP status → category. */
export function categoryForStatus(status: number): ErrorCategory {
  if (status === 400 || status === 422) return 'validation';
  if (status === 401) return 'authentication';
  if (status === 403) return 'permission';
  if (status === 404) return 'not_found';
  if (status === 409) return 'conflict';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'unavailable';
  return 'validation';
}

export interface ErrorContext {
  readonly status: number;
  readonly body: unknown;
  readonly method: string;
  readonly path: string;
  readonly credentialKind: CredentialKind;
  readonly attempts?: number;
  readonly budget?: KeapBudget;
  readonly retryAfterSec?: number;
  readonly secrets?: readonly string[];
}

/** A human sentence that says which credential failed and how to fix it. */
export function authenticationHint(kind: CredentialKind): string {
  return kind === 'pat'
    ? 'Keap rejected the personal access token / service account key (sent as X-Keap-API-Key). Check KEAP_API_KEY: it may be wrong, revoked or expired.'
    : 'Keap rejected the OAuth access token even after a refresh. Run `keap-mcp auth login` to authorise again.';
}

/** Builds the KeapError for a non-2xx response. */
export function errorFromResponse(ctx: ErrorContext): KeapError {
  const parsed = parseErrorBody(ctx.body);
  const upstream =
    parsed.message !== undefined
      ? sanitize(
          parsed.code && !parsed.message.includes(parsed.code)
            ? `${parsed.message} [${parsed.code}]`
            : parsed.message,
          ctx.secrets,
        )
      : undefined;
  const category = categoryForStatus(ctx.status);
  const where = `${ctx.method} ${ctx.path}`;
  let message: string;
  switch (category) {
    case 'authentication':
      message = authenticationHint(ctx.credentialKind);
      break;
    case 'permission':
      message = `Keap refused ${where} (403): the credential lacks permission for this operation.`;
      break;
    case 'not_found':
      message = `Keap found nothing at ${where} (404).`;
      break;
    case 'conflict':
      message = `Keap reported a conflict for ${where} (409).`;
      break;
    case 'rate_limited':
      message = `rate limited: retry after ${ctx.retryAfterSec ?? 1} s`;
      break;
    case 'unavailable':
      message = `Keap is unavailable (${ctx.status}) for ${where}.`;
      break;
    default:
      message = `Keap rejected ${where} as invalid (${ctx.status}).`;
  }
  if (upstream) message = `${message} Keap said: ${upstream}`;
  return new KeapError({
    category,
    message,
    status: ctx.status,
    ...(upstream !== undefined ? { upstreamMessage: upstream } : {}),
    retryable: category === 'rate_limited' || category === 'unavailable',
    ...(ctx.retryAfterSec !== undefined ? { retryAfterSec: ctx.retryAfterSec } : {}),
    ...(ctx.attempts !== undefined ? { attempts: ctx.attempts } : {}),
    ...(ctx.budget !== undefined ? { budget: ctx.budget } : {}),
  });
}

export const OUTCOME_UNKNOWN_MESSAGE =
  'Keap may or may not have applied this; check with the matching get_/list_ tool before retrying.';

export function outcomeUnknownError(what: string, attempts: number, status?: number): KeapError {
  return new KeapError({
    category: 'outcome_unknown',
    message: `${what}. ${OUTCOME_UNKNOWN_MESSAGE}`,
    ...(status !== undefined ? { status } : {}),
    retryable: false,
    attempts,
  });
}

export function rateLimitedError(retryAfterSec: number, attempts = 0, budget?: KeapBudget): KeapError {
  const sec = Math.max(1, Math.ceil(retryAfterSec));
  return new KeapError({
    notSent: true,
    category: 'rate_limited',
    message: `rate limited: retry after ${sec} s`,
    retryable: true,
    retryAfterSec: sec,
    attempts,
    ...(budget !== undefined ? { budget } : {}),
  });
}
