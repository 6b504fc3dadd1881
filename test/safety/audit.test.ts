import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { AuditLog, hashValue, redactArgs } from '../../src/safety/audit.js';
import { runAuditCli } from '../../src/safety/audit-cli.js';
import type { AuditRecord } from '../../src/safety/types.js';
import { tmpDir } from './helpers.js';

const rec = (over: Partial<AuditRecord> = {}): AuditRecord => ({
  agent: 'alice',
  session: 's1',
  tool: 'create_contact',
  resource: 'contacts',
  access: 'write',
  decision: 'allowed',
  method: 'POST',
  path: '/v2/contacts',
  status: 201,
  attempts: 1,
  duration_ms: 12,
  args: {},
  ...over,
});

const PERSONAL = {
  given_name: 'Ann',
  family_name: 'Lee',
  email_addresses: [{ email: 'ann.lee@example.com', field: 'EMAIL1' }],
  phone_numbers: [{ number: '+1 555-0100', field: 'PHONE1', type: 'MOBILE' }],
  addresses: [{ line1: '1 Main St', locality: 'Springfield', country_code: 'USA' }],
  notes: 'VIP customer, prefers mornings',
  contact_id: '7',
  tag_ids: ['3', '4'],
  owner_id: 12,
  id: '42',
  key: '17',
  page_size: 25,
  page_token: 'eyJwIjoyfQ',
  opt_in_reason: 'Customer asked',
  duplicate_option: 'EMAIL',
  active: true,
  total: 12.5,
  order_by: 'date_created desc',
  confirmation_token: 'tok.SECRET',
  human_secret: 'open sesame',
  password: 'hunter2',
  x_hook_secret: 'hooksecret',
  api_key: 'KEAPAK-xyz',
};

describe('redaction', () => {
  it('keeps ids, paging, numbers, booleans and enum constants; hashes personal strings; drops secrets', () => {
    const r = redactArgs(PERSONAL) as Record<string, any>;
    expect(r.contact_id).toBe('7');
    expect(r.tag_ids).toEqual(['3', '4']);
    expect(r.owner_id).toBe(12);
    expect(r.id).toBe('42');
    expect(r.key).toBe('17');
    expect(r.page_size).toBe(25);
    expect(r.page_token).toBe('eyJwIjoyfQ');
    expect(r.active).toBe(true);
    expect(r.total).toBe(12.5);
    expect(r.duplicate_option).toBe('EMAIL');
    expect(r.order_by).toBe('date_created desc');
    expect(r.email_addresses[0]).toEqual({ email: hashValue('ann.lee@example.com'), field: 'EMAIL1' });
    expect(r.phone_numbers[0]).toEqual({ number: hashValue('+1 555-0100'), field: 'PHONE1', type: 'MOBILE' });
    expect(r.given_name).toMatch(/^hmac:[0-9a-f]{16}$/);
    expect(r.family_name).toBe(hashValue('Lee'));
    expect(r.addresses[0].line1).toBe(hashValue('1 Main St'));
    expect(r.addresses[0].country_code).toBe('USA');
    expect(r.notes).toBe(hashValue('VIP customer, prefers mornings'));
    expect(r.opt_in_reason).toBe(hashValue('Customer asked'));
    for (const k of ['confirmation_token', 'human_secret', 'password', 'x_hook_secret', 'api_key']) {
      expect(k in r).toBe(false);
    }
    const json = JSON.stringify(r);
    for (const raw of ['ann.lee', '555-0100', 'Ann', 'SECRET', 'sesame', 'hunter2', 'hooksecret', 'KEAPAK']) {
      expect(json).not.toContain(raw);
    }
  });

  it('uppercase values under personal keys are still hashed', () => {
    expect(redactArgs({ given_name: 'BOB', subject: 'SALE' })).toEqual({
      given_name: hashValue('BOB'),
      subject: hashValue('SALE'),
    });
  });
});

describe('audit log file', () => {
  it('appends one JSON line per write, with time first, readable as soon as write() returns', () => {
    const dir = tmpDir();
    const file = join(dir, 'sub', 'audit.jsonl');
    let t = Date.parse('2026-03-04T05:06:07Z');
    const log = new AuditLog({ path: file, logger: silentLogger, now: () => t });
    log.write(rec({ args: PERSONAL }));
    // visible to another reader immediately (written + fsync'd synchronously)
    const lines1 = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines1).toHaveLength(1);
    t += 1000;
    log.write(rec({ decision: 'denied', status: undefined }));
    log.close();
    // a second instance appends; nothing is overwritten
    const log2 = new AuditLog({ path: file, logger: silentLogger });
    log2.write(rec({ decision: 'dry_run' }));
    log2.close();
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(3);
    const first = JSON.parse(lines[0]!);
    expect(Object.keys(first)[0]).toBe('time');
    expect(first.time).toBe('2026-03-04T05:06:07.000Z');
    expect(first).toMatchObject({ agent: 'alice', tool: 'create_contact', decision: 'allowed', status: 201 });
    expect(JSON.parse(lines[1]!).decision).toBe('denied');
    expect(JSON.parse(lines[2]!).decision).toBe('dry_run');
    const text = readFileSync(file, 'utf8');
    for (const raw of ['ann.lee@example.com', '555-0100', 'open sesame', 'tok.SECRET', 'hunter2']) {
      expect(text).not.toContain(raw);
    }
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // write() never throws to its caller, not even on a closed log (the failure is logged)
    expect(() => log.write(rec())).not.toThrow();
  });
});

