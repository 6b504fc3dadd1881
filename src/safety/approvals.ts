/**
 * Pending approvals: a confirmation that a human decides out of band (the operator console), where the model
 * cannot reach. The pipeline creates one with the exact request it would send (method, filled path, query, body),
 * the plain-words preview and the arguments hash; the operator approves or denies it; the repeated call consumes
 * it once — only when it was approved, by the same agent, for the same tool and arguments, before it expired.
 *
 * Stored in the state DB (table safety_approvals), so approvals survive a restart. Ids are 128-bit random
 * (base64url). Consumption is one conditional UPDATE: of two concurrent consumers (threads, processes) exactly
 * one wins.
 */
import { randomBytes } from 'node:crypto';
import type { StateDb } from '../state/db.js';

/** How long an approval can be decided and consumed after it was created. */
export const APPROVAL_TTL_MS = 10 * 60_000;
/** Decided, consumed and expired approvals are kept this long (for the console's history), then deleted. */
export const APPROVAL_RETENTION_MS = 24 * 60 * 60_000;

/** The exact request the approval authorizes: what the human sees is what Keap receives. */
export interface ApprovalRequest {
  readonly method: string;
  /** The filled path, e.g. /v2/contacts/7 (not the template). */
  readonly path: string;
  readonly query?: Readonly<Record<string, unknown>> | undefined;
  readonly body?: unknown;
}

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'consumed' | 'expired';

export interface Approval {
  readonly id: string;
  readonly agent: string;
  readonly tool: string;
  readonly request: ApprovalRequest;
  readonly preview: string;
  readonly argsHash: string;
  readonly session: string | undefined;
  /** ms since epoch */
  readonly createdAt: number;
  readonly expiresAt: number;
  /** 'expired' when still pending or approved-but-unused after expiresAt. */
  readonly status: ApprovalStatus;
  readonly decidedBy: string | undefined;
  readonly decidedAt: number | undefined;
  readonly consumedAt: number | undefined;
}

export interface NewApproval {
  readonly agent: string;
  readonly tool: string;
  readonly request: ApprovalRequest;
  readonly preview: string;
  readonly argsHash: string;
  readonly session?: string | undefined;
}

export type DecideResult =
  | { readonly ok: true; readonly approval: Approval }
  | {
      readonly ok: false;
      readonly reason: 'unknown' | 'expired' | 'already_decided';
      readonly message: string;
    };

export type ConsumeRefusal =
  | 'unknown'
  | 'pending'
  | 'denied'
  | 'expired'
  | 'consumed'
  | 'other_agent'
  | 'other_tool'
  | 'changed_args';

export type ConsumeResult =
  | { readonly ok: true; readonly approval: Approval }
  | { readonly ok: false; readonly reason: ConsumeRefusal; readonly message: string };

export interface ApprovalsApi {
  create(input: NewApproval): Promise<Approval>;
  get(id: string): Promise<Approval | undefined>;
  /** Pending (undecided, unexpired) approvals, oldest first. */
  listPending(): Promise<Approval[]>;
  /** Most recent approvals of any status, newest first (console history). */
  listRecent(limit: number): Promise<Approval[]>;
  approve(id: string, operator: string): Promise<DecideResult>;
  deny(id: string, operator: string): Promise<DecideResult>;
  /** Single use: succeeds once, for an approved, unexpired approval of the same agent, tool and arguments. */
  consume(id: string, agent: string, tool: string, argsHash: string): Promise<ConsumeResult>;
}

/** One approval as stored (SQLite columns; the Redis store keeps the same fields). */
export interface ApprovalRow {
  id: string;
  agent: string;
  tool: string;
  request: string;
  preview: string;
  args_hash: string;
  session: string | null;
  created_at: number;
  expires_at: number;
  status: 'pending' | 'approved' | 'denied' | 'consumed';
  decided_by: string | null;
  decided_at: number | null;
  consumed_at: number | null;
}

const ID = /^[A-Za-z0-9_-]{22}$/;

/** True when the string has the shape of an approval id (22 base64url characters). */
export function isApprovalId(s: string): boolean {
  return ID.test(s);
}

