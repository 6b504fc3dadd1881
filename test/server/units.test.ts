/** Pure parts of the machinery: config, CLI parsing, request building, result shaping, error format, README drift. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseCommand } from '../../src/cli.js';
import { ConfigError, DEFAULT_BASE_URL, hasCredentials, loadConfig, SETTINGS } from '../../src/config.js';
import { withToolTable } from '../../src/docs/tool-table.js';
import { ToolError, toErrorResult } from '../../src/errors.js';
import { KeapError, type KeapResponse } from '../../src/keap/types.js';
import { deriveAnnotations, effectiveHints } from '../../src/registry/annotations.js';
import { defineTool } from '../../src/registry/define.js';
import { buildRequest } from '../../src/registry/request.js';
import { RESULT_CAP_CHARS, shapeData } from '../../src/results.js';
import { ALL_TOOLS, TABLE_TOOLS } from '../../tools/index.js';

const ROOT = join(import.meta.dirname, '..', '..');

const listSpec = defineTool({
  name: 'list_things',
  title: 'List things',
  description: 'List things.',
  resource: 'contacts',
  access: 'read',
  method: 'GET',
  path: '/v2/things',
  input: {
    fields: z.array(z.string()).optional().describe('Fields'),
    page_size: z.number().optional().describe('Page size'),
  },
  listKey: 'things',
});

const postSpec = defineTool({
  name: 'apply_thing',
  title: 'Apply thing',
  description: 'Apply a thing.',
  resource: 'tags',
  access: 'write',
  method: 'POST',
  path: '/v2/things/{thing_id}:apply',
  input: {
    thing_id: z.string().describe('Thing id'),
    fields: z.array(z.string()).optional().describe('Fields'),
    contact_ids: z.array(z.string()).describe('Contacts'),
  },
  query: ['fields'],
  findWith: 'list_things',
  checkWith: 'get_thing',
});

function response(body: unknown, status = 200): KeapResponse {
  return { status, body, attempts: 1, durationMs: 1, budget: {}, requestId: 'r' };
}

describe('config', () => {
  it('applies defaults and flags over env', () => {
    const c = loadConfig({ http: true, values: { KEAP_MCP_HTTP_PORT: '0' } }, { KEAP_MCP_HTTP_PORT: '9999' });
    expect(c.baseUrl).toBe(DEFAULT_BASE_URL);
    expect(c.http).toEqual({ host: '127.0.0.1', port: 0 });
    expect(c.transport).toBe('http');
    expect(hasCredentials(c)).toBe(false);
    expect(hasCredentials(loadConfig({}, { KEAP_API_KEY: 'k' }))).toBe(true);
  });
  it('names the variable and flag of a bad value', () => {
    expect(() => loadConfig({}, { KEAP_READ_ONLY: 'maybe' })).toThrow(/KEAP_READ_ONLY \(--read-only\)/);
    expect(() => loadConfig({}, { KEAP_API_BASE_URL: 'ftp://x' })).toThrow(ConfigError);
    expect(() => loadConfig({}, { KEAP_OAUTH_CLIENT_ID: 'only-id' })).toThrow(/KEAP_OAUTH_CLIENT_SECRET/);
  });
  it('parses the command line', () => {
    expect(parseCommand(['auth', 'login'])).toEqual({ kind: 'auth', argv: ['login'] });
    const c = parseCommand(['--http', '--port', '0', '--sandbox', '--read-only']);
    expect(c).toMatchObject({ kind: 'serve', flags: { http: true, sandbox: true } });
    if (c.kind !== 'serve') throw new Error();
    expect(loadConfig(c.flags, {}).readOnly).toBe(true);
    expect(() => parseCommand(['--bogus'])).toThrow();
  });
});

describe('buildRequest', () => {
  it('GET: every non-path key is query; arrays comma-joined', () => {
    const r = buildRequest(listSpec, { fields: ['a', 'b'], page_size: 5 });
    expect(r).toEqual({
      method: 'GET',
      path: '/v2/things',
      query: { fields: 'a,b', page_size: 5 },
      body: undefined,
    });
  });
  it('POST: path filled, spec.query keys to query, the rest to the body, safety fields dropped', () => {
    const r = buildRequest(postSpec, {
      thing_id: 'a/b',
      fields: ['x'],
      contact_ids: ['1'],
      dry_run: true,
      confirmation_token: 't',
    });
    expect(r.path).toBe('/v2/things/a%2Fb:apply');
    expect(r.query).toEqual({ fields: 'x' });
    expect(r.body).toEqual({ contact_ids: ['1'] });
  });
  it('a write without body inputs sends no body; one with only optional body inputs sends {}', () => {
    const noBody = defineTool({ ...postSpec, input: { thing_id: z.string().describe('Thing id') } });
    expect(buildRequest(noBody, { thing_id: '1' }).body).toBeUndefined();
    const optional = defineTool({
      ...postSpec,
      input: { thing_id: z.string().describe('Thing id'), note: z.string().optional().describe('Note') },
    });
    expect(buildRequest(optional, { thing_id: '1' }).body).toEqual({});
  });
});

describe('annotations', () => {
  it('derives hints from the data', () => {
    // Compact: only what differs from MCP's defaults (destructiveHint always stated on a write).
    expect(deriveAnnotations(listSpec)).toEqual({ readOnlyHint: true });
    expect(deriveAnnotations(postSpec)).toEqual({ destructiveHint: false });
    expect(effectiveHints(deriveAnnotations(listSpec))).toMatchObject({
      readOnlyHint: true,
      openWorldHint: true,
    });
    expect(effectiveHints(deriveAnnotations(postSpec))).toEqual({
      readOnlyHint: false,
      destructiveHint: false,
      idempotentHint: false,
      openWorldHint: true,
    });
    expect(deriveAnnotations({ ...postSpec, name: 'remove_thing' }).destructiveHint).toBe(true);
    expect(deriveAnnotations({ ...postSpec, resource: 'payments' }).destructiveHint).toBe(true);
    expect(deriveAnnotations({ ...postSpec, confirm: true }).destructiveHint).toBe(true);
    expect(deriveAnnotations({ ...postSpec, method: 'PATCH' })).toMatchObject({
      destructiveHint: true,
      idempotentHint: true,
    });
  });

  it('every tool that needs confirmation by default is destructiveHint: true', () => {
    const confirmed = ALL_TOOLS.filter((t) => t.confirm);
    expect(confirmed.map((t) => t.name)).toEqual(
      expect.arrayContaining(['create_order', 'create_subscription', 'add_contacts_to_sequence']),
    );
    for (const t of confirmed)
      expect({ tool: t.name, hint: deriveAnnotations(t).destructiveHint }).toEqual({
        tool: t.name,
        hint: true,
      });
  });
});

describe('results', () => {
  it('shapes a list with paging hint and empty bodies as ok', () => {
    const d = shapeData(listSpec, response({ things: [{ id: '1' }], next_page_token: 'abc' }));
    expect(d).toEqual({
      things: [{ id: '1' }],
      next_page_token: 'abc',
      hint: expect.stringContaining('page_token="abc"'),
    });
    expect(shapeData(listSpec, response({ things: [], next_page_token: '' }))).toEqual({ things: [] });
    expect(shapeData(postSpec, response(null, 204))).toEqual({ ok: true, status: 204 });
  });
  it('caps big lists by dropping items and says how to narrow', () => {
    const things = Array.from({ length: 200 }, (_, i) => ({ id: String(i), note: 'x'.repeat(400) }));
    const d = shapeData(listSpec, response({ things }));
    expect(JSON.stringify(d).length).toBeLessThanOrEqual(RESULT_CAP_CHARS);
    expect((d.things as unknown[]).length).toBeLessThan(200);
    expect((d.things as unknown[]).length).toBeGreaterThan(10);
    expect(d.truncated).toMatch(/fields, filter or a smaller page_size/);
  });
});

describe('errors', () => {
  it('404 names the id and the finder; text has the fixed shape', () => {
    const r = toErrorResult(
      new KeapError({
        category: 'not_found',
        status: 404,
        message: 'x',
        upstreamMessage: 'Thing not found',
        retryable: false,
      }),
      postSpec,
      { thing_id: '77' },
    );
    expect(r.isError).toBe(true);
    const e = (r.structuredContent as { error: Record<string, unknown> }).error;
    expect(e).toMatchObject({ category: 'not_found', status: 404, retryable: false });
    expect(String(e.message)).toContain('thing_id 77');
    expect(String(e.next_step)).toContain('list_things');
    const first = r.content[0];
    expect(first?.type === 'text' && first.text).toMatch(
      /^Not found: .*Keap said: "Thing not found"\. Check the id; use list_things to find valid ids\.$/,
    );
  });
  it('rate limits say how long to wait; ambiguous write failures point at the check tool', () => {
    const rl = toErrorResult(
      new KeapError({
        category: 'rate_limited',
        status: 429,
        message: 'x',
        retryable: true,
        retryAfterSec: 7,
      }),
    );
    expect(JSON.stringify(rl)).toContain('Wait 7 s');
    const un = toErrorResult(
      new KeapError({ category: 'unavailable', status: 502, message: 'x', retryable: true }),
      postSpec,
    );
    expect(JSON.stringify(un)).toContain('check with get_thing');
  });
  it('never leaks a stack trace or an unknown error message', () => {
    const r = toErrorResult(new Error('secret internal detail at /x/y.js:1'), postSpec);
    const s = JSON.stringify(r);
    expect(s).not.toContain('secret internal detail');
    expect(s).toContain('outcome_unknown');
    const t = toErrorResult(
      new ToolError({ category: 'policy', message: 'apply_thing: nope', nextStep: 'Ask' }),
    );
    expect(t.content[0]).toEqual({
      type: 'text',
      text: 'Not allowed by server policy: apply_thing: nope. Ask.',
    });
  });
  it('control characters in upstream text are stripped and capped', () => {
    const r = toErrorResult(
      new KeapError({
        category: 'validation',
        status: 400,
        message: 'x',
        upstreamMessage: `bad\u0000\u001b[31m${'y'.repeat(2000)}`,
        retryable: false,
      }),
    );
    const s = JSON.stringify(r.structuredContent);
    expect(s).not.toMatch(/\\u0000|\\u001b/);
    expect(s.length).toBeLessThan(1600);
  });
});

describe('README', () => {
  it('tool table matches the catalog (run `npm run docs:tools` to fix)', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(withToolTable(readme, TABLE_TOOLS)).toBe(readme);
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm install && npm test');
  });
  it('has the sections the issue asks for: two quick-start commands, config table of every setting, Inspector, out of scope', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = (title: RegExp): string => {
      const start = readme.search(title);
      expect(start, String(title)).toBeGreaterThanOrEqual(0);
      const rest = readme.slice(start + 1);
      const end = rest.search(/\n## /);
      return end < 0 ? rest : rest.slice(0, end);
    };
    const quick = section(/^## Quick start/m);
    const block = /```sh\n([\s\S]*?)```/.exec(quick)?.[1] ?? '';
    const commands = block
      .split('\n')
      .map((l) => l.replace(/#.*$/, '').trim())
      .filter((l) => l !== '');
    expect(commands).toEqual(['npm install && npm start', 'npm install && npm test']);
    expect(section(/^## Use it from Claude Desktop/m)).toContain('claude_desktop_config.json');
    const config = section(/^## Configuration/m);
    for (const s of SETTINGS) {
      expect(config, s.env).toContain(`\`${s.env}\``);
      if (s.flag) expect(config, s.flag).toContain(`\`${s.flag}\``);
    }
    expect(section(/^## Debugging with the MCP Inspector/m)).toContain('@modelcontextprotocol/inspector');
    const out = section(/^## Out of scope/m);
    expect(out).toMatch(/legacy API keys/);
    expect(out).toMatch(/XML-RPC/);
  });

  it('mcp.json is a sample with placeholders, never a secret', () => {
    const m = JSON.parse(readFileSync(join(ROOT, 'mcp.json'), 'utf8')) as {
      mcpServers: Record<string, { command: string; args: string[]; env?: Record<string, string> }>;
    };
    for (const s of Object.values(m.mcpServers)) {
      expect(s.command).toBe('node');
      expect(s.args[0]).toMatch(/dist\/src\/index\.js$/);
      for (const v of Object.values(s.env ?? {})) expect(v).toMatch(/^<.*>$|^\/absolute\//);
    }
  });
});
