/**
 * The real binary (dist/src/index.js) as a child process, for the console tests that need the server exactly as
 * an operator starts it. Only the variables given here reach the child (no KEAP_* of the developer's shell);
 * HOME points at the run's temp dir, so nothing is written to the real ~/.keap-mcp.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const ENTRY = join(ROOT, 'dist', 'src', 'index.js');

/** Builds dist/ when it is missing (as test/sandbox/core-process.test.ts does). */
export function ensureBuilt(): void {
  if (existsSync(ENTRY)) return;
  execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'],
    {
      cwd: ROOT,
      stdio: 'inherit',
    },
  );
}

export interface Spawned {
  readonly child: ChildProcess;
  /** Everything the child wrote to stderr so far. */
  stderr(): string;
  /** Resolves with the first match of `re` on stderr (rejects when the child exits first or after 20 s). */
  waitFor(re: RegExp): Promise<RegExpExecArray>;
  /** Resolves when the child has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then waits for the exit (SIGKILL after 5 s). */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnKeapMcp(args: readonly string[], env: Record<string, string>, home: string): Spawned {
  const child = spawn(process.execPath, [ENTRY, ...args], {
    cwd: ROOT,
    // stdin stays open: in stdio mode the server shuts down when its stdin closes.
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, ...env },
  });
  let err = '';
  const listeners: (() => void)[] = [];
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString('utf8');
    for (const l of listeners) l();
  });
  child.stdout?.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    stderr: () => err,
    exited,
    waitFor(re) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = re.exec(err);
          if (m === null) return;
          clearTimeout(timer);
          resolve(m);
        };
        const timer = setTimeout(
          () => reject(new Error(`no ${re} on stderr in 20 s; stderr: ${err}`)),
          20_000,
        );
        listeners.push(check);
        check();
        void exited.then((e) => {
          clearTimeout(timer);
          reject(new Error(`keap-mcp exited (${e.code ?? e.signal}) before ${re}; stderr: ${err}`));
        });
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
        const e = await exited;
        clearTimeout(t);
        return e;
      }
      return exited;
    },
  };
}

/** A port free on 127.0.0.1 right now (for --console-port, which takes 1-65535, not 0). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const address = s.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
