/**
 * The audit log: JSON lines appended to KEAP_AUDIT_LOG, each fdatasync'd before the call that wrote it returns.
 *
 * - Write-ahead: a call to Keap is recorded as an `intent` line (durable before the request leaves) and an
 *   `outcome` line with the same `call_id` afterwards. An intent without an outcome is a call whose outcome is
 *   unknown (the server stopped in between). Single decisions (denials, dry runs, refusals) are one line.
 * - Redaction: personal data in arguments becomes `hmac:<16 hex>` (HMAC-SHA-256 keyed with a per-installation
 *   secret kept in the state store, so a value cannot be recovered by hashing guesses); ids, keys, paging,
 *   numbers, booleans and enum constants are kept only when they are well-formed; secrets are dropped.
 *   Redaction is iterative with depth and size caps: it never throws, whatever the shape of the input.
 * - Refusals (unknown tools, rejected logins) are rate-limited per source so a flood cannot fill the disk.
 *
 * Durability (group commit): every line is appended with writeSync at once, so it is readable and survives a
 * killed process; fdatasync (on libuv's thread pool, off the event loop) makes it survive a crash of the machine.
 * One fdatasync covers every line appended before it started, so concurrent calls share it; a line appended
 * while one runs is covered by the next.
 * - `intent()` resolves only once its line is durable: the request must not leave before that (it rejects with
 *   AuditUnavailableError otherwise). A read's intent is the exception: a read changes nothing at Keap, so its
 *   intent is made durable together with its outcome (one fdatasync per read instead of two).
 * - `outcome()` appends; `durable()` resolves once everything appended so far is on disk. The pipeline awaits it
 *   before a result is returned, so no result reaches the model before its record is durable.
 * - `write()` and `refusal()` (single-record decisions: denials, dry runs, refusals) stay synchronous:
 *   written and fdatasync'd before they return.
 * - `close()` makes everything appended durable (fdatasyncSync) before closing the file.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { closeSync, fdatasync, fdatasyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../logger.js';
import type { StateDb } from '../state/db.js';
import {
  type AuditApi,
  type AuditIntent,
  type AuditOutcome,
  type AuditRecord,
  type AuditRefusal,
  AuditUnavailableError,
} from './types.js';

// ---- keyed hashing ---------------------------------------------------------------------------------------

/** Used only when no installation key is given (tests, tools): random per process, never unkeyed. */
const PROCESS_KEY = randomBytes(32);

/** `hmac:<16 hex>`: HMAC-SHA-256 of the value under the installation key, truncated to 64 bits. */
export function hashValue(s: string, key: Buffer = PROCESS_KEY): string {
  return `hmac:${createHmac('sha256', key).update(s, 'utf8').digest('hex').slice(0, 16)}`;
}

/**
 * The installation's audit hashing key: 32 random bytes created on first use in the state store
 * (`<state dir>/state.sqlite`, mode 0600; table safety_kv, like the confirmation key). Same key → same hash
 * for the same value across records and restarts.
 */
export function loadAuditKey(db: StateDb): Buffer {
  db.exec('CREATE TABLE IF NOT EXISTS safety_kv (k TEXT PRIMARY KEY, v BLOB NOT NULL)');
  db.prepare('INSERT OR IGNORE INTO safety_kv (k, v) VALUES (?, ?)').run('audit_hmac_key', randomBytes(32));
  const row = db.prepare('SELECT v FROM safety_kv WHERE k = ?').get('audit_hmac_key') as
    | { v: Buffer }
    | undefined;
  if (row === undefined || row.v.length < 32)
    throw new Error('audit hashing key missing from the state store');
  return Buffer.from(row.v);
}

// ---- redaction -------------------------------------------------------------------------------------------

/** Keys whose values never reach the log, in any form. */
const SECRET_KEY =
  /(^|_)(secret|password|passwd|credential|authorization|api_?key|access_token|refresh_token|token|confirmation_token|human_secret)s?$/i;

const DIGITS_ID = /^[0-9]{1,20}$/;
const EVENT_KEY = /^[a-z][A-Za-z_]{0,40}\.[a-z][A-Za-z_]{0,40}$/;
const WORD = /^[A-Za-z][A-Za-z0-9_]{0,39}$/;
const FIELDS = /^[a-z][a-z0-9_.]{0,63}(, ?[a-z][a-z0-9_.]{0,63}){0,63}$/;
const ORDER_BY =
  /^[a-z][a-z0-9_]{0,63}( (asc|desc|ASC|DESC))?(, ?[a-z][a-z0-9_]{0,63}( (asc|desc|ASC|DESC))?){0,15}$/;
const DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * Keys kept verbatim when the value has the key's shape (otherwise hashed), even though some names look
 * secret-ish (page_token) or free-form.
 */
const KEEP_KEYS: Readonly<Record<string, RegExp>> = {
  page_token: /^[A-Za-z0-9_\-=+/.:]{1,2048}$/,
  next_page_token: /^[A-Za-z0-9_\-=+/.:]{1,2048}$/,
  idempotency_key: /^[A-Za-z0-9_.:-]{1,128}$/,
  key: DIGITS_ID,
  hook_key: DIGITS_ID,
  id: DIGITS_ID,
  event_key: EVENT_KEY,
  eventKey: EVENT_KEY,
  order_by: ORDER_BY,
  fields: FIELDS,
  update_mask: FIELDS,
  duplicate_option: WORD,
  since: DATE,
  until: DATE,
  status: WORD,
  type: WORD,
  method: WORD,
};
/** Keys whose values (strings, numbers) are personal or free text even when they look like constants. */
const PERSONAL_KEY =
  /name|email|phone|address|line|city|locality|region|postal|zip|birth|anniversary|note|body|content|text|title|subject|description|company|website|url|social|fax|job|spouse|nickname|filter|query|search/i;
const ENUM_VALUE = /^[A-Z][A-Z0-9_]{0,39}$/;
/** Object keys written as they are; any other key (free-form map keys) is hashed too. */
const SAFE_KEY = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

function isIdKey(key: string): boolean {
  return key === 'id' || key === 'key' || /_ids?$/.test(key) || /_key$/.test(key);
}

export interface RedactLimits {
  /** Containers nested deeper are replaced by `[truncated: depth>N]`. */
  readonly maxDepth: number;
  /** Values visited in total; the rest becomes `[truncated: …]`. */
  readonly maxNodes: number;
  /** Members per object or array. */
  readonly maxEntries: number;
}

export const REDACT_LIMITS: RedactLimits = { maxDepth: 32, maxNodes: 10_000, maxEntries: 1_000 };

type Hash = (s: string) => string;

function redactLeaf(value: unknown, key: string, hash: Hash): unknown {
  if (value === null || value === undefined || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (key !== '' && PERSONAL_KEY.test(key) && !isIdKey(key)) return hash(String(value));
    return value;
  }
  if (typeof value === 'string') {
    const rule = Object.hasOwn(KEEP_KEYS, key) ? KEEP_KEYS[key] : undefined;
    if (rule !== undefined) return rule.test(value) ? value : hash(value);
    // ids and hook keys are digit strings: anything else (an email, a typed secret, 60,000 characters) is hashed
    if (key !== '' && isIdKey(key)) return DIGITS_ID.test(value) ? value : hash(value);
    if (ENUM_VALUE.test(value) && !PERSONAL_KEY.test(key)) return value;
    return hash(value);
  }
  if (typeof value === 'bigint') return hash(value.toString());
  return `[${typeof value}]`;
}

/** A member whose getter threw. */
const UNREADABLE = Symbol('unreadable');

interface Task {
  readonly v: unknown;
  readonly k: string;
  readonly depth: number;
  readonly set: (x: unknown) => void;
}

/**
 * Replaces personal data in arguments by keyed hashes and drops secrets. Pure and total: iterative (no
 * recursion), capped in depth and size, and it never throws.
 */
