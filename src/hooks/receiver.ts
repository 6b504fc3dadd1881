/**
 * The REST hooks receiver: `POST /hooks/keap/{receiver_id}`, mounted by src/transports/http.ts after its Host and
 * Origin checks and before the agent bearer check (Keap presents no token: the unguessable receiver id in the URL is
 * the only secret, since Keap does not sign deliveries — serve it over HTTPS only).
 *
 * Per request, in this order:
 * 1. Path `/hooks/keap/<id>` (anything else under /hooks → 404), method POST (→ 405).
 * 2. The receiver must exist in the registry (→ 404); unknown ids share one rate bucket.
 * 3. Per-receiver request-rate cap (token bucket; → 429 with Retry-After) — before any body is read.
 * 4. Handshake: a request carrying `X-Hook-Secret` → the subscription is marked verified locally, then 200 echoing
 *    the header (Keap's "Immediate Confirmation"). Its body is ignored.
 * 5. Delivery `{event_key, object_type, object_keys: [{id, apiUrl, timestamp}]}`: body at most 1 MiB (→ 413 at
 *    once: a declared length over it is refused unread, a streamed body stops being buffered at the limit), JSON (→ 400), validated (→ 400: types, ≤ 1,000 keys, ids digit strings or integers → decimal
 *    strings, event_key the subscription's), written to the inbox in one durable transaction, then 200. The
 *    acknowledgement waits on nothing else (not Keap, not an agent); bookkeeping runs after the response. A store
 *    failure → 503 (Keap retries). Nothing partial is ever stored.
 * A request answered before its body was read keeps its connection for a short "lingering close" (the rest of the
 * body is discarded, at most 2 s / 8 MiB) so the client can read the answer rather than a reset.
 * Every rejection is logged (pino, at info; store failures at error) with the status, a reason, the remote address
 * and the first characters of the receiver id — never a body, never the whole id.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';
import { readBodyLimited } from '../transports/body.js';
import { RECEIVER_ID_PATTERN } from './inbox.js';
import type { DeliveredKey, Delivery, HookRegistryApi, InboxApi } from './types.js';

/** Path prefix of every receiver URL. */
export const RECEIVER_PATH = '/hooks/keap/';
/** Largest accepted delivery body. */
export const MAX_DELIVERY_BYTES = 1024 * 1024;
/** Most object keys in one delivery (Keap batches at most 1,000). */
export const MAX_KEYS = 1000;
/** Default per-receiver request cap (requests per minute; the bucket holds one minute's worth). */
export const DEFAULT_RATE_PER_MIN = 600;

export interface ReceiverOptions {
  readonly inbox: InboxApi;
  readonly registry: HookRegistryApi;
  readonly logger: Logger;
  /** Base URL Keap must call (KEAP_HOOKS_PUBLIC_URL), or a function when it is known only after listen. */
  readonly publicBaseUrl: string | (() => string);
  readonly maxBodyBytes?: number | undefined;
  /** Requests per minute per receiver (burst: the same number). */
  readonly ratePerMin?: number | undefined;
  readonly now?: (() => number) | undefined;
}

export interface HooksReceiver {
  /** Answers `/hooks/...` requests; false for any other path (the caller routes it). */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** The URL Keap must call for a receiver id: `<public base>/hooks/keap/<id>`. */
  urlFor(receiverId: string): string;
  /** The public base URL in force. */
  baseUrl(): string;
}

/** A validation failure: the reason goes back to the caller (no body content in it). */
export class DeliveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeliveryError';
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;
const EVENT_KEY = /^[A-Za-z0-9_.-]{1,100}$/;
const DIGITS = /^\d{1,20}$/;
/** What an X-Hook-Secret may be to be echoed (visible ASCII, bounded). */
const SECRET = /^[\x21-\x7e]{1,512}$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function text(v: unknown, where: string, max: number): string {
  if (typeof v !== 'string') throw new DeliveryError(`${where}: must be a string`);
  if (v.length === 0 || v.length > max) throw new DeliveryError(`${where}: must be 1-${max} characters`);
  if (CONTROL.test(v)) throw new DeliveryError(`${where}: must not contain control characters`);
  return v;
}

function objectId(v: unknown, where: string): string {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0)
      throw new DeliveryError(`${where}: must be a non-negative integer`);
    return String(v);
  }
  if (typeof v === 'string' && DIGITS.test(v)) return v.replace(/^0+(?=\d)/, '');
  throw new DeliveryError(`${where}: must be an integer or a string of digits`);
}

