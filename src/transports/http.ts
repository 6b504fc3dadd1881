/**
 * Streamable HTTP transport: stateful sessions at /mcp, GET /healthz.
 * - Host validation (DNS rebinding) from the SDK's createMcpExpressApp, plus an Origin check on loopback binds.
 * - Binds 127.0.0.1 by default; a non-loopback bind is refused unless the policy requires agent tokens.
 * - Each request's `Authorization: Bearer` token names the agent (policy.agentForToken); when tokens are
 *   required a missing/unknown token gets 401 before the body is read. Without tokens (loopback only) the
 *   policy's default agent is served.
 * - Every session gets its own McpServer (from createServer) for its agent; a session is bound to its agent.
 */
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../logger.js';
import type { PolicyApi } from '../safety/types.js';

type Req = IncomingMessage & { body?: unknown };
type Res = ServerResponse;
type Handler = (req: Req, res: Res) => void | Promise<void>;

/** The part of the Express app we use (express ships no types here). */
interface MiniApp {
  (req: IncomingMessage, res: ServerResponse): void;
  get(path: string, handler: Handler): void;
  post(path: string, handler: Handler): void;
  delete(path: string, handler: Handler): void;
}

export interface HttpOptions {
  readonly host: string;
  readonly port: number;
  readonly policy: PolicyApi;
  /** Builds the MCP server of a new session for its agent. */
  readonly makeServer: (agent: string) => McpServer;
  readonly logger: Logger;
  readonly sandbox?: boolean;
}

export interface RunningHttp {
  /** e.g. http://127.0.0.1:3000/mcp */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export class HttpConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HttpConfigError';
  }
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

function sendJson(res: Res, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function rpcError(res: Res, status: number, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { jsonrpc: '2.0', error: { code: -32000, message }, id: null }, headers);
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

interface Session {
  readonly transport: StreamableHTTPServerTransport;
  readonly server: McpServer;
  readonly agent: string;
}

export async function startHttp(opts: HttpOptions): Promise<RunningHttp> {
  const { policy, logger } = opts;
  const loopback = isLoopbackHost(opts.host);
  if (!loopback && !policy.requiresTokens()) {
    throw new HttpConfigError(
      `Refusing to listen on ${opts.host}: a non-loopback bind needs a policy file (KEAP_POLICY) whose agents have token_sha256 set. Use --host 127.0.0.1 or configure agent tokens.`,
    );
  }
  const sessions = new Map<string, Session>();
  const agentOf = new WeakMap<IncomingMessage, string>();
  const app = createMcpExpressApp({ host: opts.host }) as unknown as MiniApp;

  app.get('/healthz', (_req, res) => {
    sendJson(res, 200, { ok: true, sandbox: opts.sandbox === true, sessions: sessions.size });
  });

  const handle: Handler = async (req, res) => {
    // Fail closed: a request that did not pass the guard (see the outer handler) is never served.
    const agent = agentOf.get(req);
    if (agent === undefined) return rpcError(res, 401, 'Not authenticated');
    const sid = req.headers['mcp-session-id'];
    const sessionId = typeof sid === 'string' ? sid : undefined;
    try {
      if (sessionId !== undefined) {
        const s = sessions.get(sessionId);
        if (!s) return rpcError(res, 404, 'Session not found; initialize a new session');
        if (s.agent !== agent) return rpcError(res, 403, 'This session belongs to another agent');
        await s.transport.handleRequest(req, res, req.body);
        return;
      }
      if (req.method !== 'POST' || !isInitializeRequest(req.body)) {
        return rpcError(res, 400, 'Bad Request: no valid session ID; send initialize first');
      }
      const server = opts.makeServer(agent);
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          sessions.set(id, { transport, server, agent });
          logger.debug({ session: id, agent }, 'MCP session started');
        },
      });
      transport.onclose = () => {
        const id = transport.sessionId;
        if (id !== undefined && sessions.delete(id)) {
          logger.debug({ session: id, agent }, 'MCP session closed');
          void server.close().catch(() => undefined);
        }
      };
      await server.connect(transport);
      await transport.handleRequest(req, res, req.body);
    } catch (err) {
      logger.error({ err: err instanceof Error ? err.message : String(err) }, 'HTTP request failed');
      rpcError(res, 500, 'Internal server error');
    }
  };
  app.post('/mcp', handle);
  app.get('/mcp', handle);
  app.delete('/mcp', handle);

  // Outer handler: Origin check and agent authentication happen before Express reads any body. They run for every
  // request except the health check: Express routes paths case-insensitively and ignores a trailing slash, so
  // matching only the literal '/mcp' here would let `/MCP` or `/mcp/` through to the MCP handler unchecked.
  const httpServer = createHttpServer((req, res) => {
    if (pathOf(req) !== '/healthz') {
      const denied = guard(req);
      if (denied) return rpcError(res, denied.status, denied.message, denied.headers);
    }
    app(req, res);
  });

  function guard(
    req: IncomingMessage,
  ): { status: number; message: string; headers?: Record<string, string> } | undefined {
    const origin = req.headers.origin;
    if (loopback && typeof origin === 'string' && origin !== 'null') {
      let ok = false;
      try {
        ok = isLoopbackHost(new URL(origin).hostname);
      } catch {
        ok = false;
      }
      if (!ok) return { status: 403, message: 'Invalid Origin' };
    }
    if (!policy.requiresTokens()) {
      agentOf.set(req, policy.defaultAgent());
      return undefined;
    }
    const token = bearer(req);
    const agent = token !== undefined ? policy.agentForToken(token) : undefined;
    if (agent === undefined) {
      return {
        status: 401,
        message: token === undefined ? 'Missing bearer token' : 'Unknown bearer token',
        headers: { 'www-authenticate': 'Bearer realm="keap-mcp"' },
      };
    }
    agentOf.set(req, agent);
    return undefined;
  }

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
    async close() {
      for (const s of sessions.values()) {
        await s.transport.close().catch(() => undefined);
        await s.server.close().catch(() => undefined);
      }
      sessions.clear();
      await new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        httpServer.closeAllConnections();
      });
    },
  };
}
