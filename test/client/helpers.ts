/** Shared helpers of the client acceptance tests: sandbox control, captured logs, a /token counting proxy. */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../src/logger.js';

export interface CapturedLogger {
  logger: Logger;
  text(): string;
}

/** pino at debug level writing into memory (what would go to stderr), with the product's redaction paths. */
export function captureLogger(): CapturedLogger {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = pino({ level: 'debug', base: { name: 'keap-mcp' } }, stream);
  return { logger, text: () => chunks.join('') };
}

export async function control(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    ...(body !== undefined
      ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }
      : {}),
  });
  const t = await res.text();
  if (res.status >= 400) throw new Error(`control ${method} ${path}: ${res.status} ${t}`);
  return t === '' ? null : (JSON.parse(t) as unknown);
}

export interface RouteCounter {
  count: number;
  effective: number;
  noEffect: number;
  rateLimited: number;
  authFailed: number;
  faulted: number;
  byStatus: Record<string, number>;
}

export async function counters(
  baseUrl: string,
): Promise<{ total: number; totals: RouteCounter; routes: Record<string, RouteCounter> }> {
  return (await control(baseUrl, 'GET', '/__sandbox/requests')) as {
    total: number;
    totals: RouteCounter;
    routes: Record<string, RouteCounter>;
  };
}

export function fault(baseUrl: string, spec: Record<string, unknown>): Promise<unknown> {
  return control(baseUrl, 'POST', '/__sandbox/faults', spec);
}

/**
 * A transparent proxy in front of the sandbox that counts POST /token (the sandbox's counters cover API routes
 * only). Every other request is forwarded as is.
 */
export async function tokenCountingProxy(
  target: string,
): Promise<{ url: string; tokenPosts(): number; close(): Promise<void> }> {
  let posts = 0;
  const t = new URL(target);
  const server: Server = createServer((req, res) => {
    if (req.method === 'POST' && (req.url ?? '').startsWith('/token')) posts += 1;
    const up = httpRequest(
      { host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    tokenPosts: () => posts,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** Fails the test if any secret appears in any of the texts. */
export function findSecrets(texts: readonly string[], secrets: readonly string[]): string[] {
  const hits: string[] = [];
  for (const s of secrets) {
    if (s.length < 6) continue;
    for (const t of texts) if (t.includes(s)) hits.push(`${s.slice(0, 4)}… found`);
  }
  return hits;
}