/** Validates a parsed delivery body (pure; throws DeliveryError naming the first problem). */
export function parseDelivery(body: unknown): Delivery {
  if (!isRecord(body)) throw new DeliveryError('body: must be a JSON object');
  const eventKey = text(body.event_key, 'event_key', 100);
  if (!EVENT_KEY.test(eventKey)) throw new DeliveryError('event_key: must look like noun.verb');
  const objectType = text(body.object_type, 'object_type', 100);
  const keys = body.object_keys;
  if (!Array.isArray(keys)) throw new DeliveryError('object_keys: must be an array');
  if (keys.length > MAX_KEYS) throw new DeliveryError(`object_keys: at most ${MAX_KEYS} keys per delivery`);
  const objectKeys: DeliveredKey[] = keys.map((k: unknown, i) => {
    const where = `object_keys[${i}]`;
    if (!isRecord(k)) throw new DeliveryError(`${where}: must be an object`);
    return {
      id: objectId(k.id, `${where}.id`),
      apiUrl: text(k.apiUrl, `${where}.apiUrl`, 2048),
      timestamp: text(k.timestamp, `${where}.timestamp`, 64),
    };
  });
  return { eventKey, objectType, objectKeys };
}

/** After an early answer, what the client still sends is discarded (never buffered) this long / this much. */
const LINGER_MS = 2000;
const LINGER_BYTES = 8 * 1024 * 1024;

/**
 * Lingering close: a request answered before its body was read (413, 404, 429 …) has its remaining body discarded
 * for a short while, so the client — still writing — gets to read the answer instead of a connection reset (closing
 * a socket with unread data makes the kernel send RST, and the peer then loses the answer). Past LINGER_MS or
 * LINGER_BYTES the connection is destroyed.
 */
function linger(req: IncomingMessage): void {
  let discarded = 0;
  const stop = (): void => {
    clearTimeout(timer);
    req.off('data', onData);
    if (!req.complete) req.socket.destroy();
  };
  const onData = (chunk: Buffer): void => {
    discarded += chunk.length;
    if (discarded > LINGER_BYTES) stop();
  };
  const timer = setTimeout(stop, LINGER_MS);
  timer.unref();
  req.on('data', onData);
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  req.resume();
}

const HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } as const;

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  const t = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(t)),
    ...HEADERS,
    ...headers,
  });
  res.end(t);
}

/** A receiver id as it may appear in a log line: its first characters only (the full id is the secret). */
export function maskReceiverId(id: string): string {
  return id.length <= 6 ? '…' : `${id.slice(0, 6)}…`;
}

/** A request path safe to log: a receiver id in it is shortened (see maskReceiverId). */
export function maskHookPath(path: string): string {
  const i = path.toLowerCase().indexOf(RECEIVER_PATH);
  if (i < 0) return path;
  const start = i + RECEIVER_PATH.length;
  return `${path.slice(0, start)}${maskReceiverId(path.slice(start))}`;
}

/** Token buckets: `perMin` tokens per minute, at most `perMin` held. */
class RateCap {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly perMin: number,
    private readonly now: () => number,
  ) {}

  /** 0 when a request may pass (and takes its token), else the seconds until one may. */
  take(key: string): number {
    const now = this.now();
    const perMs = this.perMin / 60_000;
    const b = this.buckets.get(key) ?? { tokens: this.perMin, at: now };
    b.tokens = Math.min(this.perMin, b.tokens + (now - b.at) * perMs);
    b.at = now;
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000));
  }
}

/** Unknown receiver ids share this bucket (a scan for ids cannot grow the map). */
const UNKNOWN_BUCKET = '\u0000unknown';

