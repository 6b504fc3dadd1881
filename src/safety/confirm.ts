/**
 * Human confirmation for ✋ tools. With an elicitation-capable client the human answers a form;
 * otherwise the first call returns a single-use confirmation token (HMAC-SHA256 over agent, tool,
 * canonical arguments and expiry) that the repeated call must carry. In human_secret mode the
 * operator's secret is also required; 5 wrong secrets in 15 minutes lock the tool for the agent.
 *
 * Policy `confirm_via: "human"` (or `human_confirm_tools`) refuses the token fallback: only the client's form
 * can confirm, and a client without elicitation is refused without a token. A human's "no" in the form blocks
 * the same (agent, tool, arguments) from the token path in every session of that agent for the token lifetime,
 * so opening a second session without elicitation cannot route around it.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { type AnyToolSpec, toolScope } from '../registry/define.js';
import type { StateDb } from '../state/db.js';
import { argsHash, sha256Hex } from './canonical.js';
import type { ConfirmCall, ConfirmChannel, ConfirmerApi, ConfirmOutcome } from './types.js';

export const TOKEN_TTL_MS = 10 * 60_000;
export const LOCKOUT_WINDOW_MS = 15 * 60_000;
export const LOCKOUT_MS = 15 * 60_000;
export const MAX_SECRET_FAILURES = 5;

interface TokenPayload {
  /** version */
  v: 1;
  /** token id (single use) */
  i: string;
  /** agent */
  a: string;
  /** tool */
  t: string;
  /** sha256 of canonical arguments */
  h: string;
  /** expiry, ms since epoch */
  e: number;
}

/**
 * The Confirmer's shared state: the HMAC key (one per deployment, so a token issued by one replica verifies on
 * another; never logged), single-use token marks, human-secret failures and lockouts, and a human's "no".
 * Embedded: tables in the state DB (SqliteConfirmState); shared: Redis (src/state/redis/confirm-state.ts).
 */
export interface ConfirmStateApi {
  /** The HMAC key, created once by whoever comes first and then the same for everyone sharing the store. */
  hmacKey(): Promise<Buffer>;
  isUsed(id: string): Promise<boolean>;
  /** Marks the token id used; true for exactly one caller (a concurrent replay gets false). */
  claimToken(id: string, expiresAt: number, now: number): Promise<boolean>;
  declinedUntil(agent: string, tool: string, argsHash: string, now: number): Promise<number | undefined>;
  recordDecline(agent: string, tool: string, argsHash: string, until: number, now: number): Promise<void>;
  clearDecline(agent: string, tool: string, argsHash: string): Promise<void>;
  lockedUntil(agent: string, tool: string, now: number): Promise<number | undefined>;
  /**
   * Counts one wrong secret in the window; at MAX_SECRET_FAILURES the (agent, tool) is locked for LOCKOUT_MS and
   * the count restarts. Resolves with the count including this failure.
   */
  recordSecretFailure(agent: string, tool: string, now: number): Promise<number>;
}

/** The embedded confirmation state: tables in the SQLite state DB. */
export class SqliteConfirmState implements ConfirmStateApi {
  private readonly key: Buffer;

