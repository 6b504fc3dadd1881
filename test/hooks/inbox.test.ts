/**
 * The embedded hooks store (src/hooks/inbox.ts) on a real state DB file: exactly-once, restarts, retention and
 * its drop count, listeners (local and from another connection to the same file), the subscription registry.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteHooks, RECEIVER_ID_PATTERN } from '../../src/hooks/inbox.js';
import type { Delivery, HookEvent } from '../../src/hooks/types.js';
import { openStateDb, type StateDb } from '../../src/state/db.js';

const opened: StateDb[] = [];
function db(dir: string): StateDb {
  const d = openStateDb(dir);
  opened.push(d);
  return d;
}
afterEach(() => {
  for (const d of opened.splice(0)) if (d.open) d.close();
});

function delivery(
  eventKey: string,
  ids: readonly (string | number)[],
  timestamp = '2026-11-30T10:00:00Z',
): Delivery {
  return {
    eventKey,
    objectType: eventKey.split('.')[0] ?? 'x',
    objectKeys: ids.map((id) => ({
      id: String(id),
      apiUrl: `https://api.example/v1/x/${id}`,
      timestamp,
    })),
  };
}

const until = async (what: string, ok: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('hooks inbox (SQLite)', () => {
  it('stores each (event_key, id, timestamp) once, across a reopen of the same file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inbox-'));
    const a = openSqliteHooks(db(dir));
    const r1 = await a.inbox.add('r1', delivery('contact.add', [1, 2, 3]));
    expect(r1.stored.map((e) => e.objectId)).toEqual(['1', '2', '3']);
    expect(r1.duplicates).toBe(0);
    const r2 = await a.inbox.add('r1', delivery('contact.add', [3, 4, 4]));
    expect(r2.stored.map((e) => e.objectId)).toEqual(['4']);
    expect(r2.duplicates).toBe(2);
    // Same id, another timestamp or another event key: a different event.
    const r3 = await a.inbox.add('r1', delivery('contact.add', [1], '2026-11-30T11:00:00Z'));
    const r4 = await a.inbox.add('r1', delivery('contact.edit', [1]));
    expect(r3.stored).toHaveLength(1);
    expect(r4.stored).toHaveLength(1);
    opened[0]?.close();

    const b = openSqliteHooks(db(dir));
    const r5 = await b.inbox.add('r1', delivery('contact.add', [1, 2, 3, 4]));
    expect(r5.stored).toHaveLength(0);
    expect(r5.duplicates).toBe(4);
    const all = await b.inbox.list({ limit: 100 });
    expect(all.events.map((e) => `${e.eventKey}:${e.objectId}`)).toEqual([
      'contact.add:1',
      'contact.add:2',
      'contact.add:3',
      'contact.add:4',
      'contact.add:1',
      'contact.edit:1',
    ]);
    expect(all.next).toBeUndefined();
    expect(await b.inbox.stats()).toMatchObject({ stored: 6, dropped: 0 });
  });

  it('pages by seq and filters by event key, object type and since', async () => {
    let now = 1_000;
    const h = openSqliteHooks(db(mkdtempSync(join(tmpdir(), 'inbox-'))), { now: () => now });
    await h.inbox.add('r', delivery('contact.add', [1, 2, 3]));
    now = 2_000;
    await h.inbox.add('r', delivery('order.add', [7]));
    await h.inbox.add('r', delivery('contact.add', [4]));
    const p1 = await h.inbox.list({ limit: 2 });
    expect(p1.events.map((e) => e.objectId)).toEqual(['1', '2']);
    expect(p1.next).toBe(p1.events[1]?.seq);
    const p2 = await h.inbox.list({ limit: 2, after: p1.next });
    expect(p2.events.map((e) => e.objectId)).toEqual(['3', '7']);
    const p3 = await h.inbox.list({ limit: 2, after: p2.next });
    expect(p3.events.map((e) => e.objectId)).toEqual(['4']);
    expect(p3.next).toBeUndefined();
    expect((await h.inbox.list({ limit: 10, eventKey: 'contact.add' })).events).toHaveLength(4);
    expect((await h.inbox.list({ limit: 10, objectType: 'order' })).events.map((e) => e.objectId)).toEqual([
      '7',
    ]);
    expect((await h.inbox.list({ limit: 10, since: 2_000 })).events.map((e) => e.objectId)).toEqual([
      '7',
      '4',
    ]);
  });

  it('retention drops the oldest beyond the event cap and past the age, counts the drops, persists the count', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inbox-'));
    let now = 1_000_000;
    const retention = { maxEvents: 5, maxAgeMs: 60_000 };
    const h = openSqliteHooks(db(dir), { now: () => now, retention });
    await h.inbox.add('r', delivery('contact.add', [1, 2, 3, 4]));
    await h.inbox.add('r', delivery('contact.add', [5, 6, 7]));
    expect((await h.inbox.list({ limit: 100 })).events.map((e) => e.objectId)).toEqual([
      '3',
      '4',
      '5',
      '6',
      '7',
    ]);
    expect(await h.inbox.stats()).toMatchObject({ stored: 5, dropped: 2 });
    // A dropped key delivered again is new again (the inbox keeps what retention keeps).
    now += 30_000;
    await h.inbox.add('r', delivery('contact.add', [8]));
    expect(await h.inbox.stats()).toMatchObject({ stored: 5, dropped: 3 });
    // Past the age: everything but #8 (30 s younger) expires on the next read.
    now += 40_000;
    expect((await h.inbox.list({ limit: 100 })).events.map((e) => e.objectId)).toEqual(['8']);
    expect(await h.inbox.stats()).toMatchObject({ stored: 1, dropped: 7 });
    opened[0]?.close();
    const again = openSqliteHooks(db(dir), { now: () => now, retention });
    expect(await again.inbox.stats()).toMatchObject({ stored: 1, dropped: 7 });
  });

  it('calls listeners after the commit, once per event, also for events another connection stored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inbox-'));
    const reader = openSqliteHooks(db(dir), { pollMs: 50 });
    const writer = openSqliteHooks(db(dir));
    await reader.inbox.add('r', delivery('contact.add', [0])); // before the listener: not reported
    const seen: HookEvent[] = [];
    const off = reader.inbox.onStored((events) => seen.push(...events));
    const local = await reader.inbox.add('r', delivery('contact.add', [1, 2]));
    expect(seen).toHaveLength(0); // not inside add()
    await until('local events', () => seen.length === 2);
    await writer.inbox.add('r', delivery('contact.add', [3]));
    await until('the other connection’s event', () => seen.length === 3);
    await reader.inbox.add('r', delivery('contact.add', [4, 2]));
    await writer.inbox.add('r', delivery('contact.add', [5]));
    await until('all events', () => seen.length === 5);
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.map((e) => e.objectId)).toEqual(['1', '2', '3', '4', '5']);
    expect(seen[0]?.seq).toBe(local.stored[0]?.seq);
    off();
    await writer.inbox.add('r', delivery('contact.add', [6]));
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toHaveLength(5);
    await reader.inbox.close();
  });

  it('keeps subscriptions: create, hook key, verified, deliveries, remove', async () => {
    let now = 5_000;
    const h = openSqliteHooks(db(mkdtempSync(join(tmpdir(), 'inbox-'))), { now: () => now });
    const s = await h.registry.create({ eventKey: 'contact.add', agent: 'crm' });
    expect(s.receiverId).toMatch(RECEIVER_ID_PATTERN);
    expect(s.receiverId.length).toBeGreaterThanOrEqual(22);
    expect(s).toMatchObject({ eventKey: 'contact.add', agent: 'crm', eventsStored: 0, createdAt: 5_000 });
    expect(s.verifiedAt).toBeUndefined();
    const t = await h.registry.create({ eventKey: 'order.add', agent: 'crm' });
    expect(t.receiverId).not.toBe(s.receiverId);
    await h.registry.setHookKey(s.receiverId, '17');
    await h.registry.markVerified(s.receiverId, 6_000);
    now = 7_000;
    await h.registry.recordDelivery(s.receiverId, 7_000, 3);
    await h.registry.recordDelivery(s.receiverId, 6_500, 2);
    expect(await h.registry.get(s.receiverId)).toEqual({
      receiverId: s.receiverId,
      eventKey: 'contact.add',
      hookKey: '17',
      verifiedAt: 6_000,
      lastDeliveryAt: 7_000,
      eventsStored: 5,
      createdAt: 5_000,
      agent: 'crm',
    });
    expect((await h.registry.byHookKey('17'))?.receiverId).toBe(s.receiverId);
    expect((await h.registry.list()).map((x) => x.eventKey)).toEqual(['contact.add', 'order.add']);
    await h.registry.remove(s.receiverId);
    expect(await h.registry.get(s.receiverId)).toBeUndefined();
    expect(await h.registry.get('../../etc')).toBeUndefined();
    expect(await h.registry.list()).toHaveLength(1);
  });
});
