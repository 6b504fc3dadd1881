/**
 * Streamable HTTP transport: stateful sessions at /mcp, GET /healthz. Plain node:http, no framework: every
 * answer, including every error, is a small JSON body (JSON-RPC on /mcp) without stack, path or library name.
 *
 * Every request, on every path, passes in this order:
 * 1. Host: the Host header's name must be on the allow-list (KEAP_MCP_ALLOWED_HOSTS; default: the bind address,
 *    the loopback names on a loopback or wildcard bind, and the hosts of the configured public URLs) → else 403.
 * 2. Origin: when present it must name an allowed host → else 403 (DNS rebinding, cross-site browser requests).
 * 3. Route and method → 404 / 405.
 * 4. /mcp: `Authorization: Bearer` names the agent (policy.agentForToken) when the policy has tokens → else 401
 *    before the body is read. Without tokens (loopback only) the policy's default agent is served.
 * 5. POST /mcp: Content-Type JSON (415), body at most maxBodyBytes (413), valid JSON (400, -32700).
 * Rejected logins (1, 2, 4) are audited as refusals (rate-limited, with the remote address, never the token)
 * and logged at info. Every session gets its own McpServer for its agent and is bound to that agent.
 * The REST hooks receiver (`hooks`, src/hooks/receiver.ts) answers `/hooks/…` between 2 and 3, with no agent token
 * (Keap sends none); with `hooksOnly` every other path but /healthz is 404. Logged paths shorten receiver ids.
 *
 * Sessions end on DELETE, on a transport close, or after `idleS` seconds without a request (no request in
 * flight: a tool call waiting for a human or an open GET stream keeps its session). Ending a session closes its
 * McpServer (which rejects pending elicitations and drops its handlers) and removes it from the only map that
 * holds it. At most `max` sessions are open (a new one beyond that gets 503) and each agent at most its share
 * (429): `perAgent`, or when 0, max(10, floor(max ÷ agents with tokens)), never above `max`.
 */
import { randomUUID } from 'node:crypto';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { maskHookPath } from '../hooks/receiver.js';
import type { Logger } from '../logger.js';
import { bindWarnings } from '../safety/policy.js';
import type { AuditApi, PolicyApi, RefusalReason } from '../safety/types.js';
import { readBodyLimited } from './body.js';

type Req = IncomingMessage;
type Res = ServerResponse;

/** Largest accepted POST /mcp body. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** Session defaults (KEAP_MCP_SESSION_IDLE_S, KEAP_MCP_MAX_SESSIONS, KEAP_MCP_MAX_SESSIONS_PER_AGENT). */
export const DEFAULT_SESSION_IDLE_S = 1800;
export const DEFAULT_MAX_SESSIONS = 200;
/** The automatic per-agent share never goes below this (unless the cap itself is lower). */
export const MIN_AGENT_SHARE = 10;

export interface SessionSettings {
  /** Seconds without a request after which a session is closed. */
  readonly idleS?: number | undefined;
  /** Most open sessions. */
  readonly max?: number | undefined;
  /** Most open sessions per agent; 0 or absent = automatic (see agentShare). */
  readonly perAgent?: number | undefined;
}

/** An agent's share of the session cap: `perAgent` when set, else max(10, floor(max ÷ agents)), at most `max`. */
export function agentShare(max: number, perAgent: number | undefined, agentsWithTokens: number): number {
  if (perAgent !== undefined && perAgent > 0) return Math.min(perAgent, max);
  return Math.min(max, Math.max(MIN_AGENT_SHARE, Math.floor(max / Math.max(1, agentsWithTokens))));
}

