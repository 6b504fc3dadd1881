/**
 * What the agent sees of REST hooks: subscribe_events, unsubscribe_events, list_events and list_hooks' health.
 * Every Keap call they make runs through the chokepoint (runTool) under a per-call spec derived from the
 * tool the agent called — its name, so the policy's lists and confirmations for that tool apply — with Keap's
 * method and path (POST /v1/hooks, POST /v1/hooks/{key}/verify, DELETE /v1/hooks/{key}); list_events' expand
 * reads each object with the read tool of its type (src/hooks/objects.ts), so the agent's grants apply. A
 * call that makes no Keap request is audited here (one record), as the long-tail front does.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ToolError } from '../errors.js';
import type { CallExtra, PipelineContext } from '../pipeline/call.js';
import { auditAnswered, rejectInput, runTool } from '../pipeline.js';
import type { AnyToolSpec } from '../registry/define.js';
import { keapDataResult, okResult } from '../results.js';
import { objectReaders } from './objects.js';
import { RECEIVER_PATH } from './receiver.js';
import type { HookEvent, HookRegistryApi, HookSubscription, InboxApi } from './types.js';

/** The receiver's stores and address, as the tools need them. */
export interface HooksRuntime {
  readonly inbox: InboxApi;
  readonly registry: HookRegistryApi;
  /**
   * The base URL Keap calls (KEAP_HOOKS_PUBLIC_URL, else the HTTP server's own URL), without a trailing slash;
   * undefined when nothing receives hooks for this server (stdio without KEAP_HOOKS_PUBLIC_URL).
   */
  publicUrl(): string | undefined;
}

export interface HooksFront {
  run(spec: AnyToolSpec, args: Readonly<Record<string, unknown>>, extra: CallExtra): Promise<CallToolResult>;
}

export function receiverUrl(base: string, receiverId: string): string {
  return `${base.replace(/\/+$/, '')}${RECEIVER_PATH}${receiverId}`;
}

/** Most objects list_events reads with expand: true on one page. */
export const MAX_EXPAND = 25;
const DEFAULT_EVENTS_PAGE = 25;
const MACHINE_KEYS = ['dry_run', 'confirmation_token', 'human_secret', 'approval_id'] as const;

type Data = Record<string, unknown>;

function isPlain(v: unknown): v is Data {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The machinery fields of a call (confirmation, approval, dry run) that an inner chokepoint call carries on. */
function machineOf(args: Readonly<Data>, keys: readonly string[]): Data {
  const out: Data = {};
  for (const k of keys) if (args[k] !== undefined) out[k] = args[k];
  return out;
}

function inputError(message: string, nextStep: string): ToolError {
  return new ToolError({ category: 'input', message, nextStep });
}

/** What an inner chokepoint call ended with. */
type Inner =
  | { readonly kind: 'ok'; readonly data: Data }
  | { readonly kind: 'error'; readonly error: Data; readonly result: CallToolResult }
  /** Stopped for a human, a dry run or a decline: the result goes back to the model as it is. */
  | { readonly kind: 'stopped'; readonly result: CallToolResult };

function innerOf(result: CallToolResult): Inner {
  const data = isPlain(result.structuredContent) ? result.structuredContent : {};
  if (result.isError) return { kind: 'error', error: isPlain(data.error) ? data.error : {}, result };
  if (
    data.confirmation_required === true ||
    data.approval_pending === true ||
    data.declined === true ||
    data.dry_run === true
  )
    return { kind: 'stopped', result };
  return { kind: 'ok', data };
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

const statusOf = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** A hook URL with this server's receiver id hidden (the URL is the subscription's only secret). */
export function maskedUrl(url: unknown): unknown {
  if (typeof url !== 'string') return url;
  const at = url.indexOf(RECEIVER_PATH);
  return at < 0 ? url : `${url.slice(0, at + RECEIVER_PATH.length)}(receiver id hidden)`;
}

/** Paging token of list_events: the inbox cursor. */
function pageToken(seq: number): string {
  return `ev${seq}`;
}

function parseToken(token: unknown): number | undefined {
  if (typeof token !== 'string') return undefined;
  const m = /^ev(\d{1,15})$/.exec(token);
  return m ? Number(m[1]) : undefined;
}

/** ISO 8601 date-time with Z or an offset → epoch ms. */
function parseSince(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(v.trim()))
    return undefined;
  const ms = Date.parse(v.trim());
  return Number.isFinite(ms) ? ms : undefined;
}

