/**
 * OAuth token store: one table in the shared state DB (src/state/db.ts). A pair is written in one statement
 * inside a transaction (atomic) and the caller uses the new access token only after save() returned, so a crash
 * can never leave us holding a rotated refresh token that is not on disk.
 */
import type { StateDb } from '../state/db.js';

export interface StoredTokens {
  readonly accessToken: string;
  readonly refreshToken: string;
  /** Access-token expiry, epoch ms. */
  readonly expiresAt: number;
  readonly tokenType: string;
  readonly scope: string | undefined;
  readonly clientId: string | undefined;
  /** When the current pair was issued (epoch ms). */
  readonly obtainedAt: number;
  /** When the last refresh happened (undefined: the pair came from `auth login`). */
  readonly lastRefreshAt: number | undefined;
}

export interface TokenStore {
  /** Store name (one row per name; default 'default'). */
  readonly name: string;
  load(): Promise<StoredTokens | undefined>;
  /** Resolves once the pair is durable (SQLite: committed; Redis: acknowledged). */
  save(tokens: StoredTokens): Promise<void>;
  clear(): Promise<void>;
  /**
   * Runs `fn` holding this store's refresh lock. A shared store (Redis) makes it a lock across processes with an
   * expiry, so one refresh happens for all replicas and a crashed holder blocks no one; `fn` re-reads the pair
   * before refreshing. Absent: the in-process single flight is the only one needed (embedded store).
   */
  withRefreshLock?<T>(fn: () => Promise<T>): Promise<T>;
}

/** StoredTokens field → SQL column: the one place both directions of the mapping come from. */
const COLUMNS = {
  accessToken: 'access_token',
  refreshToken: 'refresh_token',
  expiresAt: 'expires_at',
  tokenType: 'token_type',
  scope: 'scope',
  clientId: 'client_id',
  obtainedAt: 'obtained_at',
  lastRefreshAt: 'last_refresh_at',
} as const satisfies Record<keyof StoredTokens, string>;

type Row = Record<string, string | number | null>;
const FIELDS = Object.entries(COLUMNS) as [keyof StoredTokens, string][];
const COLUMN_LIST = FIELDS.map(([, col]) => col).join(', ');

/** Optional fields are NULL in SQLite and undefined in TypeScript. */
function toRow(t: StoredTokens): Row {
  const row: Row = {};
  for (const [field, col] of FIELDS) row[col] = t[field] ?? null;
  return row;
}

function fromRow(r: Row): StoredTokens {
  const t: Record<string, string | number | undefined> = {};
  for (const [field, col] of FIELDS) t[field] = r[col] ?? undefined;
  return t as unknown as StoredTokens;
}

export function openTokenStore(db: StateDb, name = 'default'): TokenStore {
  db.exec(`CREATE TABLE IF NOT EXISTS keap_oauth_tokens (
    name TEXT PRIMARY KEY,
    access_token TEXT NOT NULL,
    refresh_token TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    token_type TEXT NOT NULL,
    scope TEXT,
    client_id TEXT,
    obtained_at INTEGER NOT NULL,
    last_refresh_at INTEGER,
    updated_at INTEGER NOT NULL
  )`);
  const select = db.prepare<[string], Row>(`SELECT ${COLUMN_LIST} FROM keap_oauth_tokens WHERE name = ?`);
  const assignments = [...FIELDS.map(([, col]) => col), 'updated_at'].map(
    (col) => `${col} = excluded.${col}`,
  );
  const upsert = db.prepare(
    `INSERT INTO keap_oauth_tokens (name, ${COLUMN_LIST}, updated_at)
     VALUES (@name, ${FIELDS.map(([, col]) => `@${col}`).join(', ')}, @updated_at)
     ON CONFLICT(name) DO UPDATE SET ${assignments.join(', ')}`,
  );
  const del = db.prepare('DELETE FROM keap_oauth_tokens WHERE name = ?');
  const saveTx = db.transaction((t: StoredTokens) => {
    upsert.run({ ...toRow(t), name, updated_at: Date.now() });
  });
  return {
    name,
    async load() {
      const r = select.get(name);
      return r ? fromRow(r) : undefined;
    },
    async save(tokens) {
      saveTx.immediate(tokens);
    },
    async clear() {
      del.run(name);
    },
  };
}
