/**
 * Operator login for the console: the operator token is compared by SHA-256 in constant time; a successful
 * login opens a server-side session (random id in an HttpOnly, SameSite=Strict cookie scoped to /console) with
 * its own CSRF token. Sessions live in memory: a restart logs the operator out, which is the safe direction.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { sha256Hex } from '../safety/canonical.js';

export const SESSION_TTL_MS = 8 * 60 * 60_000;
export const COOKIE_NAME = 'keap_mcp_console';
const MAX_SESSIONS = 200;

/** Wrong logins per remote address before the login is refused for the rest of the window. */
export const MAX_LOGIN_FAILURES = 10;
export const LOGIN_WINDOW_MS = 15 * 60_000;
const MAX_FAILURE_ENTRIES = 10_000;

/** Constant-time: SHA-256 of the presented token against the configured hex hash. */
export function operatorTokenMatches(token: string, wantSha256Hex: string): boolean {
  const want = Buffer.from(wantSha256Hex, 'hex');
  const got = Buffer.from(sha256Hex(token), 'hex');
  return want.length === 32 && want.length === got.length && timingSafeEqual(want, got);
}

/** Constant-time string comparison (CSRF tokens). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

export interface ConsoleSession {
  /** Cookie value (secret). */
  readonly id: string;
  /** Per-session CSRF token (secret, in hidden form fields). */
  readonly csrf: string;
  /** Public label of the session: names the operator in approval records ("operator:3f9a0c1d"). */
  readonly ref: string;
  readonly remote: string | undefined;
  readonly createdAt: number;
  readonly expiresAt: number;
}

export class ConsoleSessions {
  private readonly sessions = new Map<string, ConsoleSession>();
  private readonly failures = new Map<string, { start: number; count: number }>();
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  create(remote: string | undefined): ConsoleSession {
    const now = this.now();
    this.sweep(now);
    if (this.sessions.size >= MAX_SESSIONS) {
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    const s: ConsoleSession = {
      id: randomBytes(32).toString('base64url'),
      csrf: randomBytes(32).toString('base64url'),
      ref: randomBytes(4).toString('hex'),
      remote,
      createdAt: now,
      expiresAt: now + SESSION_TTL_MS,
    };
    this.sessions.set(s.id, s);
    return s;
  }

  get(id: string | undefined): ConsoleSession | undefined {
    if (id === undefined || !/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    const s = this.sessions.get(id);
    if (s === undefined) return undefined;
    if (s.expiresAt <= this.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    return s;
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }

  /** True when this remote address may try another login. */
  loginAllowed(remote: string | undefined): boolean {
    const f = this.failures.get(remote ?? '');
    if (f === undefined) return true;
    if (this.now() - f.start >= LOGIN_WINDOW_MS) {
      this.failures.delete(remote ?? '');
      return true;
    }
    return f.count < MAX_LOGIN_FAILURES;
  }

  loginFailed(remote: string | undefined): void {
    const key = remote ?? '';
    const now = this.now();
    const f = this.failures.get(key);
    if (f === undefined || now - f.start >= LOGIN_WINDOW_MS) {
      if (this.failures.size >= MAX_FAILURE_ENTRIES) {
        const oldest = this.failures.keys().next().value;
        if (oldest !== undefined) this.failures.delete(oldest);
      }
      this.failures.set(key, { start: now, count: 1 });
    } else {
      f.count++;
    }
  }

  private sweep(now: number): void {
    for (const [id, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(id);
  }
}

/** The console cookie's value, if the request carries one. */
export function sessionCookie(req: IncomingMessage): string | undefined {
  const h = req.headers.cookie;
  if (typeof h !== 'string') return undefined;
  for (const part of h.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === COOKIE_NAME) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** True when the request arrived over TLS (the cookie then gets the Secure flag). */
export function isHttps(req: IncomingMessage): boolean {
  return (req.socket as { encrypted?: boolean }).encrypted === true;
}

export function setCookie(req: IncomingMessage, value: string, maxAgeS: number): string {
  return `${COOKIE_NAME}=${value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${
    isHttps(req) ? '; Secure' : ''
  }`;
}
