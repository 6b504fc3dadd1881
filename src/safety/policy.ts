/**
 * Per-agent access policy: grants per resource (none < read < write), per-tool deny lists and
 * confirmation overrides. Loaded from a JSON file (KEAP_POLICY / --policy) and validated with zod;
 * every error names the JSON path (and line) of the offending value, JSON syntax errors their line and column,
 * unknown tool names the nearest catalog name.
 *
 * lintPolicy() and bindWarnings() find entries that are valid but cannot take effect (a confirmation setting
 * for a tool the agent cannot call, a deny of a tool it is not granted, an agent without a token on a
 * non-loopback bind): warnings, logged at start-up and returned as a list.
 */

import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { operationIdsOf } from '../inputs/plan.js';
import { type AnyToolSpec, RESOURCES, type Resource } from '../registry/define.js';
import { sha256Hex } from './canonical.js';
import type { ConfirmationMode, ConfirmChannel, Grant, PolicyApi } from './types.js';

/** Name of the agent served when no policy file is given. */
export const DEFAULT_AGENT = 'assistant';

const RANK: Record<Grant, number> = { none: 0, read: 1, write: 2 };

const hex64 = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, 'must be the 64-character hex SHA-256 (e.g. `printf %s "$SECRET" | sha256sum`)')
  .transform((s) => s.toLowerCase());
const grant = z.enum(['none', 'read', 'write']);
const toolList = z
  .array(
    z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, "must be a tool name (snake_case) or Keap's operationId"),
  )
  .default([]);
const grantKey = z.enum([...RESOURCES, '*']);

const agentSchema = z.strictObject({
  description: z.string().optional(),
  token_sha256: hex64.optional(),
  grants: z.partialRecord(grantKey, grant).default({}),
  deny_tools: toolList,
  confirm_tools: toolList,
  human_secret_tools: toolList,
  no_confirm_tools: toolList,
  /**
   * Who may confirm this agent's confirmations: "any" (the client's form when it has one, else the two-step
   * token the model carries back), "human" (only the client's form: no token is ever issued) or "console" (a
   * pending approval the operator decides in the operator console; src/safety/approvals.ts).
   */
  confirm_via: z.enum(['any', 'human', 'console']).default('any'),
  /** Tools that need a confirmation through the client's form only (implies confirmation). */
  human_confirm_tools: toolList,
});

export const policySchema = z
  .strictObject({
    $schema: z.string().optional(),
    default_agent: z.string().min(1).optional(),
    human_secret_sha256: hex64.optional(),
    /** SHA-256 of the operator console's login token (`printf %s "$TOKEN" | sha256sum`). */
    operator_token_sha256: hex64.optional(),
    agents: z.record(
      z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'agent names: letters, digits, _ . -'),
      agentSchema,
    ),
  })
  .superRefine((p, ctx) => {
    const names = Object.keys(p.agents);
    if (names.length === 0)
      ctx.addIssue({ code: 'custom', path: ['agents'], message: 'define at least one agent' });
    if (p.default_agent !== undefined && !names.includes(p.default_agent)) {
      ctx.addIssue({
        code: 'custom',
        path: ['default_agent'],
        message: `"${p.default_agent}" is not one of the agents (${names.join(', ')})`,
      });
    }
    const seen = new Map<string, string>();
    for (const [name, a] of Object.entries(p.agents)) {
      if (a.token_sha256 !== undefined) {
        const other = seen.get(a.token_sha256);
        if (other !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['agents', name, 'token_sha256'],
            message: `same token as agent "${other}"; every agent needs its own token`,
          });
        }
        seen.set(a.token_sha256, name);
      }
      a.human_confirm_tools.forEach((t, i) => {
        if (a.no_confirm_tools.includes(t)) {
          ctx.addIssue({
            code: 'custom',
            path: ['agents', name, 'human_confirm_tools', i],
            message: `"${t}" is also in no_confirm_tools; a tool cannot both need and waive confirmation`,
          });
        }
      });
      if (a.human_secret_tools.length > 0 && p.human_secret_sha256 === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['agents', name, 'human_secret_tools'],
          message: 'human_secret_tools need "human_secret_sha256" at the top level of the policy',
        });
      }
    }
  });

