/**
 * setupFiles module of the secret scan: in every test worker, tees what the product can emit into per-worker files
 * under the directory provided by secret-scan.ts (globalSetup), for the teardown scan:
 *   - process.stderr.write and fd-2 writes (pino's sync destination writes with fs.writeSync(2, …));
 *   - stderr of every process spawned with child_process.spawn / spawnSync (incl. the SDK's stdio transport via
 *     cross-spawn); a child stderr the test ignores or inherits is piped instead, so it is seen too;
 *   - the full result of every MCP tool call made through the SDK's Client (the test client, not the product).
 * Test code itself only writes numbers to stderr, and the runner's own output lives in the main process.
 */
import childProcess, { type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { inject } from 'vitest';

const INSTALLED = Symbol.for('keap-mcp.secret-scan.installed');
const g = globalThis as { [INSTALLED]?: true };
const dir = inject('secretScanDir');

if (dir && !g[INSTALLED]) {
  g[INSTALLED] = true;
  const origAppend = fs.appendFileSync;
  const file = (kind: string) => join(dir, `${kind}-${process.pid}.log`);
  const record = (kind: string, chunk: unknown): void => {
    if (chunk === undefined || chunk === null) return;
    const text =
      typeof chunk === 'string'
        ? chunk
        : chunk instanceof Uint8Array
          ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8')
          : '';
    if (text !== '') origAppend(file(kind), text);
  };

  // In-memory loggers of tests (test/client/helpers.ts captureLogger) hold what would have gone to stderr.
  (globalThis as { __keapMcpScanRecord?: (text: string) => void }).__keapMcpScanRecord = (text) =>
    record('captured-log', text);

  // 1. stderr of this worker.
  const origStderrWrite = process.stderr.write;
  process.stderr.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
    record('stderr', chunk);
    return (origStderrWrite as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof process.stderr.write;
  const origWriteSync = fs.writeSync;
  fs.writeSync = ((fd: number, buffer: unknown, ...rest: unknown[]): number => {
    if (fd === 2) record('stderr', buffer);
    return (origWriteSync as (...a: unknown[]) => number)(fd, buffer, ...rest);
  }) as typeof fs.writeSync;

  // 2. stderr of spawned processes.
  const pipeStderr = (options: unknown): 'inherit' | 'ignore' | undefined => {
    if (typeof options !== 'object' || options === null) return undefined;
    const o = options as { stdio?: unknown };
    if (typeof o.stdio === 'string' && (o.stdio === 'inherit' || o.stdio === 'ignore')) {
      const was = o.stdio;
      o.stdio = [was, was, 'pipe'];
      return was;
    }
    if (Array.isArray(o.stdio) && (o.stdio[2] === 'inherit' || o.stdio[2] === 'ignore')) {
      const was = o.stdio[2] as 'inherit' | 'ignore';
      o.stdio = [...o.stdio];
      (o.stdio as unknown[])[2] = 'pipe';
      return was;
    }
    return undefined;
  };
  const optionsOf = (args: unknown[]): unknown => {
    const last = args[args.length - 1];
    return typeof last === 'object' && last !== null && !Array.isArray(last) ? last : undefined;
  };
  const origSpawn = childProcess.spawn;
  childProcess.spawn = function (this: unknown, ...args: unknown[]): ChildProcess {
    const opts = optionsOf(args);
    const copy = opts ? { ...(opts as object) } : undefined;
    const was = pipeStderr(copy);
    if (copy) args[args.length - 1] = copy;
    const child = (origSpawn as (...a: unknown[]) => ChildProcess).apply(this, args);
    child.stderr?.on('data', (c: Buffer) => {
      record('child-stderr', c);
      if (was === 'inherit') origStderrWrite.call(process.stderr, c);
    });
    return child;
  } as typeof childProcess.spawn;
  const origSpawnSync = childProcess.spawnSync;
  childProcess.spawnSync = function (this: unknown, ...args: unknown[]) {
    const r = (origSpawnSync as (...a: unknown[]) => { stderr?: unknown }).apply(this, args);
    record('child-stderr', r.stderr);
    return r;
  } as typeof childProcess.spawnSync;
  syncBuiltinESMExports();

  // 3. What the product returns to an MCP client.
  const origCallTool = Client.prototype.callTool;
  Client.prototype.callTool = async function (this: Client, ...args: Parameters<Client['callTool']>) {
    try {
      const result = await origCallTool.apply(this, args);
      record('tool-results', `${JSON.stringify(result)}\n`);
      return result;
    } catch (e) {
      record('tool-results', `${e instanceof Error ? e.message : String(e)}\n`);
      throw e;
    }
  };
}