export function redactArgs(
  value: unknown,
  key: Buffer = PROCESS_KEY,
  limits: RedactLimits = REDACT_LIMITS,
): unknown {
  const hash: Hash = (s) => hashValue(s, key);
  let root: unknown;
  const stack: Task[] = [
    {
      v: value,
      k: '',
      depth: 0,
      set: (x) => {
        root = x;
      },
    },
  ];
  const seen = new Set<object>();
  let nodes = 0;
  while (stack.length > 0) {
    const t = stack.pop() as Task;
    try {
      nodes++;
      if (nodes > limits.maxNodes) {
        t.set(`[truncated: more than ${limits.maxNodes} values]`);
        continue;
      }
      const v = t.v;
      if (v === UNREADABLE) {
        t.set('[unreadable]');
        continue;
      }
      if (v === null || typeof v !== 'object') {
        t.set(redactLeaf(v, t.k, hash));
        continue;
      }
      if (t.depth >= limits.maxDepth) {
        t.set(`[truncated: depth>${limits.maxDepth}]`);
        continue;
      }
      if (seen.has(v)) {
        t.set('[repeated]');
        continue;
      }
      seen.add(v);
      const depth = t.depth + 1;
      if (Array.isArray(v)) {
        const n = Math.min(v.length, limits.maxEntries);
        const out: unknown[] = new Array<unknown>(n).fill(null);
        if (v.length > n) out.push(`[truncated: ${v.length - n} more items]`);
        t.set(out);
        for (let i = n - 1; i >= 0; i--) {
          stack.push({
            v: v[i],
            k: t.k,
            depth,
            set: (x) => {
              out[i] = x === undefined ? null : x;
            },
          });
        }
        continue;
      }
      const out: Record<string, unknown> = {};
      t.set(out);
      let count = 0;
      let more = 0;
      const children: Task[] = [];
      for (const k of Object.keys(v)) {
        if (SECRET_KEY.test(k) && !Object.hasOwn(KEEP_KEYS, k)) continue;
        if (count >= limits.maxEntries) {
          more++;
          continue;
        }
        count++;
        const outKey = SAFE_KEY.test(k) ? k : hash(k);
        out[outKey] = null; // keeps the input's key order
        let child: unknown;
        try {
          child = (v as Record<string, unknown>)[k];
        } catch {
          child = UNREADABLE;
        }
        children.push({
          v: child,
          k,
          depth,
          set: (x) => {
            out[outKey] = x;
          },
        });
      }
      if (more > 0) out['[truncated]'] = `${more} more keys`;
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i] as Task);
    } catch {
      // A getter that throws, a proxy, …: the value is not logged, the record still is.
      t.set('[unreadable]');
    }
  }
  return root;
}

/** Tool names and other identifiers from clients: kept when well-formed, hashed otherwise. */
function safeName(s: string | undefined, key: Buffer): string | undefined {
  if (s === undefined) return undefined;
  return /^[A-Za-z0-9_.:-]{1,64}$/.test(s) ? s : hashValue(s, key);
}

/** Printable ASCII only, at most 200 characters. */
function safeDetail(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 200 ? `${clean.slice(0, 200)}…` : clean;
}

/**
 * The outcome part of a full record, for a call whose intent was written: lets the pipeline keep building one
 * AuditRecord and write `outcome(callId, toOutcome(record, intentDecision))` instead of `write(record)`.
 */
export function toOutcome(record: AuditRecord, intentDecision?: AuditRecord['decision']): AuditOutcome {
  return {
    duration_ms: record.duration_ms ?? 0,
    ...(record.status !== undefined ? { status: record.status } : {}),
    ...(record.attempts !== undefined ? { attempts: record.attempts } : {}),
    ...(record.error_category !== undefined ? { error_category: record.error_category } : {}),
    ...(record.budget !== undefined ? { budget: record.budget } : {}),
    ...(intentDecision !== undefined && record.decision !== intentDecision
      ? { decision: record.decision }
      : {}),
  };
}

// ---- the log ---------------------------------------------------------------------------------------------

export interface AuditOptions {
  /** JSON-lines file; undefined → records go to the logger (stderr) instead. */
  path?: string | undefined;
  logger: Logger;
  now?: () => number;
  /** Installation key for personal-data hashes (loadAuditKey); absent → a random per-process key. */
  hashKey?: Buffer | undefined;
  /** Refusal records per source and minute before suppression (default 20). */
  refusalsPerMinute?: number;
}

const REFUSAL_WINDOW_MS = 60_000;
const MAX_BUCKETS = 10_000;
/** All sources together (so a flood from many addresses is capped too). */
const GLOBAL_BUCKET = '*';
const GLOBAL_FACTOR = 10;
const MAX_OPEN_CALLS = 10_000;

interface Bucket {
  start: number;
  count: number;
  suppressed: number;
  readonly source: string;
  readonly remote: string | undefined;
  readonly agent: string | undefined;
  timer: NodeJS.Timeout | undefined;
}

interface OpenCall {
  readonly agent: string;
  readonly session: string | undefined;
  readonly tool: string;
}

interface SyncWaiter {
  /** Durable once lines up to this sequence number are synced. */
  readonly upTo: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

export class AuditLog implements AuditApi {
  private fd: number | undefined;
  private closed = false;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly path: string | undefined;
  private readonly key: Buffer;
  private readonly perMinute: number;
  private readonly buckets = new Map<string, Bucket>();
  private readonly open = new Map<string, OpenCall>();
  /** Lines appended (sequence number of the last one). */
  private appended = 0;
  /** Lines known to be on disk. */
  private synced = 0;
  /** An fdatasync is running on the thread pool. */
  private syncing = false;
  private waiters: SyncWaiter[] = [];
  /** close() ran while an fdatasync was running: the file is closed when it ends. */
  private closeWhenIdle: number | undefined;

