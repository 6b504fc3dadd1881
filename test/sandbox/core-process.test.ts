/**
 * `node dist/src/index.js sandbox --port 0` as a real child process: prints its base URL on stdout, serves the
 * API with an X-Keap-API-Key, and exits cleanly (code 0) on SIGTERM. dist/ is built by `npm test`; when it is
 * missing this test builds it (tsc -p tsconfig.json).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const ENTRY = join(ROOT, 'dist', 'src', 'index.js');

beforeAll(() => {
  if (!existsSync(ENTRY)) {
    execFileSync(
      process.execPath,
      [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'],
      {
        cwd: ROOT,
        stdio: 'inherit',
      },
    );
  }
  expect(existsSync(ENTRY), `${ENTRY} (run npm run build)`).toBe(true);
}, 180_000);

describe('keap-mcp sandbox (spawned process)', () => {
  it('prints its base URL, serves /v2/contacts and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [ENTRY, 'sandbox', '--port', '0'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    try {
      const base = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no base URL in 20 s; stderr: ${stderr}`)), 20_000);
        child.stdout.on('data', (c: Buffer) => {
          stdout += c.toString('utf8');
          const nl = stdout.indexOf('\n');
          if (nl >= 0) {
            clearTimeout(timer);
            resolve(stdout.slice(0, nl));
          }
        });
        void exited.then((e) => reject(new Error(`exited early (${e.code ?? e.signal}); stderr: ${stderr}`)));
      });
      expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

      const r = await fetch(`${base}/v2/contacts?page_size=5`, {
        headers: { 'X-Keap-API-Key': 'spawn-key' },
      });
      expect(r.status).toBe(200);
      const body = (await r.json()) as { contacts: { id: string }[]; next_page_token?: string };
      expect(body.contacts).toHaveLength(5);
      expect(typeof body.contacts[0]?.id).toBe('string');
      const none = await fetch(`${base}/v2/contacts`);
      expect(none.status).toBe(401);

      child.kill('SIGTERM');
      const e = await exited;
      expect(e, `stderr: ${stderr}`).toEqual({ code: 0, signal: null });
      expect(stdout).toBe(`${base}\n`);
      await expect(fetch(`${base}/v2/contacts`, { headers: { 'X-Keap-API-Key': 'k' } })).rejects.toThrow();
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 30_000);
});