export function createReceiver(opts: ReceiverOptions): HooksReceiver {
  const { inbox, registry, logger } = opts;
  const now = opts.now ?? Date.now;
  const limit = opts.maxBodyBytes ?? MAX_DELIVERY_BYTES;
  const cap = new RateCap(Math.max(1, opts.ratePerMin ?? DEFAULT_RATE_PER_MIN), now);
  const base = (): string =>
    (typeof opts.publicBaseUrl === 'function' ? opts.publicBaseUrl() : opts.publicBaseUrl).replace(
      /\/+$/,
      '',
    );

  function reject(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    reason: string,
    message: string,
    id: string | undefined,
    headers: Record<string, string> = {},
  ): void {
    logger.info(
      {
        status,
        reason,
        receiver: id === undefined ? undefined : maskReceiverId(id),
        remote: req.socket.remoteAddress,
      },
      'REST hook request rejected',
    );
    const body =
      status === 404
        ? { error: 'not_found', message }
        : status === 413
          ? { error: 'payload_too_large', message }
          : status === 429
            ? { error: 'rate_limited', message }
            : status === 405
              ? { error: 'method_not_allowed', message }
              : status === 503
                ? { error: 'unavailable', message }
                : { error: 'bad_request', message };
    send(res, status, body, headers);
    if (!req.complete) linger(req);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const lower = path.toLowerCase();
    if (lower !== '/hooks' && !lower.startsWith('/hooks/')) return false;
    const id = lower.startsWith(RECEIVER_PATH) ? path.slice(RECEIVER_PATH.length).replace(/\/$/, '') : '';
    if (id === '' || !RECEIVER_ID_PATTERN.test(id)) {
      const wait = cap.take(UNKNOWN_BUCKET);
      if (wait > 0) {
        reject(req, res, 429, 'rate_limited', 'Too many requests', undefined, {
          'retry-after': String(wait),
        });
        return true;
      }
      reject(
        req,
        res,
        404,
        'unknown_receiver',
        'Not found: no such hook receiver',
        id === '' ? undefined : id,
      );
      return true;
    }
    if (req.method !== 'POST') {
      reject(req, res, 405, 'method_not_allowed', 'Method not allowed: Keap POSTs to this URL', id, {
        allow: 'POST',
      });
      return true;
    }
    let sub: Awaited<ReturnType<HookRegistryApi['get']>>;
    try {
      sub = await registry.get(id);
    } catch (err) {
      logger.error({ err: err instanceof Error ? err.message : String(err) }, 'hook registry lookup failed');
      reject(req, res, 503, 'store_unavailable', 'Temporarily unavailable; retry later', id, {
        'retry-after': '30',
      });
      return true;
    }
    const wait = cap.take(sub === undefined ? UNKNOWN_BUCKET : id);
    if (wait > 0) {
      reject(req, res, 429, 'rate_limited', `Too many requests for this receiver; retry in ${wait} s`, id, {
        'retry-after': String(wait),
      });
      return true;
    }
    if (sub === undefined) {
      reject(req, res, 404, 'unknown_receiver', 'Not found: no such hook receiver', id);
      return true;
    }

    // The handshake (Keap's Immediate Confirmation).
    const secret = req.headers['x-hook-secret'];
    if (secret !== undefined) {
      const value = Array.isArray(secret) ? secret[0] : secret;
      if (value === undefined || !SECRET.test(value)) {
        reject(req, res, 400, 'bad_hook_secret', 'X-Hook-Secret must be 1-512 visible ASCII characters', id);
        return true;
      }
      try {
        await registry.markVerified(id, now());
      } catch (err) {
        logger.error(
          { err: err instanceof Error ? err.message : String(err) },
          'marking a hook verified failed',
        );
        reject(req, res, 503, 'store_unavailable', 'Temporarily unavailable; retry later', id, {
          'retry-after': '30',
        });
        return true;
      }
      send(res, 200, { ok: true }, { 'x-hook-secret': value });
      logger.info({ receiver: maskReceiverId(id), eventKey: sub.eventKey }, 'REST hook verified (handshake)');
      return true;
    }

    // A delivery.
    const got = await readBodyLimited(req, limit, 'pause');
    if (!got.ok) {
      if (got.status === 413)
        reject(req, res, 413, 'too_large', `Payload too large: at most ${limit} bytes per delivery`, id);
      else reject(req, res, 400, 'unreadable', 'The request body could not be read', id);
      return true;
    }
    let delivery: Delivery;
    try {
      delivery = parseDelivery(JSON.parse(got.text) as unknown);
    } catch (err) {
      const message =
        err instanceof DeliveryError ? `Malformed delivery: ${err.message}` : 'Malformed delivery: not JSON';
      reject(req, res, 400, 'malformed', message, id);
      return true;
    }
    if (delivery.eventKey.toLowerCase() !== sub.eventKey.toLowerCase()) {
      reject(req, res, 400, 'wrong_event', 'Malformed delivery: event_key is not this receiver’s event', id);
      return true;
    }
    let stored: number;
    let duplicates: number;
    try {
      const r = await inbox.add(id, delivery);
      stored = r.stored.length;
      duplicates = r.duplicates;
    } catch (err) {
      logger.error({ err: err instanceof Error ? err.message : String(err) }, 'hooks inbox write failed');
      reject(req, res, 503, 'store_unavailable', 'Temporarily unavailable; retry later', id, {
        'retry-after': '30',
      });
      return true;
    }
    send(res, 200, { ok: true, stored, duplicates });
    // After the acknowledgement: bookkeeping.
    const at = now();
    registry.recordDelivery(id, at, stored).catch((err: unknown) => {
      logger.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'recording a hook delivery failed',
      );
    });
    logger.debug(
      {
        receiver: maskReceiverId(id),
        eventKey: delivery.eventKey,
        keys: delivery.objectKeys.length,
        stored,
        duplicates,
      },
      'REST hook delivery stored',
    );
    return true;
  }

  return {
    handle,
    urlFor: (receiverId) => `${base()}${RECEIVER_PATH}${receiverId}`,
    baseUrl: base,
  };
}
