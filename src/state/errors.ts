/**
 * The shared state store (Redis) cannot be reached. Thrown by the Redis-backed stores; the pipeline turns it into
 * a retryable `unavailable` result ("nothing was sent"), the client into a not-sent Keap error, start-up into a
 * refusal to start. The message never holds the Redis password.
 */
export class StateUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateUnavailableError';
  }
}
