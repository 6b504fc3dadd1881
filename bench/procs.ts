/**
 * Servers under measurement as separate node processes, spawned exactly as an MCP client would spawn them:
 * keap-mcp (dist/src/index.js) and the bare one-tool baseline (dist/bench/bare-server.js), over stdio or
 * Streamable HTTP, with real MCP clients from the SDK. RSS is read from /proc/<pid>/status (VmRSS).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { nowMs } from './run.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const KEAP_ENTRY = join(ROOT, 'dist', 'src', 'index.js');
export const BARE_ENTRY = join(ROOT, 'dist', 'bench', 'bare-server.js');
const GC_HOOK = join(ROOT, 'dist', 'bench', 'gc-on-signal.js');

/** A key that is no placeholder but opens nothing (base URL points at a closed loopback port unless given). */
export const FAKE_PAT = 'bench-fake-pat-7f3a9c1e5b2d4086';
const CLOSED_URL = 'http://127.0.0.1:9';

export interface ServerSpec {
  readonly label: string;
  readonly entry: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

/** Temp directories made by the bench, removed by removeTempDirs(). */
const temps: string[] = [];
export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), `keap-mcp-bench-${prefix}-`));
  temps.push(d);
  return d;
}
export function removeTempDirs(): void {
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
}

export interface KeapSpecOptions {
  readonly sandbox?: boolean;
  readonly http?: boolean;
  readonly baseUrl?: string;
  readonly apiKey?: string;
  /** Isolated state directory (a fresh temp dir when omitted). */
  readonly stateDir?: string;
  readonly env?: Readonly<Record<string, string>>;
}

export function keapSpec(o: KeapSpecOptions = {}): ServerSpec {
  const args = [...(o.sandbox ? ['--sandbox'] : []), ...(o.http ? ['--http'] : [])];
  const env: Record<string, string> = {
    KEAP_MCP_STATE_DIR: o.stateDir ?? tempDir('state'),
    ...(o.http ? { KEAP_MCP_HTTP_PORT: '0' } : {}),
    ...(o.sandbox ? {} : { KEAP_API_KEY: o.apiKey ?? FAKE_PAT, KEAP_API_BASE_URL: o.baseUrl ?? CLOSED_URL }),
    ...(o.env ?? {}),
  };
  return { label: o.sandbox ? 'keap-mcp --sandbox' : 'keap-mcp', entry: KEAP_ENTRY, args, env };
}

export function bareSpec(o: { http?: boolean } = {}): ServerSpec {
  return { label: 'bare', entry: BARE_ENTRY, args: o.http ? ['--http'] : [], env: {} };
}

/** A clean environment: nothing of the bench's (vitest, NODE_OPTIONS, KEAP_*) leaks into the child. */
function childEnv(extra: Readonly<Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR']) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  return { ...env, ...extra };
}

export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function clientInfo(): Client {
  return new Client({ name: 'keap-mcp-bench', version: '1.0.0' });
}

// ---- stdio ------------------------------------------------------------------------------------------------

export interface StdioConn {
  readonly client: Client;
  readonly pid: number;
  /** Spawn → initialize answered (ms). */
  readonly connectMs: number;
  /** Last stderr lines (for error messages). */
  stderrTail(): string;
  close(): Promise<void>;
}

/** Spawns the server over stdio and initializes an MCP client (the spawn is inside the timing). */
export async function connectStdio(spec: ServerSpec): Promise<StdioConn> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [spec.entry, ...spec.args],
    env: childEnv(spec.env),
    cwd: ROOT,
    stderr: 'pipe',
  });
  let tail = '';
  transport.stderr?.on('data', (c: Buffer) => {
    tail = (tail + c.toString('utf8')).slice(-2000);
  });
  const client = clientInfo();
  const t0 = nowMs();
  try {
    await client.connect(transport);
  } catch (err) {
    await transport.close().catch(() => undefined);
    throw new Error(`${spec.label}: initialize failed: ${(err as Error).message}\n${tail}`);
  }
  const connectMs = nowMs() - t0;
  const pid = transport.pid;
  if (pid === null) throw new Error(`${spec.label}: no pid`);
  return {
    client,
    pid,
    connectMs,
    stderrTail: () => tail,
    close: () => client.close(),
  };
}

// ---- Streamable HTTP --------------------------------------------------------------------------------------

export interface HttpProc {
  readonly url: string;
  readonly pid: number;
  /** Full GC in the child (only when started with gc: true), then resolves. */
  gc(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the server with --http on a free loopback port; resolves when it prints its /mcp URL. */
export async function startHttpServer(spec: ServerSpec, o: { gc?: boolean } = {}): Promise<HttpProc> {
  const nodeArgs = o.gc ? ['--expose-gc', '--import', GC_HOOK] : [];
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, spec.entry, ...spec.args], {
    env: childEnv(spec.env),
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let buf = '';
  const waiters: { re: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];
  child.stderr?.on('data', (c: Buffer) => {
    buf = (buf + c.toString('utf8')).slice(-20_000);
    for (const w of [...waiters]) {
      const m = w.re.exec(buf);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        buf = buf.slice(m.index + m[0].length);
        w.resolve(m);
      }
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const waitFor = (re: RegExp, what: string, timeoutMs = 20_000): Promise<RegExpExecArray> =>
    new Promise((resolve, reject) => {
      const m = re.exec(buf);
      if (m) {
        buf = buf.slice(m.index + m[0].length);
        resolve(m);
        return;
      }
      const t = setTimeout(
        () => reject(new Error(`${spec.label}: no ${what} within ${timeoutMs} ms\n${buf}`)),
        timeoutMs,
      );
      waiters.push({
        re,
        resolve: (mm) => {
          clearTimeout(t);
          resolve(mm);
        },
      });
      void exited.then(() => {
        clearTimeout(t);
        reject(new Error(`${spec.label}: exited (${child.exitCode})\n${buf}`));
      });
    });
  const m = await waitFor(/(http:\/\/127\.0\.0\.1:\d+\/mcp)/, 'listening URL');
  const url = m[1] as string;
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${spec.label}: no pid`);
  return {
    url,
    pid,
    async gc() {
      if (!o.gc) throw new Error('started without gc');
      const done = waitFor(/gc-on-signal: done\n/, 'GC');
      child.kill('SIGUSR2');
      await done;
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await Promise.race([exited, sleep(5_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

export interface HttpConn {
  readonly client: Client;
  /** DELETE the session (the server frees it), then close the client. */
  close(): Promise<void>;
}

export async function connectHttp(url: string): Promise<HttpConn> {
  const transport = new StreamableHTTPClientTransport(new URL(url));
  const client = clientInfo();
  await client.connect(transport);
  return {
    client,
    async close() {
      await transport.terminateSession();
      await client.close();
    },
  };
}
