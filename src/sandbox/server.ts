/**
 * The sandbox HTTP server: a local, stateful Keap. Serves `{base}/v2/...`, `{base}/v1/...`, Keap's OAuth endpoints
 * (`/app/oauth/authorize`, `/token`) and, when enabled, the test control surface under `/__sandbox/`.
 *
 * Request pipeline for API paths: route match → fault injection → auth (gateway 401) → rate limits (gateway 429,
 * counted before the handler, a rejected request has no effect) → body parse → handler → rendering
 * (v2 `Error` envelope on /v2, `{message}` on /v1). Every API response carries the x-keap throttle/quota headers.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { z } from 'zod';
import { AuthService } from './core/auth.js';
import { Counters, Faults, type Outcome } from './core/control.js';
import { gatewayFault, SbHttpError, statusName, v1ErrorBody, v2ErrorBody } from './core/errors.js';
import { DEFAULT_LIMITS, RateLimiter, throttleFault } from './core/limits.js';

export { DEFAULT_LIMITS, NO_LIMITS } from './core/limits.js';

import { Router } from './core/router.js';
import { SandboxState } from './core/state.js';
import type {
  HookSchedule,
  RunningSandbox,
  SandboxConfig,
  SandboxLimits,
  SandboxOptions,
  SbMethod,
  SbModule,
  SbRequest,
  SbResponse,
} from './core/types.js';
import { zodToBadRequest } from './core/validate.js';
import { notSimulatedRoutes } from './documented/not-simulated.js';
import { MODULES } from './modules.js';

const METHODS: readonly string[] = ['GET', 'POST', 'PATCH', 'PUT', 'DELETE'];

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function isV1(path: string): boolean {
  return path.startsWith('/v1/');
}

function errorResponse(path: string, e: SbHttpError): SbResponse {
  return { status: e.status, body: isV1(path) ? v1ErrorBody(e) : v2ErrorBody(e) };
}

function send(
  res: ServerResponse,
  r: SbResponse,
  extraHeaders: Record<string, string> = {},
  malformed = false,
): void {
  const headers: Record<string, string> = { ...extraHeaders, ...(r.headers ?? {}) };
  let payload: string | undefined;
  if (r.body !== undefined) {
    payload = JSON.stringify(r.body);
    if (malformed) payload = `${payload.slice(0, Math.max(1, Math.floor(payload.length / 2)))}<!-- truncated`;
    headers['content-type'] = 'application/json;charset=UTF-8';
  } else if (malformed) {
    payload = '{"malformed":';
    headers['content-type'] = 'application/json;charset=UTF-8';
  }
  if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
  else headers['content-length'] = '0';
  res.writeHead(r.status, headers);
  res.end(payload);
}

const zLimits = z
  .object({
    patPerSecond: z.number().int().positive(),
    patPerMinute: z.number().int().positive(),
    patPerDay: z.number().int().positive(),
    oauthPerMinute: z.number().int().positive(),
    oauthPerDay: z.number().int().positive(),
    spikePerSecond: z.number().int().positive(),
    tenantPerMinute: z.number().int().positive(),
  })
  .partial()
  .strict();

const zConfigPatch = z
  .object({
    limits: zLimits.optional(),
    accessTokenTtlSec: z.number().int().positive().optional(),
    hookDelayMs: z.number().int().min(0).optional(),
    hookRetryDelaysMs: z.array(z.number().int().min(0)).optional(),
    hookTimeoutMs: z.number().int().positive().optional(),
    hookSchedule: z.enum(['fast', 'keap']).optional(),
  })
  .strict();

const zFault = z
  .object({
    method: z
      .string()
      .transform((s) => s.toUpperCase())
      .optional(),
    path: z.string().min(1),
    status: z.number().int().min(100).max(599).optional(),
    body: z.unknown().optional(),
    count: z.number().int().positive().default(1),
    latencyMs: z.number().int().min(0).optional(),
    reset: z.enum(['before', 'after']).optional(),
    malformed: z.boolean().optional(),
  })
  .strict();

function parseJson<T>(schema: z.ZodType<T>, raw: Buffer): T {
  let v: unknown = {};
  if (raw.length > 0) {
    try {
      v = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new SbHttpError(400, 'body: invalid JSON');
    }
  }
  const r = schema.safeParse(v);
  if (!r.success) throw zodToBadRequest(r.error);
  return r.data;
}

/** Start a sandbox. Resolves once it listens. */
export async function startSandbox(opts: SandboxOptions = {}): Promise<RunningSandbox> {
  let config: SandboxConfig = {
    seed: opts.seed ?? 42,
    limits: { ...DEFAULT_LIMITS, ...(opts.limits ?? {}) },
    accessTokenTtlSec: opts.accessTokenTtlSec ?? 86_400,
    hookDelayMs: opts.hookDelayMs ?? 1000,
    hookRetryDelaysMs: opts.hookRetryDelaysMs ?? [1000, 2000, 4000],
    hookTimeoutMs: opts.hookTimeoutMs ?? 30_000,
    hookSchedule: opts.hookSchedule ?? 'fast',
  };
  const modules: readonly SbModule[] = MODULES;
  const state = new SandboxState(() => config);
  const router = new Router();
  const simulated = modules.flatMap((m) => m.routes);
  for (const r of simulated) router.add(r);
  // Every other documented operation answers 501 (never 404); undocumented paths stay 404.
  for (const r of notSimulatedRoutes(simulated)) router.add(r);
  const auth = new AuthService(
    opts.apiKeys,
    opts.oauthClients ?? [{ id: 'sandbox-client', secret: 'sandbox-secret' }],
    () => config.accessTokenTtlSec,
  );
  const limiter = new RateLimiter(() => config.limits);
  const counters = new Counters();
  const faults = new Faults();
  const log = opts.logRequests === true;

  const seedAll = (): void => {
    state.wipe();
    for (const m of modules) m.seed?.(state);
  };
  seedAll();

  const control = async (
    method: string,
    path: string,
    raw: Buffer,
    query: URLSearchParams,
  ): Promise<SbResponse> => {
    const route = `${method} ${path.replace(/\/+$/, '')}`;
    switch (route) {
      case 'POST /__sandbox/reset':
        seedAll();
        limiter.clear();
        return { status: 200, body: { ok: true, seed: config.seed } };
      case 'GET /__sandbox/ledger': {
        const kind = query.get('kind');
        return { status: 200, body: { entries: state.ledger.filter((e) => !kind || e.kind === kind) } };
      }
      case 'GET /__sandbox/events':
        return { status: 200, body: { events: state.events } };
      case 'GET /__sandbox/requests':
        return { status: 200, body: counters.snapshot() };
      case 'DELETE /__sandbox/requests':
        counters.clear();
        return { status: 200, body: { ok: true } };
      case 'GET /__sandbox/faults':
        return { status: 200, body: { faults: faults.list() } };
      case 'POST /__sandbox/faults': {
        const spec = parseJson(zFault, raw);
        const rule = faults.add({
          path: spec.path,
          count: spec.count,
          ...(spec.method !== undefined ? { method: spec.method } : {}),
          ...(spec.status !== undefined ? { status: spec.status } : {}),
          ...(spec.body !== undefined ? { body: spec.body } : {}),
          ...(spec.latencyMs !== undefined ? { latencyMs: spec.latencyMs } : {}),
          ...(spec.reset !== undefined ? { reset: spec.reset } : {}),
          ...(spec.malformed !== undefined ? { malformed: spec.malformed } : {}),
        });
        return { status: 201, body: rule };
      }
      case 'DELETE /__sandbox/faults':
        faults.clear();
        return { status: 200, body: { ok: true } };
      case 'GET /__sandbox/config':
        return { status: 200, body: config };
      case 'POST /__sandbox/config': {
        const patch = parseJson(zConfigPatch, raw);
        const limits: SandboxLimits = { ...config.limits };
        for (const [k, v] of Object.entries(patch.limits ?? {})) {
          if (v !== undefined) (limits as unknown as Record<string, number>)[k] = v;
        }
        config = {
          ...config,
          limits,
          ...(patch.accessTokenTtlSec !== undefined ? { accessTokenTtlSec: patch.accessTokenTtlSec } : {}),
          ...(patch.hookDelayMs !== undefined ? { hookDelayMs: patch.hookDelayMs } : {}),
          ...(patch.hookRetryDelaysMs !== undefined ? { hookRetryDelaysMs: patch.hookRetryDelaysMs } : {}),
          ...(patch.hookTimeoutMs !== undefined ? { hookTimeoutMs: patch.hookTimeoutMs } : {}),
          ...(patch.hookSchedule !== undefined ? { hookSchedule: patch.hookSchedule } : {}),
        };
        return { status: 200, body: config };
      }
      default:
        return { status: 404, body: { message: `Unknown control route ${route}` } };
    }
  };

  const handleApi = async (
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    path: string,
    url: URL,
    raw: Buffer,
  ): Promise<{ status: number | 'reset'; outcome: Outcome; key: string; flags: Record<string, boolean> }> => {
    const m = router.match(method, path);
    const template = m.kind === 'ok' ? m.route.path : m.kind === 'method' ? m.template : undefined;
    const key = `${method} ${template ?? path}`;
    const flags: Record<string, boolean> = {};
    const fault = faults.take(method, template, path);
    if (fault) {
      flags.faulted = true;
      if (fault.latencyMs) await sleep(fault.latencyMs);
      if (fault.reset === 'before') {
        req.socket.destroy();
        return { status: 'reset', outcome: 'noEffect', key, flags };
      }
      if (fault.status !== undefined) {
        let body = fault.body;
        if (body === undefined) {
          if (fault.status === 429) body = throttleFault('minute');
          else if (fault.status === 401)
            body = gatewayFault('Invalid access token', 'oauth.v2.InvalidAccessToken');
          else {
            const e = new SbHttpError(fault.status, `Injected fault: ${statusName(fault.status)}`);
            body = errorResponse(path, e).body;
          }
        }
        send(res, { status: fault.status, body }, {}, fault.malformed === true);
        return { status: fault.status, outcome: 'noEffect', key, flags };
      }
    }
    const now = Date.now();
    const a = auth.authenticate(req.headers, now);
    if (!a.ok) {
      flags.authFailed = true;
      send(res, a.response);
      return { status: a.response.status, outcome: 'noEffect', key, flags };
    }
    const decision = limiter.take(a.cred.credentialId, a.cred.kind, now);
    if (!decision.ok) {
      flags.rateLimited = true;
      const perSecond =
        decision.violation === 'second' ? config.limits.patPerSecond : config.limits.spikePerSecond;
      send(
        res,
        { status: 429, body: throttleFault(decision.violation ?? 'minute', perSecond) },
        decision.headers,
      );
      return { status: 429, outcome: 'noEffect', key, flags };
    }
    let out: SbResponse;
    let ran = false;
    try {
      if (m.kind !== 'ok') {
        throw m.kind === 'method'
          ? new SbHttpError(405, `Method ${method} is not allowed on ${m.template}`)
          : new SbHttpError(404, `No such path ${path}`);
      }
      let body: unknown;
      let form: URLSearchParams | undefined;
      const ctype = String(req.headers['content-type'] ?? '');
      if (raw.length > 0) {
        if (ctype.includes('application/x-www-form-urlencoded'))
          form = new URLSearchParams(raw.toString('utf8'));
        else {
          try {
            body = JSON.parse(raw.toString('utf8'));
          } catch {
            throw new SbHttpError(400, 'body: request body is not valid JSON', [
              { domain: 'field', resource: 'body' },
            ]);
          }
        }
      }
      const sbReq: SbRequest = {
        method: method as SbMethod,
        path,
        params: m.params,
        query: url.searchParams,
        body,
        ...(form ? { form } : {}),
        headers: req.headers,
        auth: a.cred,
      };
      ran = true;
      out = await m.route.handler(sbReq, state);
    } catch (err) {
      if (err instanceof SbHttpError) out = errorResponse(path, err);
      else {
        const msg = err instanceof Error ? err.message : String(err);
        process.stderr.write(`keap sandbox: handler error on ${key}: ${msg}\n`);
        out = errorResponse(path, new SbHttpError(500, 'Internal error'));
      }
    }
    const outcome: Outcome = ran && out.status < 400 ? 'effective' : 'noEffect';
    if (fault?.reset === 'after') {
      req.socket.destroy();
      return { status: 'reset', outcome, key, flags };
    }
    send(res, out, decision.headers, fault?.malformed === true);
    return { status: out.status, outcome, key, flags };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = Date.now();
    const url = new URL(req.url ?? '/', 'http://sandbox.local');
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    const method = (req.method ?? 'GET').toUpperCase();
    const raw = await readBody(req);
    let status: number | 'reset' = 0;
    try {
      if (path.startsWith('/__sandbox/') || path === '/__sandbox') {
        if (!opts.control) {
          send(res, { status: 404, body: { message: 'Not found' } });
          status = 404;
        } else {
          let r: SbResponse;
          try {
            r = await control(method, path, raw, url.searchParams);
          } catch (err) {
            r =
              err instanceof SbHttpError
                ? { status: err.status, body: v2ErrorBody(err) }
                : { status: 500, body: { message: String(err) } };
          }
          send(res, r);
          status = r.status;
        }
      } else if (path === '/app/oauth/authorize' && method === 'GET') {
        const r = auth.authorize(url.searchParams, Date.now());
        send(res, r);
        status = r.status;
        counters.record(`GET ${path}`, r.status, r.status < 400 ? 'effective' : 'noEffect', {});
      } else if (path === '/token' && method === 'POST') {
        const ctype = String(req.headers['content-type'] ?? '');
        let form: URLSearchParams | undefined;
        if (!ctype.includes('application/json')) form = new URLSearchParams(raw.toString('utf8'));
        else {
          try {
            const obj = JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>;
            form = new URLSearchParams();
            for (const [k, v] of Object.entries(obj)) form.set(k, String(v));
          } catch {
            form = undefined;
          }
        }
        const r = form
          ? auth.token(form, req.headers.authorization, Date.now())
          : { status: 400, body: { error: 'invalid_request', error_description: 'body: not form-encoded' } };
        send(res, r);
        status = r.status;
        counters.record(`POST ${path}`, r.status, r.status < 400 ? 'effective' : 'noEffect', {});
      } else if ((path.startsWith('/v1/') || path.startsWith('/v2/')) && METHODS.includes(method)) {
        const r = await handleApi(req, res, method, path, url, raw);
        status = r.status;
        counters.record(r.key, r.status, r.outcome, r.flags);
      } else {
        const e = new SbHttpError(404, `No such path ${path}`);
        send(res, errorResponse(path, e));
        status = 404;
        counters.record(`${method} ${path}`, 404, 'noEffect', {});
      }
    } catch (err) {
      if (!res.headersSent) send(res, { status: 500, body: { message: String(err) } });
      status = 500;
    }
    if (log) process.stderr.write(`keap sandbox: ${method} ${path} ${status} ${Date.now() - started}ms\n`);
  };

  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' || host.includes(':') ? `[${addr.address}]` : addr.address;
  state.baseUrl = `http://${urlHost}:${addr.port}`;

  const stoppers: (() => void | Promise<void>)[] = [];
  for (const m of modules) {
    const stop = m.start?.(state);
    if (stop) stoppers.push(stop);
  }

  let closed = false;
  return {
    baseUrl: state.baseUrl,
    api: state,
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const s of stoppers) await s();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const s of sockets) s.destroy();
      });
    },
  };
}

