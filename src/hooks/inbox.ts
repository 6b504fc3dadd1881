/**
 * The embedded REST hooks store: the inbox (InboxApi) and the subscription registry (HookRegistryApi) as tables of
 * the state DB (src/state/db.ts: WAL, synchronous=FULL), so a committed transaction is on disk.
 *
 * Inbox:
 * - add() writes every key of a delivery in ONE immediate transaction; (event_key, object_id, timestamp) is UNIQUE,
 *   so a key already stored (a retried or replayed delivery, even after a restart) is counted as a duplicate and
 *   not stored again. The promise resolves after the commit: what it reports stored is durable.
 * - Retention (default 7 days or 100,000 events): after each add, and when the store opens or is read, the
 *   oldest events beyond either bound are deleted in the same transaction that counts them (`dropped`, persisted).
 * - onStored(): listeners are called after the commit, asynchronously (never inside add(), so a receiver answers
 *   Keap before any listener runs). Events stored by another process sharing the file (e.g. a `--hooks-only`
 *   receiver beside a stdio server) reach them through a poll of max(seq) every `pollMs`, only while listeners
 *   exist (unref'd timer). Each event reaches each listener once, in seq order.
 *
 * Every method is async so a Redis backend fits the same interfaces (src/hooks/types.ts).
 */
import { randomBytes } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import type { Logger } from '../logger.js';
import type { StateDb } from '../state/db.js';
import type {
  AddResult,
  Delivery,
  EventPage,
  EventQuery,
  HookEvent,
  HookRegistryApi,
  HookSubscription,
  InboxApi,
  InboxStats,
  RetentionOptions,
} from './types.js';
import { CATCH_UP_CHUNK, emitEvents, eventBody, pageLimit, retentionOf } from './types.js';

/** How often a store with listeners looks for events stored by another process. */
export const DEFAULT_POLL_MS = 500;

export interface SqliteHooksOptions {
  readonly retention?: Partial<RetentionOptions> | undefined;
  /** Poll interval for events stored by other processes (ms). */
  readonly pollMs?: number | undefined;
  readonly now?: (() => number) | undefined;
  /** Listener failures are logged here (never thrown into add()). */
  readonly logger?: Logger | undefined;
}

interface EventRow {
  seq: number;
  event_key: string;
  object_type: string;
  object_id: string;
  api_url: string;
  timestamp: string;
  received_at: number;
  receiver_id: string;
}

