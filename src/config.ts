/**
 * Configuration: environment variables and matching command-line flags (a flag wins), validated once with zod.
 * A bad value fails at start-up naming the variable and its flag. This is the only module that reads process.env.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { OAuthConfig } from './auth/oauth.js';

export const DEFAULT_BASE_URL = 'https://api.infusionsoft.com/crm/rest';
export const DEFAULT_AUTHORIZE_URL = 'https://accounts.infusionsoft.com/app/oauth/authorize';
export const DEFAULT_TOKEN_URL = 'https://api.infusionsoft.com/token';

const setting = <const E extends string, const F extends `--${string}` | undefined>(
  env: E,
  flag: F,
  def: string,
  doc: string,
) => ({ env, flag, def, doc });

/** One row per setting: env variable, flag, default, description (also the README's configuration table). */
export const SETTINGS = [
  setting('KEAP_API_KEY', undefined, '', 'Keap personal access token or service account key'),
  setting('KEAP_API_BASE_URL', '--base-url', DEFAULT_BASE_URL, 'Keap REST base URL'),
  setting('KEAP_OAUTH_CLIENT_ID', undefined, '', 'OAuth client id (instead of an API key)'),
  setting('KEAP_OAUTH_CLIENT_SECRET', undefined, '', 'OAuth client secret'),
  setting('KEAP_OAUTH_AUTHORIZE_URL', undefined, DEFAULT_AUTHORIZE_URL, 'OAuth authorize URL'),
  setting('KEAP_OAUTH_TOKEN_URL', undefined, DEFAULT_TOKEN_URL, 'OAuth token URL'),
  setting('KEAP_MCP_STATE_DIR', '--state-dir', '~/.keap-mcp', 'State store (tokens, idempotency)'),
  setting('KEAP_MCP_LOG_LEVEL', '--log-level', 'info', 'Log level on stderr'),
  setting('KEAP_POLICY', '--policy', '', 'Policy file (agents, grants, confirmations)'),
  setting('KEAP_AGENT', '--agent', '', 'Agent for stdio (default: the policy default agent)'),
  setting(
    'KEAP_AUDIT_LOG',
    '--audit-log',
    '',
    'Audit log file (JSON lines; default <state dir>/audit.jsonl)',
  ),
  setting('KEAP_READ_ONLY', '--read-only', 'false', 'Cap every agent at read access'),
  setting(
    'KEAP_MAX_WAIT_MS',
    '--max-wait-ms',
    '20000',
    'Longest wait for a Keap rate-limit slot before failing fast (ms)',
  ),
  setting('KEAP_MCP_HTTP_HOST', '--host', '127.0.0.1', 'HTTP bind address'),
  setting('KEAP_MCP_HTTP_PORT', '--port', '3000', 'HTTP port (0 = any free port)'),
  setting(
    'KEAP_MCP_ALLOWED_HOSTS',
    '--allowed-hosts',
    '',
    'Host names HTTP clients may use in Host/Origin (comma list; default: the bind address, plus loopback names on loopback)',
  ),
  // ---- operator console (src/console/) ----
  setting(
    'KEAP_MCP_CONSOLE_PORT',
    '--console-port',
    '',
    'Serve the operator console on 127.0.0.1:PORT beside stdio (HTTP mode serves it at /console)',
  ),
  setting(
    'KEAP_MCP_OPERATOR_TOKEN_SHA256',
    undefined,
    '',
    'SHA-256 (hex) of the operator console token; overrides the policy operator_token_sha256',
  ),
  setting(
    'KEAP_APPROVAL_WAIT_S',
    undefined,
    '60',
    'How long a call carrying a progressToken is held waiting for the operator console (s); 0 = answer approval_pending at once',
  ),
  // HTTP sessions (src/transports/http.ts).
  setting(
    'KEAP_MCP_SESSION_IDLE_S',
    undefined,
    '1800',
    'Close an HTTP MCP session after this many seconds without a request (s)',
  ),
  setting('KEAP_MCP_MAX_SESSIONS', undefined, '200', 'Most open HTTP MCP sessions (beyond: HTTP 503)'),
  setting(
    'KEAP_MCP_MAX_SESSIONS_PER_AGENT',
    undefined,
    '0',
    'Most open HTTP MCP sessions per agent (beyond: HTTP 429); 0 = max(10, max sessions ÷ agents with tokens)',
  ),
  setting(
    'KEAP_MCP_SANDBOX_STATE_DIR',
    '--sandbox-state-dir',
    '',
    'State store of a --sandbox run (default: in memory, nothing kept)',
  ),
  // REST hooks receiver (src/hooks/).
  setting(
    'KEAP_HOOKS_PUBLIC_URL',
    '--hooks-public-url',
    '',
    "Base URL Keap calls for REST hooks (receiver: <base>/hooks/keap/<id>; default: this HTTP server's URL)",
  ),
  setting('KEAP_HOOKS_RETENTION_DAYS', undefined, '7', 'Keep received hook events this many days'),
  setting(
    'KEAP_HOOKS_RETENTION_EVENTS',
    undefined,
    '100000',
    'Keep at most this many hook events (oldest dropped)',
  ),
  setting(
    'KEAP_HOOKS_MAX_REQUESTS_PER_MIN',
    undefined,
    '600',
    'Most requests per minute to one hook receiver (beyond: HTTP 429)',
  ),
] as const;

