/**
 * Idempotency keys, per agent, kept 24 h in the state store. The claim is written before the Keap
 * call, so a crash mid-call leaves a 'pending' record and the retry reports "outcome unknown"
 * instead of repeating the call.
 */
import type { StateDb } from '../state/db.js';
import type { IdempotencyApi, IdempotencyBegin } from './types.js';

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60_000;

interface Row {
  tool: string;
  args_hash: string;
  state: 'pending' | 'completed' | 'unknown';
  result: string | null;
}

/** What an existing record means for a call with this tool and arguments hash. */
function classify(row: Row | undefined, tool: string, argsHash: string): IdempotencyBegin | undefined {
  if (row === undefined) return undefined;
  if (row.tool !== tool || row.args_hash !== argsHash) return { state: 'conflict' };
  if (row.state === 'completed') {
    return { state: 'replay', result: row.result === null ? null : (JSON.parse(row.result) as unknown) };
  }
  return { state: 'unknown' };
}

export class Idempotency implements IdempotencyApi {
  private readonly db: StateDb;
  private readonly now: () => number;

  constructor(opts: { db: StateDb; now?: () => number }) {
    this.db = opts.db;
    this.now = opts.now ?? Date.now;
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS safety_idempotency (
        agent TEXT NOT NULL,
        key TEXT NOT NULL,
        tool TEXT NOT NULL,
        args_hash TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'completed', 'unknown')),
        result TEXT,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (agent, key)
      );
      CREATE INDEX IF NOT EXISTS safety_idempotency_created ON safety_idempotency (created_at);
    `);
  }

  async begin(agent: string, key: string, tool: string, argsHash: string): Promise<IdempotencyBegin> {
    const now = this.now();
    const tx = this.db.transaction((): IdempotencyBegin => {
      this.db.prepare('DELETE FROM safety_idempotency WHERE created_at <= ?').run(now - IDEMPOTENCY_TTL_MS);
      const ins = this.db
        .prepare(
          `INSERT INTO safety_idempotency (agent, key, tool, args_hash, state, result, created_at)
           VALUES (?, ?, ?, ?, 'pending', NULL, ?) ON CONFLICT (agent, key) DO NOTHING`,
        )
        .run(agent, key, tool, argsHash, now);
      if (ins.changes === 1) return { state: 'new' };
      return classify(this.row(agent, key, 0), tool, argsHash) ?? { state: 'unknown' };
    });
    return tx.immediate();
  }

  async peek(agent: string, key: string, tool: string, argsHash: string): Promise<IdempotencyBegin> {
    return (
      classify(this.row(agent, key, this.now() - IDEMPOTENCY_TTL_MS), tool, argsHash) ?? { state: 'new' }
    );
  }

  private row(agent: string, key: string, notBefore: number): Row | undefined {
    return this.db
      .prepare(
        'SELECT tool, args_hash, state, result FROM safety_idempotency WHERE agent = ? AND key = ? AND created_at > ?',
      )
      .get(agent, key, notBefore) as Row | undefined;
  }

  async complete(agent: string, key: string, result: unknown): Promise<void> {
    this.db
      .prepare(`UPDATE safety_idempotency SET state = 'completed', result = ? WHERE agent = ? AND key = ?`)
      .run(JSON.stringify(result ?? null), agent, key);
  }

  async release(agent: string, key: string): Promise<void> {
    this.db
      .prepare(`DELETE FROM safety_idempotency WHERE agent = ? AND key = ? AND state = 'pending'`)
      .run(agent, key);
  }

  async markUnknown(agent: string, key: string): Promise<void> {
    this.db
      .prepare(
        `UPDATE safety_idempotency SET state = 'unknown' WHERE agent = ? AND key = ? AND state = 'pending'`,
      )
      .run(agent, key);
  }
}
