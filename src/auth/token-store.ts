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
  load(): StoredTokens | undefined;
  save(tokens: StoredTokens): void;
  clear(): void;
}

interface Row {
  access_token: string;
  refresh_token: string;
  expires_at: number;
  token_type: string;
  scope: string | null;
  client_id: string | null;
  obtained_at: number;
  last_refresh_at: number | null;
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
  const select = db.prepare<[string], Row>(
    `SELECT access_token, refresh_token, expires_at, token_type, scope, client_id, obtained_at, last_refresh_at
       FROM keap_oauth_tokens WHERE name = ?`,
  );
  const upsert = db.prepare(
    `INSERT INTO keap_oauth_tokens
       (name, access_token, refresh_token, expires_at, token_type, scope, client_id, obtained_at, last_refresh_at, updated_at)
     VALUES (@name, @access_token, @refresh_token, @expires_at, @token_type, @scope, @client_id, @obtained_at, @last_refresh_at, @updated_at)
     ON CONFLICT(name) DO UPDATE SET
       access_token = excluded.access_token, refresh_token = excluded.refresh_token, expires_at = excluded.expires_at,
       token_type = excluded.token_type, scope = excluded.scope, client_id = excluded.client_id,
       obtained_at = excluded.obtained_at, last_refresh_at = excluded.last_refresh_at, updated_at = excluded.updated_at`,
  );
  const del = db.prepare('DELETE FROM keap_oauth_tokens WHERE name = ?');
  const saveTx = db.transaction((t: StoredTokens) => {
    upsert.run({
      name,
      access_token: t.accessToken,
      refresh_token: t.refreshToken,
      expires_at: t.expiresAt,
      token_type: t.tokenType,
      scope: t.scope ?? null,
      client_id: t.clientId ?? null,
      obtained_at: t.obtainedAt,
      last_refresh_at: t.lastRefreshAt ?? null,
      updated_at: Date.now(),
    });
  });
  return {
    name,
    load() {
      const r = select.get(name);
      if (!r) return undefined;
      return {
        accessToken: r.access_token,
        refreshToken: r.refresh_token,
        expiresAt: r.expires_at,
        tokenType: r.token_type,
        scope: r.scope ?? undefined,
        clientId: r.client_id ?? undefined,
        obtainedAt: r.obtained_at,
        lastRefreshAt: r.last_refresh_at ?? undefined,
      };
    },
    save(tokens) {
      saveTx.immediate(tokens);
    },
    clear() {
      del.run(name);
    },
  };
}
