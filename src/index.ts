#!/usr/bin/env node
/**
 * `keap-mcp`: the package's bin. Parses the command line and loads only the modules the chosen mode needs
 * (`--version` and `--help` load nothing more; `auth`, `audit` and `sandbox` load their own modules; serving
 * loads src/serve.ts, which loads the HTTP transport, the console and the sandbox only when asked for).
 */
import { listenFailure, parseCommand, USAGE, UsageError } from './cli.js';
import { configOrExit, credentialsOrExit, fail } from './exit.js';
import { SERVER_VERSION } from './version.js';

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
    case 'sandbox': {
      const { runSandboxCli } = await import('./sandbox/server.js');
      await runSandboxCli([...cmd.argv]);
      return;
    }
    case 'audit': {
      const config = configOrExit({});
      const { runAuditCli } = await import('./safety/audit-cli.js');
      process.exitCode = await runAuditCli([...cmd.argv], { auditLogPath: config.auditLog });
      return;
    }
    case 'auth': {
      const config = configOrExit({});
      if (cmd.argv[0] === 'login')
        credentialsOrExit(config, ['KEAP_OAUTH_CLIENT_ID', 'KEAP_OAUTH_CLIENT_SECRET']);
      const [{ runAuthCli }, { createLogger }] = await Promise.all([
        import('./auth/cli.js'),
        import('./logger.js'),
      ]);
      process.exitCode = await runAuthCli([...cmd.argv], { config, logger: createLogger(config.logLevel) });
      return;
    }
    case 'serve': {
      const config = configOrExit(cmd.flags);
      const { serve } = await import('./serve.js');
      await serve(config);
      return;
    }
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // The HTTP listen (src/transports/http.ts) rejects with Node's own error: say which setting fixes it.
  const why = listenFailure(err);
  if (why !== undefined) fail(why, 1);
  fail(`keap-mcp: ${err instanceof Error ? err.message : String(err)}`, 1);
});
