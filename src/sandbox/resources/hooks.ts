/**
 * v1 REST Hooks: `GET/POST /v1/hooks`, `GET/PUT/DELETE /v1/hooks/{key}`, `POST /v1/hooks/{key}/verify`,
 * `POST /v1/hooks/{key}/delayedVerify`, `GET /v1/hooks/event_keys`. Delivery is done by src/sandbox/hooks/delivery.ts,
 * subscribed to the sandbox's events in start(). Table 'hooks'.
 */
import { z } from 'zod';
import { badRequest, notFound } from '../core/errors.js';
import type { SandboxApi, SbModule, SbRequest, SbResponse, SbRoute } from '../core/types.js';
import { iso } from '../core/util.js';
import { parseBody, pathId } from '../core/validate.js';
import { HookEngine, type HookRow } from '../hooks/delivery.js';

/** Event keys the sandbox offers (Keap publishes no static list; these are the ones integrators see). */
export const EVENT_KEYS: readonly string[] = [
  'appointment.add',
  'appointment.delete',
  'appointment.edit',
  'company.add',
  'company.delete',
  'company.edit',
  'contact.add',
  'contact.delete',
  'contact.edit',
  'contact.redact',
  'contactGroup.add',
  'contactGroup.applied',
  'contactGroup.delete',
  'contactGroup.edit',
  'contactGroup.removed',
  'invoice.add',
  'invoice.delete',
  'invoice.edit',
  'invoice.payment.add',
  'invoice.payment.delete',
  'invoice.payment.edit',
  'leadsource.add',
  'leadsource.delete',
  'leadsource.edit',
  'note.add',
  'note.delete',
  'note.edit',
  'opportunity.add',
  'opportunity.delete',
  'opportunity.edit',
  'opportunity.stage_move',
  'order.add',
  'order.delete',
  'order.edit',
  'product.add',
  'product.delete',
  'product.edit',
  'subscription.add',
  'subscription.delete',
  'subscription.edit',
  'task.add',
  'task.complete',
  'task.delete',
  'task.edit',
  'task.incomplete',
  'user.activate',
  'user.add',
  'user.edit',
];

const hooks = (sb: SandboxApi) => sb.table<HookRow>('hooks');

const engines = new WeakMap<SandboxApi, HookEngine>();

/** The delivery engine of this sandbox (created on first use). */
export function hookEngine(sb: SandboxApi): HookEngine {
  let e = engines.get(sb);
  if (!e) {
    e = new HookEngine(sb, () => hooks(sb));
    engines.set(sb, e);
  }
  return e;
}

function render(h: HookRow): { key: string; eventKey: string; hookUrl: string; status: string } {
  return { key: String(h.id), eventKey: h.eventKey, hookUrl: h.hookUrl, status: h.status };
}

const zEventKey = z.string().refine((k) => EVENT_KEYS.includes(k), { message: 'unknown event key' });
const zHookUrl = z.string().refine(
  (u) => {
    try {
      const p = new URL(u);
      return p.protocol === 'http:' || p.protocol === 'https:';
    } catch {
      return false;
    }
  },
  { message: 'must be an http(s) URL' },
);

const CreateBody = z.object({ eventKey: zEventKey, hookUrl: zHookUrl }).strict();
const UpdateBody = z.object({ eventKey: zEventKey.optional(), hookUrl: zHookUrl.optional() }).strict();

function getHook(sb: SandboxApi, req: SbRequest): HookRow {
  const id = pathId(req, 'key');
  const h = hooks(sb).get(id);
  if (!h) throw notFound('Hook', id);
  return h;
}

/** Run the handshake; Verified on success, else Unverified (an Inactive hook stays Inactive). */
async function verify(sb: SandboxApi, h: HookRow): Promise<HookRow> {
  const engine = hookEngine(sb);
  const secret = engine.newSecret();
  const token = engine.newToken();
  engine.drop(h.token);
  hooks(sb).update(h.id, { secret, token });
  const ok = await engine.handshake(h.hookUrl, secret);
  const cur = hooks(sb).get(h.id);
  if (!cur || cur.token !== token) return cur ?? h; // deleted or changed meanwhile
  const status = ok ? 'Verified' : cur.status === 'Inactive' ? 'Inactive' : 'Unverified';
  return hooks(sb).update(h.id, { status }) ?? cur;
}

