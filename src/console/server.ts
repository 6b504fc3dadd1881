/**
 * The operator console on its own loopback port, beside the stdio transport (`--console-port` /
 * KEAP_MCP_CONSOLE_PORT). In HTTP mode the console is mounted at /console on the MCP server instead.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { allowedHostList, isLoopbackHost } from '../transports/http.js';
import { type ConsoleOptions, createConsole } from './console.js';

export class ConsoleConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConsoleConfigError';
  }
}

export const NO_OPERATOR_TOKEN_MESSAGE =
  'The operator console needs an operator token: set "operator_token_sha256" in the policy file or ' +
  "KEAP_MCP_OPERATOR_TOKEN_SHA256 to the SHA-256 of a long random token (printf %s 'TOKEN' | sha256sum).";

export interface ConsoleServerOptions extends Omit<ConsoleOptions, 'allowedHosts'> {
  /** Loopback only (default 127.0.0.1). */
  readonly host?: string | undefined;
  /** 0 = any free port. */
  readonly port: number;
  /** Default: the loopback names (see allowedHostList in src/transports/http.ts). */
  readonly allowedHosts?: readonly string[] | undefined;
}

export interface RunningConsole {
  /** e.g. http://127.0.0.1:3100/console */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startConsoleServer(opts: ConsoleServerOptions): Promise<RunningConsole> {
  const host = opts.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) {
    throw new ConsoleConfigError(
      `The console beside stdio listens on loopback only (got ${host}); use the HTTP server's /console to serve it elsewhere.`,
    );
  }
  if (opts.operatorTokenSha256 === undefined) throw new ConsoleConfigError(NO_OPERATOR_TOKEN_MESSAGE);
  const allowedHosts = allowedHostList(host, opts.allowedHosts, undefined);
  const app = createConsole({ ...opts, allowedHosts });
  const server = createServer((req, res) => {
    app
      .handle(req, res)
      .then((handled) => {
        if (handled) return;
        const path = (req.url ?? '/').split('?')[0];
        if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
          res.writeHead(303, { location: '/console', 'cache-control': 'no-store' });
          res.end();
          return;
        }
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
        res.end('Not found: the operator console is at /console');
      })
      .catch(() => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('Internal error');
      });
  });
  server.on('clientError', (_e, socket) => {
    if (socket.writable)
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${hostForUrl}:${port}/console`,
    port,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