export interface HttpOptions {
  readonly host: string;
  readonly port: number;
  readonly policy: PolicyApi;
  /** Builds the MCP server of a new session for its agent. */
  readonly makeServer: (agent: string) => McpServer;
  readonly logger: Logger;
  readonly sandbox?: boolean;
  /** Receives rejected logins (no/wrong token, foreign Host/Origin). */
  readonly audit?: Pick<AuditApi, 'refusal'> | undefined;
  /** KEAP_MCP_ALLOWED_HOSTS: host names clients may use; replaces the default list when non-empty. */
  readonly allowedHosts?: readonly string[] | undefined;
  /** Public URLs of this server (hooks receiver, console): their hosts join the default allow-list. */
  readonly publicUrls?: readonly string[] | undefined;
  readonly maxBodyBytes?: number | undefined;
  readonly sessions?: SessionSettings | undefined;
  /**
   * No MCP sessions (--stateless): every POST gets a fresh server for its agent and a session-less transport, so
   * any replica behind a load balancer can serve any request. No GET stream and no DELETE (nothing to resume or
   * end); server-initiated requests (elicitation) and resource subscriptions need a session, so they are absent.
   */
  readonly stateless?: boolean | undefined;
  /** The operator console, mounted at /console after the Host/Origin checks (src/console/). */
  readonly console?: { handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> } | undefined;
  /**
   * The REST hooks receiver (src/hooks/receiver.ts), mounted at /hooks/ after the Host/Origin checks and before
   * the agent bearer check (Keap sends no token).
   */
  readonly hooks?: { handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> } | undefined;
  /** `--hooks-only`: serve the hooks receiver (and /healthz) only — /mcp answers 404; no agent token needed. */
  readonly hooksOnly?: boolean | undefined;
}

/** One open session as the operator console lists it (id shortened). */
export interface SessionListing {
  readonly id: string;
  readonly agent: string;
  readonly age_s: number;
  readonly idle_s: number;
}

export interface RunningHttp {
  /** e.g. http://127.0.0.1:3000/mcp */
  readonly url: string;
  readonly port: number;
  /** The Host/Origin allow-list in force (normalized host names). */
  readonly allowedHosts: readonly string[];
  /** Policy entries that cannot take effect on this bind (also logged at warn). */
  readonly warnings: readonly string[];
  /** Open sessions now (what /healthz reports). */
  sessionStats(): SessionStats;
  /** Open sessions one by one (the operator console's Sessions page). */
  sessionList(): SessionListing[];
  close(): Promise<void>;
}

export interface SessionStats {
  readonly open: number;
  /** Age in whole seconds of the oldest / newest open session; null when none is open. */
  readonly oldest_age_s: number | null;
  readonly newest_age_s: number | null;
  readonly idle_timeout_s: number;
  readonly max: number;
  readonly max_per_agent: number;
  /** Open sessions per agent name (agents with none are left out). */
  readonly by_agent: Readonly<Record<string, number>>;
}

export class HttpConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HttpConfigError';
  }
}

/** Lower case, without IPv6 brackets or a trailing dot. */
export function normalizeHost(host: string): string {
  return host
    .trim()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
}

export function isLoopbackHost(host: string): boolean {
  const h = normalizeHost(host);
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

function isWildcard(host: string): boolean {
  const h = normalizeHost(host);
  return h === '0.0.0.0' || h === '::' || h === '';
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];

/** The Host/Origin allow-list for a bind address (see the module comment). */
export function allowedHostList(
  bind: string,
  explicit: readonly string[] | undefined,
  publicUrls: readonly string[] | undefined,
): string[] {
  const out = new Set<string>();
  const list = (explicit ?? []).map(normalizeHost).filter((h) => h !== '');
  if (list.length > 0) {
    for (const h of list) out.add(h);
    return [...out];
  }
  out.add(normalizeHost(bind)); // also 0.0.0.0 / ::: names no attacker's DNS can point at

  if (isLoopbackHost(bind) || isWildcard(bind)) for (const h of LOOPBACK_NAMES) out.add(h);
  for (const u of publicUrls ?? []) {
    try {
      out.add(normalizeHost(new URL(u).hostname));
    } catch {
      // not a URL: ignored (config validation reports it)
    }
  }
  return [...out];
}

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
} as const;

function sendJson(res: Res, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...SECURITY_HEADERS,
    ...headers,
  });
  res.end(text);
}

/** JSON-RPC error envelope (for /mcp). */
function rpcError(
  res: Res,
  status: number,
  message: string,
  headers: Record<string, string> = {},
  code = -32000,
  id: string | number | null = null,
): void {
  sendJson(res, status, { jsonrpc: '2.0', error: { code, message }, id }, headers);
}

/** Plain JSON error (other paths). */
function httpError(
  res: Res,
  status: number,
  error: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error, message }, headers);
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1];
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0] ?? '/';
}

