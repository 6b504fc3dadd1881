/**
 * Audit hardening: write-ahead intent/outcome (durable across SIGKILL), redaction that never throws, keyed
 * hashes (not reversible by hashing guesses), ids logged raw only when well-formed, rate-limited refusals.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { AuditLog, hashValue, loadAuditKey, redactArgs } from '../../src/safety/audit.js';
import { runAuditCli, UNKNOWN } from '../../src/safety/audit-cli.js';
import { type AuditIntent, type AuditRecord, AuditUnavailableError } from '../../src/safety/types.js';
import { openStateDb } from '../../src/state/db.js';
import { tmpDir } from './helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

const rec = (args: Record<string, unknown>, over: Partial<AuditRecord> = {}): AuditRecord => ({
  agent: 'alice',
  session: 's1',
  tool: 'update_contact',
  resource: 'contacts',
  access: 'write',
  decision: 'allowed',
  args,
  ...over,
});

const intent = (args: Record<string, unknown> = {}, access: 'read' | 'write' = 'write'): AuditIntent => ({
  agent: 'alice',
  session: 's1',
  tool: 'delete_contact',
  resource: 'contacts',
  access,
  decision: 'confirmed',
  method: 'DELETE',
  path: '/v2/contacts/{contact_id}',
  args,
});

function lines(file: string): Record<string, any>[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, any>);
}

async function cli(argv: string[], file: string): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await runAuditCli(argv, {
    auditLogPath: file,
    out: (s) => {
      out += s;
    },
  });
  return { code, out };
}

function deep(depth: number): Record<string, unknown> {
  let v: Record<string, unknown> = { given_name: 'Bottom' };
  for (let i = 0; i < depth; i++) v = { nested: v };
  return v;
}

describe('redaction never throws', () => {
  it('20,000-deep nesting → a record is written with a depth marker', () => {
    const file = join(tmpDir(), 'a.jsonl');
    const log = new AuditLog({ path: file, logger: silentLogger });
    expect(() => log.write(rec({ custom: deep(20_000), contact_id: '7' }))).not.toThrow();
    log.close();
    const [line] = lines(file);
    expect(line?.args.contact_id).toBe('7');
    expect(JSON.stringify(line)).toContain('[truncated: depth>32]');
    expect(JSON.stringify(line)).not.toContain('Bottom');
  });

  it('huge arrays and objects are capped; a throwing getter is not fatal', () => {
    const wide = Array.from({ length: 100_000 }, (_, i) => ({ id: String(i) }));
    const keys: Record<string, unknown> = {};
    for (let i = 0; i < 5_000; i++) keys[`k${i}`] = i;
    const hostile = Object.defineProperty({}, 'boom', {
      enumerable: true,
      get() {
        throw new Error('no');
      },
    });
    const r = redactArgs({ wide, keys, hostile }) as Record<string, any>;
    const json = JSON.stringify(r);
    expect(json.length).toBeLessThan(500_000);
    expect(json).toMatch(/\[truncated: (99000 more items|more than 10000 values)\]/);
    expect(r.keys['[truncated]']).toBe('4000 more keys');
    expect(r.hostile.boom).toBe('[unreadable]');
  });

  it('audit write() never throws to its caller, even after close', () => {
    const file = join(tmpDir(), 'a.jsonl');
    const log = new AuditLog({ path: file, logger: silentLogger });
    log.close();
    expect(() => log.write(rec({}))).not.toThrow();
    expect(() => log.outcome('x', { duration_ms: 1 })).not.toThrow();
    expect(log.refusal({ reason: 'unknown_tool', source: 'mcp', tool: 'x' })).toBe(false);
  });
});

describe('keyed hashes', () => {
  it('HMAC with a per-installation key from the state store: stable across restarts, not a plain SHA-256', () => {
    const dir = tmpDir();
    const state = join(dir, 'state');
    const file = join(dir, 'audit.jsonl');
    const phone = '+1 555-0100';
    const email = 'ann.lee@example.com';

    const db1 = openStateDb(state);
    const key1 = loadAuditKey(db1);
    expect(key1).toHaveLength(32);
    const log1 = new AuditLog({ path: file, logger: silentLogger, hashKey: key1 });
    log1.write(rec({ phone_numbers: [{ number: phone }], email }));
    log1.write(rec({ email }));
    log1.close();
    db1.close();
    expect(statSync(join(state, 'state.sqlite')).mode & 0o777).toBe(0o600);

    // restart: same state dir → same key → same hash
    const db2 = openStateDb(state);
    const key2 = loadAuditKey(db2);
    expect(key2.equals(key1)).toBe(true);
    const log2 = new AuditLog({ path: file, logger: silentLogger, hashKey: key2 });
    log2.write(rec({ email }));
    log2.close();
    db2.close();

    const recs = lines(file);
    const h = hashValue(email, key1);
    expect(h).toMatch(/^hmac:[0-9a-f]{16}$/);
    expect(recs.map((r) => r.args.email)).toEqual([h, h, h]);
    expect(recs[0]?.args.phone_numbers[0].number).toBe(hashValue(phone, key1));

    // another installation hashes differently
    const other = loadAuditKey(openStateDb(undefined));
    expect(hashValue(email, other)).not.toBe(h);

    // no prefix (≥ 8 hex) of the plain SHA-256 of any value appears anywhere
    const text = readFileSync(file, 'utf8');
    for (const v of [phone, email]) {
      const plain = sha256(v);
      for (let i = 0; i + 8 <= plain.length; i++) expect(text).not.toContain(plain.slice(i, i + 8));
    }
  });

  it('ids are kept only when valid; anything else under an id-named field is hashed', () => {
    const long = '9'.repeat(60_000);
    const r = redactArgs({
      contact_id: 'ann.lee@example.com',
      tag_ids: ['12', 'open sesame', 34],
      id: long,
      owner_id: 12,
      key: '17',
      hook_key: 'not-a-key',
      event_key: 'contact.add',
      eventKey: 'contact.add; drop',
      company_id: '123456789012345678901',
      page_token: 'eyJwIjoyfQ==',
      idempotency_key: 'order-2026-0001',
      phone: 5550100,
    }) as Record<string, any>;
    expect(r.contact_id).toMatch(/^hmac:/);
    expect(r.tag_ids[0]).toBe('12');
    expect(r.tag_ids[1]).toMatch(/^hmac:/);
    expect(r.tag_ids[2]).toBe(34);
    expect(r.id).toMatch(/^hmac:[0-9a-f]{16}$/);
    expect(r.owner_id).toBe(12);
    expect(r.key).toBe('17');
    expect(r.hook_key).toMatch(/^hmac:/);
    expect(r.event_key).toBe('contact.add');
    expect(r.eventKey).toMatch(/^hmac:/);
    expect(r.company_id).toMatch(/^hmac:/); // 21 digits: not an id
    expect(r.page_token).toBe('eyJwIjoyfQ==');
    expect(r.idempotency_key).toBe('order-2026-0001');
    expect(r.phone).toMatch(/^hmac:/);
    const json = JSON.stringify(r);
    expect(json).not.toContain('ann.lee');
    expect(json).not.toContain('sesame');
    expect(json.length).toBeLessThan(2_000);
  });

  it('free-form object keys are hashed, safe ones kept', () => {
    const r = redactArgs({ custom: { 'ann@example.com': 'x', plain_key: 1 } }) as Record<string, any>;
    expect(Object.keys(r.custom)).toEqual([hashValue('ann@example.com'), 'plain_key']);
  });
});

describe('write-ahead intent and outcome', () => {
  it('intent is on disk before it resolves; outcome pairs with it in the CLI', async () => {
    const file = join(tmpDir(), 'a.jsonl');
    const log = new AuditLog({ path: file, logger: silentLogger });
    const id = await log.intent(intent({ contact_id: '7', email: 'x@example.com' }));
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const [first] = lines(file);
    expect(first).toMatchObject({
      kind: 'intent',
      call_id: id,
      agent: 'alice',
      tool: 'delete_contact',
      decision: 'confirmed',
      method: 'DELETE',
      path: '/v2/contacts/{contact_id}',
      args: { contact_id: '7' },
    });
    expect(first?.args.email).toMatch(/^hmac:/);
    log.outcome(id, { status: 204, attempts: 1, duration_ms: 12 });
    const unpaired = await log.intent(intent({ contact_id: '8' }));
    log.close();
    const recs = lines(file);
    expect(recs[1]).toMatchObject({ kind: 'outcome', call_id: id, status: 204, tool: 'delete_contact' });
    expect(recs[2]?.call_id).toBe(unpaired);

    const { out } = await cli([], file);
    const rows = out.trim().split('\n');
    expect(rows).toHaveLength(4); // header, 2 calls, count
    expect(rows[1]).toMatch(
      /alice\s+delete_contact\s+confirmed\s+204\s+12ms.*DELETE \/v2\/contacts\/\{contact_id\}\s+completed$/,
    );
    expect(rows[2]).toContain(UNKNOWN);
    expect(out).toContain('2 records');
  });

  it('an intent that cannot be made durable rejects (the caller must not send)', async () => {
    const log = new AuditLog({ path: join(tmpDir(), 'a.jsonl'), logger: silentLogger });
    log.close();
    await expect(log.intent(intent())).rejects.toBeInstanceOf(AuditUnavailableError);
  });

  it('group commit: concurrent intents and outcomes are all written, each once, in call order per call', async () => {
    const file = join(tmpDir(), 'a.jsonl');
    const log = new AuditLog({ path: file, logger: silentLogger });
    const ids = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        log.intent(intent({ contact_id: String(i) }, i % 2 === 0 ? 'write' : 'read')),
      ),
    );
    expect(new Set(ids).size).toBe(40);
    for (const id of ids) log.outcome(id, { status: 200, attempts: 1, duration_ms: 1 });
    await log.durable();
    // Readable before close (and durable: durable() resolved after an fdatasync covering them).
    const recs = lines(file);
    expect(recs).toHaveLength(80);
    for (const id of ids) {
      const own = recs.filter((r) => r.call_id === id).map((r) => r.kind);
      expect(own).toEqual(['intent', 'outcome']);
    }
    log.close();
    await expect(log.durable()).resolves.toBeUndefined();
  });

  it('close() while intents wait for their fdatasync: they complete, nothing is lost', async () => {
    const file = join(tmpDir(), 'a.jsonl');
    const log = new AuditLog({ path: file, logger: silentLogger });
    const pending = Array.from({ length: 5 }, (_, i) => log.intent(intent({ contact_id: String(i) })));
    log.close();
    const ids = await Promise.all(pending);
    expect(lines(file).map((r) => r.call_id)).toEqual(ids);
    await expect(log.intent(intent())).rejects.toBeInstanceOf(AuditUnavailableError);
  });

  it('a process killed with SIGKILL after N intents leaves N "outcome unknown" rows', async () => {
    const mod = join(ROOT, 'dist', 'src', 'safety', 'audit.js');
    expect(existsSync(mod), 'run `npm run build` first').toBe(true);
    const file = join(tmpDir(), 'killed.jsonl');
    const N = 25;
    const script = `
      const { AuditLog } = await import(${JSON.stringify(pathToFileURL(mod).href)});
      const logger = { info() {}, error() {}, warn() {}, debug() {} };
      const log = new AuditLog({ path: ${JSON.stringify(file)}, logger });
      const base = { agent: 'bot', session: 's', tool: 'create_contact', resource: 'contacts', access: 'write',
        decision: 'allowed', method: 'POST', path: '/v2/contacts' };
      const done = await log.intent({ ...base, args: { given_name: 'Paired' } });
      log.outcome(done, { status: 201, attempts: 1, duration_ms: 3 });
      await Promise.all(Array.from({ length: ${N} }, (_, i) => log.intent({ ...base, args: { n: i } })));
      process.stdout.write('ready\\n');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        if (c.toString().includes('ready')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`child exited ${code}: ${stderr}`)));
    });
    const exited = new Promise((r) => child.on('exit', (_c, sig) => r(sig)));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const { out } = await cli([], file);
    expect(out.split('\n').filter((l) => l.includes(UNKNOWN))).toHaveLength(N);
    expect(out.split('\n').filter((l) => /\s201\s.*completed$/.test(l))).toHaveLength(1);
    expect(out).toContain(`${N + 1} records`);
  });
});

describe('refusals', () => {
  it('at most 20 per source and minute, then one counted "suppressed" record', () => {
    const file = join(tmpDir(), 'a.jsonl');
    let t = Date.parse('2026-05-01T10:00:00Z');
    const log = new AuditLog({ path: file, logger: silentLogger, now: () => t });
    const results: boolean[] = [];
    for (let i = 0; i < 25; i++) {
      results.push(log.refusal({ reason: 'wrong_token', source: 'http', remote: '10.0.0.9' }));
    }
    expect(results.filter(Boolean)).toHaveLength(20);
    // another source is counted on its own
    expect(log.refusal({ reason: 'wrong_token', source: 'http', remote: '10.0.0.10' })).toBe(true);
    expect(lines(file)).toHaveLength(21);
    t += 61_000;
    expect(log.refusal({ reason: 'wrong_token', source: 'http', remote: '10.0.0.9' })).toBe(true);
    const recs = lines(file);
    expect(recs).toHaveLength(23);
    expect(recs[21]).toMatchObject({
      kind: 'refusal',
      reason: 'suppressed',
      suppressed: 5,
      remote: '10.0.0.9',
      detail: '5 more refusals suppressed',
    });
    expect(recs[22]).toMatchObject({ kind: 'refusal', reason: 'wrong_token', remote: '10.0.0.9' });
    log.close();
  });

  it('close() writes the pending suppressed count; tool names are sanitized; the CLI shows refusals', async () => {
    const file = join(tmpDir(), 'a.jsonl');
    const log = new AuditLog({ path: file, logger: silentLogger, refusalsPerMinute: 2 });
    log.refusal({ reason: 'unknown_tool', source: 'mcp', agent: 'bob', tool: 'delete_contact_x' });
    log.refusal({ reason: 'unknown_tool', source: 'mcp', agent: 'bob', tool: 'ann@example.com' });
    log.refusal({ reason: 'unknown_tool', source: 'mcp', agent: 'bob', tool: 'x' });
    log.close();
    const recs = lines(file);
    expect(recs).toHaveLength(3);
    expect(recs[0]).toMatchObject({ tool: 'delete_contact_x', agent: 'bob', decision: 'refused' });
    expect(recs[1]?.tool).toMatch(/^hmac:/);
    expect(readFileSync(file, 'utf8')).not.toContain('ann@');
    expect(recs[2]).toMatchObject({ reason: 'suppressed', suppressed: 1 });
    const { out } = await cli(['--decision', 'refused'], file);
    expect(out).toMatch(/bob\s+delete_contact_x\s+refused.*unknown_tool/);
    expect(out).toContain('1 more refusal suppressed');
  });
});

describe('toOutcome', () => {
  it('keeps the outcome fields of a full record; the decision only when it changed', async () => {
    const { toOutcome } = await import('../../src/safety/index.js');
    const full = rec({}, { status: 201, attempts: 2, duration_ms: 9, error_category: 'unavailable' });
    expect(toOutcome(full, 'allowed')).toEqual({
      status: 201,
      attempts: 2,
      duration_ms: 9,
      error_category: 'unavailable',
    });
    expect(toOutcome({ ...full, decision: 'confirmed' }, 'allowed').decision).toBe('confirmed');
  });
});
