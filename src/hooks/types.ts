/**
 * REST Hooks on the receiving side: the contract between the receiver (src/hooks/receiver.ts), the inbox and
 * subscription registry (embedded SQLite by default, Redis when KEAP_MCP_REDIS_URL is set) and what the agent
 * sees (subscribe_events, list_events, the keap://events resources). Every store call is async so both backends
 * fit the same interface.
 */

import type { Logger } from '../logger.js';

/** One object key of a Keap delivery: `{ id, apiUrl, timestamp }`. */
export interface DeliveredKey {
  readonly id: string;
  readonly apiUrl: string;
  readonly timestamp: string;
}

/** A validated delivery body: `{ event_key, object_type, object_keys: [...] }` (at most 1,000 keys). */
export interface Delivery {
  readonly eventKey: string;
  readonly objectType: string;
  readonly objectKeys: readonly DeliveredKey[];
}

/** One stored event (one object key of one delivery). */
export interface HookEvent {
  /** Store-assigned, strictly increasing; the list cursor. */
  readonly seq: number;
  readonly eventKey: string;
  readonly objectType: string;
  readonly objectId: string;
  readonly apiUrl: string;
  /** Keap's timestamp, as delivered. */
  readonly timestamp: string;
  /** When this server stored it (epoch ms). */
  readonly receivedAt: number;
  readonly receiverId: string;
}

export interface AddResult {
  /** Events newly stored. */
  readonly stored: readonly HookEvent[];
  /** Keys already in the inbox (same event_key, object id and timestamp): not stored again. */
  readonly duplicates: number;
}

export interface EventQuery {
  /** Return events with seq greater than this (cursor). */
  readonly after?: number | undefined;
  readonly limit: number;
  readonly eventKey?: string | undefined;
  readonly objectType?: string | undefined;
  /** receivedAt ≥ since (epoch ms). */
  readonly since?: number | undefined;
}

export interface EventPage {
  readonly events: readonly HookEvent[];
  /** Present when more events match after the last one returned. */
  readonly next?: number | undefined;
}

export interface RetentionOptions {
  /** Default 7 days. */
  readonly maxAgeMs: number;
  /** Default 100,000 events. */
  readonly maxEvents: number;
}

/** Retention when not configured: 7 days or 100,000 events. */
export const DEFAULT_RETENTION: RetentionOptions = Object.freeze({
  maxAgeMs: 7 * 24 * 60 * 60_000,
  maxEvents: 100_000,
});

/** The retention in force: each given positive value, else the default (events rounded down). */
export function retentionOf(given: Partial<RetentionOptions> | undefined): RetentionOptions {
  const positive = (n: number | undefined, fallback: number): number =>
    n !== undefined && Number.isFinite(n) && n > 0 ? n : fallback;
  return {
    maxAgeMs: positive(given?.maxAgeMs, DEFAULT_RETENTION.maxAgeMs),
    maxEvents: Math.floor(positive(given?.maxEvents, DEFAULT_RETENTION.maxEvents)),
  };
}

/** Largest page an inbox's list() returns (both backends). */
export const MAX_LIST_LIMIT = 1000;
/** Events an inbox hands its listeners per catch-up step (both backends). */
export const CATCH_UP_CHUNK = 1000;

/** A list query's page size, within 1..MAX_LIST_LIMIT. */
export function pageLimit(query: EventQuery): number {
  return Math.max(1, Math.min(MAX_LIST_LIMIT, Math.floor(query.limit)));
}

/** The event stored for one key of a delivery (without its seq, which the store assigns). */
export function eventBody(
  delivery: Delivery,
  key: DeliveredKey,
  receivedAt: number,
  receiverId: string,
): Omit<HookEvent, 'seq'> {
  return {
    eventKey: delivery.eventKey,
    objectType: delivery.objectType,
    objectId: key.id,
    apiUrl: key.apiUrl,
    timestamp: key.timestamp,
    receivedAt,
    receiverId,
  };
}

/** Hands `events` to every listener; one that throws is logged and never stops the others. */
export function emitEvents(
  listeners: ReadonlySet<(events: readonly HookEvent[]) => void>,
  events: readonly HookEvent[],
  logger: Logger | undefined,
): void {
  for (const l of [...listeners]) {
    try {
      l(events);
    } catch (err) {
      logger?.error({ err: err instanceof Error ? err.message : String(err) }, 'hooks inbox listener failed');
    }
  }
}

export interface InboxStats {
  readonly stored: number;
  /** Events dropped by retention since the store was created. */
  readonly dropped: number;
  readonly lastSeq: number;
}

export interface InboxApi {
  /** Stores a delivery's keys once each, durably, in one transaction; resolves only once they are durable. */
  add(receiverId: string, delivery: Delivery): Promise<AddResult>;
  list(query: EventQuery): Promise<EventPage>;
  stats(): Promise<InboxStats>;
  /**
   * Called with newly stored events — including events stored by another process or replica sharing the store
   * (SQLite: polled; Redis: pub/sub). Returns an unsubscribe function.
   */
  onStored(listener: (events: readonly HookEvent[]) => void): () => void;
  close(): Promise<void>;
}

/** One subscription made by subscribe_events: a receiver id per (event key) pointing Keap at this server. */
export interface HookSubscription {
  /** Unguessable random value (≥ 128 bits, base64url); the receiver URL is `<public base>/hooks/keap/<id>`. */
  readonly receiverId: string;
  readonly eventKey: string;
  /** Keap's hook key once created. */
  readonly hookKey?: string | undefined;
  /** Verified locally once the X-Hook-Secret handshake reached the receiver. */
  readonly verifiedAt?: number | undefined;
  readonly lastDeliveryAt?: number | undefined;
  readonly eventsStored: number;
  readonly createdAt: number;
  /** The agent that subscribed. */
  readonly agent: string;
}

export interface HookRegistryApi {
  create(input: { eventKey: string; agent: string }): Promise<HookSubscription>;
  get(receiverId: string): Promise<HookSubscription | undefined>;
  byHookKey(hookKey: string): Promise<HookSubscription | undefined>;
  list(): Promise<readonly HookSubscription[]>;
  setHookKey(receiverId: string, hookKey: string): Promise<void>;
  markVerified(receiverId: string, at: number): Promise<void>;
  recordDelivery(receiverId: string, at: number, events: number): Promise<void>;
  remove(receiverId: string): Promise<void>;
}