/** The route a path names: case-insensitive, one trailing slash ignored (as Express routed it). */
function routeOf(path: string): 'mcp' | 'healthz' | undefined {
  const p = path.toLowerCase().replace(/(.)\/$/, '$1');
  if (p === '/mcp') return 'mcp';
  if (p === '/healthz') return 'healthz';
  return undefined;
}

function isJsonContentType(v: string | undefined): boolean {
  if (v === undefined) return false;
  const type = (v.split(';')[0] ?? '').trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

/** How long a POST's event-stream answer is held to see whether it is one JSON-RPC response (then sent as JSON). */
export const SSE_HOLD_MS = 1_000;

const SSE_SINGLE_PREFIX = 'event: message\ndata: ';

/** The JSON of an event stream holding exactly one `message` event without an id; undefined otherwise. */
function singleEventData(chunks: readonly Buffer[]): string | undefined {
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.startsWith(SSE_SINGLE_PREFIX) || !text.endsWith('\n\n')) return undefined;
  const data = text.slice(SSE_SINGLE_PREFIX.length, -2);
  // JSON.stringify output holds no raw newline: one more means another field or another event.
  return data.includes('\n') ? undefined : data;
}

function isEventStream(headers: OutgoingHttpHeaders | undefined): boolean {
  if (headers === undefined) return false;
  for (const [k, v] of Object.entries(headers))
    if (k.toLowerCase() === 'content-type') return String(v).startsWith('text/event-stream');
  return false;
}

/**
 * The SDK answers every POST carrying a request with an event stream (headers first, then `event: message`
 * frames). Most tool calls produce exactly one frame, their response, and nothing else: that answer goes out as
 * one `application/json` body instead (one write; no event-stream framing for the client to parse), which the
 * Streamable HTTP spec allows for any POST. The stream's headers are held until the first frame: a response that
 * ends the stream in the same turn becomes JSON; anything else (a progress or log notification, an elicitation
 * request, a second frame, an answer not ready within SSE_HOLD_MS) releases the held headers and frames and the
 * stream continues exactly as the SDK writes it. Only this response object is changed, and only until released.
 */
function answerAsJsonWhenSingle(res: Res, holdMs = SSE_HOLD_MS): void {
  const original = {
    writeHead: res.writeHead,
    flushHeaders: res.flushHeaders,
    write: res.write,
    end: res.end,
  };
  const writeHead = original.writeHead as (this: Res, status: number, headers: OutgoingHttpHeaders) => Res;
  const write = original.write as (this: Res, chunk: Buffer | string) => boolean;
  const end = original.end as (this: Res, ...a: unknown[]) => Res;
  let head: { status: number; headers: OutgoingHttpHeaders } | undefined;
  const held: Buffer[] = [];
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  let done = false;
  const restore = (): void => {
    if (done) return;
    done = true;
    res.writeHead = original.writeHead;
    res.flushHeaders = original.flushHeaders;
    res.write = original.write;
    res.end = original.end;
    if (timer !== undefined) clearTimeout(timer);
    if (immediate !== undefined) clearImmediate(immediate);
    res.off('close', restore);
  };
  /** Sends what is held as the SDK wrote it; from then on everything passes through. */
  const release = (): void => {
    if (done) return;
    restore();
    if (head === undefined || res.destroyed) return;
    writeHead.call(res, head.status, head.headers);
    if (held.length === 0) original.flushHeaders.call(res);
    for (const c of held) write.call(res, c);
  };
  res.once('close', restore);
  res.writeHead = function (this: Res, status: number, ...rest: unknown[]): Res {
    const headers = rest[rest.length - 1];
    const h = typeof headers === 'object' && headers !== null ? (headers as OutgoingHttpHeaders) : undefined;
    if (done || head !== undefined || rest.length !== 1 || !isEventStream(h)) {
      restore();
      return (original.writeHead as (...a: unknown[]) => Res).call(res, status, ...rest);
    }
    head = { status, headers: h as OutgoingHttpHeaders };
    timer = setTimeout(release, holdMs);
    return res;
  } as Res['writeHead'];
  res.flushHeaders = function (this: Res): void {
    if (head === undefined) {
      restore();
      original.flushHeaders.call(res);
    }
  };
  res.write = function (this: Res, chunk: unknown, ...rest: unknown[]): boolean {
    if (head === undefined || (typeof chunk !== 'string' && !(chunk instanceof Uint8Array))) {
      release();
      return (original.write as (...a: unknown[]) => boolean).call(res, chunk, ...rest);
    }
    held.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk));
    // Not ended within this turn (a notification, an elicitation): the stream goes out as it is.
    if (immediate === undefined) immediate = setImmediate(release);
    const cb = rest[rest.length - 1];
    if (typeof cb === 'function') process.nextTick(cb as () => void);
    return true;
  } as Res['write'];
  res.end = function (this: Res, ...args: unknown[]): Res {
    if (head === undefined) {
      restore();
      return (original.end as (...a: unknown[]) => Res).apply(res, args);
    }
    const [chunk] = args;
    if (typeof chunk === 'string' || chunk instanceof Uint8Array) {
      held.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk));
    }
    const cb = args.find((a) => typeof a === 'function') as (() => void) | undefined;
    const data = singleEventData(held);
    const { status, headers } = head;
    restore();
    if (data === undefined) {
      writeHead.call(res, status, headers);
      for (const c of held) write.call(res, c);
      return cb ? end.call(res, cb) : end.call(res);
    }
    const json: OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(headers)) {
      const key = k.toLowerCase();
      if (key === 'connection' || key === 'x-accel-buffering' || key === 'content-length') continue;
      if (v !== undefined) json[key] = v;
    }
    json['content-type'] = 'application/json';
    json['content-length'] = String(Buffer.byteLength(data));
    writeHead.call(res, status, json);
    return cb ? end.call(res, data, cb) : end.call(res, data);
  } as Res['end'];
}

