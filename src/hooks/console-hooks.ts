/**
 * What the operator console's Hooks page needs: this server's subscriptions with Keap's status beside the
 * receiver's (last delivery, events stored), and a re-verify (POST /v1/hooks/{key}/verify through the Keap
 * client) for one of them. The re-verify is the operator's call: its intent is audited before it leaves, its
 * outcome after (agent `operator:<ref>`, tool verify_hook). Only hooks this server made can be re-verified here.
 */
import type { KeapClientApi } from '../keap/types.js';
import { KeapError } from '../keap/types.js';
import type { Logger } from '../logger.js';
import type { AuditApi } from '../safety/types.js';
import type { HookRegistryApi } from './types.js';

export interface ConsoleHookRow {
  readonly eventKey: string;
  readonly hookKey: string | undefined;
  /** Keap's status (Verified / Unverified / Inactive), 'missing' when Keap has no such hook, undefined unread. */
  readonly status: string | undefined;
  readonly verifiedAt: number | undefined;
  readonly lastDeliveryAt: number | undefined;
  readonly eventsStored: number;
  readonly agent: string;
  readonly createdAt: number;
}

export interface ConsoleHooks {
  list(): Promise<{ readonly rows: readonly ConsoleHookRow[]; readonly error?: string | undefined }>;
  verify(
    hookKey: string,
    operator: string,
  ): Promise<{ readonly ok: boolean; readonly status?: string; readonly error?: string }>;
}

export interface ConsoleHooksOptions {
  readonly client: KeapClientApi;
  readonly registry: HookRegistryApi;
  readonly audit: Pick<AuditApi, 'intent' | 'outcome'>;
  readonly logger?: Logger | undefined;
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function failure(err: unknown): string {
  if (err instanceof KeapError)
    return `${err.category}${err.status !== undefined ? ` (HTTP ${err.status})` : ''}`;
  return 'the request failed';
}

export function createConsoleHooks(opts: ConsoleHooksOptions): ConsoleHooks {
  const { client, registry, audit } = opts;
  return {
    async list() {
      const subs = await registry.list();
      let statuses: Map<string, string> | undefined;
      let error: string | undefined;
      if (subs.some((s) => s.hookKey !== undefined)) {
        try {
          const res = await client.request({
            method: 'GET',
            path: '/v1/hooks',
            idempotent: true,
            priority: 'read',
          });
          statuses = new Map();
          for (const h of Array.isArray(res.body) ? res.body : []) {
            if (isPlain(h) && h.key !== undefined) statuses.set(String(h.key), String(h.status ?? ''));
          }
        } catch (err) {
          error = `Keap's hook list could not be read: ${failure(err)}`;
        }
      }
      const rows = subs.map((s) => ({
        eventKey: s.eventKey,
        hookKey: s.hookKey,
        status:
          s.hookKey === undefined || statuses === undefined
            ? undefined
            : (statuses.get(s.hookKey) ?? 'missing'),
        verifiedAt: s.verifiedAt,
        lastDeliveryAt: s.lastDeliveryAt,
        eventsStored: s.eventsStored,
        agent: s.agent,
        createdAt: s.createdAt,
      }));
      return error !== undefined ? { rows, error } : { rows };
    },

    async verify(hookKey, operator) {
      const sub = await registry.byHookKey(hookKey);
      if (sub === undefined) return { ok: false, error: 'not a hook this server subscribed' };
      const started = Date.now();
      const base = {
        agent: operator,
        session: undefined,
        tool: 'verify_hook',
        resource: 'hooks',
        access: 'write',
        method: 'POST',
        path: '/v1/hooks/{key}/verify',
        args: { key: hookKey },
      } as const;
      const callId = await audit.intent({ ...base, decision: 'confirmed' });
      try {
        const res = await client.request({
          method: 'POST',
          path: `/v1/hooks/${encodeURIComponent(hookKey)}/verify`,
          idempotent: true,
          priority: 'write',
        });
        audit.outcome(callId, {
          duration_ms: Date.now() - started,
          status: res.status,
          attempts: res.attempts,
        });
        const status = isPlain(res.body) && typeof res.body.status === 'string' ? res.body.status : undefined;
        opts.logger?.info({ operator, hook: hookKey, status }, 'console re-verified a hook');
        return status !== undefined ? { ok: true, status } : { ok: true };
      } catch (err) {
        audit.outcome(callId, {
          duration_ms: Date.now() - started,
          ...(err instanceof KeapError
            ? {
                ...(err.status !== undefined ? { status: err.status } : {}),
                attempts: err.attempts,
                error_category: err.category,
              }
            : { error_category: 'unavailable' as const }),
        });
        return { ok: false, error: failure(err) };
      }
    },
  };
}
