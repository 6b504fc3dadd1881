/**
 * Acceptance (issue 3, "Errors"): every Keap status of the seed's table, injected at the sandbox, comes back
 * through a real MCP Client as an isError result in the one format — category, what happened, what to do
 * next, `retryable` — and all three Keap error bodies (v2 `Error`, v1 `{message}`, gateway `{fault}`) are
 * quoted, sanitized, without a stack trace, header or token.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeapClient } from '../../src/keap/client.js';
import type { KeapClientApi } from '../../src/keap/types.js';
import { silentLogger } from '../../src/logger.js';
import { createSafety } from '../../src/safety/index.js';
import type { RunningSandbox } from '../../src/sandbox/core/types.js';
import { startSandbox } from '../../src/sandbox/server.js';
import { createServer } from '../../src/server.js';
import { openStateDb } from '../../src/state/db.js';

const KEY = 'error-categories-key';
type Data = Record<string, any>;

let sandbox: RunningSandbox;
let keap: KeapClientApi;
let mcp: McpServer;
let client: Client;
let close: () => void;
let contactId = '';

async function fault(rule: Record<string, unknown>): Promise<void> {
  await fetch(`${sandbox.baseUrl}/__sandbox/faults`, { method: 'DELETE' });
  const res = await fetch(`${sandbox.baseUrl}/__sandbox/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ count: 10, ...rule }),
  });
  expect(res.status).toBe(201);
}

async function call(name: string, args: Data): Promise<{ err: Data; text: string }> {
  const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
  expect(r.isError, JSON.stringify(r)).toBe(true);
  const first = r.content[0];
  const text = first && first.type === 'text' ? first.text : '';
  const err = (r.structuredContent as Data).error as Data;
  expect(typeof err.message).toBe('string');
  expect(typeof err.next_step).toBe('string');
  expect(typeof err.retryable).toBe('boolean');
  const all = `${text} ${JSON.stringify(r.structuredContent)}`;
  expect(all).not.toMatch(/\n\s+at |\bat [\w.<>]+ \(|node_modules|\.ts:\d+/);
  expect(all).not.toContain(KEY);
  expect(all).not.toMatch(/authorization|bearer /i);
  return { err, text };
}

beforeAll(async () => {
  sandbox = await startSandbox({ host: '127.0.0.1', port: 0, control: true, apiKeys: [KEY] });
  const db = openStateDb(undefined);
  const safety = createSafety({ readOnly: false, sandbox: true, db, logger: silentLogger });
  close = () => {
    safety.audit.close();
    db.close();
  };
  // Short backoffs: a fault lasts for every attempt of the retry ladder (the ladder itself is the client's test).
  keap = createKeapClient({
    baseUrl: sandbox.baseUrl,
    credential: { kind: 'pat', apiKey: KEY },
    logger: silentLogger,
    retry: { initialDelayMs: 1, maxDelayMs: 2, rateLimitDelayMs: 1 },
  });
  mcp = createServer({ agent: safety.policy.defaultAgent(), client: keap, safety, logger: silentLogger });
  client = new Client({ name: 'error-categories', version: '1.0.0' });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await mcp.connect(a);
  await client.connect(b);
  const page = (await client.callTool({
    name: 'list_contacts',
    arguments: { page_size: 1 },
  })) as CallToolResult;
  contactId = String(((page.structuredContent as Data).contacts as Data[])[0]?.id);
}, 30_000);

afterAll(async () => {
  await client?.close();
  await mcp?.close();
  await keap?.close();
  close?.();
  await sandbox?.close();
});

describe('the one error format for each category of the status table', () => {
  const GET = { method: 'GET', path: '/v2/contacts/{contact_id}' };

  it('input: invalid arguments never reach Keap', async () => {
    const { err, text } = await call('get_contact', { contact_id: 'abc' });
    expect(err).toMatchObject({ category: 'input', retryable: false });
    expect(text).toMatch(/^Input error: .*contact_id/);
  });

  it('400 → validation: fix the named field, quoting Keap (v2 Error body)', async () => {
    await fault({
      ...GET,
      status: 400,
      body: { code: 400, message: 'Invalid field: email_addresses[0].email', status: 'BAD_REQUEST' },
    });
    const { err, text } = await call('get_contact', { contact_id: contactId });
    expect(err).toMatchObject({ category: 'validation', retryable: false, status: 400 });
    expect(text).toContain('Invalid field: email_addresses[0].email');
    expect(err.next_step).toMatch(/fix the named field/i);
  });

  it('401 → authentication: re-authenticate, not retryable', async () => {
    await fault({ ...GET, status: 401 });
    const { err, text } = await call('get_contact', { contact_id: contactId });
    expect(err).toMatchObject({ category: 'authentication', retryable: false, status: 401 });
    expect(text).toMatch(/^Authentication failed: /);
    expect(err.next_step).toMatch(/KEAP_API_KEY|auth login/);
  });

  it('403 → permission: the connected user lacks access (v1 {message} body)', async () => {
    await fault({ ...GET, status: 403, body: { message: 'User lacks permission to view contacts' } });
    const { err, text } = await call('get_contact', { contact_id: contactId });
    expect(err).toMatchObject({ category: 'permission', retryable: false, status: 403 });
    expect(text).toContain('User lacks permission to view contacts');
    expect(err.message).toMatch(/lacks access/);
  });

  it('404 → not_found: check the id, with the tool that finds ids', async () => {
    await fault({ ...GET, status: 404 });
    const { err } = await call('get_contact', { contact_id: contactId });
    expect(err).toMatchObject({ category: 'not_found', retryable: false, status: 404 });
    expect(err.message).toContain(`contact_id ${contactId}`);
    expect(err.next_step).toContain('list_contacts');
  });

  it('409 → conflict: refetch and resolve', async () => {
    await fault({
      method: 'PATCH',
      path: '/v2/contacts/{contact_id}',
      status: 409,
      body: { code: 409, message: 'Contact was modified', status: 'ABORTED' },
    });
    const { err, text } = await call('update_contact', { contact_id: contactId, given_name: 'X' });
    expect(err).toMatchObject({ category: 'conflict', retryable: false, status: 409 });
    expect(text).toContain('Contact was modified');
    expect(err.next_step).toMatch(/refetch.*get_contact/i);
  });

  it('429 → rate_limited: "wait N s", retryable (gateway {fault} body)', async () => {
    await fault({ ...GET, status: 429 });
    const { err, text } = await call('get_contact', { contact_id: contactId });
    expect(err).toMatchObject({ category: 'rate_limited', retryable: true, status: 429 });
    expect(err.next_step).toMatch(/^Wait \d+ s/);
    expect(text).toMatch(/Rate limit quota violation/);
  });

  it('500 → unavailable: retry later on a read; on a write check first and do not blindly retry', async () => {
    await fault({ ...GET, status: 500 });
    const read = await call('get_contact', { contact_id: contactId });
    expect(read.err).toMatchObject({ category: 'unavailable', retryable: true, status: 500 });
    expect(read.err.next_step).toMatch(/retry/i);
    await fault({ method: 'POST', path: '/v2/tags', status: 503 });
    const write = await call('create_tag', { name: 'x' });
    expect(write.err.retryable).toBe(false);
    expect(write.err.next_step).toMatch(/list_tags|check/i);
  });

  it('upstream text is sanitized and capped (gateway fault with control characters)', async () => {
    await fault({
      ...GET,
      status: 502,
      body: { fault: { faultstring: `bad\u0000\u001b[31m gateway ${'z'.repeat(3000)}`, detail: {} } },
    });
    const { err, text } = await call('get_contact', { contact_id: contactId });
    expect(err.category).toBe('unavailable');
    expect(text).toContain('bad');
    expect(JSON.stringify(err)).not.toMatch(/\\u0000|\\u001b/);
    expect(text.length).toBeLessThan(1600);
  });
});
