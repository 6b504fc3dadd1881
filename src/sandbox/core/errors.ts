/**
 * Errors thrown by sandbox handlers. The server renders them as Keap does:
 * v2 paths → the v2 `Error` envelope `{code, message, status, details}`; v1 paths → `{message}`.
 * Gateway (Apigee) faults — 401 bad/expired token, 429 throttled — are `{fault:{faultstring, detail:{errorcode}}}`.
 */

export interface SbErrorDetail {
  readonly domain?: string;
  readonly resource?: string;
}

/** gRPC-style status names Keap's v2 uses in `Error.status`. */
const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'ALREADY_EXISTS',
  412: 'FAILED_PRECONDITION',
  422: 'INVALID_ARGUMENT',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  501: 'UNIMPLEMENTED',
  503: 'UNAVAILABLE',
};

export function statusName(status: number): string {
  return STATUS_NAMES[status] ?? (status >= 500 ? 'INTERNAL' : 'UNKNOWN');
}

export class SbHttpError extends Error {
  readonly status: number;
  readonly details?: readonly SbErrorDetail[];
  /** Overrides the v2 `status` string (e.g. 'ABORTED' for a 409 on a concurrent change). */
  readonly statusText?: string;

  constructor(status: number, message: string, details?: readonly SbErrorDetail[], statusText?: string) {
    super(message);
    this.name = 'SbHttpError';
    this.status = status;
    if (details !== undefined) this.details = details;
    if (statusText !== undefined) this.statusText = statusText;
  }
}

/** 400 INVALID_ARGUMENT; the message names the field. */
export function badRequest(field: string, message: string): SbHttpError {
  const text = message.includes(field) ? message : `${field}: ${message}`;
  return new SbHttpError(400, text, [{ domain: 'field', resource: field }]);
}

/** 404 NOT_FOUND, e.g. notFound('Contact', 12) → "Contact with id 12 not found". */
export function notFound(what: string, id: string | number): SbHttpError {
  return new SbHttpError(404, `${what} with id ${id} not found`, [{ domain: what, resource: String(id) }]);
}

/** 409 ALREADY_EXISTS (or pass statusText 'ABORTED'). */
export function conflict(
  message: string,
  statusText: 'ALREADY_EXISTS' | 'ABORTED' = 'ALREADY_EXISTS',
): SbHttpError {
  return new SbHttpError(409, message, [], statusText);
}

/** v2 envelope. */
export function v2ErrorBody(e: SbHttpError): {
  code: number;
  message: string;
  status: string;
  details: SbErrorDetail[];
} {
  return {
    code: e.status,
    message: e.message,
    status: e.statusText ?? statusName(e.status),
    details: e.details ? [...e.details] : [],
  };
}

/** v1 envelope. */
export function v1ErrorBody(e: SbHttpError): { message: string } {
  return { message: e.message };
}

/** Gateway fault body (401 invalid token, 429 throttled). */
export function gatewayFault(
  faultstring: string,
  errorcode: string,
): {
  fault: { faultstring: string; detail: { errorcode: string } };
} {
  return { fault: { faultstring, detail: { errorcode } } };
}