describe('keap-mcp audit', () => {
  async function run(argv: string[], file: string, now?: number) {
    let out = '';
    const code = await runAuditCli(argv, {
      auditLogPath: file,
      out: (s) => {
        out += s;
      },
      ...(now !== undefined ? { now: () => now } : {}),
    });
    return { code, out };
  }

  it('prints a filtered table', async () => {
    const dir = tmpDir();
    const file = join(dir, 'a.jsonl');
    const base = Date.parse('2026-05-01T10:00:00Z');
    let t = base;
    const log = new AuditLog({ path: file, logger: silentLogger, now: () => t });
    log.write(rec({ agent: 'alice', tool: 'list_contacts', decision: 'allowed', duration_ms: 5 }));
    t += 3_600_000;
    log.write(
      rec({ agent: 'bob', tool: 'delete_contact', decision: 'confirmation_required', status: undefined }),
    );
    t += 60_000;
    log.write(
      rec({ agent: 'bob', tool: 'delete_contact', decision: 'confirmed', status: 204, duration_ms: 40 }),
    );
    log.close();
    writeFileSync(file, `${readFileSync(file, 'utf8')}not json\n`);

    const all = await run([], file);
    expect(all.code).toBe(0);
    const lines = all.out.trim().split('\n');
    expect(lines[0]).toMatch(/^TIME\s+AGENT\s+TOOL\s+DECISION\s+STATUS\s+DURATION/);
    expect(lines).toHaveLength(5);
    expect(all.out).toContain('1 unreadable line skipped');
    expect(lines[3]).toMatch(/bob\s+delete_contact\s+confirmed\s+204\s+40ms/);

    expect((await run(['--agent', 'bob'], file)).out).not.toContain('alice');
    expect((await run(['--tool=list_contacts'], file)).out).toContain('1 record');
    expect((await run(['--tail', '1'], file)).out).toMatch(/confirmed[\s\S]*1 record\b/);
    const since = await run(['--since', '30m'], file, base + 3_600_000 + 120_000);
    expect(since.out).toContain('2 records');
    expect((await run(['--since', '2026-05-01T10:30:00Z'], file)).out).toContain('2 records');
  });

  it('the bin runs it: `keap-mcp audit --agent A --tool T --tail N` reads KEAP_AUDIT_LOG', () => {
    const bin = join(import.meta.dirname, '..', '..', 'dist', 'src', 'index.js');
    const file = join(tmpDir(), 'a.jsonl');
    const log = new AuditLog({ path: file, logger: silentLogger });
    log.write(rec({ agent: 'alice', tool: 'list_contacts' }));
    log.write(rec({ agent: 'bob', tool: 'delete_contact', decision: 'confirmation_required' }));
    log.write(rec({ agent: 'bob', tool: 'delete_contact', decision: 'confirmed', status: 204 }));
    log.write(rec({ agent: 'bob', tool: 'list_tags' }));
    log.close();
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env))
      if (v !== undefined && !k.startsWith('KEAP_')) env[k] = v;
    const r = spawnSync(
      process.execPath,
      [bin, 'audit', '--agent', 'bob', '--tool', 'delete_contact', '--since', '1h', '--tail', '1'],
      { env: { ...env, KEAP_AUDIT_LOG: file }, encoding: 'utf8', timeout: 20_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^TIME\s+AGENT\s+TOOL\s+DECISION/);
    expect(r.stdout).toMatch(/bob\s+delete_contact\s+confirmed\s+204/);
    expect(r.stdout).not.toContain('alice');
    expect(r.stdout).not.toContain('list_tags');
    expect(r.stdout).not.toContain('confirmation_required');
    expect(r.stdout).toContain('1 record');
  });

  it('bad usage → 2, missing file → 1', async () => {
    expect((await run(['--since', 'yesterday'], '/nonexistent')).code).toBe(2);
    expect((await run(['--tail', '0'], '/nonexistent')).code).toBe(2);
    expect((await run(['--bogus', 'x'], '/nonexistent')).code).toBe(2);
    expect((await run([], '/nonexistent/a.jsonl')).code).toBe(1);
  });
});
