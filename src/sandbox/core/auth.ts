/**
 * Credentials: `X-Keap-API-Key` (personal access token / service account key) and OAuth 2 bearer tokens issued
 * by this sandbox's `/app/oauth/authorize` + `/token`. Refresh tokens are single-use and rotate.
 */
import { createHash, randomBytes } from 'node:crypto';
import { gatewayFault } from './errors.js';
import type { SbResponse } from './types.js';

export interface Credential {
  readonly credentialId: string;
  readonly kind: 'pat' | 'oauth';
  readonly userId: number;
}

interface AccessToken {
  clientId: string;
  userId: number;
  expiresAt: number;
}

interface RefreshToken {
  clientId: string;
  userId: number;
  used: boolean;
}

interface AuthCode {
  clientId: string;
  redirectUri: string;
  userId: number;
  expiresAt: number;
  scope: string;
}

export const SANDBOX_SCOPE = 'full|sandbox.infusionsoft.com';

function token(prefix: string): string {
  return `${prefix}${randomBytes(18).toString('base64url')}`;
}

function fingerprint(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 16);
}

export type AuthResult = { ok: true; cred: Credential } | { ok: false; response: SbResponse };

export class AuthService {
  private readonly access = new Map<string, AccessToken>();
  private readonly refresh = new Map<string, RefreshToken>();
  private readonly codes = new Map<string, AuthCode>();

  constructor(
    private readonly apiKeys: readonly string[] | undefined,
    private readonly clients: readonly { readonly id: string; readonly secret: string }[],
    private readonly ttlSec: () => number,
  ) {}

  authenticate(headers: Record<string, string | string[] | undefined>, now: number): AuthResult {
    const keyHeader = headers['x-keap-api-key'];
    const key = Array.isArray(keyHeader) ? keyHeader[0] : keyHeader;
    if (key !== undefined && key.trim() !== '') {
      if (this.apiKeys && !this.apiKeys.includes(key)) {
        return {
          ok: false,
          response: {
            status: 401,
            body: gatewayFault(
              'Invalid ApiKey',
              'keymanagement.service.InvalidAPICallAsNoApiProductMatchFound',
            ),
          },
        };
      }
      return { ok: true, cred: { credentialId: `pat:${fingerprint(key)}`, kind: 'pat', userId: 1 } };
    }
    const authz = headers.authorization;
    const a = Array.isArray(authz) ? authz[0] : authz;
    const m = a ? /^Bearer\s+(\S+)\s*$/i.exec(a) : null;
    if (!m) {
      return {
        ok: false,
        response: { status: 401, body: gatewayFault('Invalid access token', 'oauth.v2.InvalidAccessToken') },
      };
    }
    const t = this.access.get(m[1] as string);
    if (!t) {
      return {
        ok: false,
        response: { status: 401, body: gatewayFault('Invalid access token', 'oauth.v2.InvalidAccessToken') },
      };
    }
    if (t.expiresAt <= now) {
      return {
        ok: false,
        response: {
          status: 401,
          body: gatewayFault('Access Token expired', 'keymanagement.service.access_token_expired'),
        },
      };
    }
    return { ok: true, cred: { credentialId: `oauth:${t.clientId}`, kind: 'oauth', userId: t.userId } };
  }

