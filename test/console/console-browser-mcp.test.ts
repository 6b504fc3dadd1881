/**
 * End to end, as an operator lives it: the real binary (`node dist/src/index.js --http`) against the sandbox, a real
 * MCP client WITHOUT elicitation over Streamable HTTP asks for a ✋ delete → approval_pending; in Chromium the
 * operator logs in, reads the preview resolved from Keap's data (the contact's name and email), approves it; the
 * model's repeat with approval_id runs exactly once (sandbox request counters); the audit timeline shows it.
 * Skipped with a printed reason without /usr/bin/chromium, unless KEAP_MCP_REQUIRE_BROWSER=1.
 * Screenshots go to test-artifacts/console/ (mcp-*.png).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { counts, data, type Env, resetCounts, startEnv, text, writes } from '../safety/harness.js';
import { sha, tmpDir, writeJson } from '../safety/helpers.js';
import { AGENT_TOKEN, OPERATOR_TOKEN } from './helpers.js';
import { ensureBuilt, type Spawned, spawnKeapMcp } from './spawn.js';

const CHROMIUM = '/usr/bin/chromium';
const required = process.env.KEAP_MCP_REQUIRE_BROWSER === '1';
const available = existsSync(CHROMIUM);
const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'console');

if (!available) {
  const why = `console browser test (MCP): ${CHROMIUM} not found (install Debian's chromium: apt-get install -y chromium)`;
  if (required) throw new Error(`${why}; KEAP_MCP_REQUIRE_BROWSER=1 requires it`);
  console.warn(`${why}; skipped`);
}

interface SandboxContact {
  id: string;
  given_name: string;
  family_name: string;
  email_addresses?: { email: string }[];
}

describe.skipIf(!available)('a real MCP call approved in Chromium', () => {
  let browser: Browser;
  let env: Env;
  let server: Spawned;
  let client: Client;
  let base: string;
  let page: Page;
  const cspErrors: string[] = [];

  beforeAll(async () => {
    ensureBuilt();
    mkdirSync(ARTIFACTS, { recursive: true });
    env = await startEnv(); // the sandbox with its control surface (/__sandbox/requests)
    const dir = tmpDir('keap-console-mcp-');
    const policyFile = writeJson(dir, 'policy.json', {
      operator_token_sha256: sha(OPERATOR_TOKEN),
      // No confirm_via: a client without elicitation falls back to the console because an operator token is set.
      agents: { ops: { token_sha256: sha(AGENT_TOKEN), grants: { '*': 'write' } } },
    });
    server = spawnKeapMcp(
      ['--http', '--port', '0'],
      {
        KEAP_API_KEY: 'test-key',
        KEAP_API_BASE_URL: env.sb.baseUrl,
        KEAP_POLICY: policyFile,
        KEAP_MCP_STATE_DIR: dir,
        KEAP_MCP_LOG_LEVEL: 'warn',
      },
      dir,
    );
    const mcp = (
      await server.waitFor(/MCP over Streamable HTTP at (http:\/\/127\.0\.0\.1:\d+\/mcp)/)
    )[1] as string;
    base = mcp.replace(/\/mcp$/, '');
    client = new Client({ name: 'no-elicitation-client', version: '1.0.0' }); // no capabilities
    await client.connect(
      new StreamableHTTPClientTransport(new URL(mcp), {
        requestInit: { headers: { authorization: `Bearer ${AGENT_TOKEN}` } },
      }),
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    page = await (await browser.newContext({ viewport: { width: 1100, height: 760 } })).newPage();
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) cspErrors.push(m.text());
    });
  }, 180_000);

  afterAll(async () => {
    await client?.close();
    await browser?.close();
    const e = await server?.stop();
    await env?.close();
    expect(e?.code, server?.stderr()).toBe(0);
  });

  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  const call = async (args: Record<string, unknown>) =>
    (await client.callTool({ name: 'delete_contact', arguments: args })) as CallToolResult;
  const sandboxGet = (path: string) =>
    fetch(`${env.sb.baseUrl}${path}`, { headers: { 'X-Keap-API-Key': 'k' } });

  it('delete_contact → pending → approved in the console (name and email shown) → runs exactly once', async () => {
    // A seeded contact, read straight from the sandbox: the preview must name this person.
    const list = (await (await sandboxGet('/v2/contacts?page_size=5')).json()) as {
      contacts: { id: string }[];
    };
    const id = String(list.contacts[3]?.id);
    const contact = (await (await sandboxGet(`/v2/contacts/${id}`)).json()) as SandboxContact;
    const name = `${contact.given_name} ${contact.family_name}`;
    const email = contact.email_addresses?.[0]?.email;
    expect(contact.given_name).toBeTruthy();
    expect(email).toMatch(/@/);
    await resetCounts(env.sb);

    // The model asks; without elicitation the call becomes a pending approval and nothing is written.
    const first = await call({ contact_id: id });
    expect(first.isError, text(first)).toBeFalsy();
    const pending = data(first);
    expect(pending.approval_pending).toBe(true);
    expect(typeof pending.approval_id).toBe('string');
    expect(pending.preview).toContain(name);
    expect(writes(await counts(env.sb))).toBe(0);

    // The operator logs in.
    await page.goto(`${base}/console`);
    expect(new URL(page.url()).pathname).toBe('/console/login');
    await shot('mcp-login');
    await page.getByLabel('Operator token').fill(OPERATOR_TOKEN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${base}/console/approvals`);

    // The pending approval with the resolved preview: the contact's real name and email, the exact request.
    const card = page.locator(`section.approval[data-id="${pending.approval_id}"]`);
    await card.waitFor();
    const preview = (await card.locator('pre.preview').textContent()) ?? '';
    expect(preview).toContain(name);
    expect(preview).toContain(email);
    expect(preview).toContain(id);
    expect(await card.textContent()).toContain('delete_contact');
    await card.getByText('Exact request sent to Keap').click();
    expect(JSON.parse((await card.locator('code').textContent()) ?? '')).toEqual({
      method: 'DELETE',
      path: `/v2/contacts/${id}`,
    });
    expect(await page.locator('#pending-count').textContent()).toBe('1');
    await shot('mcp-approvals');

    // Approve: it leaves the pending list.
    await card.getByRole('button', { name: 'Approve: delete_contact requested by ops' }).click();
    await page.waitForURL(/done=approved/);
    expect(await page.getByRole('status').first().textContent()).toContain('Approved');
    await expect(page.locator(`section.approval[data-id="${pending.approval_id}"]`).count()).resolves.toBe(0);
    await page.locator('#none-pending').waitFor();
    await shot('mcp-approvals-approved');
    expect(writes(await counts(env.sb))).toBe(0); // approving runs nothing by itself

    // The model repeats with the approval_id: the stored request runs exactly once.
    const run = await call({ contact_id: id, approval_id: pending.approval_id });
    expect(run.isError, text(run)).toBeFalsy();
    const c = await counts(env.sb);
    expect(writes(c)).toBe(1);
    expect(c.routes['DELETE /v2/contacts/{contact_id}']).toMatchObject({ count: 1, effective: 1 });
    expect((await sandboxGet(`/v2/contacts/${id}`)).status).toBe(404);
    // A replay is refused and writes nothing.
    const again = await call({ contact_id: id, approval_id: pending.approval_id });
    expect(again.isError).toBe(true);
    expect(text(again)).toContain('already used');
    expect(writes(await counts(env.sb))).toBe(1);

    // The audit timeline shows the call that ran.
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.waitForURL(`${base}/console/audit`);
    const rows = page.locator('tbody tr', { hasText: 'delete_contact' });
    const texts = await rows.allTextContents();
    const ran = texts.filter(
      (t) => t.includes('DELETE /v2/contacts/{contact_id}') && t.includes('completed'),
    );
    expect(ran, texts.join('\n')).toHaveLength(1);
    expect(ran[0]).toContain('ops');
    await shot('mcp-audit');

    // Log out: the console is closed again.
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/console\/login/);
    expect(await page.getByRole('status').textContent()).toContain('You are logged out.');
    await page.goto(`${base}/console/approvals`);
    expect(new URL(page.url()).pathname).toBe('/console/login');
    await shot('mcp-logged-out');
    expect(cspErrors).toEqual([]);
  }, 120_000);
});
