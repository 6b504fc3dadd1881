/**
 * One factory for all shared state: the embedded SQLite store by default, Redis when KEAP_MCP_REDIS_URL is set
 * (several replicas behind a load balancer then share tokens, idempotency, confirmations, approvals and hooks).
 * The rate limiter has its own Redis wiring (src/keap/limiter.ts); the audit log stays a file per replica.
 */

import { openTokenStore, type TokenStore } from '../auth/token-store.js';
import type { HookRegistryApi, InboxApi, RetentionOptions } from '../hooks/types.js';
import type { Logger } from '../logger.js';
import type { ApprovalsApi } from '../safety/approvals.js';
import { type Approvals, Approvals as SqliteApprovals } from '../safety/approvals.js';
import { type ConfirmStateApi, SqliteConfirmState } from '../safety/confirm.js';
import { Idempotency } from '../safety/idempotency.js';
import type { IdempotencyApi } from '../safety/types.js';
import { openStateDb, type StateDb } from './db.js';
import { StateUnavailableError } from './errors.js';
import type { RedisConnection } from './redis/connection.js';
import { redactRedisUrl } from './redis/redact.js';

export { StateUnavailableError } from './errors.js';
export { redactRedisUrl } from './redis/redact.js';

export interface SharedState {
  readonly kind: 'sqlite' | 'redis';
  /** The embedded DB (also what the audit key and other per-process tables use). */
  readonly db: StateDb;
  readonly tokens: TokenStore;
  readonly idempotency: IdempotencyApi;
  readonly confirmState: ConfirmStateApi;
  readonly approvals: ApprovalsApi;
  /** Absent with the embedded store unless `sqliteHooks` was given (the hooks module builds its own). */
  readonly hookInbox: InboxApi | undefined;
  readonly hookRegistry: HookRegistryApi | undefined;
  /**
   * Whether a call may run now: undefined when it may, else why not. Redis down → writes are refused; reads only
   * when the operator opted in (KEAP_MCP_REDIS_READS_WHEN_DOWN).
   */
  unavailable(access: 'read' | 'write'): StateUnavailableError | undefined;
  /** Where the shared state lives, for logs (no password). */
  readonly where: string;
  close(): Promise<void>;
}

export interface OpenStateOptions {
  /** KEAP_MCP_REDIS_URL; absent → the embedded store. */
  readonly redisUrl?: string | undefined;
  readonly redisReadsWhenDown?: boolean | undefined;
  /** Embedded store directory; undefined → in memory (sandbox, tests). */
  readonly stateDir: string | undefined;
  readonly logger?: Logger | undefined;
  readonly now?: () => number;
  readonly approvalTtlMs?: number | undefined;
  readonly hooksRetention?: Partial<RetentionOptions> | undefined;
  /** Redis key prefix (default `keap-mcp:`). */
  readonly redisPrefix?: string | undefined;
  /** The embedded hooks store (src/hooks/inbox.ts openSqliteHooks), when the caller wants it built here. */
  readonly sqliteHooks?: ((db: StateDb) => { inbox: InboxApi; registry: HookRegistryApi }) | undefined;
}

/**
 * Opens the state. With a Redis URL it connects first and rejects with a StateUnavailableError (the URL without its
 * password in the message) when Redis cannot be reached: the server must refuse to start.
 */
export async function openState(opts: OpenStateOptions): Promise<SharedState> {
  const db = openStateDb(opts.stateDir);
  const now = opts.now ?? Date.now;
  if (opts.redisUrl === undefined) {
    const hooks = opts.sqliteHooks?.(db);
    return {
      kind: 'sqlite',
      db,
      tokens: openTokenStore(db),
      idempotency: new Idempotency({ db, now }),
      confirmState: new SqliteConfirmState(db),
      approvals: new SqliteApprovals({
        db,
        now,
        ...(opts.approvalTtlMs !== undefined ? { ttlMs: opts.approvalTtlMs } : {}),
      }) satisfies Approvals,
      hookInbox: hooks?.inbox,
      hookRegistry: hooks?.registry,
      unavailable: () => undefined,
      where: opts.stateDir ?? '(memory)',
      async close() {
        await hooks?.inbox.close();
        db.close();
      },
    };
  }
  // ioredis and the Redis stores load only when KEAP_MCP_REDIS_URL is set.
  const [{ connectRedis }, { RedisHookRegistry, RedisInbox }, stores] = await Promise.all([
    import('./redis/connection.js'),
    import('./redis/hooks.js'),
    import('./redis/stores.js'),
  ]);
  const { RedisApprovals, RedisConfirmState, RedisIdempotency, redisTokenStore } = stores;
  let conn: RedisConnection;
  try {
    conn = await connectRedis(opts.redisUrl, {
      ...(opts.redisPrefix !== undefined ? { prefix: opts.redisPrefix } : {}),
    });
  } catch (e) {
    db.close();
    throw e;
  }
  const readsWhenDown = opts.redisReadsWhenDown === true;
  const inbox = new RedisInbox(conn, { now, retention: opts.hooksRetention, logger: opts.logger });
  let wasReady = true;
  conn.client.on('ready', () => {
    if (!wasReady) opts.logger?.info({ redis: conn.where }, 'Redis is reachable again: shared state resumed');
    wasReady = true;
  });
  conn.client.on('close', () => {
    if (wasReady) {
      opts.logger?.error(
        { redis: conn.where },
        `Redis connection lost: writes are refused${readsWhenDown ? '' : ' (and reads)'} until it is back`,
      );
    }
    wasReady = false;
  });
  return {
    kind: 'redis',
    db,
    tokens: redisTokenStore(conn, 'default', readsWhenDown),
    idempotency: new RedisIdempotency(conn),
    confirmState: new RedisConfirmState(conn),
    approvals: new RedisApprovals(conn, {
      now,
      ...(opts.approvalTtlMs !== undefined ? { ttlMs: opts.approvalTtlMs } : {}),
    }),
    hookInbox: inbox,
    hookRegistry: new RedisHookRegistry(conn, { now }),
    unavailable(access) {
      if (conn.ready()) return undefined;
      if (access === 'read' && readsWhenDown) return undefined;
      return new StateUnavailableError(
        `the shared state store (Redis at ${conn.where}) is unreachable, so ${
          access === 'write' ? 'writes are' : 'calls are'
        } refused until it is back; nothing was sent to Keap`,
      );
    },
    where: redactRedisUrl(opts.redisUrl),
    async close() {
      await inbox.close();
      await conn.close();
      db.close();
    },
  };
}
