/**
 * Routes for the documented operations the sandbox does not simulate: each answers 501 UNIMPLEMENTED with Keap's
 * error body for its version ("… is not simulated by the sandbox"), so a documented path is never a 404. Paths
 * that are not in Keap's documents keep answering 404 "No such path".
 */
import { SbHttpError } from '../core/errors.js';
import type { SbRoute } from '../core/types.js';
import { type DocumentedOperation, normalisePath } from './generate.js';
import { DOCUMENTED_OPERATIONS } from './operations.js';

/** 'GET /v2/contacts/{}' — method, version and normalised path. */
export function operationKey(method: string, path: string): string {
  return `${method.toUpperCase()} ${path.slice(0, 3)}${normalisePath(path)}`;
}

function notSimulated([method, path, operationId]: DocumentedOperation): SbRoute {
  const what = `${method} ${path}${operationId ? ` (${operationId})` : ''}`;
  return {
    method,
    path,
    handler: () => {
      throw new SbHttpError(501, `Keap operation ${what} is not simulated by the sandbox`, [
        { domain: 'sandbox', resource: operationId || path },
      ]);
    },
  };
}

/** The documented operations with no simulated route. */
export function unsimulatedOperations(simulated: readonly SbRoute[]): DocumentedOperation[] {
  const have = new Set(simulated.map((r) => operationKey(r.method, r.path)));
  return DOCUMENTED_OPERATIONS.filter(([m, p]) => !have.has(operationKey(m, p)));
}

/** A 501 route for every documented operation with no simulated route. */
export function notSimulatedRoutes(simulated: readonly SbRoute[]): SbRoute[] {
  return unsimulatedOperations(simulated).map(notSimulated);
}
