/** Ending the process with a message on stderr (never stdout: it is the stdio protocol), shared by the bin's modes. */
import { assertUsableCredentials, type Config, ConfigError, loadConfig, processEnv } from './config.js';

export function fail(message: string, code = 1): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

export function configOrExit(flags: Parameters<typeof loadConfig>[0]): Config {
  try {
    return loadConfig(flags, processEnv());
  } catch (err) {
    if (err instanceof ConfigError) fail(`keap-mcp: ${err.message}`, 2);
    throw err;
  }
}

/** Placeholder or blank credentials end the process with the setting named and the fix (exit 2). */
export function credentialsOrExit(
  config: Config,
  only?: Parameters<typeof assertUsableCredentials>[1],
): void {
  try {
    assertUsableCredentials(config, only);
  } catch (err) {
    if (err instanceof ConfigError) fail(`keap-mcp: ${err.message}`, 2);
    throw err;
  }
}
