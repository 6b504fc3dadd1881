/** The safety layer: policy, confirmation, idempotency and audit, built from the server's settings. */
import { operationFacts } from '../facts/index.js';
import type { Logger } from '../logger.js';
import type { StateDb } from '../state/db.js';
import { Approvals, type ApprovalsApi } from './approvals.js';
import { AuditLog, loadAuditKey } from './audit.js';
import { Confirmer, type ConfirmStateApi } from './confirm.js';
import { Idempotency } from './idempotency.js';
import { defaultPolicy, type LintTool, loadPolicyFile, Policy, PolicyError } from './policy.js';
import type { ApprovalsSetting, IdempotencyApi, SafetyApi } from './types.js';

export { AuditLog, hashValue, loadAuditKey, REDACT_LIMITS, redactArgs, toOutcome } from './audit.js';
export { argsHash, canonicalJson, stripSafetyFields } from './canonical.js';
export {
  bindWarnings,
  DEFAULT_AGENT,
  type LintTool,
  lintPolicy,
  PolicyError,
  parsePolicy,
} from './policy.js';
export * from './types.js';

export interface CreateSafetyOptions {
  /** KEAP_POLICY / --policy. Absent → the default policy (agent "assistant", read everywhere). */
  policyFile?: string | undefined;
  /** --read-only: caps every grant at read. */
  readOnly: boolean;
  /** --sandbox: without a policy file the default agent may also write (confirmations stay on). */
  sandbox: boolean;
  /** KEAP_AUDIT_LOG; absent → audit records go to the logger. */
  auditLogPath?: string | undefined;
  db: StateDb;
  /**
   * Shared stores (src/state/index.ts openState, e.g. Redis); absent → the embedded ones over `db`.
   */
  state?:
    | {
        readonly idempotency: IdempotencyApi;
        readonly confirmState: ConfirmStateApi;
        readonly approvals: ApprovalsApi;
        unavailable(access: 'read' | 'write'): Error | undefined;
      }
    | undefined;
  logger: Logger;
  now?: () => number;
  /** Names of all catalog tools; when given, unknown tool names in the policy file are errors. */
  knownTools?: readonly string[];
  /** KEAP_MCP_OPERATOR_TOKEN_SHA256: overrides the policy's operator_token_sha256 (the console exists). */
  operatorTokenSha256?: string | undefined;
  /** KEAP_APPROVAL_WAIT_S in ms: how long a call with a progressToken waits for the operator (default 60 s). */
  approvalWaitMs?: number | undefined;
  /** How often a held call looks for the operator's decision (default 500 ms). */
  approvalPollMs?: number | undefined;
  /** Lifetime of an approval (default 10 minutes; tests shorten it). */
  approvalTtlMs?: number | undefined;
  /**
   * The catalog: unknown tool names are errors (as knownTools) and entries that cannot take effect are
   * warnings (logged at warn, returned as policyWarnings).
   */
  catalog?: readonly LintTool[];
}

export const DEFAULT_APPROVAL_WAIT_MS = 60_000;

/** Agents routed to the console need a console: said at start-up, with how to configure one. */
export function consoleConfigProblem(
  policy: Policy,
  operatorTokenSha256: string | undefined,
): string | undefined {
  if (operatorTokenSha256 !== undefined) return undefined;
  const agents = policy.agents().filter((a) => policy.consoleConfirm(a));
  if (agents.length === 0) return undefined;
  return (
    `agent${agents.length > 1 ? 's' : ''} ${agents.map((a) => `"${a}"`).join(', ')} confirm${
      agents.length > 1 ? '' : 's'
    } via the operator console ("confirm_via": "console") but no operator token is configured, so nobody could ` +
    'approve: set "operator_token_sha256" in the policy file or KEAP_MCP_OPERATOR_TOKEN_SHA256 to the SHA-256 of ' +
    "a long random token (openssl rand -base64 32, then printf %s 'TOKEN' | sha256sum)"
  );
}

/** Throws PolicyError (message names the JSON path) when the policy file is invalid. */
export function createSafety(opts: CreateSafetyOptions): SafetyApi & {
  readonly policy: Policy;
  readonly policyWarnings: readonly string[];
  readonly approvals: ApprovalsSetting;
} {
  // The policy's tool lists name catalog tools or Keap operationIds (the long tail).
  // Only a policy file needs the names (and so the operation facts): the default policy starts without them.
  const known = (): readonly string[] | undefined => {
    if (opts.knownTools !== undefined) return opts.knownTools;
    const catalogNames = opts.catalog?.map((t) => t.name);
    return catalogNames && [...catalogNames, ...operationFacts().operations.map((o) => o.operationId)];
  };
  const fromFile = opts.policyFile !== undefined && opts.policyFile !== '';
  const file = fromFile ? loadPolicyFile(opts.policyFile as string, known()) : defaultPolicy(opts.sandbox);
  const policy = new Policy(file, { readOnly: opts.readOnly });
  const policyWarnings = Object.freeze(
    fromFile && opts.catalog !== undefined ? policy.lint(opts.catalog) : [],
  );
  for (const w of policyWarnings) opts.logger.warn(`policy file ${opts.policyFile}: ${w}`);
  const now = opts.now ?? Date.now;
  const operatorTokenSha256 = opts.operatorTokenSha256 ?? policy.operatorTokenSha256();
  const problem = consoleConfigProblem(policy, operatorTokenSha256);
  if (problem !== undefined) throw new PolicyError(problem);
  return {
    policy,
    policyWarnings,
    confirmer: new Confirmer({
      ...(opts.state !== undefined ? { state: opts.state.confirmState } : { db: opts.db }),
      humanSecretSha256: policy.humanSecretSha256(),
      now,
      channel: (agent, spec) => policy.confirmChannel(agent, spec),
    }),
    idempotency: opts.state?.idempotency ?? new Idempotency({ db: opts.db, now }),
    audit: new AuditLog({
      path: opts.auditLogPath,
      logger: opts.logger,
      now,
      hashKey: loadAuditKey(opts.db),
    }),
    ...(opts.state !== undefined
      ? { stateUnavailable: (access: 'read' | 'write') => opts.state?.unavailable(access) }
      : {}),
    approvals: {
      store:
        opts.state?.approvals ??
        new Approvals({
          db: opts.db,
          now,
          ...(opts.approvalTtlMs !== undefined ? { ttlMs: opts.approvalTtlMs } : {}),
        }),
      consoleEnabled: operatorTokenSha256 !== undefined,
      waitMs: opts.approvalWaitMs ?? DEFAULT_APPROVAL_WAIT_MS,
      pollMs: opts.approvalPollMs ?? 500,
    },
  };
}
