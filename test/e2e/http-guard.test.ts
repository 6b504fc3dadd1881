/**
 * The HTTP transport's guard (bearer token → agent, Origin check) must hold for every spelling of the MCP
 * endpoint that Express routes to the MCP handler: Express matches paths case-insensitively and with a trailing
 * slash, so `/MCP` and `/mcp/` reach the same handler as `/mcp`.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HttpFixture, startHttpFixture } from '../helpers/http-server.js';
import { INITIALIZE_BODY, MCP_POST_HEADERS } from '../helpers/mcp-http.js';

const TOKEN = 'guard-agent-token-0123456789';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const INIT = INITIALIZE_BODY;
const HEADERS = MCP_POST_HEADERS;

let fx: HttpFixture;
let origin: string;

beforeAll(async () => {
  fx = await startHttpFixture({
    policy: {
      default_agent: 'reader',
      agents: { reader: { token_sha256: sha(TOKEN), grants: { '*': 'read' } } },
    },
    auditToFile: false,
    // initialize never reaches Keap: a client pointed at a closed port is enough.
    baseUrl: 'http://127.0.0.1:1',
    apiKey: 'guard-unused-key',
  });
  origin = new URL(fx.http.url).origin;
});

afterAll(async () => {
  await fx?.close();
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
