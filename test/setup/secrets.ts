/**
 * The secrets configured anywhere in the suite (fixed test credentials) plus the shape of every token the sandbox
 * issues. The secret scan (secret-scan.ts) looks for these in everything the product wrote to stderr or returned
 * to an MCP client. Kinds are printed on a hit, values never.
 */
export interface SecretSpec {
  kind: string;
  /** A literal value, or a pattern for issued tokens. */
  match: string | RegExp;
}

export const SECRETS: readonly SecretSpec[] = [
  // Keap credentials: personal access tokens / API keys.
  { kind: 'Keap API key (KeapAK-…, test/client)', match: /KeapAK-[A-Za-z0-9-]{6,}/ },
  { kind: 'Keap API key (e2e guard)', match: 'guard-unused-key' },
  // OAuth client secrets.
  { kind: 'OAuth client secret', match: 'sandbox-secret' },
  { kind: 'OAuth client secret (CLI)', match: 'cli-client-secret-0123456789' },
  // Bearer tokens of HTTP agents (policy files store only their sha256).
  { kind: 'agent bearer token', match: 'reader-token-123456' },
  { kind: 'agent bearer token', match: 'writer-token-654321' },
  { kind: 'agent bearer token', match: 'guard-agent-token-0123456789' },
  { kind: 'agent bearer token', match: 'token-sales' },
  { kind: 'agent bearer token', match: 'token-books' },
  { kind: 'agent bearer token', match: 'ops-bearer-token' },
  // Operator console tokens (test/console): the right one and a wrong guess, neither may be logged.
  { kind: 'operator console token', match: 'operator-console-token-5b1e' },
  { kind: 'operator console token (wrong)', match: 'not-the-operator-token-77' },
  // Human confirmation secrets.
  { kind: 'human secret', match: 'pink-elephant-42' },
  { kind: 'human secret', match: 'correct horse battery staple' },
  { kind: 'human secret', match: 'open sesame' },
  // Every access / refresh token the sandbox issues (src/sandbox/core/auth.ts), and the fixed ones tests plant.
  { kind: 'OAuth access token', match: /sbx_at_[A-Za-z0-9_-]{6,}/ },
  { kind: 'OAuth refresh token', match: /sbx_rt_[A-Za-z0-9_-]{6,}/ },
];

/** The kinds of secret found in `text` (never the values). */
export function secretKindsIn(text: string): string[] {
  const kinds: string[] = [];
  for (const s of SECRETS) {
    const hit = typeof s.match === 'string' ? text.includes(s.match) : s.match.test(text);
    if (hit && !kinds.includes(s.kind)) kinds.push(s.kind);
  }
  return kinds;
}
