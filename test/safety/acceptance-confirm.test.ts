/** Acceptance: confirmation (elicitation, two-step token, human secret), dry run and idempotency keys. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createKeapClient } from '../../src/keap/client.js';
import { silentLogger } from '../../src/logger.js';
import { openStateDb } from '../../src/state/db.js';
import { startRecordingProxy } from '../helpers/recording-proxy.js';
import {
  connect,
  counts,
  data,
  type Env,
  effective,
  resetCounts,
  startEnv,
  text,
  writes,
} from './harness.js';
import { sha } from './helpers.js';

let env: Env;
let contactIds: string[] = [];
let productId = '';
beforeAll(async () => {
  env = await startEnv();
  const c = await connect(env, { sandbox: false });
  const r = data(await c.call('list_contacts', { page_size: 10 }));
  contactIds = (r.contacts as { id: number | string }[]).map((x) => String(x.id));
  expect(contactIds.length).toBeGreaterThanOrEqual(10);
  const p = data(await c.call('list_products', { page_size: 1 }));
  productId = String((p.products as { id: number | string }[])[0]?.id);
  await c.close();
});
afterAll(async () => {
  await env.close();
});
beforeEach(async () => {
  await resetCounts(env.sb);
});

// Writes reaching Keap (the confirmation preview reads records first; those are GETs).
const total = async () => writes(await counts(env.sb));
const id = (i: number): string => contactIds[i] ?? 'missing';

describe('confirmation with an elicitation-capable client', () => {
  it('accept → exactly one Keap request; the form shows the preview and asks for an explicit yes', async () => {
    const conn = await connect(env, { elicit: { action: 'accept', content: { confirm: true } } });
    const r = await conn.call('delete_contact', { contact_id: id(0) });
    expect(r.isError, text(r)).toBeFalsy();
    expect(conn.elicitations).toHaveLength(1);
    expect(conn.elicitations[0]?.message).toContain(`Permanently delete contact ${id(0)}`);
    expect(conn.elicitations[0]?.schema).toMatchObject({
      properties: { confirm: { type: 'boolean' } },
      required: ['confirm'],
    });
    const c = await counts(env.sb);
    expect(writes(c)).toBe(1);
    expect(effective(c, /^DELETE \/v2\/contacts/)).toBe(1);
    await conn.close();
  });

  it('a client declaring the older `elicitation: {}` capability is asked through a form too', async () => {
    const conn = await connect(env, { elicit: { action: 'decline' }, elicitationCapability: {} });
    const r = await conn.call('delete_contact', { contact_id: id(1) });
    expect(conn.elicitations).toHaveLength(1);
    expect(data(r).declined).toBe(true);
    expect(await total()).toBe(0);
    await conn.close();
  });

  for (const answer of [
    { action: 'decline' as const },
    { action: 'cancel' as const },
    { action: 'accept' as const, content: { confirm: false } },
  ]) {
    it(`${answer.action}${answer.content ? ' without yes' : ''} → zero requests`, async () => {
      const conn = await connect(env, { elicit: answer });
      const r = await conn.call('delete_contact', { contact_id: id(1) });
      expect(text(r)).toMatch(/did not confirm|declined/i);
      expect(await total()).toBe(0);
      await conn.close();
    });
  }
});

describe('confirmation without elicitation: the two-step token', () => {
  const policy = {
    agents: { a: { grants: { '*': 'write' } }, b: { grants: { '*': 'write' } } },
  };

  it('no token → confirmation_required and zero requests; correct token → exactly one; replay → zero', async () => {
    const conn = await connect(env, { policy, agent: 'a' });
    const first = await conn.call('delete_contact', { contact_id: id(2) });
    const d = data(first);
    expect(d.confirmation_required).toBe(true);
    expect(d.preview).toContain(`delete contact ${id(2)}`);
    expect(d.instructions).toMatch(/Show the preview to the user/i);
    expect(typeof d.confirmation_token).toBe('string');
    expect(await total()).toBe(0);

    const ok = await conn.call('delete_contact', {
      contact_id: id(2),
      confirmation_token: d.confirmation_token,
    });
    expect(ok.isError, text(ok)).toBeFalsy();
    expect(await total()).toBe(1);

    await resetCounts(env.sb);
    const again = await conn.call('delete_contact', {
      contact_id: id(2),
      confirmation_token: d.confirmation_token,
    });
    expect(again.isError).toBe(true);
    expect(text(again)).toMatch(/already used/);
    expect(await total()).toBe(0);
    await conn.close();
  });

  it('tampered token, changed argument, other agent → zero requests and a clear error', async () => {
    const db = openStateDb(undefined);
    const a = await connect(env, { policy, agent: 'a', db });
    const b = await connect(env, { policy, agent: 'b', db });
    const token = data(await a.call('delete_contact', { contact_id: id(3) })).confirmation_token as string;
    const last = token.slice(-1) === 'A' ? 'B' : 'A';
    const cases: [string, Promise<unknown>, RegExp][] = [
      [
        'tampered',
        a.call('delete_contact', { contact_id: id(3), confirmation_token: token.slice(0, -1) + last }),
        /tampered/,
      ],
      [
        'changed argument',
        a.call('delete_contact', { contact_id: id(4), confirmation_token: token }),
        /arguments changed/,
      ],
      [
        'other agent',
        b.call('delete_contact', { contact_id: id(3), confirmation_token: token }),
        /another agent/,
      ],
      [
        'other tool',
        a.call('delete_opportunity', { opportunity_id: '1', confirmation_token: token }),
        /issued for delete_contact/,
      ],
    ];
    for (const [name, p, re] of cases) {
      const r = (await p) as Awaited<ReturnType<typeof a.call>>;
      expect(r.isError, name).toBe(true);
      expect(text(r), name).toMatch(re);
    }
    expect(await total()).toBe(0);
    // the genuine token still works afterwards, exactly once
    const ok = await a.call('delete_contact', { contact_id: id(3), confirmation_token: token });
    expect(ok.isError, text(ok)).toBeFalsy();
    expect(await total()).toBe(1);
    await a.close();
    await b.close();
  });

  it('expired token → zero requests', async () => {
    let now = Date.now();
    const conn = await connect(env, { policy, agent: 'a', now: () => now });
    const token = data(await conn.call('delete_contact', { contact_id: id(5) })).confirmation_token as string;
    now += 10 * 60_000 + 1;
    const r = await conn.call('delete_contact', { contact_id: id(5), confirmation_token: token });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/expired/);
    expect(await total()).toBe(0);
    await conn.close();
  });

  it('policy confirm_tools adds confirmation; no_confirm_tools waives it', async () => {
    const conn = await connect(env, {
      policy: {
        agents: {
          a: {
            grants: { '*': 'write' },
            confirm_tools: ['create_tag'],
            no_confirm_tools: ['delete_contact'],
          },
        },
      },
    });
    const r = data(await conn.call('create_tag', { name: 'VIP' }));
    expect(r.confirmation_required).toBe(true);
    expect(await total()).toBe(0);
    const del = await conn.call('delete_contact', { contact_id: id(6) });
    expect(del.isError, text(del)).toBeFalsy();
    expect(await total()).toBe(1);
    await conn.close();
  });
});

describe('human_secret', () => {
  const SECRET = 'correct horse battery staple';
  const policy = {
    human_secret_sha256: sha(SECRET),
    agents: {
      a: {
        grants: { '*': 'write' },
        human_secret_tools: ['create_order_payment', 'delete_contact'],
        no_confirm_tools: ['create_order'],
      },
    },
  };

  async function newOrder(conn: Awaited<ReturnType<typeof connect>>): Promise<string> {
    const r = await conn.call('create_order', {
      contact_id: id(7),
      order_title: 'Safety test',
      order_time: new Date().toISOString(),
      order_type: 'OFFLINE',
      order_items: [{ quantity: 1, price_per_unit: 20, product_id: productId }],
    });
    expect(r.isError, text(r)).toBeFalsy();
    return String(data(r).id);
  }

  it('wrong secret → zero requests; 5 wrong lock the tool; the right secret works otherwise', async () => {
    const conn = await connect(env, { policy });
    const order = await newOrder(conn);
    const args = {
      order_id: order,
      payment_amount: 5,
      apply_to_commissions: false,
      payment_method_type: 'Cash',
    };
    const first = data(await conn.call('create_order_payment', args));
    expect(first.confirmation_required).toBe(true);
    expect(first.instructions).toMatch(/secret/);
    await resetCounts(env.sb);
    for (let i = 1; i <= 5; i++) {
      const t = data(await conn.call('create_order_payment', args)).confirmation_token as string;
      const r = await conn.call('create_order_payment', {
        ...args,
        confirmation_token: t,
        human_secret: `guess ${i}`,
      });
      expect(r.isError).toBe(true);
      expect(text(r)).toMatch(i < 5 ? /Wrong confirmation secret/ : /locked/);
    }
    const locked = await conn.call('create_order_payment', args);
    expect(text(locked)).toMatch(/locked/);
    expect(await total()).toBe(0);
    // another human_secret tool is not locked: right secret → exactly one request
    const t = data(await conn.call('delete_contact', { contact_id: id(8) })).confirmation_token as string;
    const ok = await conn.call('delete_contact', {
      contact_id: id(8),
      confirmation_token: t,
      human_secret: SECRET,
    });
    expect(ok.isError, text(ok)).toBeFalsy();
    expect(await total()).toBe(1);
    await conn.close();
  });

  it('in an elicitation form: right secret → one request, wrong → zero', async () => {
    let secret = 'nope';
    const conn = await connect(env, {
      policy,
      elicit: () => ({ action: 'accept', content: { confirm: true, human_secret: secret } }),
    });
    const order = await newOrder(conn);
    await resetCounts(env.sb);
    const args = {
      order_id: order,
      payment_amount: 5,
      apply_to_commissions: false,
      payment_method_type: 'Cash',
    };
    const bad = await conn.call('create_order_payment', args);
    expect(bad.isError).toBe(true);
    expect(text(bad)).toMatch(/Wrong confirmation secret/);
    expect(await total()).toBe(0);
    expect(conn.elicitations[0]?.schema).toMatchObject({ required: ['confirm', 'human_secret'] });
    secret = SECRET;
    const ok = await conn.call('create_order_payment', args);
    expect(ok.isError, text(ok)).toBeFalsy();
    expect(effective(await counts(env.sb), /^POST \/v2\/orders\/.*payments/)).toBe(1);
    await conn.close();
  });
});

describe('dry run', () => {
  it('sends nothing and returns exactly the request the real call then sends', async () => {
    const proxy = await startRecordingProxy(env.sb.baseUrl);
    const keap = createKeapClient({
      baseUrl: proxy.baseUrl,
      credential: { kind: 'pat', apiKey: 'test-key' },
      logger: silentLogger,
    });
    const conn = await connect(
      { ...env, keap },
      { elicit: { action: 'accept', content: { confirm: true } } },
    );
    const calls: [string, Record<string, unknown>][] = [
      [
        'create_contact',
        {
          duplicate_option: 'Email',
          given_name: 'Dry',
          email_addresses: [{ email: 'dry.run@example.com', field: 'EMAIL1' }],
        },
      ],
      ['send_email', { contacts: [id(7)], subject: 'Hello', plain_content: 'Hi there', user_id: '1' }],
      ['delete_contact', { contact_id: id(9) }],
    ];
    for (const [tool, args] of calls) {
      proxy.clear();
      await resetCounts(env.sb);
      const asked = conn.elicitations.length;
      const dry = await conn.call(tool, { ...args, dry_run: true });
      expect(conn.elicitations.length, 'a dry run needs no confirmation').toBe(asked);
      expect(dry.isError, text(dry)).toBeFalsy();
      const d = data(dry);
      expect(d.dry_run).toBe(true);
      expect(typeof d.preview).toBe('string');
      expect(proxy.requests).toHaveLength(0);
      expect(await total()).toBe(0);

      const real = await conn.call(tool, args);
      // The confirmation preview reads records first (GETs); exactly one request writes.
      const written = proxy.requests.filter((r) => r.method !== 'GET' || r === proxy.requests.at(-1));
      expect(written, `${tool}: ${text(real)}`).toHaveLength(1);
      const sent = written[0]!;
      expect(sent.method, tool).toBe(d.request.method);
      expect(sent.path, tool).toBe(d.request.path);
      const query: Record<string, string> = {};
      for (const [k, v] of Object.entries((d.request.query ?? {}) as Record<string, unknown>)) {
        if (v !== undefined) query[k] = String(v);
      }
      expect(Object.fromEntries(sent.query.entries()), tool).toEqual(query);
      expect(sent.body, tool).toEqual(d.request.body);
    }
    await conn.close();
    await keap.close();
    await proxy.close();
  });
});

describe('idempotency keys', () => {
  it('the same create_order twice with one key → one order; a different amount → conflict', async () => {
    const conn = await connect(env, { elicit: { action: 'accept', content: { confirm: true } } });
    const args = {
      contact_id: id(1),
      order_title: 'Idempotent order',
      order_time: '2026-01-02T03:04:05Z',
      order_type: 'OFFLINE',
      order_items: [{ quantity: 2, price_per_unit: 12.5, product_id: productId }],
      idempotency_key: 'order-key-1',
    };
    const r1 = await conn.call('create_order', args);
    expect(r1.isError, text(r1)).toBeFalsy();
    const r2 = await conn.call('create_order', args);
    expect(r2.isError, text(r2)).toBeFalsy();
    expect(data(r2).id).toBe(data(r1).id);
    expect(data(r2).idempotent_replay).toBe(true);
    expect(effective(await counts(env.sb), /^POST \/v2\/orders$/)).toBe(1);

    await resetCounts(env.sb);
    const r3 = await conn.call('create_order', {
      ...args,
      order_items: [{ quantity: 2, price_per_unit: 99, product_id: productId }],
    });
    expect(r3.isError).toBe(true);
    expect(text(r3)).toMatch(/different arguments/);
    expect(await total()).toBe(0);
    await conn.close();
  });

  it('a claim left pending by a crash → outcome unknown, no second request', async () => {
    const db = openStateDb(undefined);
    const conn = await connect(env, { db, policy: { agents: { a: { grants: { '*': 'write' } } } } });
    const args = { given_name: 'Crash', email_addresses: [{ email: 'crash@example.com', field: 'EMAIL1' }] };
    const { argsHash } = await import('../../src/safety/canonical.js');
    // what a process that died mid-call leaves behind
    await conn.safety.idempotency.begin('a', 'crash-key', 'create_contact', argsHash(args));
    const r = await conn.call('create_contact', { ...args, idempotency_key: 'crash-key' });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/may or may not|unknown/i);
    expect(text(r)).toMatch(/get_contact/);
    expect(await total()).toBe(0);
    await conn.close();
  });
});