interface Session {
  readonly transport: StreamableHTTPServerTransport;
  readonly server: McpServer;
  readonly agent: string;
  readonly createdAt: number;
  /** When the last request on this session ended (or started). */
  lastSeen: number;
  /** Requests of this session whose response is still open (tool calls, GET streams). */
  inFlight: number;
}

export async function startHttp(opts: HttpOptions): Promise<RunningHttp> {
  const { policy, logger } = opts;
  const loopback = isLoopbackHost(opts.host);
  if (!loopback && !policy.requiresTokens() && opts.hooksOnly !== true) {
    throw new HttpConfigError(
      `Refusing to listen on ${opts.host}: a non-loopback bind needs a policy file (KEAP_POLICY) whose agents have token_sha256 set. Use --host 127.0.0.1 or configure agent tokens.`,
    );
  }
  const allowed = allowedHostList(opts.host, opts.allowedHosts, opts.publicUrls);
  const allowedSet = new Set(allowed);
  if (isWildcard(opts.host) && (opts.allowedHosts ?? []).length === 0) {
    logger.warn(
      { allowedHosts: allowed },
      'listening on all interfaces: only these Host names are accepted; set KEAP_MCP_ALLOWED_HOSTS to the names clients use',
    );
  }
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const idleMs = (opts.sessions?.idleS ?? DEFAULT_SESSION_IDLE_S) * 1000;
  const maxSessions = opts.sessions?.max ?? DEFAULT_MAX_SESSIONS;
  const tokenAgents = policy.requiresTokens() ? (policy.tokenAgents?.() ?? policy.agents()) : [];
  const perAgent = agentShare(maxSessions, opts.sessions?.perAgent, tokenAgents.length);
  const warnings = bindWarnings(policy.agents(), tokenAgents, opts.host);
  for (const w of warnings) logger.warn({ bind: opts.host }, `policy: ${w}`);

  /** The only references to a session's transport and server. */
  const sessions = new Map<string, Session>();
  /** Initializations in progress (counted against the caps until they end). */
  let pendingTotal = 0;
  const pendingBy = new Map<string, number>();

  function openFor(agent: string): number {
    let n = pendingBy.get(agent) ?? 0;
    for (const s of sessions.values()) if (s.agent === agent) n++;
    return n;
  }

  /** Ends a session: removes it, then closes its server (and so its transport, handlers and waiters). */
  function endSession(id: string, why: 'closed' | 'idle' | 'shutdown'): void {
    const s = sessions.get(id);
    if (s === undefined) return;
    sessions.delete(id);
    logger.debug({ session: id, agent: s.agent, why }, 'MCP session ended');
    void s.server.close().catch(() => undefined);
  }

  /** Refusals at a cap are logged at most once a minute per cap (a flood must not flood the log). */
  const capWarnedAt = new Map<string, number>();
  function capWarned(key: string): boolean {
    const now = Date.now();
    if (now - (capWarnedAt.get(key) ?? Number.NEGATIVE_INFINITY) < 60_000) return false;
    capWarnedAt.set(key, now);
    return true;
  }

  /** Counts a request as in flight until its response closes. */
  function track(s: Session, res: Res): void {
    s.inFlight++;
    s.lastSeen = Date.now();
    res.once('close', () => {
      s.inFlight--;
      s.lastSeen = Date.now();
    });
  }

  function sweep(): void {
    const now = Date.now();
    for (const [id, s] of sessions) {
      if (s.inFlight <= 0 && now - s.lastSeen >= idleMs) endSession(id, 'idle');
    }
  }
  const sweeper = setInterval(sweep, Math.min(30_000, Math.max(250, Math.floor(idleMs / 4))));
  sweeper.unref();

  function sessionStats(): SessionStats {
    const now = Date.now();
    let oldest: number | null = null;
    let newest: number | null = null;
    const byAgent: Record<string, number> = {};
    for (const s of sessions.values()) {
      const age = Math.floor((now - s.createdAt) / 1000);
      oldest = oldest === null ? age : Math.max(oldest, age);
      newest = newest === null ? age : Math.min(newest, age);
      byAgent[s.agent] = (byAgent[s.agent] ?? 0) + 1;
    }
    return {
      open: sessions.size,
      oldest_age_s: oldest,
      newest_age_s: newest,
      idle_timeout_s: idleMs / 1000,
      max: maxSessions,
      max_per_agent: perAgent,
      by_agent: byAgent,
    };
  }

  function refuse(req: Req, reason: RefusalReason, detail?: string): void {
    const remote = req.socket.remoteAddress;
    let logged = true;
    try {
      logged =
        opts.audit?.refusal({
          reason,
          source: 'http',
          ...(remote !== undefined ? { remote } : {}),
          ...(detail !== undefined ? { detail } : {}),
        }) ?? true;
    } catch {
      logged = true;
    }
    if (logged)
      logger.info({ reason, remote, path: maskHookPath(pathOf(req)).slice(0, 100) }, 'HTTP request refused');
  }

  function hostAllowed(value: string): boolean {
    try {
      return allowedSet.has(normalizeHost(new URL(`http://${value}`).hostname));
    } catch {
      return false;
    }
  }

  function originAllowed(origin: string): boolean {
    try {
      const u = new URL(origin);
      return (u.protocol === 'http:' || u.protocol === 'https:') && allowedSet.has(normalizeHost(u.hostname));
    } catch {
      return false;
    }
  }

  async function handleMcp(req: Req, res: Res, agent: string): Promise<void> {
    let body: unknown;
    if (req.method === 'POST') {
      if (!isJsonContentType(req.headers['content-type'])) {
        return rpcError(res, 415, 'Unsupported Media Type: send Content-Type: application/json', {}, -32600);
      }
      const got = await readBodyLimited(req, maxBody, 'drain');
      if (!got.ok) {
        if (got.status === 413) {
          return rpcError(
            res,
            413,
            `Payload Too Large: the request body exceeds ${maxBody} bytes`,
            { connection: 'close' },
            -32600,
          );
        }
        return rpcError(res, 400, 'Bad Request: the request body could not be read', {}, -32600);
      }
      try {
        body = JSON.parse(got.text) as unknown;
      } catch {
        return rpcError(res, 400, 'Parse error: the request body is not valid JSON', {}, -32700);
      }
    }
    if (opts.stateless === true) return handleStateless(req, res, agent, body);
    const sid = req.headers['mcp-session-id'];
    const sessionId = typeof sid === 'string' ? sid : undefined;
    if (sessionId !== undefined) {
      const s = sessions.get(sessionId);
      if (!s) return rpcError(res, 404, 'Session not found; initialize a new session');
      if (s.agent !== agent) {
        refuse(req, 'session_agent_mismatch');
        return rpcError(res, 403, 'This session belongs to another agent');
      }
      track(s, res);
      if (req.method === 'POST') answerAsJsonWhenSingle(res);
      await s.transport.handleRequest(req, res, body);
      return;
    }
    if (req.method !== 'POST' || !isInitializeRequest(body)) {
      return rpcError(res, 400, 'Bad Request: no valid session ID; send initialize first');
    }
    const rawId = (body as { id?: unknown }).id;
    const initId = typeof rawId === 'string' || typeof rawId === 'number' ? rawId : null;
    // The caps: all sessions (503), then this agent's share (429). Open sessions are not affected.
    if (sessions.size + pendingTotal >= maxSessions) {
      if (capWarned('*'))
        logger.warn(
          { agent, open: sessions.size, max: maxSessions },
          'MCP session refused: server at its session cap',
        );
      return rpcError(
        res,
        503,
        `Server busy: ${maxSessions} MCP sessions are open (the server's cap, KEAP_MCP_MAX_SESSIONS). Close sessions you no longer use (HTTP DELETE /mcp with their Mcp-Session-Id) or retry later; idle sessions close after ${idleMs / 1000} s.`,
        { 'retry-after': '30' },
        -32000,
        initId,
      );
    }
    if (openFor(agent) >= perAgent) {
      if (capWarned(agent))
        logger.warn({ agent, max: perAgent }, 'MCP session refused: agent at its share of the session cap');
      return rpcError(
        res,
        429,
        `Too many sessions: agent "${agent}" has ${perAgent} MCP sessions open, its share of the server's cap (KEAP_MCP_MAX_SESSIONS_PER_AGENT). Close sessions you no longer use (HTTP DELETE /mcp with their Mcp-Session-Id) or retry later; idle sessions close after ${idleMs / 1000} s.`,
        { 'retry-after': '30' },
        -32000,
        initId,
      );
    }
    pendingTotal++;
    pendingBy.set(agent, (pendingBy.get(agent) ?? 0) + 1);
    let srv: McpServer | undefined;
    let transport: StreamableHTTPServerTransport | undefined;
    try {
      const server = opts.makeServer(agent);
      srv = server;
      const t: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          const now = Date.now();
          const s: Session = { transport: t, server, agent, createdAt: now, lastSeen: now, inFlight: 0 };
          sessions.set(id, s);
          track(s, res);
          logger.debug({ session: id, agent }, 'MCP session started');
        },
      });
      transport = t;
      t.onclose = () => {
        if (t.sessionId !== undefined) endSession(t.sessionId, 'closed');
      };
      await server.connect(t);
      await t.handleRequest(req, res, body);
    } finally {
      pendingTotal--;
      const n = (pendingBy.get(agent) ?? 1) - 1;
      if (n > 0) pendingBy.set(agent, n);
      else pendingBy.delete(agent);
      // Initialization failed (or threw) before the session registered: nothing is kept.
      const id = transport?.sessionId;
      if (srv !== undefined && (id === undefined || !sessions.has(id)))
        await srv.close().catch(() => undefined);
    }
  }

  /** Requests being served in stateless mode (capped like sessions: beyond the cap, 503). */
  let statelessInFlight = 0;

  async function handleStateless(req: Req, res: Res, agent: string, body: unknown): Promise<void> {
    if (req.method !== 'POST') {
      return rpcError(
        res,
        405,
        'Method not allowed: this server is stateless (--stateless): no sessions, so no GET stream and no DELETE; send each JSON-RPC request as a POST',
        { allow: 'POST' },
      );
    }
    if (statelessInFlight >= maxSessions) {
      return rpcError(
        res,
        503,
        `Server busy: ${maxSessions} requests in progress (KEAP_MCP_MAX_SESSIONS); retry shortly`,
        { 'retry-after': '5' },
        -32000,
      );
    }
    statelessInFlight++;
    const server = opts.makeServer(agent);
    const t = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      statelessInFlight--;
      void t.close().catch(() => undefined);
      void server.close().catch(() => undefined);
    };
    res.on('close', finish);
    try {
      await server.connect(t);
      await t.handleRequest(req, res, body);
    } catch (e) {
      finish();
      throw e;
    }
  }

  async function handle(req: Req, res: Res): Promise<void> {
    const route = routeOf(pathOf(req));
    const err =
      route === 'mcp'
        ? rpcError
        : (r: Res, s: number, m: string, h?: Record<string, string>) =>
            httpError(r, s, s === 401 ? 'unauthorized' : s === 403 ? 'forbidden' : 'error', m, h);

    // 1–2. Host and Origin, on every path.
    const host = req.headers.host;
    if (typeof host !== 'string' || !hostAllowed(host)) {
      refuse(req, 'foreign_host', typeof host === 'string' ? `Host: ${host}` : 'no Host header');
      return err(res, 403, 'Invalid Host header');
    }
    const origin = req.headers.origin;
    if (typeof origin === 'string' && !originAllowed(origin)) {
      refuse(req, 'foreign_origin', `Origin: ${origin}`);
      return err(res, 403, 'Invalid Origin');
    }

    // The REST hooks receiver answers /hooks/… (its own 404/405/413/429; no agent token).
    if (opts.hooks && (await opts.hooks.handle(req, res))) return;
    if (opts.hooksOnly === true && route !== 'healthz') {
      return httpError(res, 404, 'not_found', 'Not found: this server only receives Keap REST hooks');
    }

    // The operator console answers its own paths (login, CSRF, its own 404 when no operator token is set).
    if (opts.console && (await opts.console.handle(req, res))) return;

    // 3. Route and method.
    if (route === undefined) return httpError(res, 404, 'not_found', 'Not found: the MCP endpoint is /mcp');
    if (route === 'healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return httpError(res, 405, 'method_not_allowed', 'Method not allowed', { allow: 'GET, HEAD' });
      }
      const stats = sessionStats();
      // Agent names only to loopback binds or callers with an agent token.
      const token = bearer(req);
      const showAgents = loopback || (token !== undefined && policy.agentForToken(token) !== undefined);
      const { by_agent, ...counts } = stats;
      const mem = process.memoryUsage();
      return sendJson(res, 200, {
        ok: true,
        sandbox: opts.sandbox === true,
        sessions: showAgents ? stats : counts,
        rss_bytes: mem.rss,
        heap_used_bytes: mem.heapUsed,
      });
    }
    if (req.method !== 'POST' && req.method !== 'GET' && req.method !== 'DELETE') {
      return rpcError(res, 405, 'Method not allowed', { allow: 'POST, GET, DELETE' });
    }

    // 4. The agent, before any body is read.
    let agent: string;
    if (!policy.requiresTokens()) {
      agent = policy.defaultAgent();
    } else {
      const token = bearer(req);
      const found = token !== undefined ? policy.agentForToken(token) : undefined;
      if (found === undefined) {
        refuse(req, token === undefined ? 'missing_token' : 'wrong_token');
        return rpcError(res, 401, token === undefined ? 'Missing bearer token' : 'Unknown bearer token', {
          'www-authenticate': 'Bearer realm="keap-mcp"',
        });
      }
      agent = found;
    }

    // 5. The MCP request.
    await handleMcp(req, res, agent);
  }

  const httpServer = createHttpServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      logger.error({ err: e instanceof Error ? e.message : String(e) }, 'HTTP request failed');
      rpcError(res, 500, 'Internal server error', {}, -32603);
    });
  });
  // Malformed HTTP: a bare JSON 400 instead of Node's default.
  httpServer.on('clientError', (_e, socket) => {
    if (!socket.writable) return;
    const text = JSON.stringify({ error: 'bad_request', message: 'Malformed HTTP request' });
    socket.end(
      `HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
    );
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(opts.port, opts.host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const port = (httpServer.address() as AddressInfo).port;
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${hostForUrl}:${port}/mcp`,
    port,
    allowedHosts: allowed,
    warnings,
    sessionStats,
    sessionList() {
      const now = Date.now();
      return [...sessions.entries()].map(([id, s]) => ({
        id: id.slice(0, 8),
        agent: s.agent,
        age_s: Math.floor((now - s.createdAt) / 1000),
        idle_s: Math.floor((now - s.lastSeen) / 1000),
      }));
    },
    async close() {
      clearInterval(sweeper);
      const open = [...sessions.values()];
      for (const id of [...sessions.keys()]) endSession(id, 'shutdown');
      await Promise.all(open.map((s) => s.server.close().catch(() => undefined)));
      await new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        httpServer.closeAllConnections();
      });
    },
  };
}
