/**
 * The shared state on Redis: OAuth token pair (+ the refresh lock across replicas), idempotency records,
 * the Confirmer's state and pending approvals. Each store implements the same interface as its embedded
 * (SQLite) twin; every check-and-set is one Lua script or one SET NX, so two replicas racing on the same key
 * cannot both win. Keys are `<prefix><kind>:<encoded parts>` (parts URI-encoded, so a ':' in an agent name or an
 * idempotency key cannot collide with another key). Single Redis (or a primary with replicas), not Cluster.
 */
import { randomBytes } from 'node:crypto';
import type { StoredTokens, TokenStore } from '../../auth/token-store.js';
import {
  APPROVAL_RETENTION_MS,
  APPROVAL_TTL_MS,
  type Approval,
  type ApprovalRow,
  type ApprovalsApi,
  approvalFromRow,
  type ConsumeResult,
  consumeRefusal,
  type DecideResult,
  decideRefusal,
  isApprovalId,
  type NewApproval,
  newApprovalRow,
} from '../../safety/approvals.js';
import {
  type ConfirmStateApi,
  LOCKOUT_MS,
  LOCKOUT_WINDOW_MS,
  MAX_SECRET_FAILURES,
} from '../../safety/confirm.js';
import { IDEMPOTENCY_TTL_MS } from '../../safety/idempotency.js';
import type { IdempotencyApi, IdempotencyBegin } from '../../safety/types.js';
import { StateUnavailableError } from '../errors.js';
import type { RedisConnection } from './connection.js';

const enc = (s: string): string => encodeURIComponent(s);

function key(conn: RedisConnection, kind: string, ...parts: string[]): string {
  return `${conn.prefix}${kind}:${parts.map(enc).join(':')}`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---- OAuth token pair ------------------------------------------------------------------------------------------

/** Lock lifetime; the holder extends it while it works, so only a crashed holder lets it lapse. */
export const REFRESH_LOCK_MS = 10_000;
/** Longest a caller waits for another replica's refresh before giving up (retryable). */
export const REFRESH_WAIT_MS = 45_000;

/** Deletes / extends the lock only when it still holds our fencing token. */
const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const EXTEND_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;

/**
 * `readsWhenDown`: while Redis is unreachable, load() answers with the pair this process last read or stored
 * (reads keep working until it expires); a refresh is never attempted without Redis (no double refresh).
 */
export function redisTokenStore(conn: RedisConnection, name = 'default', readsWhenDown = false): TokenStore {
  const k = key(conn, 'oauth', name);
  const lock = `${k}:refresh-lock`;
  let last: StoredTokens | undefined;
  return {
    name,
    async load() {
      let raw: string | null;
      try {
        raw = await conn.run('reading the Keap OAuth tokens', (c) => c.get(k));
      } catch (e) {
        if (readsWhenDown && e instanceof StateUnavailableError && last !== undefined) return last;
        throw e;
      }
      last = raw === null ? undefined : (JSON.parse(raw) as StoredTokens);
      return last;
    },
    async save(tokens) {
      await conn.run('storing the Keap OAuth tokens', (c) => c.set(k, JSON.stringify(tokens)));
      last = tokens;
    },
    async clear() {
      await conn.run('removing the Keap OAuth tokens', (c) => c.del(k));
      last = undefined;
    },
    /**
     * One refresh for all replicas: SET NX PX with a random fencing token; the holder extends it every third of its
     * lifetime and deletes it only if it is still its own. The others poll until the lock is free, then run `fn`,
     * which re-reads the pair and finds it already rotated (no second refresh, no stale refresh token).
     */
    async withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
      const token = randomBytes(16).toString('hex');
      const deadline = Date.now() + REFRESH_WAIT_MS;
      for (;;) {
        const got = await conn.run('taking the OAuth refresh lock', (c) =>
          c.set(lock, token, 'PX', REFRESH_LOCK_MS, 'NX'),
        );
        if (got === 'OK') break;
        if (Date.now() > deadline) {
          throw new StateUnavailableError(
            'another replica has been refreshing the Keap OAuth token for too long; try again shortly',
          );
        }
        await sleep(25 + Math.floor(Math.random() * 50));
      }
      const beat = setInterval(() => {
        void conn
          .run('extending the OAuth refresh lock', (c) => c.eval(EXTEND_LUA, 1, lock, token, REFRESH_LOCK_MS))
          .catch(() => {});
      }, REFRESH_LOCK_MS / 3);
      beat.unref();
      try {
        return await fn();
      } finally {
        clearInterval(beat);
        await conn
          .run('releasing the OAuth refresh lock', (c) => c.eval(RELEASE_LUA, 1, lock, token))
          .catch(() => {
            // Redis went away: the lock lapses by itself after REFRESH_LOCK_MS.
          });
      }
    },
  };
}

