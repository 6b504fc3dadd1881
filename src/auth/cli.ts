/**
 * `keap-mcp auth login [--manual] [--redirect-uri URL] [--no-open]`, `keap-mcp auth status`, `keap-mcp auth logout`.
 *
 * login: starts a loopback callback server (127.0.0.1), prints the authorize URL (with a random `state`) and tries
 * to open a browser, validates the redirect, exchanges the code and persists the pair. `--manual` (headless
 * machines) prints the URL and reads the pasted redirect URL (or bare code) from stdin instead.
 * status never prints a token or secret; logout removes the stored pair.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createKeapFetch } from '../keap/client.js';
import { sanitize } from '../keap/errors.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { openStateDb } from '../state/db.js';
import type { SharedState } from '../state/index.js';
import {
  buildAuthorizeUrl,
  exchangeCode,
  newState,
  type OAuthConfig,
  OAuthGrantError,
  validateCallback,
} from './oauth.js';
import { openTokenStore, type StoredTokens, type TokenStore } from './token-store.js';

export interface AuthCliOptions {
  /** From src/config.ts: OAuth client (undefined when not configured), API key presence, state directory. */
  readonly config: {
    readonly oauth: OAuthConfig | undefined;
    readonly apiKey: string | undefined;
    readonly stateDir: string;
    /** KEAP_MCP_REDIS_URL: the pair is stored in the shared state (every replica uses it). */
    readonly redisUrl?: string | undefined;
  };
  readonly stdout?: { write(s: string): unknown };
  readonly stderr?: { write(s: string): unknown };
  /** For --manual (default process.stdin). */
  readonly stdin?: NodeJS.ReadableStream;
  /** Opens the authorize URL (default: xdg-open / open / start, errors ignored). Tests drive the flow here. */
  readonly openBrowser?: (url: string) => void | Promise<void>;
  /** How long login waits for the redirect (default 5 min). */
  readonly loginTimeoutMs?: number;
  readonly logger?: Logger;
  /** Token store override (tests); default: the state DB in config.stateDir. */
  readonly tokens?: TokenStore;
}

const USAGE = `usage: keap-mcp auth login [--manual] [--redirect-uri URL] [--no-open]
       keap-mcp auth status
       keap-mcp auth logout`;

/**
 * The command that opens `url` in the user's browser. Never through `cmd /c start`: cmd treats the `&` between
 * the authorize URL's parameters as a command separator, which would cut the URL after `client_id` (and run the
 * rest as commands).
 */
export function browserCommand(platform: NodeJS.Platform, url: string): { cmd: string; args: string[] } {
  if (platform === 'darwin') return { cmd: 'open', args: [url] };
  if (platform === 'win32') return { cmd: 'rundll32', args: ['url.dll,FileProtocolHandler', url] };
  return { cmd: 'xdg-open', args: [url] };
}

function defaultOpen(url: string): void {
  const { cmd, args } = browserCommand(process.platform, url);
  try {
    const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    // no browser: the URL is printed anyway
  }
}

function describe(t: StoredTokens, now: number): string[] {
  const left = t.expiresAt - now;
  const mins = Math.round(Math.abs(left) / 60_000);
  return [
    `Credential: OAuth 2.0 (client id ${t.clientId ?? 'unknown'})`,
    `Access token: ${left > 0 ? `valid until ${new Date(t.expiresAt).toISOString()} (in ${mins} min)` : `expired at ${new Date(t.expiresAt).toISOString()} (refreshed automatically on next use)`}`,
    `Obtained: ${new Date(t.obtainedAt).toISOString()}`,
    `Last refresh: ${t.lastRefreshAt !== undefined ? new Date(t.lastRefreshAt).toISOString() : 'never (pair from auth login)'}`,
    ...(t.scope !== undefined ? [`Scope: ${t.scope}`] : []),
  ];
}

interface Parsed {
  cmd: string | undefined;
  manual: boolean;
  open: boolean;
  redirectUri: string | undefined;
  error?: string;
}

function parseArgs(argv: readonly string[]): Parsed {
  const args = argv[0] === 'auth' ? argv.slice(1) : [...argv];
  const out: Parsed = { cmd: args[0], manual: false, open: true, redirectUri: undefined };
  for (let i = 1; i < args.length; i += 1) {
    const a = args[i];
    if (a === '--manual') out.manual = true;
    else if (a === '--no-open') out.open = false;
    else if (a === '--redirect-uri') {
      out.redirectUri = args[i + 1];
      i += 1;
    } else if (a?.startsWith('--redirect-uri=')) out.redirectUri = a.slice('--redirect-uri='.length);
    else out.error = `unknown option: ${a}`;
  }
  return out;
}