export type SettingName = (typeof SETTINGS)[number]['env'];

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const nonEmpty = z.string().trim().min(1, 'must not be empty');

const optionalText = z
  .string()
  .transform((s) => s.trim())
  .transform((s) => (s === '' ? undefined : s));

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine(
    (s) => ['', 'true', 'false', '1', '0', 'yes', 'no', 'on', 'off'].includes(s),
    'must be true or false',
  )
  .transform((s) => ['true', '1', 'yes', 'on'].includes(s));

function isLoopbackUrl(s: string): boolean {
  const host = new URL(s).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The API key, client secret and tokens travel to these URLs: https, or plain http only on loopback (sandbox). */
const url = z
  .string()
  .trim()
  .refine((s) => /^https?:\/\/[^\s]+$/.test(s) && URL.canParse(s), 'must be an http(s) URL')
  .refine(
    (s) => !URL.canParse(s) || s.startsWith('https://') || isLoopbackUrl(s),
    'must use https (plain http only for a loopback address such as the sandbox)',
  )
  .transform((s) => s.replace(/\/+$/, ''));

const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `must be an integer ${min}-${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be an integer ${min}-${max}`);

const schema = z.object({
  KEAP_API_KEY: optionalText,
  KEAP_API_BASE_URL: url,
  KEAP_OAUTH_CLIENT_ID: optionalText,
  KEAP_OAUTH_CLIENT_SECRET: optionalText,
  KEAP_OAUTH_AUTHORIZE_URL: url,
  KEAP_OAUTH_TOKEN_URL: url,
  KEAP_MCP_STATE_DIR: nonEmpty,
  KEAP_MCP_LOG_LEVEL: z
    .string()
    .trim()
    .toLowerCase()
    .refine((s) => (LOG_LEVELS as readonly string[]).includes(s), `must be one of ${LOG_LEVELS.join(', ')}`),
  KEAP_POLICY: optionalText,
  KEAP_AGENT: optionalText,
  KEAP_AUDIT_LOG: optionalText,
  KEAP_READ_ONLY: bool,
  KEAP_MAX_WAIT_MS: int(0, 3_600_000),
  KEAP_MCP_HTTP_HOST: nonEmpty,
  KEAP_MCP_HTTP_PORT: int(0, 65_535),
  KEAP_MCP_ALLOWED_HOSTS: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((h) => h.trim())
        .filter((h) => h !== ''),
    )
    .refine(
      (hs) => hs.every((h) => /^(\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*|[A-Za-z0-9.-]+)$/.test(h)),
      'must be a comma-separated list of host names or IP addresses (no scheme, port or path)',
    ),
  KEAP_MCP_CONSOLE_PORT: z
    .string()
    .trim()
    .refine(
      (s) => s === '' || (/^\d+$/.test(s) && Number(s) >= 1 && Number(s) <= 65_535),
      'must be a port 1-65535',
    )
    .transform((s) => (s === '' ? undefined : Number(s))),
  KEAP_MCP_OPERATOR_TOKEN_SHA256: z
    .string()
    .trim()
    .refine(
      (s) => s === '' || /^[0-9a-fA-F]{64}$/.test(s),
      "must be the 64-character hex SHA-256 of the token (printf %s 'TOKEN' | sha256sum)",
    )
    .transform((s) => (s === '' ? undefined : s.toLowerCase())),
  KEAP_APPROVAL_WAIT_S: int(0, 600),
  // HTTP sessions.
  KEAP_MCP_SESSION_IDLE_S: int(1, 604_800),
  KEAP_MCP_MAX_SESSIONS: int(1, 100_000),
  KEAP_MCP_MAX_SESSIONS_PER_AGENT: int(0, 100_000),
  KEAP_MCP_SANDBOX_STATE_DIR: optionalText,
  KEAP_HOOKS_PUBLIC_URL: z
    .string()
    .trim()
    .refine((s) => s === '' || (/^https?:\/\/[^\s]+$/.test(s) && URL.canParse(s)), 'must be an http(s) URL')
    .refine(
      (s) => s === '' || !URL.canParse(s) || s.startsWith('https://') || isLoopbackUrl(s),
      'must use https (plain http only for a loopback address); Keap does not sign deliveries',
    )
    .refine((s) => {
      if (s === '' || !URL.canParse(s)) return true;
      const u = new URL(s);
      return u.search === '' && u.hash === '' && u.username === '' && u.password === '';
    }, 'must be a base URL without query, fragment or credentials')
    .transform((s) => (s === '' ? undefined : s.replace(/\/+$/, ''))),
  KEAP_HOOKS_RETENTION_DAYS: int(1, 3650),
  KEAP_HOOKS_RETENTION_EVENTS: int(1, 100_000_000),
  KEAP_HOOKS_MAX_REQUESTS_PER_MIN: int(1, 1_000_000),
});

