/**
 * Console approvals through real MCP clients without elicitation, against the sandbox: the ✋ call becomes a
 * pending approval with the resolved preview; the operator approves it in the console (HTTP, login + CSRF); the
 * model's repeat with approval_id runs the stored request exactly once. Deny, expiry, replay, changed arguments
 * and another agent's approval → 0 writes and a clear error. A call with a progressToken is held until the
 * operator decides. Approvals survive a restart (state directory).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createConsole } from '../../src/console/console.js';
import { silentLogger } from '../../src/logger.js';
import type { Approvals } from '../../src/safety/approvals.js';
import { createSafety } from '../../src/safety/index.js';
import { PolicyError } from '../../src/safety/policy.js';
import type { SafetyApi } from '../../src/safety/types.js';
import { openStateDb, type StateDb } from '../../src/state/db.js';
import { login } from '../console/helpers.js';
import {
  type Conn,
  connect,
  counts,
  data,
  type Env,
  resetCounts,
  startEnv,
  text,
  writes,
} from './harness.js';
import { sha, tmpDir, writeJson } from './helpers.js';

const OPERATOR = 'operator-token-for-approvals-3c9d';
const policy = {
  operator_token_sha256: sha(OPERATOR),
  agents: {
    ops: { grants: { '*': 'write' }, confirm_via: 'console' },
    other: { grants: { '*': 'write' }, confirm_via: 'console' },
    plain: { grants: { '*': 'write' } },
  },
};

let env: Env;
let contactIds: string[] = [];
beforeAll(async () => {
  env = await startEnv();
  const r = await fetch(`${env.sb.baseUrl}/v2/contacts?page_size=40`, { headers: { 'X-Keap-API-Key': 'k' } });
  contactIds = ((await r.json()) as { contacts: { id: string }[] }).contacts.map((c) => String(c.id));
});
afterAll(async () => {
  await env.close();
});
beforeEach(async () => {
  await resetCounts(env.sb);
});

const written = async () => writes(await counts(env.sb));
let next = 10;
/** A contact no other test of this file touches. */
const fresh = () => contactIds[next++] as string;

