/** pino on stderr (stdout is the stdio protocol). Secret-bearing fields are redacted by path; callers never log raw tokens. */
import { type Logger, pino } from 'pino';

export type { Logger };

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

export function createLogger(level = 'info', pretty = process.stderr.isTTY === true): Logger {
  const opts = { level, base: { name: 'keap-mcp' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  if (pretty) {
    return pino({
      ...opts,
      transport: { target: 'pino-pretty', options: { destination: 2, colorize: true } },
    });
  }
  return pino(opts, pino.destination({ dest: 2, sync: true }));
}

/** A logger that writes nothing (tests, library use). */
export const silentLogger: Logger = pino({ level: 'silent' });
