/**
 * Start-up: placeholder credentials refused with the setting and the fix, the audit log's default place shared by
 * the server and `keap-mcp audit`, a taken port named with the setting that fixes it (the built bin, spawned).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listenFailure } from '../../src/cli.js';
import { assertUsableCredentials, ConfigError, loadConfig, placeholderProblem } from '../../src/config.js';

const BIN = join(process.cwd(), 'dist', 'src', 'index.js');
const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'keap-mcp-startup-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Spawned processes get no KEAP_* setting from the developer's shell. */
function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('KEAP_')) env[k] = v;
  return { ...env, KEAP_MCP_LOG_LEVEL: 'warn', ...extra };
}

function refused(env: Record<string, string>): string {
  try {
    assertUsableCredentials(loadConfig({}, env));
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error(`accepted: ${JSON.stringify(env)}`);
}

describe('placeholder credentials', () => {
  it('recognises the usual placeholders and accepts real-looking values', () => {
    for (const v of [
      '<your Keap personal access token or service account key>',
      'your_api_key',
      'your-key-here',
      'YOUR_KEAP_API_KEY',
      'changeme',
      'CHANGE_ME',
      'xxxxxxxxxxxx',
      'XXX-123',
      '...',
      'KeapAK-...',
      '',
      '   ',
    ]) {
      expect(placeholderProblem(v), JSON.stringify(v)).toBeTypeOf('string');
    }
    for (const v of ['KeapAK-0123456789abcdef0123456789abcdef', 'KeapSAK-abc.def-123', 'sandbox-client']) {
      expect(placeholderProblem(v), v).toBeUndefined();
    }
  });

  it('KEAP_API_KEY: refused naming the setting, where to create a token and --sandbox; the value is not echoed', () => {
    const m = refused({ KEAP_API_KEY: 'your_keap_api_key_goes_here' });
    expect(m).toMatch(/KEAP_API_KEY: is a placeholder/);
    expect(m).toMatch(/API Settings/);
    expect(m).toMatch(/personal access token/);
    expect(m).toMatch(/--sandbox/);
    expect(m).not.toContain('goes_here');
    expect(refused({ KEAP_API_KEY: '  ' })).toMatch(/KEAP_API_KEY: is set but empty/);
  });

  it('OAuth client id/secret placeholders are refused with the OAuth fix (auth login)', () => {
    const m = refused({ KEAP_OAUTH_CLIENT_ID: '<client id>', KEAP_OAUTH_CLIENT_SECRET: 'changeme' });
    expect(m).toMatch(/KEAP_OAUTH_CLIENT_ID: is a placeholder/);
    expect(m).toMatch(/KEAP_OAUTH_CLIENT_SECRET: is a placeholder/);
    expect(m).toMatch(/keap-mcp auth login/);
  });

  it('real values pass; a blank KEAP_API_KEY next to a configured OAuth client is just unused', () => {
    const ok = (env: Record<string, string>) => assertUsableCredentials(loadConfig({}, env));
    expect(() => ok({ KEAP_API_KEY: 'KeapAK-0123456789abcdef' })).not.toThrow();
    expect(() =>
      ok({ KEAP_API_KEY: '', KEAP_OAUTH_CLIENT_ID: 'abc123', KEAP_OAUTH_CLIENT_SECRET: 'def456' }),
    ).not.toThrow();
    expect(() => ok({})).not.toThrow(); // nothing set: the "no credentials" message applies instead
  });

  it('the bin refuses to start (exit 2, no stack trace), but --sandbox ignores the placeholder', () => {
    const state = tempDir();
    const r = spawnSync(process.execPath, [BIN], {
      env: cleanEnv({ KEAP_API_KEY: '<your Keap personal access token>', KEAP_MCP_STATE_DIR: state }),
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/KEAP_API_KEY: is a placeholder/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
    // The sandbox uses no credential: the same environment starts (and ends when stdin closes).
    const sb = spawnSync(process.execPath, [BIN, '--sandbox'], {
      env: cleanEnv({ KEAP_API_KEY: '<your Keap personal access token>', KEAP_MCP_STATE_DIR: state }),
      encoding: 'utf8',
      input: '',
      timeout: 20_000,
    });
    expect(sb.stderr).not.toMatch(/placeholder/);
    expect(sb.stderr).toMatch(/MCP over stdio/);
  });
});

describe('audit log default', () => {
  it('is <state dir>/audit.jsonl unless KEAP_AUDIT_LOG says otherwise', () => {
    expect(loadConfig({}, { KEAP_MCP_STATE_DIR: '/var/lib/keap' }).auditLog).toBe(
      '/var/lib/keap/audit.jsonl',
    );
    expect(loadConfig({}, { KEAP_MCP_STATE_DIR: '/x', KEAP_AUDIT_LOG: '/y/a.jsonl' }).auditLog).toBe(
      '/y/a.jsonl',
    );
  });
});

describe('choosing a port', () => {
  it('a taken port: exit 1 with a message naming --port and KEAP_MCP_HTTP_PORT; `keap-mcp audit` reads the same state dir', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    const state = tempDir();
    try {
      const r = spawnSync(process.execPath, [BIN, '--http', '--sandbox', '--port', String(port)], {
        env: cleanEnv({ KEAP_MCP_STATE_DIR: state }),
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
      expect(r.stderr).toMatch(/--port/);
      expect(r.stderr).toMatch(/KEAP_MCP_HTTP_PORT/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      // The server opened its audit log in the state dir (not only on stderr), and the CLI reads it there.
      expect(existsSync(join(state, 'audit.jsonl'))).toBe(true);
      const a = spawnSync(process.execPath, [BIN, 'audit'], {
        env: cleanEnv({ KEAP_MCP_STATE_DIR: state }),
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(a.stderr).toBe('');
      expect(a.status).toBe(0);
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });

  it('listenFailure explains EADDRINUSE / EACCES and ignores other errors', () => {
    const inUse = Object.assign(new Error('listen EADDRINUSE'), {
      code: 'EADDRINUSE',
      syscall: 'listen',
      address: '127.0.0.1',
      port: 3000,
    });
    expect(listenFailure(inUse)).toMatch(/port 3000 on 127\.0\.0\.1 is already in use.*\n.*--port/s);
    expect(listenFailure({ code: 'EACCES', syscall: 'listen', port: 80 })).toMatch(/port 80/);
    expect(listenFailure(new Error('other'))).toBeUndefined();
    expect(listenFailure({ code: 'ECONNREFUSED', syscall: 'connect' })).toBeUndefined();
  });
});