  constructor(opts: AuditOptions) {
    this.logger = opts.logger;
    this.now = opts.now ?? Date.now;
    this.path = opts.path !== '' ? opts.path : undefined;
    this.key = opts.hashKey ?? PROCESS_KEY;
    this.perMinute = opts.refusalsPerMinute ?? 20;
    if (this.path !== undefined) {
      mkdirSync(dirname(this.path), { recursive: true });
      this.fd = openSync(this.path, 'a', 0o600);
    }
  }

  /** The line as written (exported for tests and the CLI). */
  format(record: AuditRecord): string {
    const { args, ...rest } = record;
    return this.line({ ...rest, args: redactArgs(args, this.key) });
  }

  private line(fields: Record<string, unknown>): string {
    return JSON.stringify({ time: new Date(this.now()).toISOString(), ...fields });
  }

  /**
   * Appends one line (readable at once, and it survives a killed process); returns its sequence number, or 0
   * when records go to the logger. Throws when that is impossible.
   */
  private put(line: string): number {
    if (this.closed) throw new Error('audit log is closed');
    if (this.fd === undefined) {
      this.logger.info({ audit: JSON.parse(line) as unknown }, 'audit');
      return 0;
    }
    const buf = Buffer.from(`${line}\n`, 'utf8');
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
    this.appended += 1;
    return this.appended;
  }

  /** Appends and fdatasyncs one line before returning; throws when that is impossible. */
  private append(line: string): void {
    if (this.put(line) === 0 || this.fd === undefined) return;
    const upTo = this.appended;
    fdatasyncSync(this.fd); // data + the size change: what a reader after a crash needs
    if (upTo > this.synced) this.synced = upTo;
  }

