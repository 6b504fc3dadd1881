/**
 * pino on stderr (stdout is the stdio protocol). Secret-bearing fields are redacted by path; callers never log raw
 * tokens. pino itself loads with the first line actually written (a server that logs nothing at its level never
 * loads it): `createLogger` returns a small front that filters by level and hands each line to pino.
 */
import { createRequire } from 'node:module';
import type * as Pino from 'pino';

/** What the product logs through: pino's level methods and child(); a pino logger is one. */
export interface LogFn {
  (obj: unknown, msg?: string, ...args: unknown[]): void;
  (msg: string, ...args: unknown[]): void;
}
export interface Logger {
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

const REDACT_PATHS = [
  'headers.authorization',
  'headers["x-keap-api-key"]',
  'headers["x-hook-secret"]',
  '*.authorization',
  '*["x-keap-api-key"]',
  'apiKey',
  '*.apiKey',
  'access_token',
  '*.access_token',
  'refresh_token',
  '*.refresh_token',
  'client_secret',
  '*.client_secret',
  'clientSecret',
  '*.clientSecret',
  'token',
  '*.token',
  'confirmation_token',
  '*.confirmation_token',
  'human_secret',
  '*.human_secret',
  // Keap client / OAuth (src/keap, src/auth): camelCase token fields and nested header objects.
  'accessToken',
  '*.accessToken',
  'refreshToken',
  '*.refreshToken',
  '*.headers.authorization',
  '*.headers["x-keap-api-key"]',
];

const LEVELS: Readonly<Record<string, number>> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Number.POSITIVE_INFINITY,
};

type PinoModule = typeof Pino;
let pinoModule: PinoModule | undefined;
/** pino, required on first use (it is CommonJS, so synchronously). */
function loadPino(): PinoModule {
  pinoModule ??= createRequire(import.meta.url)('pino') as PinoModule;
  return pinoModule;
}

type Method = 'error' | 'warn' | 'info' | 'debug';

/** A logger that makes its pino logger (`make`) with the first line at or above `level`. */
function lazyLogger(level: string, make: () => Pino.Logger): Logger {
  const threshold = LEVELS[level] ?? LEVELS.info;
  let real: Pino.Logger | undefined;
  const target = (): Pino.Logger => {
    real ??= make();
    return real;
  };
  const method = (name: Method): LogFn => {
    if ((LEVELS[name] as number) < (threshold as number)) return () => undefined;
    return (...args: unknown[]) => {
      (target()[name] as (...a: unknown[]) => void)(...args);
    };
  };
  return {
    error: method('error'),
    warn: method('warn'),
    info: method('info'),
    debug: method('debug'),
    child: (bindings) => lazyLogger(level, () => target().child(bindings)),
  };
}

export function createLogger(level = 'info', pretty = process.stderr.isTTY === true): Logger {
  return lazyLogger(level, () => {
    const { pino } = loadPino();
    const opts = { level, base: { name: 'keap-mcp' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
    if (pretty) {
      return pino({
        ...opts,
        transport: { target: 'pino-pretty', options: { destination: 2, colorize: true } },
      });
    }
    return pino(opts, pino.destination({ dest: 2, sync: true }));
  });
}

/** A logger that writes nothing (tests, library use). */
export const silentLogger: Logger = lazyLogger('silent', () => loadPino().pino({ level: 'silent' }));
