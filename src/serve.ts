/**
 * Serving MCP (stdio or Streamable HTTP): wires the configuration, the Keap client, the safety layer and the MCP
 * server, and starts the chosen transport. Loaded by src/index.ts only to serve; the HTTP transport, the operator
 * console and the sandbox are imported here only when the mode asks for them, so a stdio server never loads them.
 */
import { randomBytes } from 'node:crypto';
import { SERVER_TOOLS } from '../tools/index.js';
import { type Config, hasCredentials, MISSING_CREDENTIALS_MESSAGE } from './config.js';
import type { BudgetSnapshot, ConsoleOptions, SessionSnapshot } from './console/console.js';
import type { RunningConsole } from './console/server.js';
import { credentialsOrExit, fail } from './exit.js';
import type { HooksRuntime } from './hooks/agent.js';
import { createConsoleHooks } from './hooks/console-hooks.js';
import { openSqliteHooks } from './hooks/inbox.js';
import type { HookRegistryApi, InboxApi } from './hooks/types.js';
import { createKeapClient, type KeapCredential, NOT_LOGGED_IN_MESSAGE } from './keap/client.js';
import { type KeapClientApi, KeapError } from './keap/types.js';
import { createLogger, type Logger } from './logger.js';
import { createSafety } from './safety/index.js';
import { createServer } from './server.js';
import { openState, type SharedState, StateUnavailableError } from './state/index.js';
import { startStdio } from './transports/stdio.js';
import { SERVER_VERSION } from './version.js';

function connectHelp(url: string, sandbox: boolean): string {
  const snippet = JSON.stringify({ mcpServers: { keap: { type: 'http', url } } });
  return [
    `keap-mcp ${SERVER_VERSION}: MCP over Streamable HTTP at ${url}${sandbox ? '  (SANDBOX: a fake Keap account, nothing real happens)' : ''}`,
    `  health:     curl ${url.replace(/\/mcp$/, '/healthz')}`,
    `  inspector:  npx @modelcontextprotocol/inspector --cli ${url} --transport http --method tools/list`,
    `  mcp.json:   ${snippet}`,
    '  Ctrl-C stops the server.',
  ].join('\n');
}

/**
 * `--sandbox`: the built-in Keap sandbox is imported and started with the first Keap call (a server that is only
 * listed never loads it); the Keap client behind it is made then. Closing stops both.
 */
function sandboxClient(maxWaitMs: number | undefined, logger: Logger): KeapClientApi {
  interface Started {
    readonly client: KeapClientApi;
    close(): Promise<void>;
  }
  let starting: Promise<Started> | undefined;
  let started: Started | undefined;
  const start = (): Promise<Started> => {
    starting ??= (async () => {
      const { startSandbox } = await import('./sandbox/server.js');
      const key = `sandbox-${randomBytes(12).toString('hex')}`;
      const sb = await startSandbox({ host: '127.0.0.1', port: 0, apiKeys: [key] });
      const client = createKeapClient({
        baseUrl: sb.baseUrl,
        credential: { kind: 'pat', apiKey: key },
        maxWaitMs,
        logger,
      });
      started = { client, close: () => sb.close() };
      logger.debug({ baseUrl: sb.baseUrl }, 'sandbox started');
      return started;
    })();
    return starting;
  };
  return {
    async request(req) {
      let s: Started;
      try {
        s = await start();
      } catch (e) {
        throw new KeapError({
          category: 'unavailable',
          message: `The built-in Keap sandbox could not start (${e instanceof Error ? e.message : String(e)}); nothing was sent. Restart keap-mcp --sandbox.`,
          retryable: false,
          notSent: true,
        });
      }
      return s.client.request(req);
    },
    budget: () => started?.client.budget?.() ?? {},
    async close() {
      const s = await starting?.catch(() => undefined);
      await s?.client.close();
      await s?.close();
    },
  };
}

/** The state directory in force: --sandbox keeps state in memory unless KEAP_MCP_SANDBOX_STATE_DIR names one. */
function stateDirOf(config: Config): string | undefined {
  return config.sandbox ? config.sandboxStateDir : config.stateDir;
}

/** The state store (embedded SQLite, or Redis with KEAP_MCP_REDIS_URL); Redis unreachable → refuse to start. */
async function openStateOrExit(config: Config, logger: Logger): Promise<SharedState> {
  try {
    const state = await openState({
      stateDir: stateDirOf(config),
      redisUrl: config.redisUrl,
      redisReadsWhenDown: config.redisReadsWhenDown,
      hooksRetention: config.hooks.retention,
      sqliteHooks: (db) => openSqliteHooks(db, { retention: config.hooks.retention, logger }),
      logger,
    });
    if (state.kind === 'redis') logger.info({ redis: state.where }, 'shared state on Redis');
    return state;
  } catch (e) {
    if (e instanceof StateUnavailableError) {
      fail(
        `keap-mcp: ${e.message}. Shared state is required when KEAP_MCP_REDIS_URL is set, so the server does not start; start Redis or fix the URL (or unset KEAP_MCP_REDIS_URL for the embedded store).`,
        1,
      );
    }
    throw e;
  }
}

