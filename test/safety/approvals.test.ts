import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { APPROVAL_TTL_MS, Approvals, type NewApproval } from '../../src/safety/approvals.js';
import { argsHash } from '../../src/safety/canonical.js';
import { openStateDb } from '../../src/state/db.js';
import { tmpDir } from './helpers.js';

function setup(dir?: string, start = 1_000_000) {
  const clock = { t: start };
  const db = openStateDb(dir);
  return {
    db,
    clock,
    store: new Approvals({ db, now: () => clock.t }),
    advance: (ms: number) => {
      clock.t += ms;
    },
  };
}

const args = { contact_id: 7, total: 25 };
const h = argsHash(args);
const input: NewApproval = {
  agent: 'bot',
  tool: 'create_payment',
  request: { method: 'POST', path: '/v2/orders/9/payments', body: { amount: 25, note: 'x' } },
  preview: 'Charge contact 7 $25.00 for order 9',
  argsHash: h,
  session: 'sess-1',
};

describe('approvals store', () => {
  it('creates an unguessable, pending approval that holds the exact request', async () => {
    const { store } = setup();
    const a = await store.create(input);
    const b = await store.create(input);
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(a.id).not.toBe(b.id);
    expect(a.status).toBe('pending');
    expect(a.expiresAt - a.createdAt).toBe(APPROVAL_TTL_MS);
    expect(await store.get(a.id)).toMatchObject({
      agent: 'bot',
      tool: 'create_payment',
      request: input.request,
      preview: input.preview,
      argsHash: h,
      session: 'sess-1',
      status: 'pending',
    });
    expect((await store.listPending()).map((x) => x.id)).toEqual([a.id, b.id]);
    expect(await store.get('nope')).toBeUndefined();
  });

  it('approved → consumed once by the same agent, tool and arguments; records who decided and when', async () => {
    const { store, advance } = setup();
    const a = await store.create(input);
    expect(await store.consume(a.id, 'bot', 'create_payment', h)).toMatchObject({
      ok: false,
      reason: 'pending',
    });
    advance(1000);
    const d = await store.approve(a.id, 'operator:alice');
    expect(d.ok).toBe(true);
    expect(await store.get(a.id)).toMatchObject({
      status: 'approved',
      decidedBy: 'operator:alice',
      decidedAt: 1_001_000,
    });
    expect(await store.listPending()).toEqual([]);
    const c = await store.consume(a.id, 'bot', 'create_payment', h);
    expect(c.ok).toBe(true);
    if (c.ok) expect(c.approval.request).toEqual(input.request);
    expect((await store.get(a.id))?.status).toBe('consumed');
    expect(await store.consume(a.id, 'bot', 'create_payment', h)).toMatchObject({
      ok: false,
      reason: 'consumed',
    });
    // a decided approval cannot be decided again
    expect(await store.deny(a.id, 'operator:bob')).toMatchObject({ ok: false, reason: 'already_decided' });
  });

  it('refuses another agent, another tool and changed arguments without burning the approval', async () => {
    const { store } = setup();
    const a = await store.create(input);
    await store.approve(a.id, 'op');
    const other = await store.consume(a.id, 'intruder', 'create_payment', h);
    expect(other).toMatchObject({ ok: false, reason: 'other_agent' });
    if (!other.ok) expect(other.message).not.toContain('create_payment');
    expect(await store.consume(a.id, 'bot', 'delete_contact', h)).toMatchObject({
      ok: false,
      reason: 'other_tool',
    });
    const changed = await store.consume(a.id, 'bot', 'create_payment', argsHash({ ...args, total: 2500 }));
    expect(changed).toMatchObject({ ok: false, reason: 'changed_args' });
    if (!changed.ok) expect(changed.message).toMatch(/arguments differ/);
    expect((await store.consume(a.id, 'bot', 'create_payment', h)).ok).toBe(true);
  });

  it('denied → refused with the reason; unknown ids are refused', async () => {
    const { store } = setup();
    const a = await store.create(input);
    expect((await store.deny(a.id, 'op')).ok).toBe(true);
    expect((await store.get(a.id))?.status).toBe('denied');
    const r = await store.consume(a.id, 'bot', 'create_payment', h);
    expect(r).toMatchObject({ ok: false, reason: 'denied' });
    if (!r.ok) expect(r.message).toMatch(/denied/);
    expect(await store.approve(a.id, 'op')).toMatchObject({ ok: false, reason: 'already_decided' });
    expect(await store.consume('AAAAAAAAAAAAAAAAAAAAAA', 'bot', 'create_payment', h)).toMatchObject({
      ok: false,
      reason: 'unknown',
    });
    expect(await store.consume("x' OR 1=1 --", 'bot', 'create_payment', h)).toMatchObject({
      ok: false,
      reason: 'unknown',
    });
    expect(await store.approve('AAAAAAAAAAAAAAAAAAAAAA', 'op')).toMatchObject({
      ok: false,
      reason: 'unknown',
    });
  });

  it('expires after 10 minutes: neither decidable nor consumable, gone from the pending list', async () => {
    const { store, advance } = setup();
    const a = await store.create(input);
    const b = await store.create(input);
    await store.approve(b.id, 'op');
    advance(APPROVAL_TTL_MS - 1);
    expect((await store.listPending()).map((x) => x.id)).toEqual([a.id]);
    advance(1);
    expect(await store.listPending()).toEqual([]);
    expect((await store.get(a.id))?.status).toBe('expired');
    expect(await store.approve(a.id, 'op')).toMatchObject({ ok: false, reason: 'expired' });
    expect(await store.consume(a.id, 'bot', 'create_payment', h)).toMatchObject({
      ok: false,
      reason: 'expired',
    });
    // approved but not used in time
    expect((await store.get(b.id))?.status).toBe('expired');
    expect(await store.consume(b.id, 'bot', 'create_payment', h)).toMatchObject({
      ok: false,
      reason: 'expired',
    });
  });

  it('survives a restart: pending and approved approvals are still there after reopening the DB', async () => {
    const dir = tmpDir('keap-approvals-');
    const first = setup(dir);
    const a = await first.store.create(input);
    const b = await first.store.create(input);
    await first.store.approve(b.id, 'op');
    first.db.close();
    const second = setup(dir, 1_000_000 + 5000); // a new process, a little later
    expect((await second.store.listPending()).map((x) => x.id)).toEqual([a.id]);
    expect((await second.store.get(a.id))?.request).toEqual(input.request);
    expect((await second.store.consume(b.id, 'bot', 'create_payment', h)).ok).toBe(true);
    await second.store.approve(a.id, 'op');
    second.db.close();
    const third = setup(dir, 1_000_000 + 6000);
    expect(await third.store.consume(b.id, 'bot', 'create_payment', h)).toMatchObject({
      ok: false,
      reason: 'consumed',
    });
    expect(await third.store.get(a.id)).toMatchObject({ status: 'approved', decidedBy: 'op' });
    third.db.close();
  });

  it('lists recent approvals of every status, newest first', async () => {
    const { store, advance } = setup();
    const a = await store.create(input);
    advance(10);
    const b = await store.create(input);
    await store.deny(b.id, 'op');
    expect((await store.listRecent(10)).map((x) => [x.id, x.status])).toEqual([
      [b.id, 'denied'],
      [a.id, 'pending'],
    ]);
    expect(await store.listRecent(1)).toHaveLength(1);
  });

  it('concurrent consume from several threads on the same DB file: exactly one wins', async () => {
    const compiled = join(process.cwd(), 'dist/src/safety/approvals.js');
    expect(existsSync(compiled), 'run `npm run build` first (npm test does)').toBe(true);
    const dbModule = pathToFileURL(join(process.cwd(), 'dist/src/state/db.js')).href;
    const dir = tmpDir('keap-approvals-race-');
    const { db, store } = setup(dir, Date.now());
    const a = await store.create(input);
    await store.approve(a.id, 'op');
    db.close();

    const n = 6;
    const gate = new Int32Array(new SharedArrayBuffer(4));
    const code = `
      const { workerData, parentPort } = require('node:worker_threads');
      (async () => {
        const { Approvals } = await import(workerData.approvals);
        const { openStateDb } = await import(workerData.db);
        const store = new Approvals({ db: openStateDb(workerData.dir) });
        parentPort.postMessage('ready');
        Atomics.wait(workerData.gate, 0, 0);
        const r = await store.consume(workerData.id, 'bot', 'create_payment', workerData.hash);
        parentPort.postMessage(r.ok ? 'won' : r.reason);
      })().catch((e) => parentPort.postMessage('error: ' + e.message));
    `;
    const results: Promise<string>[] = [];
    const ready: Promise<void>[] = [];
    const workers: Worker[] = [];
    for (let i = 0; i < n; i++) {
      const w = new Worker(code, {
        eval: true,
        workerData: { approvals: pathToFileURL(compiled).href, db: dbModule, dir, id: a.id, hash: h, gate },
      });
      workers.push(w);
      let onReady: () => void = () => undefined;
      ready.push(
        new Promise<void>((r) => {
          onReady = r;
        }),
      );
      results.push(
        new Promise<string>((resolve) => {
          w.on('message', (m: string) => {
            if (m === 'ready') onReady();
            else resolve(m);
          });
          w.on('error', (e) => resolve(`error: ${e.message}`));
        }),
      );
    }
    await Promise.all(ready);
    Atomics.store(gate, 0, 1);
    Atomics.notify(gate, 0);
    const outcomes = await Promise.all(results);
    await Promise.all(workers.map((w) => w.terminate()));
    expect(outcomes.filter((o) => o === 'won')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'consumed')).toHaveLength(n - 1);
  });
});
