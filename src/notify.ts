/**
 * MCP logging for one session: `notifications/message` to the client, filtered by the level the client set with
 * `logging/setLevel` (default `info`, DEFAULT_NOTIFY_LEVEL).
 *
 * createServer() calls installSessionLogger(server.server) once per McpServer (one per HTTP session, one for
 * stdio); the pipeline then calls notify(ctx, level, message, data?, { relatedRequestId }) with its ctx.server.
 * The state lives in a WeakMap keyed by the low-level Server: it goes away with the session's server.
 *
 * Redaction (the same rule as the logs and the audit): a message is a fixed sentence written by the server; data
 * keeps only the keys in NOTIFY_DATA_KEYS (tool names, counts, waits, categories, statuses), each a number, a
 * boolean, null or a short identifier-like string. Anything else is dropped (counted in `redacted`), and strings
 * that look like emails, long digit runs or tokens are masked in the message. Never pass arguments, Keap bodies,
 * names, emails, tokens or secrets.
 */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  type LoggingLevel,
  LoggingLevelSchema,
  type RequestId,
  SetLevelRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';

/** The eight MCP (syslog) levels, least severe first. */
export const NOTIFY_LEVELS: readonly LoggingLevel[] = LoggingLevelSchema.options;
export type NotifyLevel = LoggingLevel;
/** Level of a session until the client sets one (MCP leaves the default to the server). */
export const DEFAULT_NOTIFY_LEVEL: NotifyLevel = 'info';
/** `logger` field of every notification. */
export const NOTIFY_LOGGER = 'keap-mcp';

/** The only data keys a notification carries. */
export const NOTIFY_DATA_KEYS = [
  'tool',
  'resource',
  'access',
  'operation',
  'method',
  'path',
  'category',
  'status',
  'decision',
  'outcome',
  'via',
  'attempt',
  'attempts',
  'max_attempts',
  'wait_ms',
  'retry_in_ms',
  'elapsed_ms',
  'duration_ms',
  'count',
  'total',
  'remaining',
  'progress',
] as const;
export type NotifyDataKey = (typeof NOTIFY_DATA_KEYS)[number];
export type NotifyData = Partial<Record<NotifyDataKey, string | number | boolean | null>>;

export interface NotifyOptions {
  /** The request the notification belongs to (extra.requestId): over HTTP it then travels on that request's stream. */
  readonly relatedRequestId?: RequestId | undefined;
}

export interface SessionLogger {
  /** The session's current level. */
  level(): NotifyLevel;
  /** True when a notification at `level` would be sent. */
  enabled(level: NotifyLevel): boolean;
  /** Sends one notification when enabled; resolves true when sent. Never throws. */
  notify(level: NotifyLevel, message: string, data?: NotifyData, options?: NotifyOptions): Promise<boolean>;
}

const SEVERITY = new Map<string, number>(NOTIFY_LEVELS.map((l, i) => [l, i]));
const KEYS = new Set<string>(NOTIFY_DATA_KEYS);
const MESSAGE_CHARS = 300;
const VALUE_CHARS = 120;
const SAFE_VALUE = /^[A-Za-z0-9_.:/{}+\- ]*$/;

function maskMessage(message: string): string {
  const text = message
    .replace(/[^\s@]+@[^\s@]+\.[^\s@]+/g, '[email]')
    .replace(/\b(Bearer|Basic)\s+\S+/gi, '$1 [redacted]')
    .replace(/[A-Za-z0-9_\-+/=]{32,}/g, '[redacted]')
    .replace(/\d{7,}/g, '[number]');
  return text.length > MESSAGE_CHARS ? `${text.slice(0, MESSAGE_CHARS - 1)}…` : text;
}

/** The data a notification may carry (see the module comment). */
export function redactNotifyData(
  data: Readonly<Record<string, unknown>> | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let dropped = 0;
  for (const [k, v] of Object.entries(data ?? {})) {
    if (!KEYS.has(k)) {
      dropped++;
      continue;
    }
    if (v === null || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) out[k] = v;
    else if (typeof v === 'string' && v.length <= VALUE_CHARS && SAFE_VALUE.test(v) && !/\d{7,}/.test(v))
      out[k] = v;
    else dropped++;
  }
  if (dropped > 0) out.redacted = dropped;
  return out;
}

const loggers = new WeakMap<Server, SessionLogger>();

/**
 * Gives `server` a per-session level: answers `logging/setLevel` (every level → `{}`) and returns the session's
 * logger. The server must declare the `logging` capability. Idempotent per server.
 */
export function installSessionLogger(server: Server): SessionLogger {
  const existing = loggers.get(server);
  if (existing !== undefined) return existing;
  let current: NotifyLevel = DEFAULT_NOTIFY_LEVEL;
  const enabled = (level: NotifyLevel) =>
    (SEVERITY.get(level) ?? Number.POSITIVE_INFINITY) >= (SEVERITY.get(current) ?? 0);
  const logger: SessionLogger = {
    level: () => current,
    enabled,
    async notify(level, message, data, options) {
      if (!enabled(level)) return false;
      try {
        await server.notification(
          {
            method: 'notifications/message',
            params: {
              level,
              logger: NOTIFY_LOGGER,
              data: { message: maskMessage(message), ...redactNotifyData(data) },
            },
          },
          options?.relatedRequestId !== undefined
            ? { relatedRequestId: options.relatedRequestId }
            : undefined,
        );
        return true;
      } catch {
        return false; // not connected / closed: a notification is best effort
      }
    },
  };
  // Replaces the SDK's handler (which defaults to sending everything): the level lives here, per server.
  server.setRequestHandler(SetLevelRequestSchema, (request) => {
    current = request.params.level;
    return {};
  });
  loggers.set(server, logger);
  return logger;
}

/** The session logger of a server, when installSessionLogger ran for it. */
export function sessionLogger(server: Server | undefined): SessionLogger | undefined {
  return server !== undefined ? loggers.get(server) : undefined;
}

/**
 * For the pipeline: notify(ctx, 'info', 'waiting for a Keap rate-limit slot', { tool, wait_ms }, { relatedRequestId:
 * extra.requestId }). Does nothing without a session logger or below the session's level. Never throws.
 */
export function notify(
  ctx: { readonly server?: Server | undefined },
  level: NotifyLevel,
  message: string,
  data?: NotifyData,
  options?: NotifyOptions,
): Promise<boolean> {
  const logger = sessionLogger(ctx.server);
  return logger !== undefined ? logger.notify(level, message, data, options) : Promise.resolve(false);
}