/** Runs an auth subcommand; returns the process exit code. `argv` is what follows `keap-mcp auth`. */
export async function runAuthCli(argv: string[], opts: AuthCliOptions): Promise<number> {
  const out = opts.stdout ?? process.stdout;
  const err = opts.stderr ?? process.stderr;
  const p = parseArgs(argv);
  if (p.error || !p.cmd || !['login', 'status', 'logout'].includes(p.cmd)) {
    err.write(`${p.error ? `${p.error}\n` : ''}${USAGE}\n`);
    return 2;
  }
  let db: ReturnType<typeof openStateDb> | undefined;
  let shared: SharedState | undefined;
  const redisUrl = opts.config.redisUrl;
  let tokenStore: TokenStore | undefined;
  const openStore = async (): Promise<TokenStore> => {
    if (opts.tokens) return opts.tokens;
    if (redisUrl !== undefined) {
      // The shared state (and ioredis) loads only when KEAP_MCP_REDIS_URL is set.
      const { openState } = await import('../state/index.js');
      shared ??= await openState({ stateDir: undefined, redisUrl });
      return shared.tokens;
    }
    db ??= openStateDb(opts.config.stateDir);
    return openTokenStore(db);
  };
  const store = (): TokenStore => {
    if (tokenStore === undefined) throw new Error('token store not opened');
    return tokenStore;
  };
  try {
    tokenStore = await openStore();
    if (p.cmd === 'status') {
      const t = await store().load();
      const lines: string[] = [];
      if (opts.config.apiKey !== undefined) {
        lines.push(
          'Credential: personal access token / service account key (KEAP_API_KEY is set; sent as X-Keap-API-Key)',
        );
      }
      if (t) lines.push(...describe(t, Date.now()));
      else if (opts.config.oauth) lines.push('OAuth: not logged in (run `keap-mcp auth login`)');
      if (lines.length === 0) {
        lines.push(
          'No Keap credential configured: set KEAP_API_KEY, or KEAP_OAUTH_CLIENT_ID/SECRET and run `keap-mcp auth login`.',
        );
      }
      out.write(`${lines.join('\n')}\n`);
      return t || opts.config.apiKey !== undefined ? 0 : 1;
    }
    if (p.cmd === 'logout') {
      const s = store();
      const had = (await s.load()) !== undefined;
      await s.clear();
      out.write(had ? 'Removed the stored Keap OAuth tokens.\n' : 'No stored Keap OAuth tokens.\n');
      return 0;
    }
    // login
    const cfg = opts.config.oauth;
    if (!cfg) {
      err.write('auth login needs KEAP_OAUTH_CLIENT_ID and KEAP_OAUTH_CLIENT_SECRET.\n');
      return 2;
    }
    const tokens = p.manual
      ? await loginManual(cfg, p.redirectUri ?? 'http://127.0.0.1/callback', opts, out)
      : await loginLoopback(cfg, p.redirectUri, p.open, opts, out);
    await store().save(tokens);
    out.write(`Logged in to Keap. ${describe(tokens, Date.now()).slice(1, 2).join('')}\n`);
    return 0;
  } catch (e) {
    const msg =
      e instanceof OAuthGrantError
        ? `Keap refused the authorisation (${e.message})`
        : e instanceof Error
          ? e.message
          : String(e);
    // The text may quote the token endpoint or a pasted redirect URL: no control characters (terminal escapes),
    // capped, and never the client secret.
    const secrets = opts.config.oauth ? [opts.config.oauth.clientSecret] : [];
    err.write(`auth ${p.cmd} failed: ${sanitize(msg, secrets, 1000)}\n`);
    return 1;
  } finally {
    db?.close();
    await shared?.close().catch(() => undefined);
  }
}

