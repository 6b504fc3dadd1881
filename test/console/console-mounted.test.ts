/**
 * The operator console is mounted by the real binary: at /console of the HTTP server (`--http`), 404 there when no
 * operator token is configured, and on its own loopback port beside stdio (`--console-port`), which refuses to
 * start without an operator token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha, tmpDir, writeJson } from '../safety/helpers.js';
import { OPERATOR_TOKEN } from './helpers.js';
import { ensureBuilt, freePort, type Spawned, spawnKeapMcp } from './spawn.js';

const running: Spawned[] = [];

beforeAll(() => ensureBuilt(), 180_000);
afterAll(async () => {
  for (const s of running) await s.stop();
});

function start(args: string[], opts: { operatorToken: boolean }): Spawned {
  const dir = tmpDir('keap-console-mount-');
  const env: Record<string, string> = { KEAP_MCP_STATE_DIR: dir, KEAP_MCP_LOG_LEVEL: 'warn' };
  if (opts.operatorToken) {
    env.KEAP_POLICY = writeJson(dir, 'policy.json', {
      operator_token_sha256: sha(OPERATOR_TOKEN),
      agents: { ops: { grants: { '*': 'write' } } },
    });
  }
  const s = spawnKeapMcp(args, env, dir);
  running.push(s);
  return s;
}

const get = (url: string) => fetch(url, { redirect: 'manual' });

describe('console mounted by the real binary', () => {
  it('--http: /console → 303 to /console/login; the login page answers 200; the URL is printed', async () => {
    const s = start(['--http', '--sandbox', '--port', '0'], { operatorToken: true });
    const mcp = (
      await s.waitFor(/MCP over Streamable HTTP at (http:\/\/127\.0\.0\.1:\d+\/mcp)/)
    )[1] as string;
    const base = mcp.replace(/\/mcp$/, '');
    await s.waitFor(/console: {4}(\S+)/);
    expect(s.stderr()).toContain(`  console:    ${base}/console\n`);

    const root = await get(`${base}/console`);
    expect(root.status).toBe(303);
    expect(root.headers.get('location')).toBe('/console/login');
    const login = await get(`${base}/console/login`);
    expect(login.status).toBe(200);
    expect(login.headers.get('content-type')).toContain('text/html');
    expect(await login.text()).toContain('Operator token');
    // The MCP endpoint is still there beside it.
    expect((await get(mcp)).status).not.toBe(404);
  }, 30_000);

  it('--http without an operator token: /console is 404 and no console URL is printed', async () => {
    const s = start(['--http', '--sandbox', '--port', '0'], { operatorToken: false });
    const mcp = (
      await s.waitFor(/MCP over Streamable HTTP at (http:\/\/127\.0\.0\.1:\d+\/mcp)/)
    )[1] as string;
    const base = mcp.replace(/\/mcp$/, '');
    expect((await get(`${base}/console`)).status).toBe(404);
    expect((await get(`${base}/console/login`)).status).toBe(404);
    expect(s.stderr()).not.toContain('console:');
  }, 30_000);

  it('beside stdio: --console-port serves the login page on 127.0.0.1', async () => {
    const port = await freePort();
    const s = start(['--sandbox', '--console-port', String(port)], { operatorToken: true });
    const url = (await s.waitFor(/operator console at (\S+)/))[1] as string;
    expect(url).toBe(`http://127.0.0.1:${port}/console`);
    await s.waitFor(/MCP over stdio for agent "ops"/);
    const root = await get(url);
    expect(root.status).toBe(303);
    expect(root.headers.get('location')).toBe('/console/login');
    const login = await get(`${url}/login`);
    expect(login.status).toBe(200);
    expect(await login.text()).toContain('Operator token');
    // Closing stdin ends the server, console included.
    s.child.stdin?.end();
    expect((await s.exited).code).toBe(0);
    await expect(get(url)).rejects.toThrow();
  }, 30_000);

  it('beside stdio without an operator token: refuses to start and says how to set one', async () => {
    const port = await freePort();
    const s = start(['--sandbox', '--console-port', String(port)], { operatorToken: false });
    const e = await s.exited;
    expect(e.code).not.toBe(0);
    expect(s.stderr()).toContain('operator_token_sha256');
    expect(s.stderr()).not.toMatch(/\n\s+at /); // no stack trace
  }, 30_000);
});
