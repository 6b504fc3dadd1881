import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type BudgetSnapshot, createConsole, type SessionSnapshot } from '../../src/console/console.js';
import { Approvals } from '../../src/safety/approvals.js';
import { AuditLog } from '../../src/safety/audit.js';
import { argsHash } from '../../src/safety/canonical.js';
import { Policy, parsePolicy } from '../../src/safety/policy.js';
import { openStateDb } from '../../src/state/db.js';
import { captureLogger } from '../client/helpers.js';
import { sha, tmpDir } from '../safety/helpers.js';

export const OPERATOR_TOKEN = 'operator-console-token-5b1e';
export const WRONG_TOKEN = 'not-the-operator-token-77';
export const AGENT_TOKEN = 'ops-bearer-token';

export const PAYMENT_ARGS = { order_id: 9, payment_method_id: 12, amount: 25 };
export const PAYMENT_PREVIEW =
  'Charge payment method 12 of contact 7 $25.00 for order 9\n  note: <script>alert("x")</script> & more';

export interface ConsoleFixture {
  readonly base: string;
  readonly approvals: Approvals;
  readonly auditPath: string;
  readonly audit: AuditLog;
  readonly log: () => string;
  close(): Promise<void>;
}

/**
 * An operator console mounted the way the HTTP server mounts it (handle() first, 404 otherwise), with an
 * approvals store in a real state DB, a real audit log file holding a few records, and a real policy.
 */
export async function startConsoleFixture(
  opts: { operatorToken?: boolean; allowedHosts?: readonly string[] } = {},
): Promise<ConsoleFixture> {
  const dir = tmpDir('keap-console-');
  const db = openStateDb(dir);
  const approvals = new Approvals({ db });
  const { logger, text } = captureLogger();
  const auditPath = join(dir, 'audit.jsonl');
  const audit = new AuditLog({ path: auditPath, logger });
  const base = {
    agent: 'ops',
    session: 'sess-abc',
    resource: 'contacts',
    access: 'read',
    args: { contact_id: 7 },
  };
  audit.write({
    ...base,
    tool: 'get_contact',
    decision: 'allowed',
    method: 'GET',
    path: '/v2/contacts/{contact_id}',
    status: 200,
    duration_ms: 12,
  });
  audit.write({ ...base, agent: 'reader', tool: 'delete_contact', access: 'write', decision: 'denied' });
  const callId = await audit.intent({
    ...base,
    tool: 'create_payment',
    resource: 'orders',
    access: 'write',
    decision: 'confirmed',
    method: 'POST',
    path: '/v2/orders/{order_id}/payments',
    args: PAYMENT_ARGS,
  });
  audit.outcome(callId, { status: 201, duration_ms: 40 });
  const policy = new Policy(
    parsePolicy(
      JSON.stringify({
        operator_token_sha256: sha(OPERATOR_TOKEN),
        agents: {
          ops: { token_sha256: sha(AGENT_TOKEN), grants: { '*': 'write' }, confirm_via: 'console' },
          reader: { grants: { contacts: 'read', tags: 'read' } },
        },
      }),
    ),
    { readOnly: false },
  );
  const budget = (): BudgetSnapshot[] => [
    {
      credential: 'api key',
      throttleAvailable: 9,
      quotaAvailable: 149_870,
      tenantAvailable: 30,
      at: Date.now() - 5000,
    },
  ];
  const sessions = (): SessionSnapshot[] => [{ id: '3f2a9c1e', agent: 'ops', age_s: 620, idle_s: 4 }];
  const app = createConsole({
    approvals,
    auditLogPath: auditPath,
    policy,
    budget,
    sessions,
    allowedHosts: opts.allowedHosts ?? ['127.0.0.1', 'localhost'],
    operatorTokenSha256: opts.operatorToken === false ? undefined : sha(OPERATOR_TOKEN),
    audit,
    logger,
  });
  const server: Server = createServer((req, res) => {
    void app.handle(req, res).then((handled) => {
      if (handled) return;
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'not_found', message: 'Not found: the MCP endpoint is /mcp' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    base: `http://127.0.0.1:${port}`,
    approvals,
    auditPath,
    audit,
    log: text,
    async close() {
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
      audit.close();
      db.close();
    },
  };
}

export async function createPaymentApproval(approvals: Approvals) {
  return await approvals.create({
    agent: 'ops',
    tool: 'create_payment',
    request: { method: 'POST', path: '/v2/orders/9/payments', body: { payment_method_id: 12, amount: 25 } },
    preview: PAYMENT_PREVIEW,
    argsHash: argsHash(PAYMENT_ARGS),
    session: 'sess-abc',
  });
}

/** Logs in with fetch; returns the cookie header value and the CSRF token from the approvals page. */
export async function login(base: string, token = OPERATOR_TOKEN): Promise<{ cookie: string; csrf: string }> {
  const res = await fetch(`${base}/console/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base },
    body: new URLSearchParams({ token }).toString(),
  });
  if (res.status !== 303) throw new Error(`login failed: ${res.status}`);
  const set = res.headers.get('set-cookie') ?? '';
  const cookie = set.split(';')[0] ?? '';
  const page = await (await fetch(`${base}/console/approvals`, { headers: { cookie } })).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
  if (csrf === undefined) throw new Error('no csrf token on the page');
  return { cookie, csrf };
}
