/**
 * The HTTP transport's guard (bearer token → agent, Origin check) must hold for every spelling of the MCP
 * endpoint that Express routes to the MCP handler: Express matches paths case-insensitively and with a trailing
 * slash, so `/MCP` and `/mcp/` reach the same handler as `/mcp`.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeapClient } from '../../src/keap/client.js';
import type { KeapClientApi } from '../../src/keap/types.js';
import { silentLogger } from '../../src/logger.js';
import { createSafety } from '../../src/safety/index.js';
import { createServer } from '../../src/server.js';
import { openStateDb, type StateDb } from '../../src/state/db.js';
import { type RunningHttp, startHttp } from '../../src/transports/http.js';
import { INITIALIZE_BODY, MCP_POST_HEADERS } from '../helpers/mcp-http.js';

const TOKEN = 'guard-agent-token-0123456789';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const INIT = INITIALIZE_BODY;
const HEADERS = MCP_POST_HEADERS;

let http: RunningHttp;
let keap: KeapClientApi;
let db: StateDb;
let dir: string;
let origin: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keap-mcp-guard-'));
  const policyFile = join(dir, 'policy.json');
  writeFileSync(
    policyFile,
    JSON.stringify({
      default_agent: 'reader',
      agents: { reader: { token_sha256: sha(TOKEN), grants: { '*': 'read' } } },
    }),
  );
  db = openStateDb(undefined);
  const safety = createSafety({ policyFile, readOnly: false, sandbox: true, db, logger: silentLogger });
  // initialize never reaches Keap: a client pointed at a closed port is enough.
  keap = createKeapClient({
    baseUrl: 'http://127.0.0.1:1',
    credential: { kind: 'pat', apiKey: 'guard-unused-key' },
    logger: silentLogger,
  });
  http = await startHttp({
    host: '127.0.0.1',
    port: 0,
    policy: safety.policy,
    logger: silentLogger,
    makeServer: (agent) => createServer({ agent, client: keap, safety, logger: silentLogger, sandbox: true }),
  });
  origin = new URL(http.url).origin;
});

afterAll(async () => {
  await http?.close();
  await keap?.close();
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('HTTP guard on every spelling of /mcp', () => {
  it('the canonical path with the token initializes (control)', async () => {
    const r = await fetch(`${origin}/mcp`, {
      method: 'POST',
      headers: { ...HEADERS, authorization: `Bearer ${TOKEN}` },
      body: INIT,
    });
    expect(r.status).toBe(200);
    await r.body?.cancel();
  });

  for (const path of ['/mcp', '/MCP', '/mcp/', '/Mcp/?x=1']) {
    it(`${path} without a token → 401, no session`, async () => {
      const r = await fetch(`${origin}${path}`, { method: 'POST', headers: HEADERS, body: INIT });
      expect(r.status).toBe(401);
      expect(r.headers.get('mcp-session-id')).toBeNull();
      await r.body?.cancel();
    });

    it(`${path} from a foreign Origin → 403`, async () => {
      const r = await fetch(`${origin}${path}`, {
        method: 'POST',
        headers: { ...HEADERS, authorization: `Bearer ${TOKEN}`, origin: 'https://evil.example.com' },
        body: INIT,
      });
      expect(r.status).toBe(403);
      await r.body?.cancel();
    });
  }
});
