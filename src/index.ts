#!/usr/bin/env node
/**
 * `keap-mcp`: the package's bin. Parses the command line, loads the configuration, wires the Keap client,
 * the safety layer and the MCP server, and starts the chosen transport. Nothing else lives here.
 */
import { randomBytes } from 'node:crypto';
import { SERVER_TOOLS } from '../tools/index.js';
import { runAuthCli } from './auth/cli.js';
import { openTokenStore } from './auth/token-store.js';
import { listenFailure, parseCommand, USAGE, UsageError } from './cli.js';
import {
  assertUsableCredentials,
  type Config,
  ConfigError,
  hasCredentials,
  loadConfig,
  MISSING_CREDENTIALS_MESSAGE,
  processEnv,
} from './config.js';
import { type BudgetSnapshot, createConsole, type SessionSnapshot } from './console/console.js';
import { type RunningConsole, startConsoleServer } from './console/server.js';
import type { HooksRuntime } from './hooks/agent.js';
import { createConsoleHooks } from './hooks/console-hooks.js';
import { openSqliteHooks } from './hooks/inbox.js';
import { createReceiver } from './hooks/receiver.js';
import { createKeapClient, type KeapCredential, NOT_LOGGED_IN_MESSAGE } from './keap/client.js';
import { createLogger } from './logger.js';
import { createSafety, runAuditCli } from './safety/index.js';
import { runSandboxCli, startSandbox } from './sandbox/server.js';
import { createServer, SERVER_VERSION } from './server.js';
import { openStateDb } from './state/db.js';
import { allowedHostList, startHttp } from './transports/http.js';
import { startStdio } from './transports/stdio.js';

function fail(message: string, code = 1): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function configOrExit(flags: Parameters<typeof loadConfig>[0]): Config {
  try {
    return loadConfig(flags, processEnv());
  } catch (err) {
    if (err instanceof ConfigError) fail(`keap-mcp: ${err.message}`, 2);
    throw err;
  }
}

/** Placeholder or blank credentials end the process with the setting named and the fix (exit 2). */
function credentialsOrExit(config: Config, only?: Parameters<typeof assertUsableCredentials>[1]): void {
  try {
    assertUsableCredentials(config, only);
  } catch (err) {
    if (err instanceof ConfigError) fail(`keap-mcp: ${err.message}`, 2);
    throw err;
  }
}

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

/** The state directory in force: --sandbox keeps state in memory unless KEAP_MCP_SANDBOX_STATE_DIR names one. */
function stateDirOf(config: Config): string | undefined {
  return config.sandbox ? config.sandboxStateDir : config.stateDir;
}

/**
 * `--http --hooks-only`: the REST hooks receiver alone, for a public edge — no /mcp, no console, no Keap credential.
 * It writes to the same state store (KEAP_MCP_STATE_DIR) that the MCP server reads.
 */
async function serveHooksOnly(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel);
  const db = openStateDb(stateDirOf(config));
  const safety = createSafety({
    policyFile: config.policyFile,
    readOnly: config.readOnly,
    sandbox: config.sandbox,
    auditLogPath: config.auditLog,
    db,
    logger,
    catalog: SERVER_TOOLS,
    operatorTokenSha256: config.console.operatorTokenSha256,
  });
  const hooks = openSqliteHooks(db, { retention: config.hooks.retention, logger });
  let localBase = '';
  const receiver = createReceiver({
    inbox: hooks.inbox,
    registry: hooks.registry,
    logger,
    publicBaseUrl: config.hooks.publicUrl ?? (() => localBase),
    ratePerMin: config.hooks.ratePerMin,
  });
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
    publicUrls: config.hooks.publicUrl !== undefined ? [config.hooks.publicUrl] : undefined,
  });
  localBase = new URL(http.url).origin;
  process.stderr.write(
    `keap-mcp ${SERVER_VERSION}: REST hooks receiver only at ${receiver.urlFor('<receiver id>')}\n  listening on ${localBase}; Keap calls ${receiver.baseUrl()} (KEAP_HOOKS_PUBLIC_URL)\n  Ctrl-C stops the server.\n`,
  );
  logger.info({ url: localBase, public: receiver.baseUrl() }, 'keap-mcp hooks receiver listening');
  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await http.close().catch(() => undefined);
    await hooks.inbox.close();
    safety.audit.close();
    db.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
}

