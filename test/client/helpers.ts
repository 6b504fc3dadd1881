/** Shared helpers of the client acceptance tests: sandbox control and counters, captured logs. */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../src/logger.js';
import type { Counters } from '../../src/sandbox/core/control.js';

export interface CapturedLogger {
  logger: Logger;
  text(): string;
}

/** pino at debug level writing into memory (what would go to stderr), with the product's redaction paths. */
export function captureLogger(): CapturedLogger {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const text = chunk.toString('utf8');
      chunks.push(text);
      // Also handed to the suite-wide secret scan (test/setup/capture.ts), as if written to stderr.
      (globalThis as { __keapMcpScanRecord?: (t: string) => void }).__keapMcpScanRecord?.(text);
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

/** GET /__sandbox/requests: what the sandbox's Counters.snapshot() answers. */
export async function counters(baseUrl: string): Promise<ReturnType<Counters['snapshot']>> {
  return (await control(baseUrl, 'GET', '/__sandbox/requests')) as ReturnType<Counters['snapshot']>;
}

export function fault(baseUrl: string, spec: Record<string, unknown>): Promise<unknown> {
  return control(baseUrl, 'POST', '/__sandbox/faults', spec);
}

/** How many `POST /token` requests the sandbox has seen since its counters were last cleared (failed grants too). */
export async function tokenPosts(baseUrl: string): Promise<number> {
  return (await counters(baseUrl)).routes['POST /token']?.count ?? 0;
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

/** `auth login`'s OAuth settings for a sandbox at `baseUrl` and one of its clients. */
export function sandboxOAuth(baseUrl: string, clientId: string, clientSecret: string) {
  return {
    clientId,
    clientSecret,
    authorizeUrl: `${baseUrl}/app/oauth/authorize`,
    tokenUrl: `${baseUrl}/token`,
  };
}

/**
 * Plays the browser for `auth login` against the sandbox: follows the (auto-approved) authorize URL to the
 * loopback callback and returns the page the callback answered.
 */
export async function approveInSandbox(url: string): Promise<string> {
  const r = await fetch(url, { redirect: 'manual' });
  const loc = r.headers.get('location');
  if (r.status !== 302 || loc === null) throw new Error(`authorize answered ${r.status}`);
  return (await fetch(loc)).text();
}
