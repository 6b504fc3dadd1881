/**
 * Shared by the hooks tests: the real binary as a child process with a state directory, raw POSTs to a receiver
 * URL, the store opened beside the server (another connection to the same SQLite file), delivery bodies.
 */

import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteHooks, type SqliteHooks } from '../../src/hooks/inbox.js';
import { openStateDb, type StateDb } from '../../src/state/db.js';
import { ensureBuilt, type Spawned, spawnKeapMcp } from '../console/spawn.js';

export { ensureBuilt };

export interface Server {
  readonly proc: Spawned;
  /** e.g. http://127.0.0.1:41234 */
  readonly origin: string;
  readonly stateDir: string;
}

/** `keap-mcp --http --port 0 <args>` with its state in `stateDir`; resolves once it listens. */
export async function startServer(
  args: readonly string[],
  stateDir: string,
  env: Record<string, string> = {},
): Promise<Server> {
  const home = mkdtempSync(join(tmpdir(), 'hooks-home-'));
  const sandbox = args.includes('--sandbox');
  const proc = spawnKeapMcp(
    ['--http', '--port', '0', ...args],
    {
      KEAP_MCP_LOG_LEVEL: 'info',
      ...(sandbox ? { KEAP_MCP_SANDBOX_STATE_DIR: stateDir } : { KEAP_MCP_STATE_DIR: stateDir }),
      KEAP_AUDIT_LOG: join(stateDir, '..', `audit-${Date.now()}-${Math.random()}.jsonl`),
      ...env,
    },
    home,
  );
  const m = await proc.waitFor(/(?:MCP over Streamable HTTP at|listening on) (http:\/\/[^\s/;]+)/);
  return { proc, origin: m[1] as string, stateDir };
}

export function tempDir(prefix: string): string {
  return join(mkdtempSync(join(tmpdir(), prefix)), 'state');
}

const stores: StateDb[] = [];
/** The hooks store of a state directory, opened beside the server (closed by closeStores). */
export function storeOf(stateDir: string): SqliteHooks {
  const db = openStateDb(stateDir);
  stores.push(db);
  return openSqliteHooks(db, { pollMs: 50 });
}
export function closeStores(): void {
  for (const d of stores.splice(0)) if (d.open) d.close();
}

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly body: any;
  /** Time from the request's start to the whole answer (ms). */
  readonly ms: number;
}

/**
 * A raw POST (node:http, so Host and chunking are ours to choose). `body` undefined: empty body. `chunks`: sent
 * one by one without a Content-Length. Resolves with the answer even when the server closes early.
 */
export function post(
  url: string,
  opts: {
    body?: string | Buffer;
    chunks?: readonly Buffer[];
    headers?: Record<string, string>;
    method?: string;
  } = {},
): Promise<Answer> {
  const u = new URL(url);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };
    if (opts.chunks === undefined) headers['content-length'] = String(Buffer.byteLength(opts.body ?? ''));
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname, method: opts.method ?? 'POST', headers },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            body,
            ms: performance.now() - t0,
          });
        });
      },
    );
    // The server may answer (413) and close while we still write: the answer is what counts.
    req.on('error', (e) => reject(e));
    if (opts.chunks !== undefined) {
      let i = 0;
      const next = (): void => {
        if (req.destroyed) return;
        const c = opts.chunks?.[i++];
        if (c === undefined) {
          req.end();
          return;
        }
        if (req.write(c)) setImmediate(next);
        else req.once('drain', next);
      };
      next();
    } else req.end(opts.body ?? '');
  });
}

let idBase = 1_000_000 + Math.floor(Math.random() * 1_000_000) * 1000;
/** Fresh object ids. */
export function freshIds(n: number): number[] {
  const out = Array.from({ length: n }, (_, i) => idBase + i);
  idBase += n;
  return out;
}

export function deliveryBody(
  eventKey: string,
  ids: readonly (number | string)[],
  timestamp = '2026-11-30T12:00:00.000Z',
): string {
  return JSON.stringify({
    event_key: eventKey,
    object_type: eventKey.split('.')[0],
    object_keys: ids.map((id) => ({
      id,
      apiUrl: `https://api.infusionsoft.com/crm/rest/v1/contacts/${id}`,
      timestamp,
    })),
  });
}

export async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