  /** GET /app/oauth/authorize — auto-approves as user 1 and redirects with code + state. */
  authorize(query: URLSearchParams, now: number): SbResponse {
    const clientId = query.get('client_id');
    const redirectUri = query.get('redirect_uri');
    const responseType = query.get('response_type');
    const bad = (field: string, msg: string): SbResponse => ({
      status: 400,
      body: { error: 'invalid_request', error_description: `${field}: ${msg}` },
    });
    if (!clientId) return bad('client_id', 'is required');
    if (!this.clients.some((c) => c.id === clientId)) {
      return {
        status: 400,
        body: { error: 'invalid_client', error_description: 'client_id: unknown client' },
      };
    }
    if (!redirectUri) return bad('redirect_uri', 'is required');
    let target: URL;
    try {
      target = new URL(redirectUri);
    } catch {
      return bad('redirect_uri', 'is not a valid URL');
    }
    if (responseType !== 'code') {
      target.searchParams.set('error', 'unsupported_response_type');
    } else {
      const code = token('code_');
      this.codes.set(code, {
        clientId,
        redirectUri,
        userId: 1,
        expiresAt: now + 10 * 60_000,
        scope: query.get('scope') ?? 'full',
      });
      target.searchParams.set('code', code);
      target.searchParams.set('scope', SANDBOX_SCOPE);
    }
    const state = query.get('state');
    if (state !== null) target.searchParams.set('state', state);
    return { status: 302, headers: { location: target.toString() } };
  }

  private clientAuth(
    form: URLSearchParams,
    authorization: string | undefined,
  ): { id: string } | { error: SbResponse } {
    let id = form.get('client_id') ?? undefined;
    let secret = form.get('client_secret') ?? undefined;
    const m = authorization ? /^Basic\s+(\S+)$/i.exec(authorization) : null;
    if (m) {
      const dec = Buffer.from(m[1] as string, 'base64').toString('utf8');
      const i = dec.indexOf(':');
      if (i >= 0) {
        id = decodeURIComponent(dec.slice(0, i));
        secret = decodeURIComponent(dec.slice(i + 1));
      }
    }
    const c = this.clients.find((x) => x.id === id);
    if (!c || c.secret !== secret) {
      return {
        error: {
          status: 401,
          body: { error: 'invalid_client', error_description: 'Invalid client credentials' },
        },
      };
    }
    return { id: c.id };
  }

  private issue(clientId: string, userId: number, now: number): SbResponse {
    const ttl = this.ttlSec();
    const access = token('sbx_at_');
    const refresh = token('sbx_rt_');
    this.access.set(access, { clientId, userId, expiresAt: now + ttl * 1000 });
    this.refresh.set(refresh, { clientId, userId, used: false });
    return {
      status: 200,
      headers: { 'cache-control': 'no-store' },
      body: {
        access_token: access,
        refresh_token: refresh,
        expires_in: ttl,
        token_type: 'bearer',
        scope: SANDBOX_SCOPE,
      },
    };
  }

  /** POST /token (form-encoded). */
  token(form: URLSearchParams | undefined, authorization: string | undefined, now: number): SbResponse {
    const f = form ?? new URLSearchParams();
    const grant = f.get('grant_type');
    if (grant === 'authorization_code') {
      const client = this.clientAuth(f, authorization);
      if ('error' in client) return client.error;
      const code = f.get('code');
      const c = code ? this.codes.get(code) : undefined;
      if (!code || !c || c.expiresAt <= now || c.clientId !== client.id) {
        return {
          status: 400,
          body: { error: 'invalid_grant', error_description: 'Invalid authorization code' },
        };
      }
      const redirectUri = f.get('redirect_uri');
      if (redirectUri !== null && redirectUri !== c.redirectUri) {
        return { status: 400, body: { error: 'invalid_grant', error_description: 'Redirect URI mismatch' } };
      }
      this.codes.delete(code);
      return this.issue(client.id, c.userId, now);
    }
    if (grant === 'refresh_token') {
      const client = this.clientAuth(f, authorization);
      if ('error' in client) return client.error;
      const rt = f.get('refresh_token');
      const r = rt ? this.refresh.get(rt) : undefined;
      if (!rt || !r || r.used || r.clientId !== client.id) {
        return { status: 400, body: { error: 'invalid_grant', error_description: 'Invalid refresh token' } };
      }
      r.used = true;
      return this.issue(client.id, r.userId, now);
    }
    return {
      status: 400,
      body: {
        error: grant ? 'unsupported_grant_type' : 'invalid_request',
        error_description: grant ? `grant_type: unsupported '${grant}'` : 'grant_type: is required',
      },
    };
  }
}
