/**
 * The Redis connection behind every shared store (KEAP_MCP_REDIS_URL), built on ioredis:
 * - commands fail fast while the connection is down (no offline queue, one retry per request), so a call is
 *   refused with a clear, retryable error instead of hanging or silently running without shared state;
 * - the client reconnects by itself (capped back-off), so service resumes without a restart;
 * - the URL is never written anywhere with its password (redactRedisUrl).
 */
import { Redis } from 'ioredis';
import { StateUnavailableError } from '../errors.js';
import { redactRedisUrl } from './redact.js';

export { redactRedisUrl } from './redact.js';

/** Removes the URL (and its password) from an error message that might quote it. */
function scrub(message: string, url: string): string {
  let out = message.split(url).join(redactRedisUrl(url));
  try {
    const pw = decodeURIComponent(new URL(url).password);
    if (pw !== '') out = out.split(pw).join('***');
  } catch {
    // not a URL: nothing more to scrub
  }
  return out.slice(0, 300);
}

export interface RedisConnectionOptions {
  /** How long start-up waits for the first connection (default 5 s). */
  readonly connectTimeoutMs?: number;
  /** Key prefix (default `keap-mcp:`); tests use their own. */
  readonly prefix?: string;
}

export interface RedisConnection {
  readonly client: Redis;
  /** Key prefix every store puts in front of its keys. */
  readonly prefix: string;
  /** The URL without its password, for messages. */
  readonly where: string;
  /** True while the connection is up and ready. */
  ready(): boolean;
  /**
   * Runs one Redis operation; a connection failure (down, reset, timeout) becomes a StateUnavailableError with a
   * clear message (no URL password, no key names).
   */
  run<T>(what: string, op: (client: Redis) => Promise<T>): Promise<T>;
  /** A second connection for SUBSCRIBE (a subscribed connection cannot run other commands). */
  subscriber(): Redis;
  close(): Promise<void>;
}

const DEFAULT_PREFIX = 'keap-mcp:';

function clientFor(url: string, connectTimeoutMs: number): Redis {
  return new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: connectTimeoutMs,
    commandTimeout: 5_000,
    // Reconnect for ever, backing off to 1 s: service resumes on its own when Redis is back.
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 5), 1_000),
    enableReadyCheck: true,
  });
}

/**
 * Connects and checks (PING) before the server starts. Rejects with a StateUnavailableError naming the URL without
 * its password when Redis cannot be reached: the caller refuses to start.
 */
export async function connectRedis(url: string, opts: RedisConnectionOptions = {}): Promise<RedisConnection> {
  const where = redactRedisUrl(url);
  const timeout = opts.connectTimeoutMs ?? 5_000;
  const client = clientFor(url, timeout);
  // Errors are reported through run(); an unhandled 'error' event would crash the process.
  client.on('error', () => {});
  try {
    await Promise.race([
      client.connect(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('connect timeout')), timeout).unref()),
    ]);
    await client.ping();
  } catch (e) {
    client.disconnect();
    throw new StateUnavailableError(
      `cannot reach Redis at ${where} (KEAP_MCP_REDIS_URL): ${scrub(e instanceof Error ? e.message : String(e), url)}`,
    );
  }
  const subs: Redis[] = [];
  return {
    client,
    prefix: opts.prefix ?? DEFAULT_PREFIX,
    where,
    ready: () => client.status === 'ready',
    async run<T>(what: string, op: (c: Redis) => Promise<T>): Promise<T> {
      if (client.status !== 'ready') {
        throw new StateUnavailableError(
          `the shared state store (Redis at ${where}) is unreachable, so ${what} cannot be done now`,
        );
      }
      try {
        return await op(client);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        // A script or data error is a bug, not an outage: keep it as is (scrubbed).
        if (/^(ERR|WRONGTYPE|NOSCRIPT)/.test(msg)) throw new Error(scrub(msg, url));
        throw new StateUnavailableError(
          `the shared state store (Redis at ${where}) did not answer, so ${what} could not be done (${scrub(msg, url)})`,
        );
      }
    },
    subscriber(): Redis {
      const sub = clientFor(url, timeout);
      sub.on('error', () => {});
      // Subscribers may queue their SUBSCRIBE until connected (and re-subscribe after a reconnect).
      sub.options.enableOfflineQueue = true;
      sub.options.autoResubscribe = true;
      void sub.connect().catch(() => {});
      subs.push(sub);
      return sub;
    },
    async close(): Promise<void> {
      for (const s of subs) s.disconnect();
      try {
        if (client.status === 'ready') await client.quit();
        else client.disconnect();
      } catch {
        client.disconnect();
      }
    },
  };
}