/** The safety layer on this state (the shared stores when they are on Redis). */
function safetyOf(config: Config, state: SharedState, logger: Logger): ReturnType<typeof createSafety> {
  return createSafety({
    policyFile: config.policyFile,
    readOnly: config.readOnly,
    sandbox: config.sandbox,
    auditLogPath: config.auditLog,
    db: state.db,
    logger,
    catalog: SERVER_TOOLS,
    operatorTokenSha256: config.console.operatorTokenSha256,
    approvalWaitMs: config.console.approvalWaitS * 1000,
    ...(state.kind === 'redis' ? { state } : {}),
  });
}

/** The hooks inbox and registry of the state (both backends build them). */
function hooksOf(state: SharedState): { inbox: InboxApi; registry: HookRegistryApi } {
  if (state.hookInbox === undefined || state.hookRegistry === undefined)
    throw new Error('the state store has no hooks inbox');
  return { inbox: state.hookInbox, registry: state.hookRegistry };
}

/**
 * The REST hooks receiver of an HTTP server (loaded with it). Keap is told the public URL (KEAP_HOOKS_PUBLIC_URL),
 * else the address the server listens on: call listening() with the server's URL once it does.
 */
async function hooksReceiver(
  config: Config,
  hooks: { inbox: InboxApi; registry: HookRegistryApi },
  logger: Logger,
): Promise<{
  receiver: ReturnType<typeof import('./hooks/receiver.js').createReceiver>;
  publicUrls: string[] | undefined;
  listening(url: string): string;
}> {
  const { createReceiver } = await import('./hooks/receiver.js');
  let localBase = '';
  const receiver = createReceiver({
    inbox: hooks.inbox,
    registry: hooks.registry,
    logger,
    publicBaseUrl: config.hooks.publicUrl ?? (() => localBase),
    ratePerMin: config.hooks.ratePerMin,
  });
  return {
    receiver,
    publicUrls: config.hooks.publicUrl !== undefined ? [config.hooks.publicUrl] : undefined,
    listening: (url) => {
      localBase = new URL(url).origin;
      return localBase;
    },
  };
}

/**
 * `--http --hooks-only`: the REST hooks receiver alone, for a public edge — no /mcp, no console, no Keap credential.
 * It writes to the same state store (KEAP_MCP_STATE_DIR) that the MCP server reads.
 */
async function serveHooksOnly(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel);
  const state = await openStateOrExit(config, logger);
  const safety = safetyOf(config, state, logger);
  const hooks = hooksOf(state);
  const [{ receiver, publicUrls, listening }, { startHttp }] = await Promise.all([
    hooksReceiver(config, hooks, logger),
    import('./transports/http.js'),
  ]);
  const http = await startHttp({
    hooks: receiver,
    hooksOnly: true,
    host: config.http.host,
    port: config.http.port,
    policy: safety.policy,
    makeServer: () => {
      throw new Error('--hooks-only serves no MCP');
    },
    logger,
    sandbox: config.sandbox,
    audit: safety.audit,
    allowedHosts: config.allowedHosts,
    publicUrls,
  });
  const localBase = listening(http.url);
  process.stderr.write(
    `keap-mcp ${SERVER_VERSION}: REST hooks receiver only at ${receiver.urlFor('<receiver id>')}\n  listening on ${localBase}; Keap calls ${receiver.baseUrl()} (KEAP_HOOKS_PUBLIC_URL)\n  Ctrl-C stops the server.\n`,
  );
  logger.info({ url: localBase, public: receiver.baseUrl() }, 'keap-mcp hooks receiver listening');
  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await http.close().catch(() => undefined);
    safety.audit.close();
    await state.close().catch(() => undefined);
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
}

