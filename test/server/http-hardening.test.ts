/**
 * HTTP hardening with raw requests: every error is a small JSON body (no stack, path or library name);
 * Host and Origin are checked on every bind and path; rejected logins are audited without the token.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeapClient } from '../../src/keap/client.js';
import type { KeapClientApi } from '../../src/keap/types.js';
import { silentLogger } from '../../src/logger.js';
import { allowedHostList } from '../../src/transports/http.js';
import { captureLogger } from '../client/helpers.js';
import { type HttpFixture, startHttpFixture } from '../helpers/http-server.js';
import { INITIALIZE_BODY, MCP_POST_HEADERS } from '../helpers/mcp-http.js';

const TOKEN = 'hardening-agent-token-0123456789';
const WRONG = 'WRONG-presented-token-abcdef987654';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** A raw HTTP/1.1 request to 127.0.0.1:port with exactly the given headers (Host included). */
function raw(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string | Buffer,
  opts: { chunked?: boolean } = {},
): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, setHost: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      // The server may close the socket while a too-large body is still being sent.
      if (e.code === 'EPIPE' || e.code === 'ECONNRESET') return;
      reject(e);
    });
    if (body !== undefined && opts.chunked) {
      const buf = Buffer.isBuffer(body) ? body : Buffer.from(body);
      for (let i = 0; i < buf.length; i += 64 * 1024) req.write(buf.subarray(i, i + 64 * 1024));
      req.end();
    } else {
      req.end(body);
    }
  });
}

/** The body is small JSON and leaks nothing about the implementation. */
function expectCleanJson(r: Raw): Record<string, any> {
  expect(r.headers['content-type']).toMatch(/^application\/json/);
  expect(r.text.length).toBeLessThan(400);
  for (const leak of [
    '<html',
    '<!DOCTYPE',
    ' at ',
    '/work',
    'node_modules',
    'body-parser',
    'express',
    'Error:',
  ]) {
    expect(r.text).not.toContain(leak);
  }
  return JSON.parse(r.text) as Record<string, any>;
}

type Server = HttpFixture & { logs: () => string };

let keap: KeapClientApi;
const dirs: string[] = [];

async function start(host: string, extra: { allowedHosts?: string[]; maxBodyBytes?: number } = {}) {
  const cap = captureLogger();
  const fx = await startHttpFixture({
    policy: { agents: { reader: { token_sha256: sha(TOKEN), grants: { '*': 'read' } } } },
    keap,
    keepDir: true,
    auditRefusals: true,
    http: { host, logger: cap.logger, ...extra },
  });
  dirs.push(fx.dir);
  const s: Server = { ...fx, logs: cap.text };
  return s;
}

const auth = { authorization: `Bearer ${TOKEN}` };

