/** Acceptance: the audit log records every call and decision, survives kill -9 and holds no secret or raw PII. */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pairCalls, runAuditCli } from '../../src/safety/audit-cli.js';
import { openStateDb } from '../../src/state/db.js';
import { connect, data, type Env, startEnv, text } from './harness.js';
import { sha, tmpDir } from './helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SECRET = 'pink-elephant-42';
const EMAIL = 'audit.person@example.com';
const PHONE = '+1 555 867 5309';

let env: Env;
beforeAll(async () => {
  env = await startEnv();
});
afterAll(async () => {
  await env.close();
});

function readLog(file: string): Record<string, any>[] {
  // One row per call: a write-ahead intent and its outcome (same call_id) are merged, as `keap-mcp audit` shows them.
  return pairCalls(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  ) as Record<string, any>[];
}

describe('audit log', () => {
  it('N calls of mixed outcomes → exactly N records with the right decisions; no secret or raw PII', async () => {
    const log = join(tmpDir(), 'audit.jsonl');
    const db = openStateDb(undefined);
    const policy = {
      human_secret_sha256: sha(SECRET),
      agents: {
        ops: {
          token_sha256: sha('ops-bearer-token'),
          grants: { '*': 'write', hooks: 'none' },
          deny_tools: ['delete_opportunity'],
          human_secret_tools: ['create_order_payment'],
        },
      },
    };
    const conn = await connect(env, { policy, db, auditLogPath: log });
    const human = await connect(env, { policy, db, auditLogPath: log, elicit: { action: 'decline' } });
    const ids = (data(await conn.call('list_contacts', { page_size: 5 })).contacts as { id: number }[]).map(
      (c) => String(c.id),
    );
    const contact = {
      given_name: 'Audrey',
      email_addresses: [{ email: EMAIL, field: 'EMAIL1' }],
      phone_numbers: [{ number: PHONE, field: 'PHONE1' }],
    };
    const expected: string[] = ['allowed']; // the list_contacts above

    await conn.call('create_contact', contact);
    expected.push('allowed');
    await conn.call('create_contact', { ...contact, dry_run: true });
    expected.push('dry_run');
    await conn.call('list_hooks', {});
    expected.push('denied');
    await conn.call('delete_opportunity', { opportunity_id: '1' });
    expected.push('denied');
    const token = data(await conn.call('delete_contact', { contact_id: ids[0] }))
      .confirmation_token as string;
    expected.push('confirmation_required');
    await conn.call('delete_contact', { contact_id: ids[1], confirmation_token: token });
    expected.push('declined'); // rejected: arguments changed
    await conn.call('delete_contact', { contact_id: ids[0], confirmation_token: token });
    expected.push('confirmed');
    await conn.call('create_contact', { ...contact, idempotency_key: 'k-1' });
    expected.push('allowed');
    await conn.call('create_contact', { ...contact, idempotency_key: 'k-1' });
    expected.push('idempotent_replay');
    const pay = {
      order_id: '1',
      payment_amount: 1,
      apply_to_commissions: false,
      payment_method_type: 'Cash',
    };
    const t2 = data(await conn.call('create_order_payment', pay)).confirmation_token as string;
    expected.push('confirmation_required');
    await conn.call('create_order_payment', {
      ...pay,
      confirmation_token: t2,
      human_secret: `${SECRET}-wrong`,
    });
    expected.push('declined');
    await human.call('send_email', {
      contacts: [ids[2]],
      subject: `Hi ${EMAIL}`,
      plain_content: 'x',
      user_id: '1',
    });
    expected.push('declined');
    await conn.call('get_contact', { contact_id: '999999999' });
    expected.push('allowed'); // a 404 is still an allowed call, with its status

    const all = readLog(log);
    // Before a person is asked, the preview reads the records the call names: each read is its own record.
    const reads = all.filter((r) => r.decision === 'preview_read');
    expect(reads.length).toBeGreaterThan(0);
    for (const r of reads) expect(r).toMatchObject({ access: 'read', method: 'GET', agent: 'ops' });
    const records = all.filter((r) => r.decision !== 'preview_read');
    expect(records.map((r) => r.decision)).toEqual(expected);
    for (const r of records) {
      expect(typeof r.time).toBe('string');
      expect(r.agent).toBe('ops');
      expect(typeof r.tool).toBe('string');
      expect(typeof r.resource).toBe('string');
      expect(typeof r.duration_ms).toBe('number');
    }
    const notFound = records.at(-1)!;
    expect(notFound).toMatchObject({
      tool: 'get_contact',
      status: 404,
      error_category: 'not_found',
      path: '/v2/contacts/{contact_id}',
    });
    expect(records[1]).toMatchObject({ tool: 'create_contact', status: 201, method: 'POST', attempts: 1 });
    expect(records[1]!.budget, 'Keap throttle/quota from the x-keap headers').toBeTypeOf('object');
    expect(records[1]!.args.email_addresses[0].email).toMatch(/^hmac:[0-9a-f]{16}$/);
    expect(records[6]!.args.contact_id).toBe(ids[1]);
    expect(records[7]).toMatchObject({
      decision: 'confirmed',
      tool: 'delete_contact',
      args: { contact_id: ids[0] },
    });

    const raw = readFileSync(log, 'utf8');
    for (const s of [
      SECRET,
      `${SECRET}-wrong`,
      token,
      t2,
      'ops-bearer-token',
      EMAIL,
      PHONE,
      '867 5309',
      'Audrey',
    ]) {
      expect(raw).not.toContain(s);
    }
    let out = '';
    expect(
      await runAuditCli(['--decision', 'declined'], {
        auditLogPath: log,
        out: (s) => {
          out += s;
        },
      }),
    ).toBe(0);
    expect(out).toContain('3 records');
    await conn.close();
    await human.close();
  });

  it('survives kill -9 of a spawned server with every completed call present', async () => {
    const entry = join(ROOT, 'dist', 'src', 'index.js');
    if (!existsSync(entry)) {
      try {
        execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'ignore' });
      } catch {
        // tsc exits non-zero on type errors elsewhere but still emits
      }
    }
    expect(existsSync(entry)).toBe(true);
    const log = join(tmpDir(), 'audit.jsonl');
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [entry, '--sandbox'],
      env: { ...(process.env as Record<string, string>), KEAP_AUDIT_LOG: log, KEAP_MCP_LOG_LEVEL: 'error' },
      stderr: 'ignore',
    });
    const client = new Client({ name: 'kill-test', version: '1' });
    await client.connect(transport);
    let completed = 0;
    for (let i = 0; i < 6; i++) {
      const r = await client.callTool({
        name: 'create_contact',
        arguments: { given_name: `K${i}`, email_addresses: [{ email: `k${i}.${EMAIL}`, field: 'EMAIL1' }] },
      });
      expect(text(r as never)).not.toMatch(/not allowed/);
      completed++;
    }
    // calls in flight while the process dies
    const inflight = [0, 1, 2].map((i) =>
      client.callTool({ name: 'list_contacts', arguments: { page_size: i + 1 } }).catch(() => undefined),
    );
    const pid = transport.pid;
    expect(pid).toBeTypeOf('number');
    process.kill(pid!, 'SIGKILL');
    await Promise.allSettled(inflight);
    await client.close().catch(() => undefined);

    const records = readLog(log); // every line parses: no torn record
    const creates = records.filter((r) => r.tool === 'create_contact');
    expect(creates).toHaveLength(completed);
    expect(creates.every((r) => r.decision === 'allowed' && r.status === 201)).toBe(true);
    expect(records.length).toBeLessThanOrEqual(completed + 3);
    expect(readFileSync(log, 'utf8')).not.toContain(EMAIL);
  });
});