// ---- idempotency -----------------------------------------------------------------------------------------------

/** Claims the key when absent (state pending, 24 h); otherwise returns the existing record. */
const BEGIN_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('HMGET', KEYS[1], 'tool', 'args_hash', 'state', 'result')
end
redis.call('HSET', KEYS[1], 'tool', ARGV[1], 'args_hash', ARGV[2], 'state', 'pending')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 0`;
const COMPLETE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'state', 'completed', 'result', ARGV[1])
end
return 0`;
const RELEASE_PENDING_LUA = `
if redis.call('HGET', KEYS[1], 'state') == 'pending' then redis.call('DEL', KEYS[1]) end
return 0`;
const MARK_UNKNOWN_LUA = `
if redis.call('HGET', KEYS[1], 'state') == 'pending' then redis.call('HSET', KEYS[1], 'state', 'unknown') end
return 0`;

type Fields = [string | null, string | null, string | null, string | null];

function classify(f: Fields, tool: string, argsHash: string): IdempotencyBegin {
  const [t, h, state, result] = f;
  if (t !== tool || h !== argsHash) return { state: 'conflict' };
  if (state === 'completed') return { state: 'replay', result: result === null ? null : JSON.parse(result) };
  return { state: 'unknown' };
}

export class RedisIdempotency implements IdempotencyApi {
  constructor(private readonly conn: RedisConnection) {}

  private k(agent: string, k: string): string {
    return key(this.conn, 'idem', agent, k);
  }

  async begin(agent: string, k: string, tool: string, argsHash: string): Promise<IdempotencyBegin> {
    const r = (await this.conn.run('claiming the idempotency key', (c) =>
      c.eval(BEGIN_LUA, 1, this.k(agent, k), tool, argsHash, IDEMPOTENCY_TTL_MS),
    )) as Fields | 0;
    return r === 0 ? { state: 'new' } : classify(r, tool, argsHash);
  }

  async peek(agent: string, k: string, tool: string, argsHash: string): Promise<IdempotencyBegin> {
    const r = (await this.conn.run('reading the idempotency key', (c) =>
      c.hmget(this.k(agent, k), 'tool', 'args_hash', 'state', 'result'),
    )) as Fields;
    return r[0] === null ? { state: 'new' } : classify(r, tool, argsHash);
  }

  async complete(agent: string, k: string, result: unknown): Promise<void> {
    await this.conn.run('storing the idempotent result', (c) =>
      c.eval(COMPLETE_LUA, 1, this.k(agent, k), JSON.stringify(result ?? null)),
    );
  }

  async release(agent: string, k: string): Promise<void> {
    await this.conn.run('releasing the idempotency key', (c) =>
      c.eval(RELEASE_PENDING_LUA, 1, this.k(agent, k)),
    );
  }

  async markUnknown(agent: string, k: string): Promise<void> {
    await this.conn.run('marking the idempotency key', (c) => c.eval(MARK_UNKNOWN_LUA, 1, this.k(agent, k)));
  }
}

// ---- confirmation state ----------------------------------------------------------------------------------------

/**
 * One wrong secret: a sorted set of failure times in the window; at the limit the (agent, tool) is locked and the
 * count restarts. KEYS: failures, lock. ARGV: now, window, member, max, lockout.
 */
const SECRET_FAILURE_LUA = `
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[4]) then
  redis.call('SET', KEYS[2], tostring(now + tonumber(ARGV[5])), 'PX', ARGV[5])
  redis.call('DEL', KEYS[1])
end
return n`;

/** Clock differences between replicas: marks and declines are kept this much longer than strictly needed. */
const SKEW_MS = 60_000;

export class RedisConfirmState implements ConfirmStateApi {
  constructor(private readonly conn: RedisConnection) {}

  async hmacKey(): Promise<Buffer> {
    const k = key(this.conn, 'confirm', 'hmac-key');
    const v = await this.conn.run('reading the confirmation key', async (c) => {
      // First replica creates it; every other one reads the same key. Never logged.
      await c.set(k, randomBytes(32).toString('base64'), 'NX');
      return c.get(k);
    });
    if (v === null)
      throw new StateUnavailableError('the confirmation key is missing from the shared state store');
    return Buffer.from(v, 'base64');
  }