export type { OAuthConfig } from './auth/oauth.js';

export interface Config {
  readonly transport: 'stdio' | 'http';
  /** Run against the in-process Keap sandbox instead of Keap. */
  readonly sandbox: boolean;
  readonly baseUrl: string;
  readonly apiKey: string | undefined;
  readonly oauth: OAuthConfig | undefined;
  /** Credential settings that hold a placeholder or blank value (see assertUsableCredentials). */
  readonly credentialProblems: readonly CredentialProblem[];
  readonly stateDir: string;
  readonly logLevel: string;
  readonly policyFile: string | undefined;
  readonly agent: string | undefined;
  /** KEAP_AUDIT_LOG; default `<state dir>/audit.jsonl` (what `keap-mcp audit` reads too). */
  readonly auditLog: string | undefined;
  readonly readOnly: boolean;
  readonly maxWaitMs: number;
  readonly http: { readonly host: string; readonly port: number };
  /** KEAP_MCP_ALLOWED_HOSTS (HTTP Host/Origin allow-list); empty → the default list (src/transports/http.ts). */
  readonly allowedHosts: readonly string[];
  /** Operator console: port beside stdio (undefined = off) and the token hash from the environment. */
  readonly console: {
    readonly port: number | undefined;
    readonly operatorTokenSha256: string | undefined;
    /** KEAP_APPROVAL_WAIT_S in seconds. */
    readonly approvalWaitS: number;
  };
  /** HTTP sessions: idle timeout (s), cap, per-agent cap (0 = automatic; src/transports/http.ts). */
  readonly sessions: { readonly idleS: number; readonly max: number; readonly perAgent: number };
  /** KEAP_MCP_SANDBOX_STATE_DIR: a --sandbox run keeps its state here (undefined: in memory). */
  readonly sandboxStateDir: string | undefined;
  /** The REST hooks receiver (src/hooks/receiver.ts). */
  readonly hooks: {
    /** `--hooks-only` (with --http): serve only the receiver — no /mcp, no console. */
    readonly only: boolean;
    /** KEAP_HOOKS_PUBLIC_URL without trailing slash; undefined: the HTTP server's own URL. */
    readonly publicUrl: string | undefined;
    readonly retention: { readonly maxAgeMs: number; readonly maxEvents: number };
    /** Requests per minute per receiver. */
    readonly ratePerMin: number;
  };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Flags of the server command (subcommands parse their own). */
export interface ServeFlags {
  readonly http?: boolean;
  readonly sandbox?: boolean;
  /** `--hooks-only`: only the REST hooks receiver (needs --http). */
  readonly hooksOnly?: boolean;
  readonly values?: Partial<Record<SettingName, string>>;
}

/** A credential setting whose value cannot be a real credential. */
export interface CredentialProblem {
  readonly setting: 'KEAP_API_KEY' | 'KEAP_OAUTH_CLIENT_ID' | 'KEAP_OAUTH_CLIENT_SECRET';
  /** What is wrong, e.g. 'is a placeholder ("your_…")' (never the value itself). */
  readonly problem: string;
}

/**
 * Why `value` looks like a placeholder copied from an example instead of a credential, or undefined.
 * Real Keap keys and OAuth values never start with `your_`, `<`, `xxx`, nor contain `...` or `changeme`.
 */
export function placeholderProblem(value: string): string | undefined {
  const v = value.trim();
  if (v === '') return 'is set but empty';
  if (/^<.*>$/s.test(v)) return 'is a placeholder (<…>)';
  if (/^your[_-]/i.test(v)) return `is a placeholder ("${v.slice(0, 5)}…")`;
  if (/change[_-]?me/i.test(v)) return 'is a placeholder ("changeme")';
  if (/^(replace[_-]?me|placeholder|todo|none|null|undefined)$/i.test(v)) return 'is a placeholder';
  if (/^x{3,}/i.test(v)) return 'is a placeholder ("xxx…")';
  if (v.includes('...') || v.includes('…')) return 'is a placeholder (contains "...")';
  return undefined;
}

const CREDENTIAL_FIX: Record<CredentialProblem['setting'], string> = {
  KEAP_API_KEY:
    'Create a personal access token in Keap (Settings → API Settings → Add Key; Keap Classic: profile menu → API Settings) and set KEAP_API_KEY to it, or try the built-in sandbox with `keap-mcp --sandbox` (nothing real happens).',
  KEAP_OAUTH_CLIENT_ID:
    "Set KEAP_OAUTH_CLIENT_ID and KEAP_OAUTH_CLIENT_SECRET to your Keap developer app's client id and secret (keys.developer.keap.com), then run `keap-mcp auth login`; or use KEAP_API_KEY, or `keap-mcp --sandbox`.",
  KEAP_OAUTH_CLIENT_SECRET:
    "Set KEAP_OAUTH_CLIENT_ID and KEAP_OAUTH_CLIENT_SECRET to your Keap developer app's client id and secret (keys.developer.keap.com), then run `keap-mcp auth login`; or use KEAP_API_KEY, or `keap-mcp --sandbox`.",
};

/**
 * Refuses to start against Keap with placeholder or blank credentials (the sandbox needs none). `only` limits the
 * check to some settings (e.g. the OAuth pair for `auth login`). Throws ConfigError naming the setting and the fix.
 */
export function assertUsableCredentials(
  config: Pick<Config, 'credentialProblems'>,
  only?: readonly CredentialProblem['setting'][],
): void {
  const problems = config.credentialProblems.filter((p) => only === undefined || only.includes(p.setting));
  if (problems.length === 0) return;
  const fixes = [...new Set(problems.map((p) => CREDENTIAL_FIX[p.setting]))];
  throw new ConfigError(
    `Invalid configuration:\n  ${problems.map((p) => `${p.setting}: ${p.problem}, not a Keap credential`).join('\n  ')}\n  ${fixes.join('\n  ')}`,
  );
}

function credentialProblemsOf(
  raw: Readonly<Record<string, string>>,
  explicit: (name: string) => boolean,
  oauthSet: boolean,
): CredentialProblem[] {
  const out: CredentialProblem[] = [];
  for (const setting of ['KEAP_API_KEY', 'KEAP_OAUTH_CLIENT_ID', 'KEAP_OAUTH_CLIENT_SECRET'] as const) {
    const value = raw[setting] ?? '';
    if (!explicit(setting)) continue;
    const problem = placeholderProblem(value);
    if (problem === undefined) continue;
    // A blank KEAP_API_KEY next to a configured OAuth client is just "not used".
    if (value.trim() === '' && (setting !== 'KEAP_API_KEY' || oauthSet)) continue;
    out.push({ setting, problem });
  }
  return out;
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? join(homedir(), p.slice(1)) : p;
}

/** Pure: flags + an environment → a validated, frozen Config. Throws ConfigError naming the setting. */
export function loadConfig(flags: ServeFlags, env: Readonly<Record<string, string | undefined>>): Config {
  const raw: Record<string, string> = {};
  for (const s of SETTINGS) raw[s.env] = flags.values?.[s.env] ?? env[s.env] ?? s.def;
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const name = String(i.path[0] ?? '');
      const flag = SETTINGS.find((s) => s.env === name)?.flag;
      return `${name}${flag ? ` (${flag})` : ''}: ${i.message}`;
    });
    throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const c = parsed.data;
  if ((c.KEAP_OAUTH_CLIENT_ID === undefined) !== (c.KEAP_OAUTH_CLIENT_SECRET === undefined)) {
    throw new ConfigError(
      'Invalid configuration:\n  KEAP_OAUTH_CLIENT_ID and KEAP_OAUTH_CLIENT_SECRET must be set together',
    );
  }
  const credentialProblems = credentialProblemsOf(
    raw,
    (name) => flags.values?.[name as SettingName] !== undefined || env[name] !== undefined,
    c.KEAP_OAUTH_CLIENT_ID !== undefined,
  );
  if (flags.hooksOnly === true && flags.http !== true) {
    throw new ConfigError(
      'Invalid configuration:\n  --hooks-only serves the REST hooks receiver over HTTP: use it with --http',
    );
  }
  const stateDir = expandHome(c.KEAP_MCP_STATE_DIR);
  const oauth =
    c.KEAP_OAUTH_CLIENT_ID !== undefined && c.KEAP_OAUTH_CLIENT_SECRET !== undefined
      ? {
          clientId: c.KEAP_OAUTH_CLIENT_ID,
          clientSecret: c.KEAP_OAUTH_CLIENT_SECRET,
          authorizeUrl: c.KEAP_OAUTH_AUTHORIZE_URL,
          tokenUrl: c.KEAP_OAUTH_TOKEN_URL,
        }
      : undefined;
  return Object.freeze({
    transport: flags.http ? 'http' : 'stdio',
    sandbox: flags.sandbox === true,
    baseUrl: c.KEAP_API_BASE_URL,
    apiKey: c.KEAP_API_KEY,
    oauth,
    credentialProblems: Object.freeze(credentialProblems),
    stateDir,
    logLevel: c.KEAP_MCP_LOG_LEVEL,
    policyFile: c.KEAP_POLICY,
    agent: c.KEAP_AGENT,
    auditLog: c.KEAP_AUDIT_LOG !== undefined ? expandHome(c.KEAP_AUDIT_LOG) : defaultAuditLog(stateDir),
    readOnly: c.KEAP_READ_ONLY,
    maxWaitMs: c.KEAP_MAX_WAIT_MS,
    http: Object.freeze({ host: c.KEAP_MCP_HTTP_HOST, port: c.KEAP_MCP_HTTP_PORT }),
    allowedHosts: Object.freeze([...c.KEAP_MCP_ALLOWED_HOSTS]),
    console: Object.freeze({
      port: c.KEAP_MCP_CONSOLE_PORT,
      operatorTokenSha256: c.KEAP_MCP_OPERATOR_TOKEN_SHA256,
      approvalWaitS: c.KEAP_APPROVAL_WAIT_S,
    }),
    sessions: Object.freeze({
      idleS: c.KEAP_MCP_SESSION_IDLE_S,
      max: c.KEAP_MCP_MAX_SESSIONS,
      perAgent: c.KEAP_MCP_MAX_SESSIONS_PER_AGENT,
    }),
    sandboxStateDir:
      c.KEAP_MCP_SANDBOX_STATE_DIR !== undefined ? expandHome(c.KEAP_MCP_SANDBOX_STATE_DIR) : undefined,
    hooks: Object.freeze({
      only: flags.hooksOnly === true,
      publicUrl: c.KEAP_HOOKS_PUBLIC_URL,
      retention: Object.freeze({
        maxAgeMs: c.KEAP_HOOKS_RETENTION_DAYS * 24 * 60 * 60_000,
        maxEvents: c.KEAP_HOOKS_RETENTION_EVENTS,
      }),
      ratePerMin: c.KEAP_HOOKS_MAX_REQUESTS_PER_MIN,
    }),
  });
}

/** Where the server writes its audit log and `keap-mcp audit` reads it when KEAP_AUDIT_LOG is unset. */
export function defaultAuditLog(stateDir: string): string {
  return join(stateDir, 'audit.jsonl');
}

/** The process environment (the only read of process.env in the project). */
export function processEnv(): Readonly<Record<string, string | undefined>> {
  return process.env;
}

export function hasCredentials(config: Config): boolean {
  return config.apiKey !== undefined || config.oauth !== undefined;
}

export const MISSING_CREDENTIALS_MESSAGE = [
  'keap-mcp: no Keap credentials configured.',
  '  Set KEAP_API_KEY (a Keap personal access token or service account key),',
  '  or KEAP_OAUTH_CLIENT_ID and KEAP_OAUTH_CLIENT_SECRET and run `keap-mcp auth login`,',
  '  or try the built-in sandbox with `keap-mcp --sandbox` (nothing real happens).',
].join('\n');