export function createHooksFront(
  catalog: readonly AnyToolSpec[],
  ctx: PipelineContext,
  hooks: HooksRuntime,
): HooksFront {
  const { policy } = ctx.safety;
  const readerFor = objectReaders(catalog);

  /** The record of a hooks tool's own answer (the inbox, the registry); its Keap calls are audited by runTool. */
  const audited = (spec: AnyToolSpec, args: Readonly<Data>, started: number, extra: CallExtra) =>
    auditAnswered(spec, ctx, extra, {
      decision: 'allowed',
      method: spec.method,
      path: spec.path,
      duration_ms: Date.now() - started,
      args,
    });

  /** The per-call spec of one Keap request a hooks tool makes (its name, so its policy entries apply). */
  const derived = (
    spec: AnyToolSpec,
    over: Pick<AnyToolSpec, 'method' | 'path' | 'input'> & Partial<AnyToolSpec>,
  ): AnyToolSpec => {
    const { hooks: _kind, ...rest } = spec;
    return Object.freeze({ ...rest, ...over });
  };

  // ---- subscribe_events ------------------------------------------------------------------------------------

  const specCache = new WeakMap<AnyToolSpec, Record<string, AnyToolSpec>>();
  const subscribeSpecs = (spec: AnyToolSpec) => {
    let s = specCache.get(spec);
    if (!s) {
      const base = catalog.find((t) => t.name === 'create_hook');
      const verifyBase = catalog.find((t) => t.name === 'verify_hook');
      const listBase = catalog.find((t) => t.name === 'list_hooks');
      s = {
        create: derived(spec, {
          method: 'POST',
          path: '/v1/hooks',
          input: base?.input ?? {},
          idempotent: false,
        }),
        verify: derived(spec, {
          method: 'POST',
          path: '/v1/hooks/{key}/verify',
          input: verifyBase?.input ?? {},
          idempotent: true,
        }),
        list: derived(spec, {
          method: 'GET',
          path: '/v1/hooks',
          input: listBase?.input ?? {},
          access: 'read',
          listKey: '',
        }),
      };
      specCache.set(spec, s);
    }
    return s as { create: AnyToolSpec; verify: AnyToolSpec; list: AnyToolSpec };
  };

  /** Keap's hooks by key (status), read once per call when needed. */
  const keapHooks = async (
    spec: AnyToolSpec,
    extra: CallExtra,
  ): Promise<{ ok: true; byKey: Map<string, Data> } | { ok: false; result: CallToolResult }> => {
    const inner = innerOf(await runTool(subscribeSpecs(spec).list, {}, ctx, extra));
    if (inner.kind !== 'ok') return { ok: false, result: inner.result };
    const items = Array.isArray(inner.data.items) ? inner.data.items : [];
    const byKey = new Map<string, Data>();
    for (const h of items) if (isPlain(h) && h.key !== undefined) byKey.set(String(h.key), h);
    return { ok: true, byKey };
  };

  const subscribe = async (spec: AnyToolSpec, args: Readonly<Data>, extra: CallExtra) => {
    const started = Date.now();
    const keys = [...new Set((Array.isArray(args.event_keys) ? args.event_keys : []).map(String))];
    const base = hooks.publicUrl();
    if (base === undefined) {
      return rejectInput(
        spec,
        args,
        new ToolError({
          category: 'input',
          message:
            'this server has no public address for Keap to deliver hooks to (KEAP_HOOKS_PUBLIC_URL is not set and it does not serve HTTP)',
          nextStep:
            'Nothing was sent. Tell the user an operator must run keap-mcp --http (or --http --hooks-only) and set KEAP_HOOKS_PUBLIC_URL',
        }),
        ctx,
        extra,
      );
    }
    const specs = subscribeSpecs(spec);
    if (args.dry_run === true) {
      audited(spec, args, started, extra);
      return okResult({
        dry_run: true,
        requests: keys.map((k) => ({
          method: 'POST',
          path: '/v1/hooks',
          body: { eventKey: k, hookUrl: `${base}${RECEIVER_PATH}(new receiver id)` },
        })),
        preview: `Subscribe this server to ${keys.join(', ')}: one Keap hook per event key, verified by this server's receiver`,
      });
    }
    const existing = await hooks.registry.list();
    const mine = new Map<string, HookSubscription>();
    for (const s of existing) if (keys.includes(s.eventKey) && !mine.has(s.eventKey)) mine.set(s.eventKey, s);

    let atKeap: Map<string, Data> | undefined;
    if ([...mine.values()].some((s) => s.hookKey !== undefined)) {
      const read = await keapHooks(spec, extra);
      if (!read.ok) return read.result;
      atKeap = read.byKey;
    }

    const results: Data[] = [];
    let madeCall = atKeap !== undefined;
    for (const eventKey of keys) {
      let sub = mine.get(eventKey);
      let status: string | undefined;
      let hookKey = sub?.hookKey;
      if (sub !== undefined && hookKey !== undefined) {
        const h = atKeap?.get(hookKey);
        if (h === undefined) {
          // Deleted at Keap meanwhile: start over with a new receiver id.
          await hooks.registry.remove(sub.receiverId);
          sub = undefined;
          hookKey = undefined;
        } else {
          status = statusOf(h.status);
          if (status === 'Verified') {
            results.push({ event_key: eventKey, status, hook_key: hookKey, already_subscribed: true });
            continue;
          }
        }
      }
      sub ??= await hooks.registry.create({ eventKey, agent: ctx.agent });
      if (hookKey === undefined) {
        madeCall = true;
        // A confirmation the policy asks for (confirm_tools) travels with a one-key call: its repeat reuses this
        // receiver id (the entry is kept while a human decides), so the confirmed request is the same.
        const confirmable =
          keys.length === 1 ? machineOf(args, ['confirmation_token', 'human_secret', 'approval_id']) : {};
        const created = innerOf(
          await runTool(
            specs.create,
            { eventKey, hookUrl: receiverUrl(base, sub.receiverId), ...confirmable },
            ctx,
            extra,
          ),
        );
        if (created.kind !== 'ok') {
          if (created.kind === 'stopped' && keys.length === 1) {
            if (created.result.structuredContent?.declined === true)
              await hooks.registry.remove(sub.receiverId);
            return created.result;
          }
          // Keap said no: nothing of it is kept (unless it may have been created: outcome unknown).
          const unknown = created.kind === 'error' && created.error.category === 'outcome_unknown';
          if (!unknown) await hooks.registry.remove(sub.receiverId);
          results.push({
            event_key: eventKey,
            status: 'failed',
            ...(created.kind === 'error'
              ? { error: created.error }
              : {
                  error: { message: 'creating the hook needs a confirmation; subscribe to this key alone' },
                }),
          });
          continue;
        }
        hookKey = created.data.key === undefined ? undefined : String(created.data.key);
        status = statusOf(created.data.status);
        if (hookKey === undefined) {
          results.push({
            event_key: eventKey,
            status: 'failed',
            error: { message: 'Keap answered without a hook key', next_step: 'Check with list_hooks' },
          });
          continue;
        }
        await hooks.registry.setHookKey(sub.receiverId, hookKey);
      }
      if (status !== 'Verified') {
        // The in-band handshake was not enough (or the hook went Inactive): Keap re-sends the X-Hook-Secret.
        madeCall = true;
        const verified = innerOf(await runTool(specs.verify, { key: hookKey }, ctx, extra));
        if (verified.kind === 'ok') status = statusOf(verified.data.status) ?? status;
        else if (verified.kind === 'error') {
          results.push({
            event_key: eventKey,
            status: status ?? 'Unverified',
            hook_key: hookKey,
            error: verified.error,
          });
          continue;
        }
      }
      const now = await hooks.registry.get(sub.receiverId);
      results.push({
        event_key: eventKey,
        status: status ?? 'Unverified',
        hook_key: hookKey,
        receiver_verified: now?.verifiedAt !== undefined,
      });
    }
    if (!madeCall) audited(spec, args, started, extra);
    const ok = results.filter((r) => r.status === 'Verified').length;
    const unreached = results.some((r) => r.status === 'Verified' && r.receiver_verified === false);
    return okResult({
      subscriptions: results,
      hint:
        ok === results.length
          ? `Subscribed. Events arrive within about a minute of a change: read them with list_events (or subscribe to the keap://events resource)${unreached ? '. Keap verified a hook whose handshake did not reach this server: KEAP_HOOKS_PUBLIC_URL may point elsewhere' : ''}`
          : 'Some keys are not Verified: see each error; Keap delivers only to Verified hooks. Retry subscribe_events for them, or tell the user',
    });
  };

  // ---- unsubscribe_events ----------------------------------------------------------------------------------

  const unsubscribe = async (spec: AnyToolSpec, args: Readonly<Data>, extra: CallExtra) => {
    const started = Date.now();
    const eventKey = String(args.event_key ?? '');
    const subs = (await hooks.registry.list()).filter((s) => s.eventKey === eventKey);
    const sub = subs[0];
    if (sub === undefined) {
      return rejectInput(
        spec,
        args,
        inputError(
          `this server has no subscription to ${eventKey.slice(0, 100)}`,
          'Nothing was done. See list_hooks for the subscriptions (delete_hook removes one made elsewhere)',
        ),
        ctx,
        extra,
      );
    }
    if (sub.hookKey === undefined) {
      // Never created at Keap: only the receiver's entry goes.
      if (args.dry_run !== true) await hooks.registry.remove(sub.receiverId);
      audited(spec, args, started, extra);
      return okResult({ event_key: eventKey, unsubscribed: args.dry_run !== true, had_keap_hook: false });
    }
    const hookKey = sub.hookKey;
    const del = derived(spec, {
      method: 'DELETE',
      path: '/v1/hooks/{key}',
      input: catalog.find((t) => t.name === 'delete_hook')?.input ?? {},
      preview: () =>
        `Delete Keap hook subscription ${hookKey} (${eventKey}); this server stops receiving ${eventKey} events`,
    });
    const result = await runTool(del, { key: hookKey, ...machineOf(args, MACHINE_KEYS) }, ctx, extra);
    const inner = innerOf(result);
    if (inner.kind === 'stopped') return result;
    if (inner.kind === 'error') {
      if (inner.error.category !== 'not_found') return result;
      await hooks.registry.remove(sub.receiverId);
      return okResult({
        event_key: eventKey,
        unsubscribed: true,
        hook_key: hookKey,
        note: 'the hook was already gone at Keap',
      });
    }
    for (const s of subs) await hooks.registry.remove(s.receiverId);
    return okResult({ event_key: eventKey, unsubscribed: true, hook_key: hookKey });
  };

  // ---- list_events -----------------------------------------------------------------------------------------

  const listEvents = async (spec: AnyToolSpec, args: Readonly<Data>, extra: CallExtra) => {
    const started = Date.now();
    const reject = (message: string, nextStep: string) =>
      rejectInput(spec, args, inputError(message, nextStep), ctx, extra);
    const after = args.page_token === undefined ? undefined : parseToken(args.page_token);
    if (args.page_token !== undefined && after === undefined) {
      return reject(
        'page_token: not a token list_events returned',
        'Pass next_page_token from the previous list_events result exactly, or omit page_token',
      );
    }
    const since = args.since === undefined ? undefined : parseSince(args.since);
    if (args.since !== undefined && since === undefined) {
      return reject(
        `since: expected an ISO 8601 date-time with Z or an offset (e.g. 2026-01-31T09:00:00Z), got ${JSON.stringify(String(args.since).slice(0, 60))}`,
        'Nothing was read. Fix since and call again',
      );
    }
    const limit = typeof args.page_size === 'number' ? args.page_size : DEFAULT_EVENTS_PAGE;
    const expand = args.expand === true;
    if (expand && limit > MAX_EXPAND) {
      return reject(
        `expand: reads at most ${MAX_EXPAND} objects per page; page_size is ${limit}`,
        `Call again with page_size ≤ ${MAX_EXPAND}, or without expand`,
      );
    }
    const page = await hooks.inbox.list({
      after,
      limit,
      eventKey: typeof args.event_key === 'string' ? args.event_key : undefined,
      objectType: typeof args.object_type === 'string' ? args.object_type : undefined,
      since,
    });
    audited(spec, args, started, extra);
    const events: Data[] = [];
    const read = new Map<string, Data>();
    for (const e of page.events) {
      const out: Data = {
        event_key: e.eventKey,
        object_type: e.objectType,
        object_id: e.objectId,
        timestamp: e.timestamp,
        received_at: iso(e.receivedAt),
      };
      if (expand) Object.assign(out, await expanded(e, read, extra));
      events.push(out);
    }
    const data: Data = { events };
    if (page.next !== undefined) {
      data.next_page_token = pageToken(page.next);
      data.hint = `More events: call list_events again with the same arguments and page_token="${data.next_page_token}"`;
    } else if (events.length === 0) {
      const subs = await hooks.registry.list();
      data.hint =
        subs.length === 0
          ? 'No events: nothing is subscribed. Call subscribe_events first'
          : 'No events (yet): Keap delivers 30-60 s after a change (contactGroup events 5-10 min); check list_hooks if it stays empty';
    }
    return keapDataResult(data);
  };

  /** One event's object, read through the chokepoint with the agent's grants (each object read once a page). */
  const expanded = async (e: HookEvent, read: Map<string, Data>, extra: CallExtra): Promise<Data> => {
    const cacheKey = `${e.objectType}\u0000${e.objectId}`;
    const seen = read.get(cacheKey);
    if (seen) return seen;
    let out: Data;
    const reader = readerFor(e.objectType);
    if (reader === undefined) {
      out = { object_note: `not expanded: this server cannot read ${e.objectType} objects` };
    } else if (!policy.isAllowed(ctx.agent, reader.spec)) {
      out = {
        object_note: `not expanded: your grants do not include ${reader.spec.resource} read`,
      };
    } else if (e.eventKey.endsWith('.delete')) {
      out = { object_note: 'not expanded: the object was deleted' };
    } else {
      const inner = innerOf(await runTool(reader.spec, { [reader.idArg]: e.objectId }, ctx, extra));
      if (inner.kind === 'ok') out = { object: inner.data };
      else if (inner.kind === 'error') {
        out = {
          object_note: `not expanded: ${String(inner.error.category ?? 'error')}${inner.error.category === 'not_found' ? ' (it may have been deleted since)' : ''}`,
        };
      } else out = { object_note: 'not expanded' };
    }
    read.set(cacheKey, out);
    return out;
  };

  // ---- list_hooks: the receiver's health beside Keap's status ---------------------------------------------

  const health = async (spec: AnyToolSpec, args: Readonly<Data>, extra: CallExtra) => {
    const result = await runTool(spec, args, ctx, extra);
    const inner = innerOf(result);
    if (inner.kind !== 'ok' || !Array.isArray(inner.data.items)) return result;
    const subs = await hooks.registry.list();
    const byKey = new Map(subs.filter((s) => s.hookKey !== undefined).map((s) => [s.hookKey as string, s]));
    const seen = new Set<string>();
    const items = inner.data.items.map((h) => {
      if (!isPlain(h) || h.key === undefined) return h;
      const sub = byKey.get(String(h.key));
      if (sub === undefined) return h;
      seen.add(String(h.key));
      return {
        ...h,
        hookUrl: maskedUrl(h.hookUrl),
        receiver: {
          this_server: true,
          handshake_received_at: iso(sub.verifiedAt),
          last_delivery_at: iso(sub.lastDeliveryAt),
          events_stored: sub.eventsStored,
          subscribed_by: sub.agent,
        },
      };
    });
    const missing = [...byKey.values()]
      .filter((s) => !seen.has(s.hookKey as string))
      .map((s) => ({ event_key: s.eventKey, hook_key: s.hookKey }));
    const data: Data = { ...inner.data, items };
    if (missing.length > 0) data.missing_at_keap = missing;
    if (items.some((h) => isPlain(h) && h.status === 'Inactive' && isPlain(h.receiver))) {
      data.hint =
        'Inactive hooks get no events (Keap stopped after failed deliveries): verify_hook with the key reactivates one';
    }
    return keapDataResult(data);
  };

  return {
    async run(spec, args, extra) {
      // A tool the agent may not use: refused and audited by the chokepoint's policy stage.
      if (!policy.isAllowed(ctx.agent, spec)) return runTool(spec, args, ctx, extra);
      switch (spec.hooks) {
        case 'subscribe':
          return subscribe(spec, args, extra);
        case 'unsubscribe':
          return unsubscribe(spec, args, extra);
        case 'events':
          return listEvents(spec, args, extra);
        case 'health':
          return health(spec, args, extra);
        default:
          return runTool(spec, args, ctx, extra);
      }
    },
  };
}