async function serve(config: Config): Promise<void> {
  if (config.hooks.only) return serveHooksOnly(config);
  const logger = createLogger(config.logLevel);
  if (!config.sandbox) credentialsOrExit(config);
  if (!config.sandbox && !hasCredentials(config)) fail(MISSING_CREDENTIALS_MESSAGE, 1);

  const db = openStateDb(stateDirOf(config));
  const safety = createSafety({
    policyFile: config.policyFile,
    readOnly: config.readOnly,
    sandbox: config.sandbox,
    auditLogPath: config.auditLog,
    db,
    logger,
    catalog: SERVER_TOOLS,
    operatorTokenSha256: config.console.operatorTokenSha256,
    approvalWaitMs: config.console.approvalWaitS * 1000,
  });
  // REST hooks: the inbox and the subscription registry on the state DB (src/hooks/inbox.ts).
  const hooks = openSqliteHooks(db, { retention: config.hooks.retention, logger });

  let baseUrl = config.baseUrl;
  let credential: KeapCredential;
  let closeSandbox: (() => Promise<void>) | undefined;
  if (config.sandbox) {
    const key = `sandbox-${randomBytes(12).toString('hex')}`;
    const sb = await startSandbox({ host: '127.0.0.1', port: 0, apiKeys: [key] });
    baseUrl = sb.baseUrl;
    credential = { kind: 'pat', apiKey: key };
    closeSandbox = () => sb.close();
  } else if (config.apiKey !== undefined) {
    credential = { kind: 'pat', apiKey: config.apiKey };
  } else if (config.oauth !== undefined) {
    credential = {
      kind: 'oauth',
      clientId: config.oauth.clientId,
      clientSecret: config.oauth.clientSecret,
      tokenUrl: config.oauth.tokenUrl,
      tokens: openTokenStore(db),
    };
    // Not fatal (`auth login` may run while the server is up: the client reads the store on every call).
    if (credential.tokens.load() === undefined)
      process.stderr.write(`keap-mcp: warning: ${NOT_LOGGED_IN_MESSAGE}\n`);
  } else {
    fail(MISSING_CREDENTIALS_MESSAGE, 1);
  }
  const client = createKeapClient({ baseUrl, credential, maxWaitMs: config.maxWaitMs, logger });
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
  };

  let stop: () => Promise<void>;
  if (config.transport === 'http') {
    const operatorConsole = createConsole({
      ...consoleOptions,
      allowedHosts: allowedHostList(config.http.host, config.allowedHosts, undefined),
    });
    let localBase = '';
    const receiver = createReceiver({
      inbox: hooks.inbox,
      registry: hooks.registry,
      logger,
      publicBaseUrl: config.hooks.publicUrl ?? (() => localBase),
      ratePerMin: config.hooks.ratePerMin,
    });
    const http = await startHttp({
      hooks: receiver,
      publicUrls: config.hooks.publicUrl !== undefined ? [config.hooks.publicUrl] : undefined,
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
    });
    listSessions = () => http.sessionList();
    localBase = new URL(http.url).origin;
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
    await closeSandbox?.().catch(() => undefined);
    await hooks.inbox.close();
    safety.audit.close();
    db.close();
    process.exit(code);
  }
  process.once('SIGINT', () => void shutdown(0));
  process.once('SIGTERM', () => void shutdown(0));
}

async function main(argv: string[]): Promise<void> {
  let cmd: ReturnType<typeof parseCommand>;
  try {
    cmd = parseCommand(argv);
  } catch (err) {
    if (err instanceof UsageError) fail(`keap-mcp: ${err.message}\n${USAGE}`, 2);
    throw err;
  }
  switch (cmd.kind) {
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return;
    case 'version':
      process.stdout.write(`${SERVER_VERSION}\n`);
      return;
    case 'sandbox':
      await runSandboxCli([...cmd.argv]);
      return;
    case 'audit': {
      const config = configOrExit({});
      process.exitCode = await runAuditCli([...cmd.argv], { auditLogPath: config.auditLog });
      return;
    }
    case 'auth': {
      const config = configOrExit({});
      if (cmd.argv[0] === 'login')
        credentialsOrExit(config, ['KEAP_OAUTH_CLIENT_ID', 'KEAP_OAUTH_CLIENT_SECRET']);
      process.exitCode = await runAuthCli([...cmd.argv], { config, logger: createLogger(config.logLevel) });
      return;
    }
    case 'serve':
      await serve(configOrExit(cmd.flags));
      return;
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // The HTTP listen (src/transports/http.ts) rejects with Node's own error: say which setting fixes it.
  const why = listenFailure(err);
  if (why !== undefined) fail(why, 1);
  fail(`keap-mcp: ${err instanceof Error ? err.message : String(err)}`, 1);
});