export type PolicyFile = z.output<typeof policySchema>;
type AgentPolicy = z.output<typeof agentSchema>;

export class PolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyError';
  }
}

/** `$.agents.bot.grants.contacts` style path. */
function jsonPath(path: readonly PropertyKey[]): string {
  let s = '$';
  for (const p of path) {
    if (typeof p === 'number') s += `[${p}]`;
    else if (typeof p === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(p)) s += `.${p}`;
    else s += `[${JSON.stringify(String(p))}]`;
  }
  return s;
}

/** Line of the last key in `path` in the JSON text (best effort, for the error message). */
function lineOf(text: string, path: readonly PropertyKey[]): number | undefined {
  let pos = 0;
  for (const p of path) {
    if (typeof p !== 'string') continue;
    const i = text.indexOf(JSON.stringify(p), pos);
    if (i < 0) return undefined;
    pos = i;
  }
  return pos === 0 && path.length > 0 ? undefined : text.slice(0, pos).split('\n').length;
}

/** Where JSON text first goes wrong: offset and what is wrong (a small validating scanner). */
export function jsonSyntaxError(text: string): { offset: number; problem: string } | undefined {
  let i = 0;
  class Stop {
    constructor(
      readonly offset: number,
      readonly problem: string,
    ) {}
  }
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i++;
  };
  const fail = (problem?: string): never => {
    if (i >= text.length) throw new Stop(text.length, 'unexpected end of the file');
    throw new Stop(i, problem ?? `unexpected character ${JSON.stringify(text[i])}`);
  };
  const str = () => {
    if (text[i] !== '"') fail('expected a double-quoted string');
    i++;
    while (i < text.length && text[i] !== '"') {
      const c = text.charCodeAt(i);
      if (c < 0x20) fail('control character (e.g. a line break) inside a string');
      if (text[i] === '\\') {
        i++;
        if (text[i] === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail('bad \\u escape in a string');
          i += 4;
        } else if (i >= text.length || !'"\\/bfnrt'.includes(text[i] as string))
          fail('bad escape in a string');
      }
      i++;
    }
    if (i >= text.length) fail('unterminated string');
    i++;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        str();
        ws();
        if (text[i] !== ':') fail('expected ":" after a property name');
        i++;
        value();
        ws();
        if (text[i] === ',') {
          i++;
          ws();
          if (text[i] === '}') fail('trailing comma before "}"');
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') {
          i++;
          ws();
          if (text[i] === ']') fail('trailing comma before "]"');
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail('expected "," or "]"');
      }
    }
    if (c === '"') {
      str();
      return;
    }
    const lit = /^(true|false|null|-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?)/.exec(text.slice(i, i + 400));
    if (lit) {
      i += lit[0].length;
      return;
    }
    fail();
  };
  try {
    if (text.charCodeAt(0) === 0xfeff) i = 1;
    value();
    ws();
    if (i < text.length) fail('unexpected text after the JSON value');
    return undefined;
  } catch (e) {
    if (e instanceof Stop) return { offset: e.offset, problem: e.problem };
    throw e;
  }
}

/** 1-based line and column of an offset. */
function lineCol(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const nl = before.lastIndexOf('\n');
  return { line: before.split('\n').length, column: offset - nl };
}

/** Levenshtein distance (small strings). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (cur[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** The catalog name nearest a misspelt one, when close enough to be a likely typo. */
export function didYouMean(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = distance(name, k);
    if (d < bestD) {
      best = k;
      bestD = d;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 4)) ? best : undefined;
}