  async isUsed(id: string): Promise<boolean> {
    const n = await this.conn.run('checking the confirmation token', (c) =>
      c.exists(key(this.conn, 'confirm-used', id)),
    );
    return n === 1;
  }

  async claimToken(id: string, expiresAt: number, now: number): Promise<boolean> {
    const ttl = Math.max(1, expiresAt - now) + SKEW_MS;
    const r = await this.conn.run('using the confirmation token', (c) =>
      c.set(key(this.conn, 'confirm-used', id), '1', 'PX', ttl, 'NX'),
    );
    return r === 'OK';
  }

  async declinedUntil(agent: string, tool: string, hash: string, now: number): Promise<number | undefined> {
    const v = await this.conn.run('reading declines', (c) =>
      c.get(key(this.conn, 'confirm-declined', agent, tool, hash)),
    );
    const until = v === null ? undefined : Number(v);
    return until !== undefined && until > now ? until : undefined;
  }

  async recordDecline(agent: string, tool: string, hash: string, until: number, now: number): Promise<void> {
    await this.conn.run('recording the decline', (c) =>
      c.set(
        key(this.conn, 'confirm-declined', agent, tool, hash),
        String(until),
        'PX',
        until - now + SKEW_MS,
      ),
    );
  }

  async clearDecline(agent: string, tool: string, hash: string): Promise<void> {
    await this.conn.run('clearing the decline', (c) =>
      c.del(key(this.conn, 'confirm-declined', agent, tool, hash)),
    );
  }

  async lockedUntil(agent: string, tool: string, now: number): Promise<number | undefined> {
    const v = await this.conn.run('reading the lockout', (c) =>
      c.get(key(this.conn, 'confirm-lock', agent, tool)),
    );
    const until = v === null ? undefined : Number(v);
    return until !== undefined && until > now ? until : undefined;
  }

  async recordSecretFailure(agent: string, tool: string, now: number): Promise<number> {
    const n = await this.conn.run('counting the wrong secret', (c) =>
      c.eval(
        SECRET_FAILURE_LUA,
        2,
        key(this.conn, 'confirm-failures', agent, tool),
        key(this.conn, 'confirm-lock', agent, tool),
        now,
        LOCKOUT_WINDOW_MS,
        `${now}:${randomBytes(6).toString('hex')}`,
        MAX_SECRET_FAILURES,
        LOCKOUT_MS,
      ),
    );
    return Number(n);
  }
}

// ---- approvals -------------------------------------------------------------------------------------------------

/** pending → approved/denied, only while pending and unexpired. ARGV: to, operator, now. */
const DECIDE_LUA = `
local r = redis.call('HMGET', KEYS[1], 'status', 'expires_at')
if r[1] == 'pending' and tonumber(r[2]) > tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'status', ARGV[1], 'decided_by', ARGV[2], 'decided_at', ARGV[3])
  return 1
end
return 0`;
/** approved → consumed, once, for the same agent, tool and arguments, unexpired. ARGV: agent, tool, hash, now. */
const CONSUME_LUA = `
local r = redis.call('HMGET', KEYS[1], 'status', 'agent', 'tool', 'args_hash', 'expires_at')
if r[1] == 'approved' and r[2] == ARGV[1] and r[3] == ARGV[2] and r[4] == ARGV[3]
  and tonumber(r[5]) > tonumber(ARGV[4]) then
  redis.call('HSET', KEYS[1], 'status', 'consumed', 'consumed_at', ARGV[4])
  return 1
end
return 0`;

const NUMERIC = new Set(['created_at', 'expires_at', 'decided_at', 'consumed_at']);

function rowFrom(h: Record<string, string>): ApprovalRow | undefined {
  if (h.id === undefined) return undefined;
  const out: Record<string, string | number | null> = {};
  for (const f of [
    'id',
    'agent',
    'tool',
    'request',
    'preview',
    'args_hash',
    'session',
    'created_at',
    'expires_at',
    'status',
    'decided_by',
    'decided_at',
    'consumed_at',
  ]) {
    const v = h[f];
    out[f] = v === undefined || v === '' ? null : NUMERIC.has(f) ? Number(v) : v;
  }
  return out as unknown as ApprovalRow;
}

