/**
 * A loopback HTTP proxy that records every exchange between the product and "Keap" (request AND response)
 * and forwards it to the sandbox. Tests use it to check the exact requests against Keap's official
 * documents, and the responses the product turned into results.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Record<string, string>;
  /** Parsed JSON request body (the raw text when not JSON; undefined when none). */
  readonly body: unknown;
  readonly status: number;
  /** Parsed JSON response body (the raw text when not JSON; undefined when none). */
  readonly responseBody: unknown;
}

export interface RecordingProxy {
  readonly baseUrl: string;
  readonly requests: RecordedRequest[];
  clear(): void;
  close(): Promise<void>;
}

const HOP_BY_HOP_REQUEST = new Set(['host', 'connection', 'content-length']);
const HOP_BY_HOP_RESPONSE = new Set(['content-length', 'transfer-encoding', 'connection']);

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function parseBody(raw: Buffer): unknown {
  const text = raw.toString('utf8');
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export async function startRecordingProxy(targetBaseUrl: string): Promise<RecordingProxy> {
  const requests: RecordedRequest[] = [];
  const server: Server = createServer(async (req, res) => {
    try {
      const raw = await readBody(req);
      const url = new URL(req.url ?? '/', 'http://proxy');
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (typeof v === 'string' && !HOP_BY_HOP_REQUEST.has(k)) headers[k] = v;
      }
      const upstream = await fetch(targetBaseUrl + url.pathname + url.search, {
        method: req.method ?? 'GET',
        headers,
        body: raw.length > 0 ? raw : undefined,
        redirect: 'manual',
      });
      const out = Buffer.from(await upstream.arrayBuffer());
      requests.push({
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers,
        body: parseBody(raw),
        status: upstream.status,
        responseBody: parseBody(out),
      });
      const outHeaders: Record<string, string> = {};
      upstream.headers.forEach((v, k) => {
        if (!HOP_BY_HOP_RESPONSE.has(k)) outHeaders[k] = v;
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
    requests,
    clear: () => {
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
