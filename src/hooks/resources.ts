/**
 * The inbox as MCP resources: `keap://events` (every event the agent may read) and `keap://events/{event_key}`
 * (one event key), listed, read and subscribable. A newly stored event (inbox onStored, from this process or
 * another sharing the store) sends `notifications/resources/updated` to each subscribed session whose agent may
 * read it: the agent needs list_events (hooks read) and the read of the event's object type (contact events:
 * contacts read). A session's subscriptions end with it.
 */
import { type McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  ErrorCode,
  McpError,
  type ReadResourceResult,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../logger.js';
import type { AnyToolSpec } from '../registry/define.js';
import type { PolicyApi } from '../safety/types.js';
import type { HooksRuntime } from './agent.js';
import { objectReaders } from './objects.js';
import type { HookEvent } from './types.js';

export const EVENTS_URI = 'keap://events';
const EVENT_URI = /^keap:\/\/events\/([A-Za-z][A-Za-z0-9_.-]{0,99})$/;
/** Events a resource read returns (the newest the agent may read); list_events pages through all. */
export const RESOURCE_EVENTS = 50;
/** How far back a read looks for them. */
const SCAN = 1000;

export interface EventResourcesOptions {
  readonly agent: string;
  readonly policy: PolicyApi;
  readonly hooks: HooksRuntime;
  /** The registered tools (list_events is the gate; the object types' read tools decide what is readable). */
  readonly catalog: readonly AnyToolSpec[];
  readonly logger: Logger;
}

/** The event key a URI names ('' for keap://events), or undefined when it is not an events URI. */
export function eventKeyOf(uri: string): string | undefined {
  if (uri === EVENTS_URI) return '';
  return EVENT_URI.exec(uri)?.[1];
}

function shown(e: HookEvent): Record<string, unknown> {
  return {
    event_key: e.eventKey,
    object_type: e.objectType,
    object_id: e.objectId,
    timestamp: e.timestamp,
    received_at: new Date(e.receivedAt).toISOString(),
  };
}

/** Registers the events resources and the subscribe/unsubscribe handlers on one session's server. */
export function installEventResources(server: McpServer, opts: EventResourcesOptions): void {
  const { agent, policy, hooks, logger } = opts;
  server.server.registerCapabilities({ resources: { subscribe: true, listChanged: true } });
  const gate = opts.catalog.find((t) => t.hooks === 'events');
  const readerFor = objectReaders(opts.catalog);
  const mayUse = () => gate !== undefined && policy.isAllowed(agent, gate);
  const mayRead = (e: HookEvent): boolean => {
    const reader = readerFor(e.objectType);
    return reader !== undefined && policy.isAllowed(agent, reader.spec);
  };
  const refuse = (): never => {
    throw new McpError(
      ErrorCode.InvalidRequest,
      gate === undefined
        ? 'This server serves no events'
        : `Not allowed by server policy: ${policy.denialReason(agent, gate)}`,
    );
  };

  const read = async (uri: string, eventKey: string): Promise<ReadResourceResult> => {
    if (!mayUse()) refuse();
    const { lastSeq } = await hooks.inbox.stats();
    const page = await hooks.inbox.list({
      after: Math.max(0, lastSeq - SCAN),
      limit: SCAN,
      ...(eventKey !== '' ? { eventKey } : {}),
    });
    const readable = page.events.filter(mayRead);
    const events = readable.slice(-RESOURCE_EVENTS).map(shown);
    const hidden = page.events.length - readable.length;
    const body = {
      events,
      note: `The newest ${RESOURCE_EVENTS} events at most, ids only${hidden > 0 ? `; ${hidden} of object types you may not read are left out` : ''}. list_events filters, pages and expands.`,
    };
    return {
      contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(body) }],
    };
  };

  server.registerResource(
    'events',
    EVENTS_URI,
    {
      title: 'Keap events',
      description: 'Events Keap pushed to this server (subscribe_events first); subscribe for updates',
      mimeType: 'application/json',
    },
    (uri) => read(uri.href, ''),
  );
  server.registerResource(
    'events-by-key',
    new ResourceTemplate('keap://events/{event_key}', {
      list: async () => {
        if (!mayUse()) return { resources: [] };
        const keys = [...new Set((await hooks.registry.list()).map((s) => s.eventKey))].sort();
        return {
          resources: keys.map((k) => ({
            uri: `keap://events/${k}`,
            name: `events-${k}`,
            title: `Keap ${k} events`,
            mimeType: 'application/json',
          })),
        };
      },
    }),
    {
      title: 'Keap events of one key',
      description: 'Events of one event key, e.g. keap://events/contact.add',
      mimeType: 'application/json',
    },
    (uri) => {
      const key = eventKeyOf(uri.href);
      if (key === undefined || key === '')
        throw new McpError(ErrorCode.InvalidParams, `Not an events resource: ${uri.href.slice(0, 200)}`);
      return read(uri.href, key);
    },
  );

  // ---- subscriptions (this session's) ---------------------------------------------------------------------
  const subscribed = new Set<string>();
  let stop: (() => void) | undefined;
  let closed = false;

  const detach = () => {
    stop?.();
    stop = undefined;
  };

  const onStored = (events: readonly HookEvent[]) => {
    if (closed || subscribed.size === 0 || !mayUse()) return;
    const readable = events.filter(mayRead);
    if (readable.length === 0) return;
    const keys = new Set(readable.map((e) => e.eventKey));
    for (const uri of subscribed) {
      const key = eventKeyOf(uri);
      if (key === undefined || (key !== '' && !keys.has(key))) continue;
      server.server.sendResourceUpdated({ uri }).catch((err: unknown) => {
        logger.debug({ err: String(err), uri }, 'resources/updated not sent');
      });
    }
  };

  const uriOf = (params: { uri?: unknown }): string => {
    const uri = typeof params.uri === 'string' ? params.uri : '';
    if (eventKeyOf(uri) === undefined) {
      throw new McpError(
        ErrorCode.InvalidParams,
        `Not a subscribable resource: ${JSON.stringify(uri.slice(0, 200))} (use ${EVENTS_URI} or keap://events/{event_key})`,
      );
    }
    return uri;
  };

  server.server.setRequestHandler(SubscribeRequestSchema, async (request) => {
    const uri = uriOf(request.params);
    if (!mayUse()) refuse();
    if (closed) return {};
    subscribed.add(uri);
    stop ??= hooks.inbox.onStored(onStored);
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
    subscribed.delete(uriOf(request.params));
    if (subscribed.size === 0) detach();
    return {};
  });

  // A closed session keeps no listener on the inbox.
  const previous = server.server.onclose;
  server.server.onclose = () => {
    closed = true;
    subscribed.clear();
    detach();
    previous?.();
  };
}
