/** Redis URLs in messages and logs: never with their password. */

/** `redis://user:secret@host:6379/0` → `redis://user:***@host:6379/0`; an unparsable URL → `(redis URL)`. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(redis URL)';
  }
}