beforeAll(() => {
  keap = createKeapClient({
    baseUrl: 'http://127.0.0.1:1',
    credential: { kind: 'pat', apiKey: 'harden-unused-key' },
    logger: silentLogger,
  });
});
afterAll(async () => {
  await keap.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('HTTP error bodies are small JSON on every path', () => {
  let s: Server;
  let host: string;
  beforeAll(async () => {
    s = await start('127.0.0.1', { maxBodyBytes: 64 * 1024 });
    host = `127.0.0.1:${s.http.port}`;
  });
  afterAll(async () => {
    await s.close();
  });

  it('malformed JSON on /mcp → 400 JSON-RPC parse error (-32700)', async () => {
    const r = await raw(
      s.http.port,
      'POST',
      '/mcp',
      { host, ...MCP_POST_HEADERS, ...auth },
      '{"jsonrpc": "2.0", ',
    );
    expect(r.status).toBe(400);
    const b = expectCleanJson(r);
    expect(b).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
  });

  it('oversized body → 413, with Content-Length and streamed', async () => {
    const big = `{"x":"${'a'.repeat(200 * 1024)}"}`;
    const declared = await raw(s.http.port, 'POST', '/mcp', { host, ...MCP_POST_HEADERS, ...auth }, big);
    expect(declared.status).toBe(413);
    expect(expectCleanJson(declared)).toMatchObject({ jsonrpc: '2.0', error: { code: -32600 } });
    const streamed = await raw(
      s.http.port,
      'POST',
      '/mcp',
      { host, ...MCP_POST_HEADERS, ...auth, 'transfer-encoding': 'chunked' },
      big,
      { chunked: true },
    );
    expect(streamed.status).toBe(413);
    expectCleanJson(streamed);
  });

  it('wrong content type → 415', async () => {
    const r = await raw(
      s.http.port,
      'POST',
      '/mcp',
      { host, ...auth, 'content-type': 'text/plain', accept: MCP_POST_HEADERS.accept ?? '' },
      INITIALIZE_BODY,
    );
    expect(r.status).toBe(415);
    expect(expectCleanJson(r)).toMatchObject({ jsonrpc: '2.0', error: { code: -32600 } });
  });

  it('unknown path → 404, wrong method → 405 with Allow, on /mcp and on another path', async () => {
    const notFound = await raw(s.http.port, 'GET', '/nope', { host });
    expect(notFound.status).toBe(404);
    expect(expectCleanJson(notFound)).toMatchObject({ error: 'not_found' });
    const postJunkElsewhere = await raw(
      s.http.port,
      'POST',
      '/other',
      { host, 'content-type': 'application/json' },
      '{bad',
    );
    expect(postJunkElsewhere.status).toBe(404);
    expectCleanJson(postJunkElsewhere);

    const putMcp = await raw(
      s.http.port,
      'PUT',
      '/mcp',
      { host, ...auth, 'content-type': 'application/json' },
      '{}',
    );
    expect(putMcp.status).toBe(405);
    expect(putMcp.headers.allow).toBe('POST, GET, DELETE');
    expect(expectCleanJson(putMcp)).toMatchObject({ jsonrpc: '2.0' });
    const postHealth = await raw(
      s.http.port,
      'POST',
      '/healthz',
      { host, 'content-type': 'application/json' },
      '{bad',
    );
    expect(postHealth.status).toBe(405);
    expect(postHealth.headers.allow).toBe('GET, HEAD');
    expectCleanJson(postHealth);
  });

  it('the token is checked before the body is read: junk without a token → 401', async () => {
    const r = await raw(s.http.port, 'POST', '/mcp', { host, ...MCP_POST_HEADERS }, '{junk');
    expect(r.status).toBe(401);
    expectCleanJson(r);
  });

  it('a valid initialize still works (control)', async () => {
    const r = await raw(s.http.port, 'POST', '/mcp', { host, ...MCP_POST_HEADERS, ...auth }, INITIALIZE_BODY);
    expect(r.status).toBe(200);
    expect(r.headers['mcp-session-id']).toBeTruthy();
  });
});

describe('rejected logins are audited (remote address, never the token) and logged', () => {
  it('no token, wrong token, foreign Host, foreign Origin', async () => {
    const s = await start('127.0.0.1');
    const host = `127.0.0.1:${s.http.port}`;
    const p = s.http.port;
    expect((await raw(p, 'POST', '/mcp', { host, ...MCP_POST_HEADERS }, INITIALIZE_BODY)).status).toBe(401);
    expect(
      (
        await raw(
          p,
          'POST',
          '/mcp',
          { host, ...MCP_POST_HEADERS, authorization: `Bearer ${WRONG}` },
          INITIALIZE_BODY,
        )
      ).status,
    ).toBe(401);
    expect(
      (
        await raw(
          p,
          'POST',
          '/mcp',
          { host: 'evil.example.com', ...MCP_POST_HEADERS, ...auth },
          INITIALIZE_BODY,
        )
      ).status,
    ).toBe(403);
    expect(
      (
        await raw(
          p,
          'POST',
          '/mcp',
          { host, origin: 'https://evil.example.com', ...MCP_POST_HEADERS, authorization: `Bearer ${WRONG}` },
          INITIALIZE_BODY,
        )
      ).status,
    ).toBe(403);
    await s.close();
    const recs = readFileSync(s.auditPath, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(recs.map((r) => r.reason)).toEqual([
      'missing_token',
      'wrong_token',
      'foreign_host',
      'foreign_origin',
    ]);
    for (const r of recs) expect(r).toMatchObject({ kind: 'refusal', source: 'http', remote: '127.0.0.1' });
    expect(recs[2]?.detail).toBe('Host: evil.example.com');
    const logs = s.logs();
    expect(logs.match(/HTTP request refused/g)).toHaveLength(4);
    for (const text of [readFileSync(s.auditPath, 'utf8'), logs]) {
      expect(text).not.toContain(WRONG);
      expect(text).not.toContain(TOKEN);
    }
  });
});

describe('Host and Origin on every bind', () => {
  it('127.0.0.2 (no tokens needed on loopback): foreign Host/Origin → 403, the bind address and loopback names work', async () => {
    const fx = await startHttpFixture({
      auditToFile: false,
      keap,
      auditRefusals: true,
      http: { host: '127.0.0.2' },
    });
    const { http } = fx;
    const status = async (headers: Record<string, string>, path = '/mcp') =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.2', port: http.port, method: 'POST', path, headers, setHost: false },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end(INITIALIZE_BODY);
      });
    const h = (host: string, more: Record<string, string> = {}) => ({ host, ...MCP_POST_HEADERS, ...more });
    try {
      expect(await status(h('evil.example.com:80'))).toBe(403);
      expect(await status(h('evil.example.com'), '/healthz')).toBe(403);
      expect(await status(h(`127.0.0.2:${http.port}`, { origin: 'https://evil.example.com' }))).toBe(403);
      expect(await status(h(`127.0.0.2:${http.port}`, { origin: 'null' }))).toBe(403);
      expect(await status(h(`127.0.0.2:${http.port}`))).toBe(200);
      expect(await status(h(`localhost:${http.port}`, { origin: `http://localhost:6274` }))).toBe(200);
      expect(await status(h(`127.0.0.2:${http.port}`, { origin: `http://127.0.0.2:${http.port}` }))).toBe(
        200,
      );
    } finally {
      await fx.close();
    }
  });

  it('0.0.0.0 with tokens: foreign Host/Origin → 403; loopback names and KEAP_MCP_ALLOWED_HOSTS work', async () => {
    const s = await start('0.0.0.0');
    const p = s.http.port;
    const post = (host: string, more: Record<string, string> = {}) =>
      raw(p, 'POST', '/mcp', { host, ...MCP_POST_HEADERS, ...auth, ...more }, INITIALIZE_BODY);
    try {
      expect((await post('evil.example.com')).status).toBe(403);
      expect((await post(`127.0.0.1:${p}`, { origin: 'https://evil.example.com' })).status).toBe(403);
      expect((await post(`127.0.0.1:${p}`)).status).toBe(200);
      expect((await post(`localhost:${p}`)).status).toBe(200);
      expect((await post('mcp.example.com')).status).toBe(403);
    } finally {
      await s.close();
    }

    const named = await start('0.0.0.0', { allowedHosts: ['MCP.example.com', '[::1]'] });
    const q = named.http.port;
    const post2 = (host: string, more: Record<string, string> = {}) =>
      raw(q, 'POST', '/mcp', { host, ...MCP_POST_HEADERS, ...auth, ...more }, INITIALIZE_BODY);
    try {
      expect((await post2('mcp.example.com')).status).toBe(200);
      expect((await post2('mcp.example.com', { origin: 'https://mcp.example.com' })).status).toBe(200);
      expect((await post2('mcp.example.com', { origin: 'https://evil.example.com' })).status).toBe(403);
      expect((await post2(`127.0.0.1:${q}`)).status).toBe(403); // the explicit list replaces the default
      expect((await post2('evil.example.com')).status).toBe(403);
    } finally {
      await named.close();
    }
  });

  it('the default list', () => {
    expect(allowedHostList('127.0.0.1', undefined, undefined).sort()).toEqual([
      '127.0.0.1',
      '::1',
      'localhost',
    ]);
    expect(allowedHostList('127.0.0.2', [], ['https://Hooks.Example.com/keap']).sort()).toEqual([
      '127.0.0.1',
      '127.0.0.2',
      '::1',
      'hooks.example.com',
      'localhost',
    ]);
    expect(allowedHostList('10.1.2.3', undefined, undefined)).toEqual(['10.1.2.3']);
    expect(allowedHostList('10.1.2.3', ['a.example', ' b.example '], undefined)).toEqual([
      'a.example',
      'b.example',
    ]);
  });
});

describe('the bin wires the allow-list and the refusal audit', () => {
  it('--allowed-hosts and --audit-log: a foreign Host is refused and audited; an allowed one is served', async () => {
    const { spawn } = await import('node:child_process');
    const bin = join(import.meta.dirname, '..', '..', 'dist', 'src', 'index.js');
    const dir = mkdtempSync(join(tmpdir(), 'keap-mcp-harden-bin-'));
    dirs.push(dir);
    const audit = join(dir, 'audit.jsonl');
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env))
      if (v !== undefined && !k.startsWith('KEAP_')) env[k] = v;
    const child = spawn(
      process.execPath,
      [bin, '--http', '--sandbox', '--port', '0', '--allowed-hosts', 'mcp.example.com', '--audit-log', audit],
      {
        env: { ...env, KEAP_MCP_LOG_LEVEL: 'warn', KEAP_MCP_STATE_DIR: join(dir, 'state') },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let err = '';
        child.stderr.on('data', (c: Buffer) => {
          err += c.toString('utf8');
          const m = /http:\/\/127\.0\.0\.1:(\d+)\/mcp/.exec(err);
          if (m?.[1]) resolve(Number(m[1]));
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
      });
      const refused = await raw(port, 'GET', '/healthz', { host: `127.0.0.1:${port}` });
      expect(refused.status).toBe(403);
      expectCleanJson(refused);
      const ok = await raw(port, 'GET', '/healthz', { host: 'mcp.example.com' });
      expect(ok.status).toBe(200);
      const recs = readFileSync(audit, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(recs).toHaveLength(1);
      expect(recs[0]).toMatchObject({ kind: 'refusal', reason: 'foreign_host', remote: '127.0.0.1' });
    } finally {
      child.kill('SIGTERM');
    }
  });
});