  /** Resolves once the lines up to `upTo` are on disk (group commit); rejects when fdatasync fails. */
  private syncedTo(upTo: number): Promise<void> {
    if (upTo <= this.synced || this.fd === undefined) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ upTo, resolve, reject });
      this.startSync();
    });
  }

  /** One fdatasync for every line appended so far, unless one is running (its end starts the next). */
  private startSync(): void {
    const fd = this.fd;
    if (this.syncing || fd === undefined || this.waiters.length === 0) return;
    const upTo = this.appended;
    this.syncing = true;
    fdatasync(fd, (err) => {
      this.syncing = false;
      if (err === null && upTo > this.synced) this.synced = upTo;
      const waiting = this.waiters;
      this.waiters = [];
      for (const w of waiting) {
        if (w.upTo <= this.synced) w.resolve();
        else if (err !== null && w.upTo <= upTo) w.reject(err);
        else this.waiters.push(w);
      }
      if (this.closeWhenIdle !== undefined) {
        const closing = this.closeWhenIdle;
        this.closeWhenIdle = undefined;
        this.closeFd(closing);
      } else this.startSync();
    });
  }

  /** Resolves once every line appended so far is durable. Never rejects: a failure is logged. */
  durable(): Promise<void> {
    return this.syncedTo(this.appended).catch((err: unknown) => {
      this.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'audit sync failed');
    });
  }

  private safely(what: string, f: () => void): boolean {
    try {
      f();
      return true;
    } catch (err) {
      this.logger.error({ err: err instanceof Error ? err.message : String(err) }, `audit ${what} failed`);
      return false;
    }
  }

  write(record: AuditRecord): void {
    this.safely('write', () => this.append(this.format(record)));
  }

  async intent(record: AuditIntent): Promise<string> {
    const callId = randomUUID();
    const { args, ...rest } = record;
    try {
      const seq = this.put(
        this.line({
          kind: 'intent',
          call_id: callId,
          ...rest,
          args: redactArgs(args, this.key),
        }),
      );
      // A read changes nothing at Keap: its intent becomes durable with its outcome (see the module comment).
      if (record.access !== 'read') await this.syncedTo(seq);
    } catch (err) {
      this.logger.error(
        { err: err instanceof Error ? err.message : String(err), tool: record.tool },
        'audit intent failed; the call is not sent',
      );
      throw new AuditUnavailableError(
        'the audit log could not record the call, so it was not sent to Keap (nothing was done)',
      );
    }
    if (this.open.size >= MAX_OPEN_CALLS) {
      const oldest = this.open.keys().next().value;
      if (oldest !== undefined) this.open.delete(oldest);
    }
    this.open.set(callId, { agent: record.agent, session: record.session, tool: record.tool });
    return callId;
  }

  /** Appends the outcome line; it is durable once durable() resolves (the pipeline awaits that). */
  outcome(callId: string, outcome: AuditOutcome): void {
    const call = this.open.get(callId);
    this.open.delete(callId);
    this.safely('outcome', () =>
      this.put(
        this.line({
          kind: 'outcome',
          call_id: callId,
          ...(call !== undefined ? { agent: call.agent, session: call.session, tool: call.tool } : {}),
          ...outcome,
        }),
      ),
    );
  }

  refusal(refusal: AuditRefusal): boolean {
    let recorded = false;
    this.safely('refusal', () => {
      const now = this.now();
      const id = `${refusal.source}|${refusal.remote ?? ''}|${refusal.agent ?? ''}`;
      if (!this.take(id, refusal, now, this.perMinute)) return;
      if (!this.take(GLOBAL_BUCKET, { source: GLOBAL_BUCKET }, now, this.perMinute * GLOBAL_FACTOR)) return;
      this.append(
        this.line({
          kind: 'refusal',
          decision: 'refused',
          reason: refusal.reason,
          source: refusal.source,
          ...(refusal.agent !== undefined ? { agent: safeName(refusal.agent, this.key) } : {}),
          ...(refusal.session !== undefined ? { session: safeName(refusal.session, this.key) } : {}),
          ...(refusal.tool !== undefined ? { tool: safeName(refusal.tool, this.key) } : {}),
          ...(refusal.remote !== undefined ? { remote: safeDetail(refusal.remote) } : {}),
          ...(refusal.detail !== undefined ? { detail: safeDetail(refusal.detail) } : {}),
        }),
      );
      recorded = true;
    });
    return recorded;
  }

  /** Fixed-window limit; false (and the refusal counted as suppressed) when the bucket is full. */
  private take(
    id: string,
    who: { source: string; remote?: string | undefined; agent?: string | undefined },
    now: number,
    max: number,
  ): boolean {
    let b = this.buckets.get(id);
    if (b !== undefined && now - b.start >= REFUSAL_WINDOW_MS) {
      this.endWindow(id, b);
      b = undefined;
    }
    if (b === undefined) {
      if (this.buckets.size >= MAX_BUCKETS) {
        const [oldId, old] = this.buckets.entries().next().value as [string, Bucket];
        this.endWindow(oldId, old);
      }
      b = {
        start: now,
        count: 0,
        suppressed: 0,
        source: who.source,
        remote: who.remote,
        agent: who.agent,
        timer: undefined,
      };
      this.buckets.set(id, b);
    }
    if (b.count < max) {
      b.count++;
      return true;
    }
    b.suppressed++;
    if (b.timer === undefined) {
      const bucket = b;
      bucket.timer = setTimeout(
        () => {
          bucket.timer = undefined;
          if (this.buckets.get(id) === bucket) this.endWindow(id, bucket);
        },
        Math.max(0, REFUSAL_WINDOW_MS - (now - b.start)),
      );
      bucket.timer.unref();
    }
    return false;
  }

  /** Closes a window: drops the bucket and writes the "n more suppressed" record if any were. */
  private endWindow(id: string, b: Bucket): void {
    this.buckets.delete(id);
    if (b.timer !== undefined) clearTimeout(b.timer);
    b.timer = undefined;
    if (b.suppressed === 0) return;
    this.safely('refusal summary', () =>
      this.append(
        this.line({
          kind: 'refusal',
          decision: 'refused',
          reason: 'suppressed',
          source: b.source,
          ...(b.remote !== undefined ? { remote: safeDetail(b.remote) } : {}),
          ...(b.agent !== undefined ? { agent: safeName(b.agent, this.key) } : {}),
          suppressed: b.suppressed,
          window_start: new Date(b.start).toISOString(),
          detail: `${b.suppressed} more refusal${b.suppressed === 1 ? '' : 's'} suppressed`,
        }),
      ),
    );
  }

  close(): void {
    if (this.closed) return;
    for (const [id, b] of [...this.buckets]) this.endWindow(id, b);
    this.closed = true;
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    // Everything appended becomes durable before the file closes.
    let err: Error | undefined;
    if (this.appended > this.synced) {
      try {
        fdatasyncSync(fd);
        this.synced = this.appended;
      } catch (e) {
        err = e instanceof Error ? e : new Error(String(e));
        this.logger.error({ err: err.message }, 'audit sync on close failed');
      }
    }
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) {
      if (w.upTo <= this.synced) w.resolve();
      else w.reject(err ?? new Error('audit log is closed'));
    }
    // A running fdatasync still uses the descriptor: it is closed when that ends.
    if (this.syncing) this.closeWhenIdle = fd;
    else this.closeFd(fd);
  }

  private closeFd(fd: number): void {
    try {
      closeSync(fd);
    } catch (e) {
      this.logger.error({ err: e instanceof Error ? e.message : String(e) }, 'audit close failed');
    }
  }
}
