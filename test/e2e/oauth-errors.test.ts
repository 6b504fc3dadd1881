/**
 * OAuth error paths of the Keap client against the sandbox over real HTTP: what the model and the operator are
 * told must name the real settings, and the OAuth tokens must never come back in an error, even when the
 * upstream error text echoes them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTokenStore, type StoredTokens } from '../../src/auth/token-store.js';
import { createKeapClient } from '../../src/keap/client.js';
import { KeapError } from '../../src/keap/types.js';
import { silentLogger } from '../../src/logger.js';
import { startSandbox } from '../../src/sandbox/server.js';
import { openStateDb, type StateDb } from '../../src/state/db.js';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;
let sb: Sandbox;
let db: StateDb;

const ACCESS = 'sbx_at_echoed-access-token-0123456789';
const REFRESH = 'sbx_rt_echoed-refresh-token-0123456789';

function tokens(expiresInMs: number): StoredTokens {
  const now = Date.now();
  return {
    accessToken: ACCESS,
    refreshToken: REFRESH,
    expiresAt: now + expiresInMs,
    tokenType: 'bearer',
    scope: 'full',
    clientId: 'sandbox-client',
    obtainedAt: now - 60_000,
    lastRefreshAt: undefined,
  };
}

async function failure(p: Promise<unknown>): Promise<KeapError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof KeapError) return e;
    throw e;
  }
  throw new Error('expected a KeapError');
}

beforeAll(async () => {
  sb = await startSandbox({ port: 0, control: true });
  db = openStateDb(undefined);
});

afterAll(async () => {
  db.close();
  await sb.close();
});

describe('OAuth client errors', () => {
  it('invalid_client on refresh names the real settings and keeps the stored pair', async () => {
    const store = openTokenStore(db, 'invalid-client');
    await store.save(tokens(-1_000)); // expired: the first call refreshes
    const client = createKeapClient({
      baseUrl: sb.baseUrl,
      credential: {
        kind: 'oauth',
        clientId: 'sandbox-client',
        clientSecret: 'not-the-sandbox-secret',
        tokenUrl: `${sb.baseUrl}/token`,
        tokens: store,
      },
      logger: silentLogger,
    });
    try {
      const e = await failure(
        client.request({ method: 'GET', path: '/v2/contacts', idempotent: true, priority: 'read' }),
      );
      expect(e.category).toBe('authentication');
      expect(e.message).toContain('invalid_client');
      expect(e.message).toContain('KEAP_OAUTH_CLIENT_ID');
      expect(e.message).toContain('KEAP_OAUTH_CLIENT_SECRET');
      expect(e.message).not.toContain('not-the-sandbox-secret');
      expect((await store.load())?.refreshToken).toBe(REFRESH);
    } finally {
      await client.close();
    }
  });

  it('an upstream error that echoes the access or refresh token is redacted', async () => {
    const store = openTokenStore(db, 'echo');
    await store.save(tokens(3_600_000));
    const client = createKeapClient({
      baseUrl: sb.baseUrl,
      credential: {
        kind: 'oauth',
        clientId: 'sandbox-client',
        clientSecret: 'sandbox-secret',
        tokenUrl: `${sb.baseUrl}/token`,
        tokens: store,
      },
      logger: silentLogger,
    });
    try {
      await fetch(`${sb.baseUrl}/__sandbox/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          method: 'GET',
          path: '/v2/tags',
          status: 400,
          count: 1,
          body: { message: `bad request for Bearer ${ACCESS} (refresh ${REFRESH})` },
        }),
      });
      const e = await failure(
        client.request({ method: 'GET', path: '/v2/tags', idempotent: true, priority: 'read' }),
      );
      expect(e.category).toBe('validation');
      expect(e.message).toContain('[redacted]');
      for (const text of [e.message, String(e.upstreamMessage)]) {
        expect(text).not.toContain(ACCESS);
        expect(text).not.toContain(REFRESH);
      }
    } finally {
      await client.close();
    }
  });
});
