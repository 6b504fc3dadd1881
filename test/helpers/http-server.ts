/**
 * The in-process Streamable HTTP server for tests, set up once: a temp dir (with policy.json and audit.jsonl),
 * an in-memory state db, the real safety layer, the real Keap client (by default against the test sandbox on
 * 127.0.0.1, port 0) and startHttp() on 127.0.0.1, port 0, whose sessions each get a createServer() for their
 * agent. What the fixture creates it closes; what the caller passes in (a Keap client) the caller closes.
 *
 * - startHttpFixture(opts): all of it, one server; close() ends the server, then the rest.
 * - createHttpStack(opts): all but the server, for tests that start servers (with other settings) per test:
 *   stack.startHttp(serving) starts one; the caller closes each server before stack.close().
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { createKeapClient } from '../../src/keap/client.js';
import type { KeapClientApi } from '../../src/keap/types.js';
import { silentLogger } from '../../src/logger.js';
import { createSafety } from '../../src/safety/index.js';
import type { RunningSandbox } from '../../src/sandbox/core/types.js';
import { type CreateServerOptions, createServer } from '../../src/server.js';
import { openStateDb, type StateDb } from '../../src/state/db.js';
import { type HttpOptions, type RunningHttp, startHttp } from '../../src/transports/http.js';
import { SANDBOX_KEY, startTestSandbox } from '../server/harness.js';

export type TestSafety = ReturnType<typeof createSafety>;

/** Builds a session's server the default way; `overrides` replace createServer options (e.g. another safety). */
export type MakeServer = (agent: string, overrides?: Partial<CreateServerOptions>) => McpServer;

export interface HttpStackOptions {
  /** Written to `<dir>/policy.json` (a string as is, else as JSON); absent → the default policy (no file). */
  readonly policy?: object | string;
  /** Audit records to `<dir>/audit.jsonl` (default true, as in startHarness); false: to the (silent) logger. */
  readonly auditToFile?: boolean;
  /** Base URL of the Keap client; absent → the test sandbox, started here and closed by close(). */
  readonly baseUrl?: string;
  /** Key the Keap client sends (default SANDBOX_KEY). */
  readonly apiKey?: string;
  /** A Keap client the caller owns (not closed here); replaces baseUrl/apiKey, and no sandbox is started. */
  readonly keap?: KeapClientApi;
  /** close() leaves the temp dir (e.g. to read the audit file afterwards); the caller removes `dir`. */
  readonly keepDir?: boolean;
}

export interface HttpServing {
  /** startHttp options over the defaults (127.0.0.1, port 0, the policy, silentLogger, sandbox: see below). */
  readonly http?: Partial<Omit<HttpOptions, 'makeServer'>>;
  /** Rejected logins are audited (startHttp's `audit` = the stack's safety.audit). */
  readonly auditRefusals?: boolean;
  /**
   * Wraps the sessions' server factory: `make(agent, overrides?)` is the default (createServer with the stack's
   * Keap client and safety, silentLogger, sandbox: true). E.g. record each server, or serve another safety.
   */
  readonly makeServer?: (agent: string, make: MakeServer) => McpServer;
}

export interface HttpStack {
  readonly dir: string;
  /** `<dir>/audit.jsonl` (written only with auditToFile). */
  readonly auditPath: string;
  readonly db: StateDb;
  readonly safety: TestSafety;
  readonly keap: KeapClientApi;
  /** The test sandbox when the stack started one. */
  readonly sandbox: RunningSandbox | undefined;
  /**
   * Starts an HTTP server over this stack. Its `sandbox` flag defaults to whether the stack started the test
   * sandbox. The caller closes it (before stack.close()).
   */
  startHttp(serving?: HttpServing): Promise<RunningHttp>;
  /** Closes what the stack created: the Keap client (unless passed in), the audit log, the db, the sandbox, dir. */
  close(): Promise<void>;
}

export interface HttpFixtureOptions extends HttpStackOptions, HttpServing {}

export interface HttpFixture extends HttpStack {
  readonly http: RunningHttp;
}

export async function createHttpStack(opts: HttpStackOptions = {}): Promise<HttpStack> {
  const dir = mkdtempSync(join(tmpdir(), 'keap-mcp-http-test-'));
  const auditPath = join(dir, 'audit.jsonl');
  let policyFile: string | undefined;
  if (opts.policy !== undefined) {
    policyFile = join(dir, 'policy.json');
    writeFileSync(policyFile, typeof opts.policy === 'string' ? opts.policy : JSON.stringify(opts.policy));
  }
  const ownSandbox = opts.keap === undefined && opts.baseUrl === undefined;
  const sandbox = ownSandbox ? await startTestSandbox() : undefined;
  const db = openStateDb(undefined);
  let safety: TestSafety;
  try {
    safety = createSafety({
      policyFile,
      readOnly: false,
      sandbox: true,
      db,
      logger: silentLogger,
      auditLogPath: opts.auditToFile === false ? undefined : auditPath,
    });
  } catch (e) {
    db.close();
    await sandbox?.close();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const ownKeap = opts.keap === undefined;
  const keap =
    opts.keap ??
    createKeapClient({
      baseUrl: opts.baseUrl ?? (sandbox as RunningSandbox).baseUrl,
      credential: { kind: 'pat', apiKey: opts.apiKey ?? SANDBOX_KEY },
      logger: silentLogger,
    });
  return {
    dir,
    auditPath,
    db,
    safety,
    keap,
    sandbox,
    startHttp(serving = {}) {
      const make: MakeServer = (agent, overrides = {}) =>
        createServer({ agent, client: keap, safety, logger: silentLogger, sandbox: true, ...overrides });
      const wrap = serving.makeServer;
      return startHttp({
        host: '127.0.0.1',
        port: 0,
        policy: safety.policy,
        logger: silentLogger,
        sandbox: ownSandbox,
        ...(serving.auditRefusals === true ? { audit: safety.audit } : {}),
        ...serving.http,
        makeServer: wrap === undefined ? (agent) => make(agent) : (agent) => wrap(agent, make),
      });
    },
    async close() {
      if (ownKeap) await keap.close();
      safety.audit.close();
      db.close();
      await sandbox?.close();
      if (opts.keepDir !== true) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** createHttpStack + one server (see HttpServing); close() ends the server, then the stack. */
export async function startHttpFixture(opts: HttpFixtureOptions = {}): Promise<HttpFixture> {
  const stack = await createHttpStack(opts);
  let http: RunningHttp;
  try {
    http = await stack.startHttp(opts);
  } catch (e) {
    await stack.close();
    throw e;
  }
  return {
    ...stack,
    http,
    async close() {
      await http.close();
      await stack.close();
    },
  };
}