export interface SandboxCliIo {
  /** Where the base URL line goes (default: stdout). */
  readonly out?: (line: string) => void;
  /** Stops the server (default: SIGINT / SIGTERM). */
  readonly signal?: AbortSignal;
}

const USAGE =
  'usage: keap-mcp sandbox [--port N] [--host H] [--seed S] [--control] [--api-key K]... [--token-ttl SEC]' +
  ' [--hook-schedule fast|keap] [--hook-timeout MS] [--verbose]';

/** `keap-mcp sandbox --port N [--host H] [--seed S] [--control]`: prints the base URL and serves until SIGINT/SIGTERM. */
export async function runSandboxCli(argv: string[], io: SandboxCliIo = {}): Promise<void> {
  let port = 0;
  let host: string | undefined;
  let seed: number | undefined;
  let control = false;
  let verbose = false;
  let ttl: number | undefined;
  let hookSchedule: HookSchedule | undefined;
  let hookTimeoutMs: number | undefined;
  const keys: string[] = [];
  const args = argv[0] === 'sandbox' ? argv.slice(1) : argv;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const [flag, inline] = a.includes('=')
      ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]
      : [a, undefined];
    const value = (): string => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    const num = (): number => {
      const v = value();
      if (!/^\d+$/.test(v)) throw new Error(`${flag} must be a non-negative integer\n${USAGE}`);
      return Number(v);
    };
    switch (flag) {
      case '--port':
        port = num();
        break;
      case '--host':
        host = value();
        break;
      case '--seed':
        seed = num();
        break;
      case '--token-ttl':
        ttl = num();
        break;
      case '--api-key':
        keys.push(value());
        break;
      case '--hook-schedule': {
        const v = value();
        if (v !== 'fast' && v !== 'keap') throw new Error(`--hook-schedule must be fast or keap\n${USAGE}`);
        hookSchedule = v;
        break;
      }
      case '--hook-timeout':
        hookTimeoutMs = num();
        break;
      case '--control':
        control = true;
        break;
      case '--verbose':
        verbose = true;
        break;
      case '--help':
      case '-h':
        (io.out ?? ((line: string) => process.stdout.write(`${line}\n`)))(USAGE);
        return;
      default:
        throw new Error(`unknown option ${a}\n${USAGE}`);
    }
  }
  const sb = await startSandbox({
    port,
    control,
    logRequests: verbose,
    ...(host !== undefined ? { host } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(ttl !== undefined ? { accessTokenTtlSec: ttl } : {}),
    ...(keys.length > 0 ? { apiKeys: keys } : {}),
    ...(hookSchedule !== undefined ? { hookSchedule } : {}),
    ...(hookTimeoutMs ? { hookTimeoutMs } : {}),
  });
  const out = io.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  out(sb.baseUrl);
  await new Promise<void>((resolve) => {
    const done = (): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      io.signal?.removeEventListener('abort', done);
      resolve();
    };
    if (io.signal) {
      if (io.signal.aborted) return done();
      io.signal.addEventListener('abort', done);
    }
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
  await sb.close();
}