/** The operator console on its own port over one approvals store, logged in. */
async function operator(store: Approvals) {
  const app = createConsole({
    approvals: store,
    policy: createSafety({
      policyFile: writeJson(tmpDir(), 'p.json', policy),
      readOnly: false,
      sandbox: true,
      db: openStateDb(undefined),
      logger: silentLogger,
    }).policy,
    allowedHosts: ['127.0.0.1', 'localhost'],
    operatorTokenSha256: sha(OPERATOR),
  });
  const server: Server = createServer((req, res) => {
    void app.handle(req, res).then((handled) => {
      if (!handled) res.writeHead(404).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { cookie, csrf } = await login(base, OPERATOR);
  const decide = async (id: string, action: 'approve' | 'deny') => {
    const r = await fetch(`${base}/console/approvals/${id}/${action}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, origin: base },
      body: new URLSearchParams({ csrf }).toString(),
    });
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe(
      `/console/approvals?done=${action === 'approve' ? 'approved' : 'denied'}`,
    );
  };
  const page = async () => (await fetch(`${base}/console/approvals`, { headers: { cookie } })).text();
  return {
    approve: (id: string) => decide(id, 'approve'),
    deny: (id: string) => decide(id, 'deny'),
    page,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

function storeOf(safety: SafetyApi): Approvals {
  const s = safety.approvals?.store;
  if (s === undefined) throw new Error('no approvals store');
  return s as Approvals;
}

async function agentConn(
  agent: string,
  db: StateDb,
  extra: Parameters<typeof connect>[1] = {},
): Promise<Conn> {
  return connect(env, { policy, agent, db, ...extra, safety: { approvalWaitMs: 0, ...extra.safety } });
}

describe('console approvals: pending → approved in the console → the repeat runs once', () => {
  it('the stored request runs exactly once; the preview names the person; replay is refused', async () => {
    const db = openStateDb(undefined);
    const conn = await agentConn('ops', db);
    const op = await operator(storeOf(conn.safety));
    const listed = (await conn.client.listTools()).tools.find((t) => t.name === 'delete_contact');
    expect(Object.keys(listed?.inputSchema.properties ?? {})).toContain('approval_id');
    expect(Object.keys(listed?.inputSchema.properties ?? {})).not.toContain('human_secret');

    const id = fresh();
    const contact = (await (
      await fetch(`${env.sb.baseUrl}/v2/contacts/${id}`, { headers: { 'X-Keap-API-Key': 'k' } })
    ).json()) as { given_name: string; family_name: string };
    const first = data(await conn.call('delete_contact', { contact_id: id }));
    expect(first.approval_pending).toBe(true);
    expect(first.confirmation_token).toBeUndefined();
    expect(typeof first.approval_id).toBe('string');
    expect(first.instructions).toContain('operator console');
    expect(first.preview).toContain(`${contact.given_name} ${contact.family_name}`);
    expect(Date.parse(first.expires_at)).toBeGreaterThan(Date.now());
    expect(await written()).toBe(0);

    const stored = await storeOf(conn.safety).get(first.approval_id);
    expect(stored?.request).toEqual({ method: 'DELETE', path: `/v2/contacts/${id}` });
    expect(stored?.preview.split('\n')[1]).toContain(`${contact.given_name} ${contact.family_name} <`);
    // the operator sees the resolved preview in the console
    expect(await op.page()).toContain(`${contact.given_name} ${contact.family_name} &lt;`);

    // before the operator decides: pending, nothing runs
    const early = await conn.call('delete_contact', { contact_id: id, approval_id: first.approval_id });
    expect(early.isError).toBe(true);
    expect(text(early)).toContain('has not approved this action yet');
    expect(await written()).toBe(0);

    await op.approve(first.approval_id);
    const run = await conn.call('delete_contact', { contact_id: id, approval_id: first.approval_id });
    expect(run.isError, text(run)).toBeFalsy();
    const c = await counts(env.sb);
    expect(writes(c)).toBe(1);
    expect(Object.keys(c.routes).filter((k) => k.startsWith('DELETE '))).toHaveLength(1);

    const again = await conn.call('delete_contact', { contact_id: id, approval_id: first.approval_id });
    expect(again.isError).toBe(true);
    expect(text(again)).toContain('already used');
    expect(await written()).toBe(1);
    await op.close();
    await conn.close();
  });

  it('deny, changed arguments, another agent, a made-up id → 0 writes and a clear error', async () => {
    const db = openStateDb(undefined);
    const conn = await agentConn('ops', db);
    const other = await agentConn('other', db);
    const op = await operator(storeOf(conn.safety));

    const a = fresh();
    const denied = data(await conn.call('delete_contact', { contact_id: a }));
    await op.deny(denied.approval_id);
    const r1 = await conn.call('delete_contact', { contact_id: a, approval_id: denied.approval_id });
    expect(r1.isError).toBe(true);
    expect(data(r1).error.category).toBe('confirmation');
    expect(text(r1)).toContain('The operator denied this action');

    const b = fresh();
    const ok = data(await conn.call('delete_contact', { contact_id: b }));
    await op.approve(ok.approval_id);
    const changed = await conn.call('delete_contact', { contact_id: fresh(), approval_id: ok.approval_id });
    expect(changed.isError).toBe(true);
    expect(text(changed)).toContain('arguments differ');
    const foreign = await other.call('delete_contact', { contact_id: b, approval_id: ok.approval_id });
    expect(foreign.isError).toBe(true);
    expect(text(foreign)).toContain('another agent');
    const madeUp = await conn.call('delete_contact', { contact_id: b, approval_id: 'A'.repeat(22) });
    expect(text(madeUp)).toContain('No approval with this id exists');
    expect(await written()).toBe(0);
    // the approval is still good for its own agent and arguments, once
    const run = await conn.call('delete_contact', { contact_id: b, approval_id: ok.approval_id });
    expect(run.isError, text(run)).toBeFalsy();
    expect(await written()).toBe(1);
    await op.close();
    await conn.close();
    await other.close();
  });

  it('an approval expires: approved but repeated too late → 0 writes', async () => {
    let t = Date.now();
    const db = openStateDb(undefined);
    const conn = await agentConn('ops', db, { now: () => t, safety: { approvalTtlMs: 60_000 } });
    const op = await operator(storeOf(conn.safety));
    const id = fresh();
    const p = data(await conn.call('delete_contact', { contact_id: id }));
    expect(Date.parse(p.expires_at) - t).toBe(60_000);
    await op.approve(p.approval_id);
    t += 61_000;
    const late = await conn.call('delete_contact', { contact_id: id, approval_id: p.approval_id });
    expect(late.isError).toBe(true);
    expect(text(late)).toContain('expired');
    expect(await written()).toBe(0);
    await op.close();
    await conn.close();
  });

  it('survives a restart: pending before, approved after reopening the state directory → runs once', async () => {
    const dir = tmpDir();
    const id = fresh();
    let db = openStateDb(dir);
    let conn = await agentConn('ops', db);
    const p = data(await conn.call('delete_contact', { contact_id: id }));
    await conn.close();
    db.close();

    db = openStateDb(dir);
    conn = await agentConn('ops', db);
    const op = await operator(storeOf(conn.safety));
    expect(await op.page()).toContain(p.approval_id);
    await op.approve(p.approval_id);
    const run = await conn.call('delete_contact', { contact_id: id, approval_id: p.approval_id });
    expect(run.isError, text(run)).toBeFalsy();
    const again = await conn.call('delete_contact', { contact_id: id, approval_id: p.approval_id });
    expect(text(again)).toContain('already used');
    expect(await written()).toBe(1);
    await op.close();
    await conn.close();
    db.close();
  });
});

describe('a held call: with a progressToken the server waits for the operator', () => {
  it('progress notifications while pending; approved in the console → the call completes with one write', async () => {
    const db = openStateDb(undefined);
    const conn = await agentConn('ops', db, { safety: { approvalWaitMs: 30_000, approvalPollMs: 20 } });
    const op = await operator(storeOf(conn.safety));
    const id = fresh();
    const progress: string[] = [];
    let approving: Promise<void> | undefined;
    let looking = false;
    const result = (await conn.client.callTool(
      { name: 'delete_contact', arguments: { contact_id: id } },
      undefined,
      {
        onprogress: (p) => {
          progress.push(String(p.message));
          if (approving === undefined && !looking) {
            looking = true;
            void storeOf(conn.safety)
              .listPending()
              .then((list) => {
                looking = false;
                if (list[0] && approving === undefined) approving = op.approve(list[0].id);
              });
          }
        },
        timeout: 30_000,
      },
    )) as CallToolResult;
    await approving;
    expect(result.isError, text(result)).toBeFalsy();
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[0]).toContain('Waiting for the operator');
    expect(await written()).toBe(1);
    await op.close();
    await conn.close();
  });

  it('denied while held → declined at once, 0 writes', async () => {
    const db = openStateDb(undefined);
    const conn = await agentConn('ops', db, { safety: { approvalWaitMs: 30_000, approvalPollMs: 20 } });
    const op = await operator(storeOf(conn.safety));
    let denying: Promise<void> | undefined;
    let looking = false;
    const result = (await conn.client.callTool(
      { name: 'delete_contact', arguments: { contact_id: fresh() } },
      undefined,
      {
        onprogress: () => {
          if (denying === undefined && !looking) {
            looking = true;
            void storeOf(conn.safety)
              .listPending()
              .then((list) => {
                looking = false;
                if (list[0] && denying === undefined) denying = op.deny(list[0].id);
              });
          }
        },
        timeout: 30_000,
      },
    )) as CallToolResult;
    await denying;
    expect(data(result).declined).toBe(true);
    expect(text(result)).toContain('The operator denied this action');
    expect(await written()).toBe(0);
    await op.close();
    await conn.close();
  });
});

describe('routing and start-up', () => {
  it('confirm_via "any" without elicitation, a console configured → a pending approval instead of a token', async () => {
    const db = openStateDb(undefined);
    const plain = await agentConn('plain', db);
    const r = data(await plain.call('delete_contact', { contact_id: fresh() }));
    expect(r.approval_pending).toBe(true);
    expect(r.confirmation_token).toBeUndefined();
    // a client with a form is asked in the form
    const withForm = await agentConn('plain', db, { elicit: { action: 'decline' } });
    const f = data(await withForm.call('delete_contact', { contact_id: fresh() }));
    expect(f.declined).toBe(true);
    expect(withForm.elicitations).toHaveLength(1);
    expect(await written()).toBe(0);
    await plain.close();
    await withForm.close();
  });

  it('a console agent with a form-capable client still goes to the console', async () => {
    const db = openStateDb(undefined);
    const conn = await agentConn('ops', db, { elicit: { action: 'accept', content: { confirm: true } } });
    const r = data(await conn.call('delete_contact', { contact_id: fresh() }));
    expect(r.approval_pending).toBe(true);
    expect(conn.elicitations).toHaveLength(0);
    expect(await written()).toBe(0);
    await conn.close();
  });

  it('refuses to start when an agent confirms via the console but no operator token is configured', async () => {
    const { operator_token_sha256: _, ...noToken } = policy;
    const file = writeJson(tmpDir(), 'p.json', noToken);
    const make = (operatorTokenSha256?: string) =>
      createSafety({
        policyFile: file,
        readOnly: false,
        sandbox: true,
        db: openStateDb(undefined),
        logger: silentLogger,
        ...(operatorTokenSha256 ? { operatorTokenSha256 } : {}),
      });
    expect(() => make()).toThrow(PolicyError);
    expect(() => make()).toThrow(
      /"ops", "other" confirm via the operator console .* KEAP_MCP_OPERATOR_TOKEN_SHA256/,
    );
    // the environment's token is enough
    expect(make(sha(OPERATOR)).approvals.consoleEnabled).toBe(true);
  });
});

describe('spoofing: the console approval preview keeps the facts first', () => {
  it('a subject with newlines and 1,000 characters cannot push the recipients out of the first lines', async () => {
    const db = openStateDb(undefined);
    const conn = await agentConn('ops', db);
    const to = fresh();
    const r = data(
      await conn.call('send_email', {
        contacts: [to],
        subject: `Approved by the operator\n\nCharge: nothing\n${'A'.repeat(940)}`,
        plain_content: 'Line one\n\n\nApprove this.',
        user_id: '1',
      }),
    );
    const p = (await storeOf(conn.safety).get(r.approval_id))?.preview ?? '';
    const lines = p.split('\n');
    expect(lines[0]).toBe(`Email contacts ${to} from user 1`);
    expect(lines[1]).toBe('1 contact:');
    expect(lines[2]).toContain(`(contact ${to})`);
    expect(lines[3]).toMatch(/^From: .* \(user 1\)$/);
    const subject = lines.find((l) => l.startsWith('  subject: ')) ?? '';
    expect(subject).toContain('"Approved by the operator\\n\\nCharge: nothing\\nAAA');
    expect(subject.endsWith('…"')).toBe(true);
    expect(lines.filter((l) => l.startsWith('Charge'))).toHaveLength(0);
    expect(await written()).toBe(0);
    await conn.close();
  });
});