/** Parses and validates policy JSON text. Throws PolicyError naming the path of every bad value. */
export function parsePolicy(text: string, source = 'policy', knownTools?: readonly string[]): PolicyFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    const where = jsonSyntaxError(text);
    if (where === undefined) throw new PolicyError(`${source}: not valid JSON: ${(e as Error).message}`);
    const { line, column } = lineCol(text, where.offset);
    throw new PolicyError(`${source}: not valid JSON at line ${line}, column ${column}: ${where.problem}`);
  }
  const r = policySchema.safeParse(raw);
  if (!r.success) {
    const at = (path: readonly PropertyKey[], message: string): string => {
      const line = lineOf(text, path);
      return `  ${jsonPath(path)}${line !== undefined ? ` (line ${line})` : ''}: ${message}`;
    };
    const lines = r.error.issues.flatMap((i) => {
      const keys = (i as { keys?: unknown }).keys;
      if (Array.isArray(keys) && keys.length > 0) {
        const inGrants = i.path[i.path.length - 1] === 'grants';
        return keys.map((k) =>
          at(
            [...i.path, String(k)],
            inGrants
              ? `"${String(k)}" is not a resource; use one of ${RESOURCES.join(', ')} or "*"`
              : `unknown field "${String(k)}"`,
          ),
        );
      }
      if (i.code === 'invalid_key')
        return [at(i.path, `not a known resource or "*" (${RESOURCES.join(', ')})`)];
      return [at(i.path, i.message)];
    });
    throw new PolicyError(`${source} is invalid:\n${lines.join('\n')}`);
  }
  if (knownTools !== undefined) {
    const known = new Set(knownTools);
    const bad: string[] = [];
    for (const [name, a] of Object.entries(r.data.agents)) {
      for (const list of [
        'deny_tools',
        'confirm_tools',
        'human_secret_tools',
        'no_confirm_tools',
        'human_confirm_tools',
      ] as const) {
        a[list].forEach((t, i) => {
          if (!known.has(t)) {
            const path = ['agents', name, list, i];
            const line = lineOf(text, [...path.slice(0, 3), t]);
            const hint = didYouMean(t, known);
            bad.push(
              `  ${jsonPath(path)}: unknown tool "${t}"${line !== undefined ? ` (line ${line})` : ''}${hint !== undefined ? `; did you mean "${hint}"?` : ''}`,
            );
          }
        });
      }
    }
    if (bad.length > 0) throw new PolicyError(`${source} is invalid:\n${bad.join('\n')}`);
  }
  return r.data;
}

/** The setting that names the policy file (for messages). */
const POLICY_SETTING = 'KEAP_POLICY / --policy';

export function loadPolicyFile(file: string, knownTools?: readonly string[]): PolicyFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? `policy file not found: ${file}`
        : code === 'EACCES' || code === 'EPERM'
          ? `policy file cannot be read (permission denied): ${file}`
          : code === 'EISDIR'
            ? `policy file is a directory, not a file: ${file}`
            : `policy file cannot be read (${code ?? 'error'}): ${file}`;
    throw new PolicyError(`${why} (${POLICY_SETTING})`);
  }
  return parsePolicy(text, `policy file ${file}`, knownTools);
}

/** What the lint needs to know about a catalog tool. */
export type LintTool = Pick<AnyToolSpec, 'name' | 'resource' | 'access' | 'confirm'>;

/** A grant on a resource, or on '*' (the long-tail tools): the highest grant on any resource. */
function grantOn(grants: Partial<Record<Resource | '*', Grant>>, resource: Resource | '*'): Grant {
  if (resource !== '*') return grants[resource] ?? grants['*'] ?? 'none';
  let best: Grant = 'none';
  for (const r of RESOURCES) {
    const g = grants[r] ?? grants['*'] ?? 'none';
    if (RANK[g] > RANK[best]) best = g;
  }
  return best;
}

const operationNames = new WeakMap<AnyToolSpec, readonly string[]>();

/**
 * Keap operationIds a spec stands for (a long-tail call's `operation`, or the catalog tool's operation(s)): the
 * policy's tool lists accept them as well as tool names.
 */
function operationsOf(spec: AnyToolSpec): readonly string[] {
  if (spec.operation !== undefined) return [spec.operation];
  let ids = operationNames.get(spec);
  if (ids === undefined) {
    ids = spec.longtail !== undefined ? [] : (operationIdsOf(spec)?.split(' | ') ?? []);
    operationNames.set(spec, ids);
  }
  return ids;
}

/** The entry of `list` that names the spec (its tool name or one of its operationIds), if any. */
function listed(list: readonly string[], spec: AnyToolSpec): boolean {
  if (list.length === 0) return false;
  return list.includes(spec.name) || operationsOf(spec).some((id) => list.includes(id));
}