async function loginLoopback(
  cfg: OAuthConfig,
  redirect: string | undefined,
  open: boolean,
  opts: AuthCliOptions,
  out: { write(s: string): unknown },
): Promise<StoredTokens> {
  const want = new URL(redirect ?? 'http://127.0.0.1:0/callback');
  if (want.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(want.hostname)) {
    throw new Error(
      'the loopback login needs an http://127.0.0.1:PORT/... redirect URI; use --manual for any other',
    );
  }
  const state = newState();
  const log = opts.logger ?? silentLogger;
  const { fetch, close } = createKeapFetch();
  let server: Server | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = await new Promise<StoredTokens>((resolve, reject) => {
      let redirectUri = '';
      let done = false;
      server = createServer((req, res) => {
        const url = new URL(req.url ?? '/', redirectUri);
        if (url.pathname !== want.pathname || done) {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
          return;
        }
        let params: URLSearchParams;
        try {
          params = validateCallback(cfg, url.searchParams, state);
        } catch (e) {
          res.writeHead(400, { 'content-type': 'text/plain' }).end('Authorisation failed; see the terminal.');
          done = true;
          reject(e);
          return;
        }
        done = true;
        exchangeCode(cfg, params, redirectUri, fetch).then(
          (t) => {
            res
              .writeHead(200, { 'content-type': 'text/plain' })
              .end('keap-mcp is authorised. You can close this window.');
            resolve(t);
          },
          (e: unknown) => {
            res
              .writeHead(400, { 'content-type': 'text/plain' })
              .end('Code exchange failed; see the terminal.');
            reject(e);
          },
        );
      });
      server.on('error', reject);
      server.listen(Number(want.port || 80), '127.0.0.1', () => {
        const addr = server?.address();
        const port = typeof addr === 'object' && addr ? addr.port : Number(want.port);
        redirectUri = `http://${want.hostname}:${port}${want.pathname}`;
        const authUrl = buildAuthorizeUrl(cfg, redirectUri, state);
        out.write(
          `Open this URL in a browser to authorise keap-mcp:\n  ${authUrl}\nWaiting for the redirect to ${redirectUri} …\n`,
        );
        log.debug({ redirectUri }, 'auth login: waiting for the callback');
        timer = setTimeout(
          () => reject(new Error('timed out waiting for the authorisation redirect')),
          opts.loginTimeoutMs ?? 300_000,
        );
        if (open) Promise.resolve((opts.openBrowser ?? defaultOpen)(authUrl)).catch(() => undefined);
      });
    });
    return result;
  } finally {
    if (timer) clearTimeout(timer);
    const s = server as Server | undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
    await close();
  }
}

async function loginManual(
  cfg: OAuthConfig,
  redirectUri: string,
  opts: AuthCliOptions,
  out: { write(s: string): unknown },
): Promise<StoredTokens> {
  const state = newState();
  const authUrl = buildAuthorizeUrl(cfg, redirectUri, state);
  out.write(
    `Open this URL in a browser and authorise keap-mcp:\n  ${authUrl}\nThen paste the full URL you were redirected to (or just the code) and press Enter:\n`,
  );
  const line = await readLine(opts.stdin ?? process.stdin, opts.loginTimeoutMs ?? 600_000);
  const text = line.trim();
  let params: URLSearchParams;
  if (/^https?:\/\//i.test(text)) {
    params = validateCallback(cfg, new URL(text).searchParams, state);
  } else if (text.includes('code=')) {
    params = validateCallback(cfg, new URLSearchParams(text.replace(/^[?#]/, '')), state);
  } else if (text !== '') {
    // A bare code: the state cannot be checked (the user copied it by hand from their own browser). It still goes
    // through validateCallback: oauth4webapi only exchanges parameters that came out of validateAuthResponse.
    params = validateCallback(cfg, new URLSearchParams({ code: text, state }), state);
  } else {
    throw new Error('no redirect URL or code was entered');
  }
  const { fetch, close } = createKeapFetch();
  try {
    return await exchangeCode(cfg, params, redirectUri, fetch);
  } finally {
    await close();
  }
}

/** Reads one line from a stream (plain 'data' events: node:readline closes at once under some runners). */
function readLine(input: NodeJS.ReadableStream, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const finish = (err: Error | undefined, line: string): void => {
      clearTimeout(timer);
      input.off('data', onData);
      input.off('end', onEnd);
      input.pause();
      if (err) reject(err);
      else resolve(line);
    };
    const onData = (chunk: Buffer | string): void => {
      buf += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
      const i = buf.indexOf('\n');
      if (i >= 0) finish(undefined, buf.slice(0, i).replace(/\r$/, ''));
    };
    const onEnd = (): void => finish(undefined, buf);
    const timer = setTimeout(
      () => finish(new Error('timed out waiting for the pasted redirect URL'), ''),
      timeoutMs,
    );
    input.on('data', onData);
    input.on('end', onEnd);
    input.resume();
  });
}
