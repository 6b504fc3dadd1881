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
  setting('KEAP_AUDIT_LOG', '--audit-log', '', 'Audit log file (JSON lines)'),
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
  // HTTP sessions.
  KEAP_MCP_SESSION_IDLE_S: int(1, 604_800),
  KEAP_MCP_MAX_SESSIONS: int(1, 100_000),
  KEAP_MCP_MAX_SESSIONS_PER_AGENT: int(0, 100_000),
});

export type { OAuthConfig } from './auth/oauth.js';

export interface Config {
  readonly transport: 'stdio' | 'http';
  /** Run against the in-process Keap sandbox instead of Keap. */
  readonly sandbox: boolean;
  readonly baseUrl: string;
  readonly apiKey: string | undefined;
  readonly oauth: OAuthConfig | undefined;
  readonly stateDir: string;
  readonly logLevel: string;
  readonly policyFile: string | undefined;
  readonly agent: string | undefined;
  readonly auditLog: string | undefined;
  readonly readOnly: boolean;
  readonly maxWaitMs: number;
  readonly http: { readonly host: string; readonly port: number };
  /** KEAP_MCP_ALLOWED_HOSTS (HTTP Host/Origin allow-list); empty → the default list (src/transports/http.ts). */
  readonly allowedHosts: readonly string[];
  /** HTTP sessions: idle timeout (s), cap, per-agent cap (0 = automatic; src/transports/http.ts). */
  readonly sessions: { readonly idleS: number; readonly max: number; readonly perAgent: number };
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
  readonly values?: Partial<Record<SettingName, string>>;
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
    stateDir: expandHome(c.KEAP_MCP_STATE_DIR),
    logLevel: c.KEAP_MCP_LOG_LEVEL,
    policyFile: c.KEAP_POLICY,
    agent: c.KEAP_AGENT,
    auditLog: c.KEAP_AUDIT_LOG,
    readOnly: c.KEAP_READ_ONLY,
    maxWaitMs: c.KEAP_MAX_WAIT_MS,
    http: Object.freeze({ host: c.KEAP_MCP_HTTP_HOST, port: c.KEAP_MCP_HTTP_PORT }),
    allowedHosts: Object.freeze([...c.KEAP_MCP_ALLOWED_HOSTS]),
    sessions: Object.freeze({
      idleS: c.KEAP_MCP_SESSION_IDLE_S,
      max: c.KEAP_MCP_MAX_SESSIONS,
      perAgent: c.KEAP_MCP_MAX_SESSIONS_PER_AGENT,
    }),
  });
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