/**
 * Waivers (no_confirm_tools) are specific: a long-tail call's confirmation is waived by its operationId, never
 * by the name of the call tool (which stands for every operation).
 */
function waived(list: readonly string[], spec: AnyToolSpec): boolean {
  if (list.length === 0) return false;
  if (spec.operation !== undefined) return list.includes(spec.operation);
  return listed(list, spec);
}

const CONFIRM_LISTS = [
  'confirm_tools',
  'no_confirm_tools',
  'human_confirm_tools',
  'human_secret_tools',
] as const;

/**
 * Entries of a valid policy that cannot take effect, as `$.path: message` lines (grants as written in the file;
 * --read-only is a run-time cap and not linted). Names not in `tools` are left to parsePolicy (errors).
 */
export function lintPolicy(file: PolicyFile, tools: readonly LintTool[]): string[] {
  const byName = new Map(tools.map((t) => [t.name, t]));
  const out: string[] = [];
  for (const [name, a] of Object.entries(file.agents)) {
    const grantOf = (r: Resource | '*'): Grant => grantOn(a.grants, r);
    const granted = (t: LintTool) => RANK[grantOf(t.resource)] >= RANK[t.access];
    const why = (t: LintTool) =>
      `agent "${name}" has ${grantOf(t.resource)} access to ${t.resource}; it needs ${t.access}`;
    if (tools.length > 0 && !tools.some((t) => granted(t) && !a.deny_tools.includes(t.name))) {
      out.push(
        `${jsonPath(['agents', name, 'grants'])}: agent "${name}" can call no tool (no resource is granted)`,
      );
    }
    a.deny_tools.forEach((t, i) => {
      const spec = byName.get(t);
      if (spec !== undefined && !granted(spec)) {
        out.push(
          `${jsonPath(['agents', name, 'deny_tools', i])}: "${t}" has no effect: ${why(spec)}, so it cannot call it anyway`,
        );
      }
    });
    for (const list of CONFIRM_LISTS) {
      a[list].forEach((t, i) => {
        const spec = byName.get(t);
        if (spec === undefined) return;
        const at = jsonPath(['agents', name, list, i]);
        if (a.deny_tools.includes(t)) {
          out.push(`${at}: "${t}" has no effect: it is in deny_tools, so agent "${name}" cannot call it`);
        } else if (!granted(spec)) {
          out.push(`${at}: "${t}" has no effect: ${why(spec)}, so it cannot call it`);
        } else if (list === 'confirm_tools' && spec.confirm === true && !a.no_confirm_tools.includes(t)) {
          out.push(`${at}: "${t}" has no effect: the tool asks for confirmation already (✋)`);
        } else if (list === 'no_confirm_tools' && spec.confirm !== true && !a.confirm_tools.includes(t)) {
          out.push(`${at}: "${t}" has no effect: the tool does not ask for confirmation`);
        } else if (list === 'no_confirm_tools' && a.human_secret_tools.includes(t)) {
          out.push(`${at}: "${t}" has no effect: human_secret_tools wins, its confirmation stays on`);
        }
      });
    }
  }
  return out;
}

/**
 * Warnings for an HTTP bind: once any agent has a token (required on a non-loopback bind), every HTTP client
 * must send one, so an agent without a token cannot connect over HTTP (it can still be the stdio agent).
 */
export function bindWarnings(
  agents: readonly string[],
  tokenAgents: readonly string[],
  host: string,
): string[] {
  if (tokenAgents.length === 0) return [];
  return agents
    .filter((a) => !tokenAgents.includes(a))
    .map(
      (a) =>
        `${jsonPath(['agents', a, 'token_sha256'])}: agent "${a}" has no token, so it cannot connect over HTTP on ${host} (set token_sha256)`,
    );
}

/** The policy used when no file is given: one agent, every resource read (write in the sandbox). */
export function defaultPolicy(sandbox: boolean): PolicyFile {
  return policySchema.parse({
    default_agent: DEFAULT_AGENT,
    agents: { [DEFAULT_AGENT]: { grants: { '*': sandbox ? 'write' : 'read' } } },
  });
}

function eqHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

export class Policy implements PolicyApi {
  private readonly file: PolicyFile;
  private readonly readOnly: boolean;
  private readonly names: readonly string[];