export async function serve(config: Config): Promise<void> {
  if (config.hooks.only) return serveHooksOnly(config);
  const logger = createLogger(config.logLevel);
  if (!config.sandbox) credentialsOrExit(config);
  if (!config.sandbox && !hasCredentials(config)) fail(MISSING_CREDENTIALS_MESSAGE, 1);

  const state = await openStateOrExit(config, logger);
  const safety = safetyOf(config, state, logger);
  // REST hooks: the inbox and the subscription registry (src/hooks/inbox.ts, or Redis).
  const hooks = hooksOf(state);

  const baseUrl = config.baseUrl;
  let client: KeapClientApi;
  if (config.sandbox) {
    client = sandboxClient(config.maxWaitMs, logger);
  } else {
    let credential: KeapCredential;
    if (config.apiKey !== undefined) {
      credential = { kind: 'pat', apiKey: config.apiKey };
    } else if (config.oauth !== undefined) {
      credential = {
        kind: 'oauth',
        clientId: config.oauth.clientId,
        clientSecret: config.oauth.clientSecret,
        tokenUrl: config.oauth.tokenUrl,
        tokens: state.tokens,
      };
      // Not fatal (`auth login` may run while the server is up: the client reads the store on every call).
      if ((await credential.tokens.load()) === undefined)
        process.stderr.write(`keap-mcp: warning: ${NOT_LOGGED_IN_MESSAGE}\n`);
    } else {
      fail(MISSING_CREDENTIALS_MESSAGE, 1);
    }
    client = createKeapClient({
      baseUrl,
      credential,
      maxWaitMs: config.maxWaitMs,
      logger,
      ...(config.redisUrl !== undefined ? { redisUrl: config.redisUrl } : {}),
    });
  }
  // What the event tools and keap://events resources use: the same store, and the URL Keap must call (the
  // receiver's, once the HTTP server listens; over stdio only KEAP_HOOKS_PUBLIC_URL, e.g. a --hooks-only edge).
  let hooksBase: () => string | undefined = () => config.hooks.publicUrl;
  const hooksRuntime: HooksRuntime = {
    inbox: hooks.inbox,
    registry: hooks.registry,
    publicUrl: () => hooksBase(),
  };
  const make = (agent: string) =>
    createServer({ config, agent, client, safety, logger, sandbox: config.sandbox, hooks: hooksRuntime });
  const where = config.sandbox ? 'the built-in Keap SANDBOX (nothing real happens)' : baseUrl;

  // The operator console: its pages read the approvals store, the audit log, the policy, Keap's budget and the
  // open sessions (HTTP mode; none beside stdio).
  let listSessions: () => readonly SessionSnapshot[] = () => [];
  const consoleOptions = {
    approvals: safety.approvals.store,
    auditLogPath: config.auditLog,
    policy: safety.policy,
    tools: SERVER_TOOLS,
    budget: (): BudgetSnapshot[] => {
      const b = client.budget?.();
      return b === undefined
        ? []
        : [
            {
              credential: config.sandbox
                ? 'sandbox api key'
                : config.apiKey !== undefined
                  ? 'api key'
                  : 'oauth',
              ...b,
            },
          ];
    },
    sessions: () => listSessions(),
    operatorTokenSha256: config.console.operatorTokenSha256 ?? safety.policy.operatorTokenSha256(),
    audit: safety.audit,
    logger,
    hooks: createConsoleHooks({ client, registry: hooks.registry, audit: safety.audit, logger }),
  } satisfies Omit<ConsoleOptions, 'allowedHosts'>;

  let stop: () => Promise<void>;
  if (config.transport === 'http') {
    const [{ createConsole }, { allowedHostList, startHttp }, { receiver, publicUrls, listening }] =
      await Promise.all([
        import('./console/console.js'),
        import('./transports/http.js'),
        hooksReceiver(config, hooks, logger),
      ]);
    const operatorConsole = createConsole({
      ...consoleOptions,
      allowedHosts: allowedHostList(config.http.host, config.allowedHosts, undefined),
    });
    const http = await startHttp({
      hooks: receiver,
      publicUrls,
      console: operatorConsole,
      host: config.http.host,
      port: config.http.port,
      policy: safety.policy,
      makeServer: make,
      logger,
      sandbox: config.sandbox,
      audit: safety.audit,
      allowedHosts: config.allowedHosts,
      sessions: config.sessions,
      stateless: config.stateless,
    });
    listSessions = () => http.sessionList();
    listening(http.url);
    hooksBase = () => receiver.baseUrl();
    process.stderr.write(`${connectHelp(http.url, config.sandbox)}\n`);
    if (operatorConsole.enabled)
      process.stderr.write(`  console:    ${http.url.replace(/\/mcp$/, '/console')}\n`);
    process.stderr.write(`  hooks:      ${receiver.urlFor('<receiver id>')}\n`);
    logger.info({ url: http.url, keap: where }, 'keap-mcp listening');
    stop = () => http.close();
  } else {
    const agent = config.agent ?? safety.policy.defaultAgent();
    if (!safety.policy.agents().includes(agent)) {
      fail(
        `keap-mcp: KEAP_AGENT "${agent}" is not an agent of the policy (${safety.policy.agents().join(', ')})`,
        2,
      );
    }
    let consoleServer: RunningConsole | undefined;
    if (config.console.port !== undefined) {
      // Beside stdio: its own loopback port; without an operator token it refuses to start (message says how).
      const { startConsoleServer } = await import('./console/server.js');
      consoleServer = await startConsoleServer({ ...consoleOptions, port: config.console.port });
      process.stderr.write(`keap-mcp: operator console at ${consoleServer.url}\n`);
    }
    const stdio = await startStdio(make(agent));
    process.stderr.write(
      `keap-mcp ${SERVER_VERSION}: MCP over stdio for agent "${agent}" against ${where}\n`,
    );
    stop = async () => {
      await stdio.close();
      await consoleServer?.close();
    };
    void stdio.closed.then(() => shutdown(0));
  }

  let stopping = false;
  async function shutdown(code: number): Promise<void> {
    if (stopping) return;
    stopping = true;
    await stop().catch(() => undefined);
    await client.close().catch(() => undefined);
    safety.audit.close();
    await state.close().catch(() => undefined);
    process.exit(code);
  }
  process.once('SIGINT', () => void shutdown(0));
  process.once('SIGTERM', () => void shutdown(0));
}