export class Approvals implements ApprovalsApi {
  private readonly db: StateDb;
  private readonly now: () => number;
  private readonly ttlMs: number;

  /** `ttlMs`: how long an approval lives (default APPROVAL_TTL_MS, 10 minutes). */
  constructor(opts: { db: StateDb; now?: () => number; ttlMs?: number }) {
    this.db = opts.db;
    this.now = opts.now ?? Date.now;
    this.ttlMs = opts.ttlMs ?? APPROVAL_TTL_MS;
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS safety_approvals (
        id TEXT PRIMARY KEY,
        agent TEXT NOT NULL,
        tool TEXT NOT NULL,
        request TEXT NOT NULL,
        preview TEXT NOT NULL,
        args_hash TEXT NOT NULL,
        session TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'consumed')),
        decided_by TEXT,
        decided_at INTEGER,
        consumed_at INTEGER
      );
      CREATE INDEX IF NOT EXISTS safety_approvals_status ON safety_approvals (status, expires_at);
    `);
  }

  async create(input: NewApproval): Promise<Approval> {
    const now = this.now();
    this.db.prepare('DELETE FROM safety_approvals WHERE expires_at < ?').run(now - APPROVAL_RETENTION_MS);
    const row = newApprovalRow(input, now, this.ttlMs);
    this.db
      .prepare(
        `INSERT INTO safety_approvals (id, agent, tool, request, preview, args_hash, session, created_at, expires_at,
           status, decided_by, decided_at, consumed_at)
         VALUES (@id, @agent, @tool, @request, @preview, @args_hash, @session, @created_at, @expires_at,
           @status, @decided_by, @decided_at, @consumed_at)`,
      )
      .run(row);
    return approvalFromRow(row, now);
  }

  async get(id: string): Promise<Approval | undefined> {
    const row = this.row(id);
    return row === undefined ? undefined : approvalFromRow(row, this.now());
  }

  async listPending(): Promise<Approval[]> {
    const now = this.now();
    const rows = this.db
      .prepare(
        "SELECT * FROM safety_approvals WHERE status = 'pending' AND expires_at > ? ORDER BY created_at, rowid",
      )
      .all(now) as ApprovalRow[];
    return rows.map((r) => approvalFromRow(r, now));
  }

  async listRecent(limit: number): Promise<Approval[]> {
    const now = this.now();
    const n = Math.max(0, Math.min(1000, Math.floor(limit)));
    const rows = this.db
      .prepare('SELECT * FROM safety_approvals ORDER BY created_at DESC, rowid DESC LIMIT ?')
      .all(n) as ApprovalRow[];
    return rows.map((r) => approvalFromRow(r, now));
  }

  async approve(id: string, operator: string): Promise<DecideResult> {
    return this.decide(id, operator, 'approved');
  }

  async deny(id: string, operator: string): Promise<DecideResult> {
    return this.decide(id, operator, 'denied');
  }

  private decide(id: string, operator: string, to: 'approved' | 'denied'): DecideResult {
    const now = this.now();
    const r = this.db
      .prepare(
        `UPDATE safety_approvals SET status = ?, decided_by = ?, decided_at = ?
         WHERE id = ? AND status = 'pending' AND expires_at > ?`,
      )
      .run(to, operator, now, id, now);
    const row = this.row(id);
    if (r.changes === 1 && row !== undefined) return { ok: true, approval: approvalFromRow(row, now) };
    return decideRefusal(row);
  }

  async consume(id: string, agent: string, tool: string, argsHash: string): Promise<ConsumeResult> {
    const now = this.now();
    // The claim: one conditional UPDATE, so a concurrent consumer (another connection or process) loses.
    const r = this.db
      .prepare(
        `UPDATE safety_approvals SET status = 'consumed', consumed_at = ?
         WHERE id = ? AND status = 'approved' AND agent = ? AND tool = ? AND args_hash = ? AND expires_at > ?`,
      )
      .run(now, id, agent, tool, argsHash, now);
    const row = this.row(id);
    if (r.changes === 1 && row !== undefined) return { ok: true, approval: approvalFromRow(row, now) };
    return consumeRefusal(row, agent, tool, argsHash, now);
  }

  private row(id: string): ApprovalRow | undefined {
    if (!isApprovalId(id)) return undefined;
    return this.db.prepare('SELECT * FROM safety_approvals WHERE id = ?').get(id) as ApprovalRow | undefined;
  }
}

/** Why a decision was not applied (the approval is unknown, expired or already decided). */
export function decideRefusal(row: ApprovalRow | undefined): DecideResult {
  if (row === undefined) {
    return { ok: false, reason: 'unknown', message: 'No such approval.' };
  }
  if (row.status === 'pending') {
    return {
      ok: false,
      reason: 'expired',
      message: 'This approval expired before it was decided; the agent must ask again.',
    };
  }
  return {
    ok: false,
    reason: 'already_decided',
    message: `This approval was already ${row.status}${row.decided_by !== null ? ` by ${row.decided_by}` : ''}.`,
  };
}

/** Why a consume was refused, checked in an order that tells another agent nothing beyond "not yours". */
export function consumeRefusal(
  row: ApprovalRow | undefined,
  agent: string,
  tool: string,
  argsHash: string,
  now: number,
): ConsumeResult {
  const no = (reason: ConsumeRefusal, message: string): ConsumeResult => ({ ok: false, reason, message });
  // Checked in this order so another agent learns nothing about the approval beyond "not yours".
  if (row === undefined) return no('unknown', 'No approval with this id exists. Nothing was done.');
  if (row.agent !== agent) {
    return no('other_agent', 'This approval was requested by another agent; it cannot be used by this one.');
  }
  if (row.tool !== tool) {
    return no('other_tool', `This approval is for ${row.tool}, not ${tool}. Nothing was done.`);
  }
  if (row.args_hash !== argsHash) {
    return no(
      'changed_args',
      'The arguments differ from the ones the operator was asked to approve. Call again with exactly the same arguments, or without approval_id to request a new approval.',
    );
  }
  if (row.status === 'consumed') {
    return no('consumed', 'This approval was already used; each approval runs one call. Nothing was done.');
  }
  if (row.status === 'denied') {
    return no(
      'denied',
      `The operator denied this action${row.decided_by !== null ? ` (${row.decided_by})` : ''}. Nothing was done; do not retry unless the user asks again.`,
    );
  }
  if (row.expires_at <= now) {
    return no(
      'expired',
      'This approval expired (approvals last 10 minutes). Call again without approval_id to request a new one.',
    );
  }
  return no(
    'pending',
    'The operator has not approved this action yet. Ask the user to approve it in the operator console, then call again with the same approval_id.',
  );
}

export function approvalFromRow(r: ApprovalRow, now: number): Approval {
  const expired = (r.status === 'pending' || r.status === 'approved') && r.expires_at <= now;
  return {
    id: r.id,
    agent: r.agent,
    tool: r.tool,
    request: JSON.parse(r.request) as ApprovalRequest,
    preview: r.preview,
    argsHash: r.args_hash,
    session: r.session ?? undefined,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    status: expired ? 'expired' : r.status,
    decidedBy: r.decided_by ?? undefined,
    decidedAt: r.decided_at ?? undefined,
    consumedAt: r.consumed_at ?? undefined,
  };
}

/** The stored form of a new, pending approval (a 128-bit random id). */
export function newApprovalRow(input: NewApproval, now: number, ttlMs: number): ApprovalRow {
  return {
    id: randomBytes(16).toString('base64url'),
    agent: input.agent,
    tool: input.tool,
    request: JSON.stringify({
      method: input.request.method,
      path: input.request.path,
      ...(input.request.query !== undefined ? { query: input.request.query } : {}),
      ...(input.request.body !== undefined ? { body: input.request.body } : {}),
    }),
    preview: input.preview,
    args_hash: input.argsHash,
    session: input.session ?? null,
    created_at: now,
    expires_at: now + ttlMs,
    status: 'pending',
    decided_by: null,
    decided_at: null,
    consumed_at: null,
  };
}