  constructor(file: PolicyFile, opts: { readOnly: boolean }) {
    this.file = file;
    this.readOnly = opts.readOnly;
    this.names = Object.freeze(Object.keys(file.agents));
  }

  agents(): readonly string[] {
    return this.names;
  }

  defaultAgent(): string {
    return this.file.default_agent ?? this.names[0] ?? DEFAULT_AGENT;
  }

  agentForToken(token: string): string | undefined {
    const h = sha256Hex(token);
    let found: string | undefined;
    // No early exit: every agent's hash is compared.
    for (const name of this.names) {
      const want = this.agent(name)?.token_sha256;
      if (want !== undefined && eqHex(h, want) && found === undefined) found = name;
    }
    return found;
  }

  requiresTokens(): boolean {
    return this.names.some((n) => this.agent(n)?.token_sha256 !== undefined);
  }

  tokenAgents(): readonly string[] {
    return this.names.filter((n) => this.agent(n)?.token_sha256 !== undefined);
  }

  /** Entries that cannot take effect (see lintPolicy). */
  lint(tools: readonly LintTool[]): string[] {
    return lintPolicy(this.file, tools);
  }

  /** SHA-256 (hex) of the operator's confirmation secret, when configured. */
  humanSecretSha256(): string | undefined {
    return this.file.human_secret_sha256;
  }

  /** Effective grant of an agent on a resource, after the --read-only cap. */
  grantFor(agent: string, resource: Resource | '*'): Grant {
    const a = this.agent(agent);
    if (a === undefined) return 'none';
    const g = grantOn(a.grants, resource);
    return this.readOnly && g === 'write' ? 'read' : g;
  }

  isAllowed(agent: string, spec: AnyToolSpec): boolean {
    const a = this.agent(agent);
    if (a === undefined || listed(a.deny_tools, spec)) return false;
    return RANK[this.grantFor(agent, spec.resource)] >= RANK[spec.access];
  }

  denialReason(agent: string, spec: AnyToolSpec): string {
    const a = this.agent(agent);
    const base = `Tool "${spec.name}" is not allowed by server policy`;
    if (a === undefined) return `${base}: unknown agent "${agent}".`;
    if (listed(a.deny_tools, spec)) return `${base}: it is on agent "${agent}"'s deny list.`;
    const g = this.grantFor(agent, spec.resource);
    if (this.readOnly && spec.access === 'write' && grantOn(a.grants, spec.resource) === 'write') {
      return `${base}: the server runs read-only (--read-only).`;
    }
    if (RANK[g] < RANK[spec.access]) {
      return `${base}: agent "${agent}" has ${g} access to ${spec.resource}; this tool needs ${spec.access}.`;
    }
    return `${base}.`;
  }

  confirmationMode(agent: string, spec: AnyToolSpec): ConfirmationMode {
    const a = this.agent(agent);
    if (a === undefined) return spec.confirm === true ? 'confirm' : 'none';
    if (listed(a.human_secret_tools, spec)) return 'human_secret';
    if (listed(a.human_confirm_tools, spec)) return 'confirm';
    if ((spec.confirm === true || listed(a.confirm_tools, spec)) && !waived(a.no_confirm_tools, spec)) {
      return 'confirm';
    }
    return 'none';
  }

  confirmChannel(agent: string, spec: AnyToolSpec): ConfirmChannel {
    const a = this.agent(agent);
    if (a === undefined) return 'any';
    // 'console' never falls back to the model-held token: until the pipeline routes it to the approvals store,
    // it is as strict as 'human'.
    return a.confirm_via !== 'any' || listed(a.human_confirm_tools, spec) ? 'human' : 'any';
  }

  /** The agent's confirmations are pending approvals decided in the operator console (confirm_via "console"). */
  consoleConfirm(agent: string): boolean {
    return this.agent(agent)?.confirm_via === 'console';
  }

  /** SHA-256 (hex) of the operator console token, when the policy sets one. */
  operatorTokenSha256(): string | undefined {
    return this.file.operator_token_sha256;
  }

  private agent(name: string): AgentPolicy | undefined {
    return Object.hasOwn(this.file.agents, name) ? this.file.agents[name] : undefined;
  }
}