async function createHook(req: SbRequest, sb: SandboxApi): Promise<SbResponse> {
  const body = parseBody(CreateBody, req.body);
  const engine = hookEngine(sb);
  const t = hooks(sb);
  const row = t.insert({
    id: t.nextId(),
    eventKey: body.eventKey,
    hookUrl: body.hookUrl,
    status: 'Unverified',
    secret: engine.newSecret(),
    token: engine.newToken(),
    createdAt: iso(sb.now()),
  });
  return { status: 200, body: render(await verify(sb, row)) };
}

async function updateHook(req: SbRequest, sb: SandboxApi): Promise<SbResponse> {
  const h = getHook(sb, req);
  const body = parseBody(UpdateBody, req.body);
  const patch: Partial<HookRow> = {};
  if (body.eventKey !== undefined && body.eventKey !== h.eventKey) {
    patch.eventKey = body.eventKey;
    patch.token = hookEngine(sb).newToken();
    hookEngine(sb).drop(h.token);
  }
  const urlChanged = body.hookUrl !== undefined && body.hookUrl !== h.hookUrl;
  if (urlChanged && body.hookUrl !== undefined) {
    patch.hookUrl = body.hookUrl;
    patch.status = 'Unverified';
  }
  const row = hooks(sb).update(h.id, patch) ?? h;
  return { status: 200, body: render(urlChanged ? await verify(sb, row) : row) };
}

function header(req: SbRequest, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

const routes: SbRoute[] = [
  { method: 'GET', path: '/v1/hooks/event_keys', handler: () => ({ status: 200, body: [...EVENT_KEYS] }) },
  {
    method: 'GET',
    path: '/v1/hooks',
    handler: (_req, sb) => ({ status: 200, body: hooks(sb).all().map(render) }),
  },
  { method: 'POST', path: '/v1/hooks', handler: createHook },
  {
    method: 'GET',
    path: '/v1/hooks/{key}',
    handler: (req, sb) => ({ status: 200, body: render(getHook(sb, req)) }),
  },
  { method: 'PUT', path: '/v1/hooks/{key}', handler: updateHook },
  {
    method: 'DELETE',
    path: '/v1/hooks/{key}',
    handler: (req, sb) => {
      const h = getHook(sb, req);
      hookEngine(sb).drop(h.token);
      hooks(sb).delete(h.id);
      return { status: 204 };
    },
  },
  {
    method: 'POST',
    path: '/v1/hooks/{key}/verify',
    handler: async (req, sb) => ({ status: 200, body: render(await verify(sb, getHook(sb, req))) }),
  },
  {
    method: 'POST',
    path: '/v1/hooks/{key}/delayedVerify',
    handler: (req, sb) => {
      const h = getHook(sb, req);
      const secret = header(req, 'X-Hook-Secret');
      if (secret === undefined || secret === '') {
        throw badRequest('X-Hook-Secret', "The 'X-Hook-Secret' header is required");
      }
      if (secret !== h.secret)
        throw badRequest('X-Hook-Secret', "'X-Hook-Secret' does not match this hook's secret");
      const row = hooks(sb).update(h.id, { status: 'Verified' }) ?? h;
      return { status: 200, body: render(row) };
    },
  },
];

export const hooksModule: SbModule = {
  name: 'hooks',
  routes,
  // Runs on start and on every reset: a reset must stop pending deliveries of the wiped hooks.
  seed: (sb) => {
    engines.get(sb)?.clear();
  },
  start: (sb) => {
    const engine = hookEngine(sb);
    const unsubscribe = sb.onEvent((ev) => engine.onEvent(ev));
    return () => {
      unsubscribe();
      engine.close();
      engines.delete(sb);
    };
  },
};