export class RedisApprovals implements ApprovalsApi {
  private readonly now: () => number;
  private readonly ttlMs: number;
  private readonly index: string;

  constructor(
    private readonly conn: RedisConnection,
    opts: { now?: () => number; ttlMs?: number } = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.ttlMs = opts.ttlMs ?? APPROVAL_TTL_MS;
    this.index = `${conn.prefix}approvals`;
  }

  private k(id: string): string {
    return `${this.conn.prefix}approval:${id}`;
  }

  private async row(id: string): Promise<ApprovalRow | undefined> {
    if (!isApprovalId(id)) return undefined;
    const h = await this.conn.run('reading the approval', (c) => c.hgetall(this.k(id)));
    return rowFrom(h);
  }

  private async rows(ids: readonly string[]): Promise<ApprovalRow[]> {
    if (ids.length === 0) return [];
    const all = await this.conn.run('reading approvals', (c) => {
      const p = c.pipeline();
      for (const id of ids) p.hgetall(this.k(id));
      return p.exec();
    });
    const out: ApprovalRow[] = [];
    for (const [err, h] of all ?? []) {
      if (err) continue;
      const r = rowFrom(h as Record<string, string>);
      if (r !== undefined) out.push(r);
    }
    return out;
  }

  async create(input: NewApproval): Promise<Approval> {
    const now = this.now();
    const row = newApprovalRow(input, now, this.ttlMs);
    const fields: Record<string, string> = {};
    for (const [f, v] of Object.entries(row)) fields[f] = v === null ? '' : String(v);
    await this.conn.run('creating the approval', (c) =>
      c
        .multi()
        .hset(this.k(row.id), fields)
        .pexpire(this.k(row.id), this.ttlMs + APPROVAL_RETENTION_MS)
        .zadd(this.index, now, row.id)
        .zremrangebyscore(this.index, '-inf', now - this.ttlMs - APPROVAL_RETENTION_MS)
        .exec(),
    );
    return approvalFromRow(row, now);
  }

  async get(id: string): Promise<Approval | undefined> {
    const r = await this.row(id);
    return r === undefined ? undefined : approvalFromRow(r, this.now());
  }

  async listPending(): Promise<Approval[]> {
    const now = this.now();
    // Only approvals created within their lifetime can still be pending.
    const ids = await this.conn.run('listing approvals', (c) =>
      c.zrangebyscore(this.index, now - this.ttlMs, '+inf'),
    );
    const rows = await this.rows(ids);
    return rows
      .filter((r) => r.status === 'pending' && r.expires_at > now)
      .sort((a, b) => a.created_at - b.created_at)
      .map((r) => approvalFromRow(r, now));
  }

  async listRecent(limit: number): Promise<Approval[]> {
    const now = this.now();
    const n = Math.max(0, Math.min(1000, Math.floor(limit)));
    if (n === 0) return [];
    const ids = await this.conn.run('listing approvals', (c) => c.zrevrange(this.index, 0, n - 1));
    return (await this.rows(ids)).map((r) => approvalFromRow(r, now));
  }

  approve(id: string, operator: string): Promise<DecideResult> {
    return this.decide(id, operator, 'approved');
  }

  deny(id: string, operator: string): Promise<DecideResult> {
    return this.decide(id, operator, 'denied');
  }

  private async decide(id: string, operator: string, to: 'approved' | 'denied'): Promise<DecideResult> {
    const now = this.now();
    if (!isApprovalId(id)) return decideRefusal(undefined);
    const won = await this.conn.run('deciding the approval', (c) =>
      c.eval(DECIDE_LUA, 1, this.k(id), to, operator, now),
    );
    const row = await this.row(id);
    if (won === 1 && row !== undefined) return { ok: true, approval: approvalFromRow(row, now) };
    return decideRefusal(row);
  }

  async consume(id: string, agent: string, tool: string, argsHash: string): Promise<ConsumeResult> {
    const now = this.now();
    if (!isApprovalId(id)) return consumeRefusal(undefined, agent, tool, argsHash, now);
    const won = await this.conn.run('using the approval', (c) =>
      c.eval(CONSUME_LUA, 1, this.k(id), agent, tool, argsHash, now),
    );
    const row = await this.row(id);
    if (won === 1 && row !== undefined) return { ok: true, approval: approvalFromRow(row, now) };
    return consumeRefusal(row, agent, tool, argsHash, now);
  }
}
