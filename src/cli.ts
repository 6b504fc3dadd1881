/**
 * Command line of `keap-mcp`:
 *   keap-mcp [flags]                 MCP over stdio (what Claude Desktop launches)
 *   keap-mcp --http [--host H] [--port P] [flags]   Streamable HTTP at /mcp
 *   keap-mcp --sandbox …             against the in-process Keap sandbox
 *   keap-mcp --http --hooks-only …   only the REST hooks receiver (a public edge)
 *   keap-mcp sandbox …               run the Keap sandbox alone
 *   keap-mcp auth …                  OAuth login / status / logout
 *   keap-mcp audit …                 print the audit log
 */
import { parseArgs } from 'node:util';
import { SETTINGS, type ServeFlags, type SettingName } from './config.js';

export type Command =
  | { readonly kind: 'serve'; readonly flags: ServeFlags }
  | { readonly kind: 'sandbox' | 'auth' | 'audit'; readonly argv: readonly string[] }
  | { readonly kind: 'help' }
  | { readonly kind: 'version' };

export const USAGE = `Usage: keap-mcp [--http [--host 127.0.0.1] [--port 3000]] [--sandbox] [options]
       keap-mcp sandbox [options]      run the Keap sandbox on its own
       keap-mcp auth <login|status|logout>
       keap-mcp audit [--agent A] [--tool T] [--since TIME] [--tail N]

Options (each also an environment variable):
${SETTINGS.filter((s) => s.flag !== undefined)
  .map((s) => `  ${(s.flag ?? '').padEnd(16)} ${s.env.padEnd(20)} ${s.doc}`)
  .join('\n')}
  --sandbox        run against the built-in Keap sandbox (nothing real happens)
  --http           serve Streamable HTTP at /mcp instead of stdio
  --hooks-only     with --http: serve only the REST hooks receiver (/hooks/keap/<id>), no /mcp, no console
Credentials: KEAP_API_KEY, or KEAP_OAUTH_CLIENT_ID + KEAP_OAUTH_CLIENT_SECRET (then \`keap-mcp auth login\`).`;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function parseCommand(argv: readonly string[]): Command {
  const first = argv[0];
  if (first === 'sandbox' || first === 'auth' || first === 'audit')
    return { kind: first, argv: argv.slice(1) };
  const options: Record<string, { type: 'string' | 'boolean' }> = {
    http: { type: 'boolean' },
    sandbox: { type: 'boolean' },
    'hooks-only': { type: 'boolean' },
    help: { type: 'boolean' },
    version: { type: 'boolean' },
  };
  for (const s of SETTINGS) {
    if (s.flag !== undefined)
      options[s.flag.slice(2)] = { type: s.flag === '--read-only' ? 'boolean' : 'string' };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: false, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  if (v.help) return { kind: 'help' };
  if (v.version) return { kind: 'version' };
  const values: Partial<Record<SettingName, string>> = {};
  for (const s of SETTINGS) {
    if (s.flag === undefined) continue;
    const x = v[s.flag.slice(2)];
    if (x !== undefined) values[s.env] = String(x);
  }
  return {
    kind: 'serve',
    flags: {
      http: v.http === true,
      sandbox: v.sandbox === true,
      hooksOnly: v['hooks-only'] === true,
      values,
    },
  };
}

/** A listen failure in words, with the setting that fixes it; undefined for other errors. */
export function listenFailure(err: unknown): string | undefined {
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    code?: unknown;
    syscall?: unknown;
    address?: unknown;
    hostname?: unknown;
    port?: unknown;
  };
  const { code } = e;
  if (e.syscall !== 'listen' && e.syscall !== 'getaddrinfo') return undefined;
  const host =
    typeof e.address === 'string' ? e.address : typeof e.hostname === 'string' ? e.hostname : 'the address';
  const port = typeof e.port === 'number' ? String(e.port) : 'the port';
  if (code === 'EADDRINUSE')
    return `keap-mcp: port ${port} on ${host} is already in use (another keap-mcp or another program listens there).\n  Choose another port with --port <n> or KEAP_MCP_HTTP_PORT=<n> (e.g. \`npm start -- --port 3001\`), or --port 0 for any free port.`;
  if (code === 'EACCES')
    return `keap-mcp: no permission to listen on port ${port} (ports below 1024 need privileges). Choose another port with --port <n> or KEAP_MCP_HTTP_PORT.`;
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return `keap-mcp: cannot listen on ${host}: not an address of this machine. Choose another with --host or KEAP_MCP_HTTP_HOST (default 127.0.0.1).`;
  return undefined;
}
