/**
 * The operator console in a real browser: Debian's Chromium (/usr/bin/chromium) driven by playwright-core; no
 * browser is ever downloaded. Without Chromium the test is skipped with a printed reason, unless
 * KEAP_MCP_REQUIRE_BROWSER=1 (CI), which makes a missing browser a failure.
 * Screenshots of every page go to test-artifacts/console/. KEAP_MCP_DOCS_SCREENSHOT=1 also refreshes
 * docs/console.png (the README's picture).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argsHash } from '../../src/safety/canonical.js';
import {
  type ConsoleFixture,
  createPaymentApproval,
  OPERATOR_TOKEN,
  PAYMENT_ARGS,
  startConsoleFixture,
  WRONG_TOKEN,
} from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const required = process.env.KEAP_MCP_REQUIRE_BROWSER === '1';
const available = existsSync(CHROMIUM);
const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'console');

if (!available) {
  const why = `console browser test: ${CHROMIUM} not found (install Debian's chromium: apt-get install -y chromium)`;
  if (required) throw new Error(`${why}; KEAP_MCP_REQUIRE_BROWSER=1 requires it`);
  console.warn(`${why}; skipped`);
}

describe.skipIf(!available)('operator console in Chromium', () => {
  let browser: Browser;
  let fx: ConsoleFixture;
  let page: Page;
  const cspErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    fx = await startConsoleFixture();
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
    const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
    page = await context.newPage();
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) cspErrors.push(m.text());
    });
  });

  afterAll(async () => {
    await browser?.close();
    await fx?.close();
  });

  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  it('logs in (a wrong token is refused), approves a pending approval, reads the audit timeline, logs out', async () => {
    const payment = await createPaymentApproval(fx.approvals);

    // No session: the console sends the browser to the login page.
    await page.goto(`${fx.base}/console`);
    expect(new URL(page.url()).pathname).toBe('/console/login');
    await expect(page.title()).resolves.toContain('Log in');
    await shot('login');

    // A wrong operator token: the login page again, with an error.
    await page.getByLabel('Operator token').fill(WRONG_TOKEN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('Wrong operator token.');
    expect(new URL(page.url()).pathname).toBe('/console/login');
    await shot('login-wrong-token');

    // The right token, typed and submitted from the keyboard.
    await page.getByLabel('Operator token').fill(OPERATOR_TOKEN);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${fx.base}/console/approvals`);
    const card = page.locator('section.approval', { hasText: 'create_payment' });
    await card.waitFor();
    // The preview is text: the markup in it is shown, not run; whitespace is kept.
    expect(await card.locator('pre.preview').textContent()).toBe(
      'Charge payment method 12 of contact 7 $25.00 for order 9\n  note: <script>alert("x")</script> & more',
    );
    await card.getByText('Exact request sent to Keap').click();
    expect(JSON.parse((await card.locator('code').textContent()) ?? '')).toEqual(payment.request);
    await shot('approvals');

    // Live refresh: an approval created while the page is open appears without a reload.
    const second = await fx.approvals.create({
      agent: 'ops',
      tool: 'delete_contact',
      request: { method: 'DELETE', path: '/v2/contacts/7' },
      preview: 'Delete contact 7 (Ada Lovelace) and everything attached to it',
      argsHash: argsHash({ contact_id: 7 }),
    });
    const secondCard = page.locator(`section.approval[data-id="${second.id}"]`);
    await secondCard.waitFor({ timeout: 15_000 });
    expect(await page.locator('#pending-count').textContent()).toBe('2');
    if (process.env.KEAP_MCP_DOCS_SCREENSHOT === '1') {
      await page.screenshot({ path: join(process.cwd(), 'docs', 'console.png') });
    }

    // A cross-site POST with this very session is refused: no CSRF token, or a foreign Origin.
    const cookie = (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    const csrf = (await page.locator('input[name="csrf"]').first().getAttribute('value')) ?? '';
    const crossSite = (headers: Record<string, string>, body: string) =>
      fetch(`${fx.base}/console/approvals/${payment.id}/approve`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, ...headers },
        body,
      });
    expect((await crossSite({ origin: 'https://attacker.example' }, `csrf=${csrf}`)).status).toBe(403);
    expect((await crossSite({ origin: fx.base }, '')).status).toBe(403);
    expect((await fx.approvals.get(payment.id))?.status).toBe('pending');

    // Approve the payment with the button.
    await card.getByRole('button', { name: 'Approve: create_payment requested by ops' }).click();
    await page.waitForURL(/done=approved/);
    expect(await page.getByRole('status').first().textContent()).toContain('Approved');
    await expect(page.locator(`section.approval[data-id="${payment.id}"]`).count()).resolves.toBe(0);
    expect((await fx.approvals.get(payment.id))?.status).toBe('approved');
    expect((await fx.approvals.consume(payment.id, 'ops', 'create_payment', argsHash(PAYMENT_ARGS))).ok).toBe(
      true,
    );

    // Deny the other one from the keyboard only.
    await page.locator(`section.approval[data-id="${second.id}"] button.deny`).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/done=denied/);
    expect((await fx.approvals.get(second.id))?.status).toBe('denied');
    await page.locator('#none-pending').waitFor();
    await shot('approvals-decided');

    // Audit timeline: the records written by the audit module, newest first.
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.waitForURL(`${fx.base}/console/audit`);
    // Newest first: the refusals of this test (foreign Origin, wrong token), then the records written before it;
    // the payment call's intent and outcome lines are paired into one row.
    const cells = async (i: number) => page.locator('tbody tr').nth(i).locator('td').allTextContents();
    expect(await page.locator('tbody tr').count()).toBe(5);
    expect((await cells(0))[3]).toBe('refused');
    expect((await cells(0))[6]).toContain('foreign_origin');
    expect((await cells(1))[6]).toContain('wrong_token');
    expect((await cells(2)).slice(1, 7)).toEqual([
      'ops',
      'create_payment',
      'confirmed',
      'POST /v2/orders/{order_id}/payments',
      '201',
      'completed',
    ]);
    await page.getByLabel('Agent').selectOption('reader');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/agent=reader/);
    expect(await page.locator('tbody tr').count()).toBe(1);
    await shot('audit');

    for (const [name, link, text] of [
      ['agents', 'Agents & grants', 'reader'],
      ['budget', 'Keap budget', '149870'],
      ['sessions', 'Sessions', '3f2a9c1e'],
    ] as const) {
      await page.getByRole('link', { name: link }).click();
      await page.waitForURL(`${fx.base}/console/${name}`);
      await page.getByRole('heading', { level: 1 }).waitFor();
      expect(await page.locator('main').textContent()).toContain(text);
      await shot(name);
    }

    // Log out: back at the login page; the console is closed again.
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/console\/login/);
    expect(await page.getByRole('status').textContent()).toContain('You are logged out.');
    await page.goto(`${fx.base}/console/approvals`);
    expect(new URL(page.url()).pathname).toBe('/console/login');
    expect((await crossSite({ origin: fx.base }, `csrf=${csrf}`)).status).toBe(303); // to the login page
    expect(cspErrors).toEqual([]);
  });
});