function toEvent(r: EventRow): HookEvent {
  return {
    seq: r.seq,
    eventKey: r.event_key,
    objectType: r.object_type,
    objectId: r.object_id,
    apiUrl: r.api_url,
    timestamp: r.timestamp,
    receivedAt: r.received_at,
    receiverId: r.receiver_id,
  };
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS hooks_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_key TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    api_url TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    receiver_id TEXT NOT NULL,
    UNIQUE (event_key, object_id, timestamp)
  );
  CREATE INDEX IF NOT EXISTS hooks_events_received ON hooks_events (received_at);
  CREATE TABLE IF NOT EXISTS hooks_meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS hooks_subscriptions (
    receiver_id TEXT PRIMARY KEY,
    event_key TEXT NOT NULL,
    hook_key TEXT,
    verified_at INTEGER,
    last_delivery_at INTEGER,
    events_stored INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    agent TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS hooks_subscriptions_hook_key ON hooks_subscriptions (hook_key);
`;

function positive(n: number | undefined, fallback: number): number {
  return n !== undefined && Number.isFinite(n) && n > 0 ? n : fallback;
}

export class SqliteInbox implements InboxApi {
  private readonly db: StateDb;
  private readonly now: () => number;
  private readonly retention: RetentionOptions;
  private readonly pollMs: number;
  private readonly logger: Logger | undefined;
  private readonly listeners = new Set<(events: readonly HookEvent[]) => void>();
  /** Highest seq handed to listeners (meaningful while listeners exist). */
  private cursor = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private readonly insert: Statement<[string, string, string, string, string, number, string]>;
  private readonly maxSeq: Statement<[], { m: number | null }>;
  private readonly after: Statement<[number, number], EventRow>;
  private readonly metaGet: Statement<[string], { value: number }>;
  private readonly metaAdd: Statement<[string, number, number]>;
  private readonly hasExpired: Statement<[number], { x: number }>;

  constructor(db: StateDb, opts: SqliteHooksOptions = {}) {
    this.db = db;
    this.now = opts.now ?? Date.now;
    this.retention = retentionOf(opts.retention);
    this.pollMs = positive(opts.pollMs, DEFAULT_POLL_MS);
    this.logger = opts.logger;
    db.exec(SCHEMA);
    this.insert = db.prepare<[string, string, string, string, string, number, string]>(
      `INSERT INTO hooks_events (event_key, object_type, object_id, api_url, timestamp, received_at, receiver_id)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_key, object_id, timestamp) DO NOTHING`,
    );
    this.maxSeq = db.prepare<[], { m: number | null }>('SELECT MAX(seq) AS m FROM hooks_events');
    this.after = db.prepare<[number, number], EventRow>(
      'SELECT * FROM hooks_events WHERE seq > ? ORDER BY seq LIMIT ?',
    );
    this.metaGet = db.prepare<[string], { value: number }>('SELECT value FROM hooks_meta WHERE name = ?');
    this.metaAdd = db.prepare<[string, number, number]>(
      `INSERT INTO hooks_meta (name, value) VALUES (?, ?)
       ON CONFLICT (name) DO UPDATE SET value = value + ?`,
    );
    this.hasExpired = db.prepare<[number], { x: number }>(
      'SELECT 1 AS x FROM hooks_events WHERE received_at < ? LIMIT 1',
    );
    // The event count is kept in hooks_meta (retention must not count 100,000 rows per delivery).
    db.transaction(() => {
      if (this.metaGet.get('count') === undefined) {
        const n = (db.prepare('SELECT COUNT(*) AS n FROM hooks_events').get() as { n: number }).n;
        this.metaAdd.run('count', n, n);
      }
      this.metaAdd.run('dropped', 0, 0);
    }).immediate();
    this.pruneIfNeeded();
  }

  /** Deletes events beyond the retention bounds, oldest first; counts them. Call inside a transaction. */
  private prune(now: number): number {
    let dropped = this.db
      .prepare('DELETE FROM hooks_events WHERE received_at < ?')
      .run(now - this.retention.maxAgeMs).changes;
    if (dropped > 0) this.metaAdd.run('count', -dropped, -dropped);
    const count = this.metaGet.get('count')?.value ?? 0;
    const excess = count - this.retention.maxEvents;
    if (excess > 0) {
      const n = this.db
        .prepare('DELETE FROM hooks_events WHERE seq IN (SELECT seq FROM hooks_events ORDER BY seq LIMIT ?)')
        .run(excess).changes;
      this.metaAdd.run('count', -n, -n);
      dropped += n;
    }
    if (dropped > 0) this.metaAdd.run('dropped', dropped, dropped);
    return dropped;
  }

  /** Age-based retention without a write lock when nothing has expired (reads call this). */
  private pruneIfNeeded(): void {
    const now = this.now();
    if (this.hasExpired.get(now - this.retention.maxAgeMs) === undefined) {
      const count = this.metaGet.get('count')?.value ?? 0;
      if (count <= this.retention.maxEvents) return;
    }
    this.db.transaction(() => this.prune(now)).immediate();
  }

  async add(receiverId: string, delivery: Delivery): Promise<AddResult> {
    if (this.closed) throw new Error('the hooks inbox is closed');
    if (delivery.objectKeys.length === 0) return { stored: [], duplicates: 0 };
    const receivedAt = this.now();
    const result = this.db
      .transaction((): AddResult => {
        const stored: HookEvent[] = [];
        for (const k of delivery.objectKeys) {
          const r = this.insert.run(
            delivery.eventKey,
            delivery.objectType,
            k.id,
            k.apiUrl,
            k.timestamp,
            receivedAt,
            receiverId,
          );
          if (r.changes === 1) {
            stored.push({
              seq: Number(r.lastInsertRowid),
              ...eventBody(delivery, k, receivedAt, receiverId),
            });
          }
        }
        if (stored.length > 0) this.metaAdd.run('count', stored.length, stored.length);
        this.prune(receivedAt);
        return { stored, duplicates: delivery.objectKeys.length - stored.length };
      })
      .immediate();
    if (result.stored.length > 0 && this.listeners.size > 0) {
      const events = result.stored;
      setImmediate(() => this.emitLocal(events));
    }
    return result;
  }

  async list(query: EventQuery): Promise<EventPage> {
    this.pruneIfNeeded();
    const limit = pageLimit(query);
    const where: string[] = ['seq > ?'];
    const params: (string | number)[] = [query.after ?? 0];
    if (query.eventKey !== undefined) {
      where.push('event_key = ?');
      params.push(query.eventKey);
    }
    if (query.objectType !== undefined) {
      where.push('object_type = ?');
      params.push(query.objectType);
    }
    if (query.since !== undefined) {
      where.push('received_at >= ?');
      params.push(query.since);
    }
    const rows = this.db
      .prepare(`SELECT * FROM hooks_events WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?`)
      .all(...params, limit + 1) as EventRow[];
    const events = rows.slice(0, limit).map(toEvent);
    const last = events[events.length - 1];
    return rows.length > limit && last !== undefined ? { events, next: last.seq } : { events };
  }

  async stats(): Promise<InboxStats> {
    this.pruneIfNeeded();
    return {
      stored: this.metaGet.get('count')?.value ?? 0,
      dropped: this.metaGet.get('dropped')?.value ?? 0,
      lastSeq: this.maxSeq.get()?.m ?? 0,
    };
  }

  onStored(listener: (events: readonly HookEvent[]) => void): () => void {
    if (this.listeners.size === 0) {
      this.cursor = this.maxSeq.get()?.m ?? 0;
      if (!this.closed) {
        this.timer = setInterval(() => this.catchUp(), this.pollMs);
        this.timer.unref();
      }
    }
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stopPolling();
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    this.stopPolling();
  }

  private stopPolling(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Our own commit: its seqs are contiguous (SQLite has one writer), so it follows the cursor unless another process wrote in between. */
  private emitLocal(events: readonly HookEvent[]): void {
    const first = events[0];
    const last = events[events.length - 1];
    if (first === undefined || last === undefined || this.listeners.size === 0) return;
    if (last.seq <= this.cursor) return; // already handed out by a poll
    if (first.seq === this.cursor + 1) {
      this.cursor = last.seq;
      this.emit(events);
      return;
    }
    this.catchUp();
  }

  /** Hands every event after the cursor to the listeners, in seq order. */
  private catchUp(): void {
    if (this.listeners.size === 0 || this.closed) return;
    try {
      const max = this.maxSeq.get()?.m ?? 0;
      while (max > this.cursor && this.listeners.size > 0) {
        const rows = this.after.all(this.cursor, CATCH_UP_CHUNK);
        const last = rows[rows.length - 1];
        if (last === undefined) {
          this.cursor = max;
          break;
        }
        this.cursor = last.seq;
        this.emit(rows.map(toEvent));
      }
    } catch (err) {
      // e.g. SQLITE_BUSY beyond busy_timeout: the next poll tries again.
      this.logger?.warn({ err: err instanceof Error ? err.message : String(err) }, 'hooks inbox poll failed');
    }
  }

  private emit(events: readonly HookEvent[]): void {
    emitEvents(this.listeners, events, this.logger);
  }
}

interface SubscriptionRow {
  receiver_id: string;
  event_key: string;
  hook_key: string | null;
  verified_at: number | null;
  last_delivery_at: number | null;
  events_stored: number;
  created_at: number;
  agent: string;
}

function toSubscription(r: SubscriptionRow): HookSubscription {
  return {
    receiverId: r.receiver_id,
    eventKey: r.event_key,
    ...(r.hook_key !== null ? { hookKey: r.hook_key } : {}),
    ...(r.verified_at !== null ? { verifiedAt: r.verified_at } : {}),
    ...(r.last_delivery_at !== null ? { lastDeliveryAt: r.last_delivery_at } : {}),
    eventsStored: r.events_stored,
    createdAt: r.created_at,
    agent: r.agent,
  };
}

/** A new receiver id: 192 random bits, base64url (32 characters). */
export function newReceiverId(): string {
  return randomBytes(24).toString('base64url');
}

/** What a receiver id looks like (anything else is unknown without a lookup). */
export const RECEIVER_ID_PATTERN = /^[A-Za-z0-9_-]{22,64}$/;

export class SqliteHookRegistry implements HookRegistryApi {
  private readonly db: StateDb;
  private readonly now: () => number;

  constructor(db: StateDb, opts: Pick<SqliteHooksOptions, 'now'> = {}) {
    this.db = db;
    this.now = opts.now ?? Date.now;
    db.exec(SCHEMA);
  }

  async create(input: { eventKey: string; agent: string }): Promise<HookSubscription> {
    const row: SubscriptionRow = {
      receiver_id: newReceiverId(),
      event_key: input.eventKey,
      hook_key: null,
      verified_at: null,
      last_delivery_at: null,
      events_stored: 0,
      created_at: this.now(),
      agent: input.agent,
    };
    this.db
      .prepare(
        `INSERT INTO hooks_subscriptions (receiver_id, event_key, hook_key, verified_at, last_delivery_at, events_stored, created_at, agent)
         VALUES (@receiver_id, @event_key, @hook_key, @verified_at, @last_delivery_at, @events_stored, @created_at, @agent)`,
      )
      .run(row);
    return toSubscription(row);
  }

  async get(receiverId: string): Promise<HookSubscription | undefined> {
    if (!RECEIVER_ID_PATTERN.test(receiverId)) return undefined;
    const r = this.db.prepare('SELECT * FROM hooks_subscriptions WHERE receiver_id = ?').get(receiverId) as
      | SubscriptionRow
      | undefined;
    return r === undefined ? undefined : toSubscription(r);
  }

  async byHookKey(hookKey: string): Promise<HookSubscription | undefined> {
    const r = this.db
      .prepare('SELECT * FROM hooks_subscriptions WHERE hook_key = ? ORDER BY created_at DESC LIMIT 1')
      .get(hookKey) as SubscriptionRow | undefined;
    return r === undefined ? undefined : toSubscription(r);
  }

  async list(): Promise<readonly HookSubscription[]> {
    const rows = this.db
      .prepare('SELECT * FROM hooks_subscriptions ORDER BY created_at, rowid')
      .all() as SubscriptionRow[];
    return rows.map(toSubscription);
  }

  async setHookKey(receiverId: string, hookKey: string): Promise<void> {
    this.db
      .prepare('UPDATE hooks_subscriptions SET hook_key = ? WHERE receiver_id = ?')
      .run(hookKey, receiverId);
  }

  async markVerified(receiverId: string, at: number): Promise<void> {
    this.db
      .prepare('UPDATE hooks_subscriptions SET verified_at = ? WHERE receiver_id = ?')
      .run(at, receiverId);
  }

  async recordDelivery(receiverId: string, at: number, events: number): Promise<void> {
    this.db
      .prepare(
        `UPDATE hooks_subscriptions
         SET last_delivery_at = MAX(COALESCE(last_delivery_at, 0), ?), events_stored = events_stored + ?
         WHERE receiver_id = ?`,
      )
      .run(at, events, receiverId);
  }

  async remove(receiverId: string): Promise<void> {
    this.db.prepare('DELETE FROM hooks_subscriptions WHERE receiver_id = ?').run(receiverId);
  }
}

export interface SqliteHooks {
  readonly inbox: SqliteInbox;
  readonly registry: SqliteHookRegistry;
}

/** The inbox and the subscription registry on one state DB. */
export function openSqliteHooks(db: StateDb, opts: SqliteHooksOptions = {}): SqliteHooks {
  return { inbox: new SqliteInbox(db, opts), registry: new SqliteHookRegistry(db, opts) };
}
