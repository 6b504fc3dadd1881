/** The safety layer: policy, confirmation, idempotency and audit, built from the server's settings. */
import { operationFacts } from '../facts/index.js';
import type { Logger } from '../logger.js';
import type { StateDb } from '../state/db.js';
import { AuditLog, loadAuditKey } from './audit.js';
import { Confirmer } from './confirm.js';
import { Idempotency } from './idempotency.js';
import { defaultPolicy, type LintTool, loadPolicyFile, Policy } from './policy.js';
import type { SafetyApi } from './types.js';

export { AuditLog, hashValue, loadAuditKey, REDACT_LIMITS, redactArgs, toOutcome } from './audit.js';
export { pairCalls, runAuditCli, UNKNOWN as AUDIT_OUTCOME_UNKNOWN } from './audit-cli.js';
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
  logger: Logger;
  now?: () => number;
  /** Names of all catalog tools; when given, unknown tool names in the policy file are errors. */
  knownTools?: readonly string[];
  /**
   * The catalog: unknown tool names are errors (as knownTools) and entries that cannot take effect are
   * warnings (logged at warn, returned as policyWarnings).
   */
  catalog?: readonly LintTool[];
}

/** Throws PolicyError (message names the JSON path) when the policy file is invalid. */
export function createSafety(
  opts: CreateSafetyOptions,
): SafetyApi & { readonly policy: Policy; readonly policyWarnings: readonly string[] } {
  // The policy's tool lists name catalog tools or Keap operationIds (the long tail).
  const catalogNames = opts.catalog?.map((t) => t.name);
  const known =
    opts.knownTools ??
    (catalogNames && [...catalogNames, ...operationFacts().operations.map((o) => o.operationId)]);
  const fromFile = opts.policyFile !== undefined && opts.policyFile !== '';
  const file = fromFile ? loadPolicyFile(opts.policyFile as string, known) : defaultPolicy(opts.sandbox);
  const policy = new Policy(file, { readOnly: opts.readOnly });
  const policyWarnings = Object.freeze(
    fromFile && opts.catalog !== undefined ? policy.lint(opts.catalog) : [],
  );
  for (const w of policyWarnings) opts.logger.warn(`policy file ${opts.policyFile}: ${w}`);
  const now = opts.now ?? Date.now;
  return {
    policy,
    policyWarnings,
    confirmer: new Confirmer({
      db: opts.db,
      humanSecretSha256: policy.humanSecretSha256(),
      now,
      channel: (agent, spec) => policy.confirmChannel(agent, spec),
    }),
    idempotency: new Idempotency({ db: opts.db, now }),
    audit: new AuditLog({
      path: opts.auditLogPath,
      logger: opts.logger,
      now,
      hashKey: loadAuditKey(opts.db),
    }),
  };
}
