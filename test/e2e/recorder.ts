/**
 * A loopback proxy between the product's Keap client and the sandbox that records every exchange, request AND
 * response (test/helpers/recording-proxy.ts records no response body, which the response checks need).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Exchange {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Record<string, string>;
  /** Parsed JSON request body (undefined when none). */
  readonly body: unknown;
  readonly status: number;
  /** Parsed JSON response body (undefined when none). */
  readonly responseBody: unknown;
}

export interface Recorder {
  readonly baseUrl: string;
  readonly exchanges: Exchange[];
  clear(): void;
  close(): Promise<void>;
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function parse(text: string): unknown {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export async function startRecorder(targetBaseUrl: string): Promise<Recorder> {
  const exchanges: Exchange[] = [];
  const server: Server = createServer(async (req, res) => {
    try {
      const raw = await readAll(req);
      const url = new URL(req.url ?? '/', 'http://proxy');
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (typeof v === 'string' && k !== 'host' && k !== 'connection' && k !== 'content-length')
          headers[k] = v;
      }
      const upstream = await fetch(targetBaseUrl + url.pathname + url.search, {
        method: req.method ?? 'GET',
        headers,
        body: raw.length > 0 ? raw : undefined,
        redirect: 'manual',
      });
      const out = Buffer.from(await upstream.arrayBuffer());
      exchanges.push({
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers,
        body: parse(raw.toString('utf8')),
        status: upstream.status,
        responseBody: parse(out.toString('utf8')),
      });
      const outHeaders: Record<string, string> = {};
      upstream.headers.forEach((v, k) => {
        if (k !== 'content-length' && k !== 'transfer-encoding' && k !== 'connection') outHeaders[k] = v;
      });
      res.writeHead(upstream.status, outHeaders);
      res.end(out);
    } catch (err) {
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: `proxy error: ${(err as Error).message}` }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    exchanges,
    clear: () => {
      exchanges.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
