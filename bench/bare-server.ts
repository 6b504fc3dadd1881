#!/usr/bin/env node
/**
 * The bench's baseline: a bare one-tool MCP server on the same SDK (1.32.2) and zod (4.6.7) as keap-mcp, built by
 * tsc into dist/bench/bare-server.js and spawned exactly like dist/src/index.js.
 *
 *   node dist/bench/bare-server.js            stdio
 *   node dist/bench/bare-server.js --http     Streamable HTTP on 127.0.0.1 (KEAP_MCP_HTTP_PORT or any free port),
 *                                             stateful sessions, one McpServer per session (as keap-mcp does);
 *                                             prints "… at http://127.0.0.1:PORT/mcp" on stderr.
 *
 * Nothing else: no configuration, no logging, no state — the least an SDK server costs.
 */
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

function makeServer(): McpServer {
  const server = new McpServer({ name: 'bare-server', version: '1.0.0' });
  server.registerTool(
    'echo',
    {
      title: 'Echo',
      description: 'Returns the text it is given.',
      inputSchema: { text: z.string().max(1000).describe('Text to return') },
    },
    async ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  return server;
}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        resolve(chunks.length === 0 ? undefined : JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        reject(err);
      }
    });
    req.on('error', reject);
  });
}

function fail(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
}

async function serveHttp(): Promise<void> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const http = createHttpServer((req, res) => {
    void (async () => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/mcp') return fail(res, 404, 'Not found');
      const sid = req.headers['mcp-session-id'];
      const body = req.method === 'POST' ? await readBody(req) : undefined;
      let transport = typeof sid === 'string' ? sessions.get(sid) : undefined;
      if (transport === undefined) {
        if (req.method !== 'POST' || sid !== undefined || !isInitializeRequest(body)) {
          return fail(res, sid === undefined ? 400 : 404, 'No such session');
        }
        const server = makeServer();
        const t = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => {
            sessions.set(id, t);
          },
        });
        t.onclose = () => {
          if (t.sessionId !== undefined) sessions.delete(t.sessionId);
          void server.close();
        };
        await server.connect(t);
        transport = t;
      }
      await transport.handleRequest(req, res, body);
    })().catch(() => {
      if (!res.headersSent) fail(res, 500, 'Internal error');
    });
  });
  const port = Number(process.env.KEAP_MCP_HTTP_PORT ?? '0');
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  const addr = http.address() as AddressInfo;
  process.stderr.write(`bare-server: MCP over Streamable HTTP at http://127.0.0.1:${addr.port}/mcp\n`);
  const stop = (): void => {
    for (const t of sessions.values()) void t.close();
    http.close(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv.includes('--http')) {
  await serveHttp();
} else {
  await makeServer().connect(new StdioServerTransport());
}
