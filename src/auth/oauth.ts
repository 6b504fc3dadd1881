/**
 * Keap OAuth 2.0 (authorization code + rotating refresh token, keap-api.md §3.4) on oauth4webapi 3: authorize URL
 * with `state`, authorization response validation, code exchange, refresh, token-endpoint error parsing.
 *
 * Keap quirks handled here:
 *  - no discovery document: the authorization server metadata is built from the two endpoints;
 *  - code exchange sends client_id/client_secret in the form (Keap's docs), refresh uses HTTP Basic (Keap's PHP SDK);
 *  - no PKCE in Keap's docs → `nopkce` (CSRF protection is the `state` check);
 *  - the HTTP itself goes through the fetch given by src/keap/client.ts (`createKeapFetch`), so no other module
 *    opens connections to Keap.
 */
import * as oauth from 'oauth4webapi';
import type { StoredTokens } from './token-store.js';

export interface OAuthConfig {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly authorizeUrl: string;
  readonly tokenUrl: string;
  /** Default 'full' (Keap's only scope). */
  readonly scope?: string;
}

export type FetchLike = (
  url: string,
  init: { method: string; headers: unknown; body?: unknown; signal?: AbortSignal; redirect?: string },
) => Promise<Response>;

/** A token-endpoint answer `{error, error_description}` (e.g. invalid_grant). */
export class OAuthGrantError extends Error {
  readonly error: string;
  readonly status: number;
  constructor(error: string, description: string | undefined, status: number) {
    super(description ? `${error}: ${description}` : error);
    this.name = 'OAuthGrantError';
    this.error = error;
    this.status = status;
  }
}

function server(cfg: OAuthConfig): oauth.AuthorizationServer {
  const token = new URL(cfg.tokenUrl);
  return {
    issuer: token.origin,
    authorization_endpoint: cfg.authorizeUrl,
    token_endpoint: cfg.tokenUrl,
  };
}

function client(cfg: OAuthConfig): oauth.Client {
  return { client_id: cfg.clientId };
}

function requestOptions(cfg: OAuthConfig, fetchImpl: FetchLike): oauth.TokenEndpointRequestOptions {
  const insecure = new URL(cfg.tokenUrl).protocol === 'http:';
  return {
    [oauth.customFetch]: fetchImpl as unknown as NonNullable<
      oauth.TokenEndpointRequestOptions[typeof oauth.customFetch]
    >,
    ...(insecure ? { [oauth.allowInsecureRequests]: true } : {}),
  };
}

export function newState(): string {
  return oauth.generateRandomState();
}

export function buildAuthorizeUrl(cfg: OAuthConfig, redirectUri: string, state: string): string {
  const url = new URL(cfg.authorizeUrl);
  url.searchParams.set('client_id', cfg.clientId);
  url.searchParams.set('redirect_uri', redirectUri);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', cfg.scope ?? 'full');
  url.searchParams.set('state', state);
  return url.toString();
}

/** Validates the redirect back (state, error params); returns the parameters to exchange. */
export function validateCallback(
  cfg: OAuthConfig,
  params: URLSearchParams,
  expectedState: string,
): URLSearchParams {
  try {
    return oauth.validateAuthResponse(server(cfg), client(cfg), params, expectedState);
  } catch (e) {
    if (e instanceof oauth.AuthorizationResponseError) {
      throw new OAuthGrantError(e.error, e.error_description, 400);
    }
    throw new OAuthGrantError(
      'invalid_request',
      e instanceof Error ? e.message : 'invalid authorization response',
      400,
    );
  }
}

function toStored(
  cfg: OAuthConfig,
  r: oauth.TokenEndpointResponse,
  now: number,
  /** The pair this one replaces (a refresh); undefined for a code exchange. */
  previous?: StoredTokens,
): StoredTokens {
  if (typeof r.refresh_token !== 'string' || r.refresh_token === '') {
    throw new OAuthGrantError('invalid_response', 'the token response has no refresh_token', 200);
  }
  const expiresIn = typeof r.expires_in === 'number' && r.expires_in > 0 ? r.expires_in : 86_400;
  return {
    accessToken: r.access_token,
    refreshToken: r.refresh_token,
    expiresAt: now + expiresIn * 1000,
    tokenType: r.token_type,
    scope: typeof r.scope === 'string' ? r.scope : previous?.scope,
    clientId: cfg.clientId,
    obtainedAt: now,
    lastRefreshAt: previous !== undefined ? now : undefined,
  };
}

async function mapErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof oauth.ResponseBodyError) {
      throw new OAuthGrantError(e.error, e.error_description, e.status);
    }
    if (e instanceof oauth.WWWAuthenticateChallengeError) {
      const c = e.cause[0];
      throw new OAuthGrantError(
        c?.parameters.error ?? 'invalid_client',
        c?.parameters.error_description,
        e.status,
      );
    }
    throw e;
  }
}

/** One token-endpoint round trip: send the grant, process the answer, map errors, shape the stored pair. */
function tokenGrant(
  cfg: OAuthConfig,
  fetchImpl: FetchLike,
  send: (
    as: oauth.AuthorizationServer,
    c: oauth.Client,
    options: oauth.TokenEndpointRequestOptions,
  ) => Promise<Response>,
  process: (
    as: oauth.AuthorizationServer,
    c: oauth.Client,
    res: Response,
  ) => Promise<oauth.TokenEndpointResponse>,
  now: () => number,
  previous?: StoredTokens,
): Promise<StoredTokens> {
  return mapErrors(async () => {
    const as = server(cfg);
    const c = client(cfg);
    const r = await process(as, c, await send(as, c, requestOptions(cfg, fetchImpl)));
    return toStored(cfg, r, now(), previous);
  });
}

/** Exchanges the authorization code (client credentials in the form body, as Keap documents). */
export function exchangeCode(
  cfg: OAuthConfig,
  callbackParams: URLSearchParams,
  redirectUri: string,
  fetchImpl: FetchLike,
  now: () => number = Date.now,
): Promise<StoredTokens> {
  return tokenGrant(
    cfg,
    fetchImpl,
    (as, c, options) =>
      oauth.authorizationCodeGrantRequest(
        as,
        c,
        oauth.ClientSecretPost(cfg.clientSecret),
        callbackParams,
        redirectUri,
        oauth.nopkce,
        options,
      ),
    oauth.processAuthorizationCodeResponse,
    now,
  );
}

/** Uses the (single-use) refresh token; the caller must persist the returned pair before using it. */
export function refreshTokens(
  cfg: OAuthConfig,
  previous: StoredTokens,
  fetchImpl: FetchLike,
  now: () => number = Date.now,
): Promise<StoredTokens> {
  return tokenGrant(
    cfg,
    fetchImpl,
    (as, c, options) =>
      oauth.refreshTokenGrantRequest(
        as,
        c,
        oauth.ClientSecretBasic(cfg.clientSecret),
        previous.refreshToken,
        options,
      ),
    oauth.processRefreshTokenResponse,
    now,
    previous,
  );
}