  constructor(private readonly db: StateDb) {
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS safety_kv (k TEXT PRIMARY KEY, v BLOB NOT NULL);
      CREATE TABLE IF NOT EXISTS safety_used_tokens (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS safety_secret_failures (agent TEXT NOT NULL, tool TEXT NOT NULL, at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS safety_secret_failures_i ON safety_secret_failures (agent, tool, at);
      CREATE TABLE IF NOT EXISTS safety_lockouts (
        agent TEXT NOT NULL, tool TEXT NOT NULL, until INTEGER NOT NULL, PRIMARY KEY (agent, tool));
      CREATE TABLE IF NOT EXISTS safety_declines (
        agent TEXT NOT NULL, tool TEXT NOT NULL, args_hash TEXT NOT NULL, until INTEGER NOT NULL,
        PRIMARY KEY (agent, tool, args_hash));
    `);
    this.db
      .prepare('INSERT OR IGNORE INTO safety_kv (k, v) VALUES (?, ?)')
      .run('confirm_hmac_key', randomBytes(32));
    const row = this.db.prepare('SELECT v FROM safety_kv WHERE k = ?').get('confirm_hmac_key') as
      | { v: Buffer }
      | undefined;
    if (row === undefined) throw new Error('confirmation key missing from the state store');
    this.key = Buffer.from(row.v);
  }

  async hmacKey(): Promise<Buffer> {
    return this.key;
  }

  async isUsed(id: string): Promise<boolean> {
    return this.db.prepare('SELECT 1 FROM safety_used_tokens WHERE id = ?').get(id) !== undefined;
  }

  async claimToken(id: string, expiresAt: number, now: number): Promise<boolean> {
    const r = this.db
      .prepare('INSERT OR IGNORE INTO safety_used_tokens (id, expires_at) VALUES (?, ?)')
      .run(id, expiresAt);
    this.db.prepare('DELETE FROM safety_used_tokens WHERE expires_at < ?').run(now - TOKEN_TTL_MS);
    return r.changes === 1;
  }

  async declinedUntil(agent: string, tool: string, hash: string, now: number): Promise<number | undefined> {
    const row = this.db
      .prepare('SELECT until FROM safety_declines WHERE agent = ? AND tool = ? AND args_hash = ?')
      .get(agent, tool, hash) as { until: number } | undefined;
    return row !== undefined && row.until > now ? row.until : undefined;
  }

  async recordDecline(agent: string, tool: string, hash: string, until: number, now: number): Promise<void> {
    this.db.prepare('DELETE FROM safety_declines WHERE until <= ?').run(now);
    this.db
      .prepare(
        'INSERT INTO safety_declines (agent, tool, args_hash, until) VALUES (?, ?, ?, ?) ON CONFLICT (agent, tool, args_hash) DO UPDATE SET until = excluded.until',
      )
      .run(agent, tool, hash, until);
  }

  async clearDecline(agent: string, tool: string, hash: string): Promise<void> {
    this.db
      .prepare('DELETE FROM safety_declines WHERE agent = ? AND tool = ? AND args_hash = ?')
      .run(agent, tool, hash);
  }

  async lockedUntil(agent: string, tool: string, now: number): Promise<number | undefined> {
    const row = this.db
      .prepare('SELECT until FROM safety_lockouts WHERE agent = ? AND tool = ?')
      .get(agent, tool) as { until: number } | undefined;
    return row !== undefined && row.until > now ? row.until : undefined;
  }

  async recordSecretFailure(agent: string, tool: string, now: number): Promise<number> {
    const tx = this.db.transaction(() => {
      this.db.prepare('DELETE FROM safety_secret_failures WHERE at <= ?').run(now - LOCKOUT_WINDOW_MS);
      this.db
        .prepare('INSERT INTO safety_secret_failures (agent, tool, at) VALUES (?, ?, ?)')
        .run(agent, tool, now);
      const { n } = this.db
        .prepare('SELECT COUNT(*) AS n FROM safety_secret_failures WHERE agent = ? AND tool = ? AND at > ?')
        .get(agent, tool, now - LOCKOUT_WINDOW_MS) as { n: number };
      if (n >= MAX_SECRET_FAILURES) {
        this.db
          .prepare(
            'INSERT INTO safety_lockouts (agent, tool, until) VALUES (?, ?, ?) ON CONFLICT (agent, tool) DO UPDATE SET until = excluded.until',
          )
          .run(agent, tool, now + LOCKOUT_MS);
        this.db.prepare('DELETE FROM safety_secret_failures WHERE agent = ? AND tool = ?').run(agent, tool);
      }
      return n;
    });
    return tx();
  }
}

export interface ConfirmerOptions {
  /** The embedded store (SqliteConfirmState over it); or `state`. */
  db?: StateDb | undefined;
  /** The shared state (e.g. Redis); takes precedence over `db`. */
  state?: ConfirmStateApi | undefined;
  /** SHA-256 hex of the operator's secret (policy human_secret_sha256). */
  humanSecretSha256?: string | undefined;
  now?: () => number;
  /** The policy's confirmation channel for (agent, tool); absent → 'any'. */
  channel?: ((agent: string, spec: AnyToolSpec) => ConfirmChannel) | undefined;
}

export const HUMAN_REQUIRED_REASON =
  "This action needs a human to confirm in the client's form; your client does not support elicitation (form " +
  'requests), so it cannot be confirmed here and no confirmation token is issued. Nothing was done.';
export const HUMAN_REQUIRED_NEXT_STEP =
  'Do not retry from this client. Tell the user this action must be approved in an MCP client that supports ' +
  'elicitation forms (or that an operator can change confirm_via in the server policy)';

function b64u(buf: Buffer | string): string {
  return Buffer.from(buf).toString('base64url');
}

function isPayload(x: unknown): x is TokenPayload {
  if (x === null || typeof x !== 'object') return false;
  const p = x as Record<string, unknown>;
  return (
    p.v === 1 &&
    typeof p.i === 'string' &&
    typeof p.a === 'string' &&
    typeof p.t === 'string' &&
    typeof p.h === 'string' &&
    typeof p.e === 'number'
  );
}

export class Confirmer implements ConfirmerApi {
  private readonly state: ConfirmStateApi;
  private key: Buffer | undefined;
  private readonly secretHash: string | undefined;
  private readonly now: () => number;
  private readonly channel: ((agent: string, spec: AnyToolSpec) => ConfirmChannel) | undefined;

  constructor(opts: ConfirmerOptions) {
    if (opts.state !== undefined) this.state = opts.state;
    else if (opts.db !== undefined) this.state = new SqliteConfirmState(opts.db);
    else throw new Error('Confirmer needs a state store (db or state)');
    this.channel = opts.channel;
    this.secretHash = opts.humanSecretSha256?.toLowerCase();
    this.now = opts.now ?? Date.now;
  }

  private async hmacKey(): Promise<Buffer> {
    this.key ??= await this.state.hmacKey();
    return this.key;
  }

  async confirm(call: ConfirmCall): Promise<ConfirmOutcome> {
    const now = this.now();
    if (call.mode === 'human_secret') {
      if (this.secretHash === undefined) {
        return {
          kind: 'rejected',
          reason: 'This tool needs a human secret but the policy sets no human_secret_sha256.',
        };
      }
      const until = await this.state.lockedUntil(call.agent, toolScope(call.spec), now);
      if (until !== undefined) {
        return {
          kind: 'rejected',
          reason: `Too many wrong confirmation secrets: ${toolScope(call.spec)} is locked for agent "${call.agent}" until ${new Date(until).toISOString()}.`,
        };
      }
    }
    if (call.elicit !== undefined) return this.viaElicitation(call, now);
    if (this.channel?.(call.agent, call.spec) === 'human') {
      return { kind: 'rejected', reason: HUMAN_REQUIRED_REASON, nextStep: HUMAN_REQUIRED_NEXT_STEP };
    }
    const declinedUntil = await this.state.declinedUntil(
      call.agent,
      toolScope(call.spec),
      argsHash(call.args),
      now,
    );
    if (declinedUntil !== undefined) {
      return {
        kind: 'rejected',
        reason: `A person declined exactly this action (${toolScope(call.spec)} with these arguments) in the confirmation form; it cannot be confirmed with a token until ${new Date(declinedUntil).toISOString()}. Nothing was done.`,
        nextStep:
          'Do not retry. Only if the user now clearly wants it, ask them to approve it in the form of an MCP client that supports elicitation',
      };
    }
    const key = await this.hmacKey();
    if (call.token === undefined || call.token === '') return this.issue(call, now, key);
    return this.viaToken(call, now, key);
  }

  // ---- elicitation -------------------------------------------------------------------------

  private async viaElicitation(call: ConfirmCall, now: number): Promise<ConfirmOutcome> {
    const elicit = call.elicit;
    if (elicit === undefined) return { kind: 'rejected', reason: 'no elicitation' };
    const needSecret = call.mode === 'human_secret';
    const properties: Record<string, unknown> = {
      confirm: {
        type: 'boolean',
        title: 'Yes, do this',
        description: 'Tick to approve exactly the action described above. Leave unticked to refuse.',
        default: false,
      },
    };
    if (needSecret) {
      properties.human_secret = {
        type: 'string',
        title: 'Confirmation secret',
        description: 'The confirmation secret your operator gave you. Never share it with the assistant.',
      };
    }
    const message = [
      `The AI agent "${call.agent}" wants to run ${call.spec.title} (${call.spec.operation !== undefined ? `${call.spec.name} ${call.spec.operation}` : call.spec.name}) on your Keap account:`,
      '',
      call.preview,
      '',
      needSecret
        ? 'Approve only if this is what you want: tick "Yes, do this" and enter your confirmation secret.'
        : 'Approve only if this is what you want: tick "Yes, do this" and accept.',
    ].join('\n');
    let res: Awaited<ReturnType<typeof elicit>>;
    try {
      res = await elicit(message, {
        type: 'object',
        properties,
        required: needSecret ? ['confirm', 'human_secret'] : ['confirm'],
      });
    } catch (e) {
      return {
        kind: 'rejected',
        reason: `Could not ask the user for confirmation (${(e as Error).message.slice(0, 200)}); nothing was done.`,
      };
    }
    // An explicit "no" (decline, or accept without ticking yes) holds for every session of the agent;
    // a cancel (form dismissed) is not an answer and blocks nothing.
    if (res.action === 'decline' || (res.action === 'accept' && res.content?.confirm !== true)) {
      await this.state.recordDecline(
        call.agent,
        toolScope(call.spec),
        argsHash(call.args),
        now + TOKEN_TTL_MS,
        now,
      );
      return { kind: 'declined', action: 'decline' };
    }
    if (res.action !== 'accept') return { kind: 'declined', action: res.action };
    if (needSecret) {
      const s = res.content?.human_secret;
      const bad = await this.checkSecret(
        call.agent,
        toolScope(call.spec),
        typeof s === 'string' ? s : undefined,
        now,
      );
      if (bad !== undefined) return { kind: 'rejected', reason: bad };
    }
    await this.state.clearDecline(call.agent, toolScope(call.spec), argsHash(call.args));
    return { kind: 'proceed', via: 'elicitation' };
  }

  // ---- two-step token ----------------------------------------------------------------------

  private sign(payloadB64: string, key: Buffer): string {
    return b64u(createHmac('sha256', key).update(`keap-mcp-confirm.${payloadB64}`).digest());
  }

  private issue(call: ConfirmCall, now: number, key: Buffer): ConfirmOutcome {
    const expires = now + TOKEN_TTL_MS;
    const payload: TokenPayload = {
      v: 1,
      i: b64u(randomBytes(12)),
      a: call.agent,
      t: toolScope(call.spec),
      h: argsHash(call.args),
      e: expires,
    };
    const p = b64u(JSON.stringify(payload));
    return {
      kind: 'required',
      token: `${p}.${this.sign(p, key)}`,
      expiresAt: new Date(expires).toISOString(),
      needsHumanSecret: call.mode === 'human_secret',
    };
  }

  private async viaToken(call: ConfirmCall, now: number, key: Buffer): Promise<ConfirmOutcome> {
    const token = call.token ?? '';
    const parts = token.split('.');
    const reject = (reason: string): ConfirmOutcome => ({ kind: 'rejected', reason });
    if (parts.length !== 2 || parts[0] === undefined || parts[1] === undefined) {
      return reject(
        'The confirmation token is malformed or was altered. Call the tool again without a token to get a new one.',
      );
    }
    const [p, mac] = parts as [string, string];
    const want = Buffer.from(this.sign(p, key));
    const got = Buffer.from(mac);
    if (want.length !== got.length || !timingSafeEqual(want, got)) {
      return reject(
        'The confirmation token is invalid (tampered with or not issued by this server). Call the tool again without a token to get a new one.',
      );
    }
    let payload: unknown;
    try {
      payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
    } catch {
      payload = undefined;
    }
    if (!isPayload(payload)) return reject('The confirmation token is malformed.');
    if (payload.a !== call.agent) {
      return reject('The confirmation token was issued to another agent; it cannot be used by this one.');
    }
    if (payload.t !== toolScope(call.spec)) {
      return reject(`The confirmation token was issued for ${payload.t}, not ${toolScope(call.spec)}.`);
    }
    if (payload.h !== argsHash(call.args)) {
      return reject(
        'The arguments changed since the confirmation token was issued; the user approved different arguments. Call again without a token, show the new preview to the user and ask again.',
      );
    }
    if (now > payload.e) {
      return reject(
        'The confirmation token expired (tokens last 10 minutes). Call again without a token, show the preview to the user and ask again.',
      );
    }
    if (await this.state.isUsed(payload.i)) {
      return reject(
        'The confirmation token was already used; each token confirms one call. Call again without a token to confirm a new call.',
      );
    }
    if (call.mode === 'human_secret') {
      const bad = await this.checkSecret(call.agent, toolScope(call.spec), call.humanSecret, now);
      if (bad !== undefined) return reject(bad);
    }
    // Claim the token atomically: a concurrent replay (here or on another replica) loses here.
    if (!(await this.state.claimToken(payload.i, payload.e, now))) {
      return reject('The confirmation token was already used; each token confirms one call.');
    }
    return { kind: 'proceed', via: 'token' };
  }

  // ---- human secret and lockout --------------------------------------------------------------

  /** undefined when the secret is right; otherwise the rejection reason (and the failure is recorded). */
  private async checkSecret(
    agent: string,
    tool: string,
    secret: string | undefined,
    now: number,
  ): Promise<string | undefined> {
    if (this.secretHash === undefined) return 'No human secret is configured.';
    if (secret === undefined || secret === '') {
      return 'This action also needs the confirmation secret that the operator gave the user. Ask the user to type it and pass it as human_secret (do not guess it).';
    }
    const want = Buffer.from(this.secretHash, 'hex');
    const got = Buffer.from(sha256Hex(secret), 'hex');
    if (want.length === got.length && timingSafeEqual(want, got)) return undefined;
    const n = await this.state.recordSecretFailure(agent, tool, now);
    if (n >= MAX_SECRET_FAILURES) {
      return `Wrong confirmation secret. ${tool} is now locked for agent "${agent}" for 15 minutes after ${MAX_SECRET_FAILURES} wrong secrets.`;
    }
    return `Wrong confirmation secret (${n} of ${MAX_SECRET_FAILURES} wrong attempts allowed in 15 minutes before the tool is locked).`;
  }
}
