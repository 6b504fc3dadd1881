/** Shared setup and a tiny HTTP client for sandbox tests (real HTTP over loopback). */
import { afterAll, beforeAll, expect } from 'vitest';
import type { RunningSandbox, SandboxOptions } from '../../src/sandbox/core/types.js';
import { NO_LIMITS, startSandbox } from '../../src/sandbox/server.js';
import { validateResponse } from './openapi-helper.js';

/**
 * One sandbox per test file: started in beforeAll (port 0, control surface on, NO_LIMITS unless `opts` says
 * otherwise), handed to `onStart`, closed in afterAll.
 */
export function useSandbox(onStart: (sb: RunningSandbox) => void, opts: SandboxOptions = {}): void {
  let sb: RunningSandbox | undefined;
  beforeAll(async () => {
    sb = await startSandbox({ port: 0, control: true, limits: NO_LIMITS, ...opts });
    onStart(sb);
  });
  afterAll(async () => {
    await sb?.close();
  });
}

export interface Res {
  status: number;
  headers: Headers;
  text: string;
  body: any;
}

export interface CallOpts {
  query?: Record<string, string | number | boolean> | URLSearchParams;
  body?: unknown;
  /** API key for X-Keap-API-Key (default 'test-key'); null = no credential header. */
  key?: string | null;
  bearer?: string;
  headers?: Record<string, string>;
  form?: Record<string, string>;
}

export async function call(base: string, method: string, path: string, opts: CallOpts = {}): Promise<Res> {
  const url = new URL(base + path);
  if (opts.query instanceof URLSearchParams) url.search = opts.query.toString();
  else if (opts.query) for (const [k, v] of Object.entries(opts.query)) url.searchParams.set(k, String(v));
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.bearer) headers.authorization = `Bearer ${opts.bearer}`;
  else if (opts.key !== null) headers['x-keap-api-key'] = opts.key ?? 'test-key';
  let payload: string | undefined;
  if (opts.form) {
    payload = new URLSearchParams(opts.form).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  } else if (opts.body !== undefined) {
    payload = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  const r = await fetch(url, { method, headers, body: payload, redirect: 'manual' });
  const text = await r.text();
  let body: any;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: r.status, headers: r.headers, text, body };
}

/** Assert the response validates against Keap's official document (no-op when the documents are missing). */
export function expectDoc(version: 'v1' | 'v2', method: string, template: string, res: Res): void {
  const errors = validateResponse(version, method, template, res.status, res.body);
  expect(errors, `${method} ${template} ${res.status}: ${res.text.slice(0, 300)}`).toEqual([]);
}

/** Assert (status, body) validates against Keap's official document (no-op when the documents are missing). */
export function expectValid(
  version: 'v1' | 'v2',
  method: string,
  template: string,
  status: number,
  body: unknown,
): void {
  const where = `${method} ${template} ${status}: ${JSON.stringify(body)?.slice(0, 300)}`;
  expect(validateResponse(version, method, template, status, body), where).toEqual([]);
}

/** `call` bound to a sandbox (read lazily) and an API key, with a JSON body and extra headers as arguments. */
export function caller(
  base: () => string,
  key: string,
): (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<Res> {
  return (method, path, body, headers = {}) =>
    call(base(), method, path, { key, headers, ...(body !== undefined ? { body } : {}) });
}

export async function control(base: string, method: string, path: string, body?: unknown): Promise<Res> {
  return call(base, method, `/__sandbox${path}`, { key: null, ...(body !== undefined ? { body } : {}) });
}
