import { describe, expect, it } from 'vitest';
import { Confirmer, LOCKOUT_MS, TOKEN_TTL_MS } from '../../src/safety/confirm.js';
import type { ConfirmCall, ConfirmOutcome, Elicit } from '../../src/safety/types.js';
import { openStateDb } from '../../src/state/db.js';
import { sha, spec, tmpDir } from './helpers.js';

const charge = spec('create_order_payment', 'payments', 'write', { confirm: true });
const del = spec('delete_contact', 'contacts', 'write', { confirm: true });

function setup(secret?: string) {
  let t = Date.parse('2026-01-01T00:00:00Z');
  const db = openStateDb(undefined);
  const c = new Confirmer({ db, humanSecretSha256: secret ? sha(secret) : undefined, now: () => t });
  return {
    c,
    db,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

function call(over: Partial<ConfirmCall> = {}): ConfirmCall {
  return {
    agent: 'alice',
    spec: del,
    args: { contact_id: '7' },
    preview: 'Delete contact 7 (Ann Lee)',
    mode: 'confirm',
    ...over,
  };
}

async function token(c: Confirmer, over: Partial<ConfirmCall> = {}): Promise<string> {
  const r = await c.confirm(call(over));
  if (r.kind !== 'required') throw new Error(`expected required, got ${r.kind}`);
  return r.token;
}

const reason = (r: ConfirmOutcome): string => (r.kind === 'rejected' ? r.reason : `not rejected: ${r.kind}`);

describe('two-step confirmation token', () => {
  it('first call → required with a 10-minute token; the same call with it → proceed once', async () => {
    const { c } = setup();
    const r = await c.confirm(call());
    expect(r.kind).toBe('required');
    if (r.kind !== 'required') return;
    expect(r.needsHumanSecret).toBe(false);
    expect(Date.parse(r.expiresAt)).toBe(Date.parse('2026-01-01T00:00:00Z') + TOKEN_TTL_MS);
    expect(r.token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(await c.confirm(call({ token: r.token }))).toEqual({ kind: 'proceed', via: 'token' });
    expect(reason(await c.confirm(call({ token: r.token })))).toMatch(/already used/);
  });

  it('argument order does not matter (canonical JSON)', async () => {
    const { c } = setup();
    const t = await token(c, { args: { a: 1, b: { y: 2, x: 1 } } });
    expect((await c.confirm(call({ args: { b: { x: 1, y: 2 }, a: 1 }, token: t }))).kind).toBe('proceed');
  });

  it('rejects a tampered token (payload or signature)', async () => {
    const { c } = setup();
    const t = await token(c);
    const [p, mac] = t.split('.') as [string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    payload.h = sha(JSON.stringify({ contact_id: '8' }));
    const forged = `${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${mac}`;
    expect(reason(await c.confirm(call({ token: forged })))).toMatch(/tampered/);
    const flipped = `${p}.${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`;
    expect(reason(await c.confirm(call({ token: flipped })))).toMatch(/tampered/);
    expect(reason(await c.confirm(call({ token: 'garbage' })))).toMatch(/malformed/);
    // A token signed by another server's key is not accepted either.
    const other = setup().c;
    expect(reason(await c.confirm(call({ token: await token(other) })))).toMatch(/tampered/);
    // the genuine token still works afterwards
    expect((await c.confirm(call({ token: t }))).kind).toBe('proceed');
  });

  it('rejects changed arguments, another tool, another agent', async () => {
    const { c } = setup();
    const t = await token(c);
    expect(reason(await c.confirm(call({ token: t, args: { contact_id: '8' } })))).toMatch(
      /arguments changed/,
    );
    expect(reason(await c.confirm(call({ token: t, spec: spec('delete_x', 'contacts', 'write') })))).toMatch(
      /issued for delete_contact/,
    );
    expect(reason(await c.confirm(call({ token: t, agent: 'bob' })))).toMatch(/another agent/);
    expect((await c.confirm(call({ token: t }))).kind).toBe('proceed');
  });

  it('rejects an expired token', async () => {
    const { c, advance } = setup();
    const t = await token(c);
    advance(TOKEN_TTL_MS + 1);
    expect(reason(await c.confirm(call({ token: t })))).toMatch(/expired/);
  });

  it('the signing key persists in the state DB across restarts; used tokens stay used', async () => {
    const dir = tmpDir();
    const c1 = new Confirmer({ db: openStateDb(dir) });
    const t = await token(c1);
    const t2 = await token(c1);
    expect((await c1.confirm(call({ token: t2 }))).kind).toBe('proceed');
    const c2 = new Confirmer({ db: openStateDb(dir) });
    expect((await c2.confirm(call({ token: t }))).kind).toBe('proceed');
    expect(reason(await c2.confirm(call({ token: t2 })))).toMatch(/already used/);
  });
});

describe('human secret', () => {
  const hs = (over: Partial<ConfirmCall> = {}) =>
    call({ spec: charge, args: { order_id: '9' }, mode: 'human_secret', ...over });

  it('needs the secret with the token; right secret → proceed', async () => {
    const { c } = setup('open sesame');
    const r = await c.confirm(hs());
    expect(r.kind === 'required' && r.needsHumanSecret).toBe(true);
    const t = r.kind === 'required' ? r.token : '';
    expect(reason(await c.confirm(hs({ token: t })))).toMatch(/confirmation secret/);
    expect(reason(await c.confirm(hs({ token: t, humanSecret: 'guess' })))).toMatch(
      /Wrong confirmation secret \(1 of 5/,
    );
    expect(await c.confirm(hs({ token: t, humanSecret: 'open sesame' }))).toEqual({
      kind: 'proceed',
      via: 'token',
    });
  });

  it('5 wrong secrets in 15 minutes lock the tool for that agent for 15 minutes', async () => {
    const { c, advance } = setup('open sesame');
    for (let i = 1; i <= 4; i++) {
      const t = await token(c, hs());
      expect(reason(await c.confirm(hs({ token: t, humanSecret: `wrong${i}` })))).toMatch(`(${i} of 5`);
      advance(60_000);
    }
    const t = await token(c, hs());
    expect(reason(await c.confirm(hs({ token: t, humanSecret: 'wrong5' })))).toMatch(/now locked/);
    // locked even with the right secret, and no new token is issued
    expect(reason(await c.confirm(hs({ token: t, humanSecret: 'open sesame' })))).toMatch(/locked/);
    expect(reason(await c.confirm(hs()))).toMatch(/locked/);
    // another agent and another tool are not locked
    expect((await c.confirm(hs({ agent: 'bob' }))).kind).toBe('required');
    expect((await c.confirm(hs({ spec: spec('create_subscription', 'subscriptions', 'write') }))).kind).toBe(
      'required',
    );
    advance(LOCKOUT_MS + 1);
    const t2 = await token(c, hs());
    expect((await c.confirm(hs({ token: t2, humanSecret: 'open sesame' }))).kind).toBe('proceed');
  });

  it('failures older than 15 minutes do not count', async () => {
    const { c, advance } = setup('pw');
    const t = await token(c, hs());
    for (let i = 0; i < 4; i++) await c.confirm(hs({ token: t, humanSecret: 'x' }));
    advance(16 * 60_000);
    const t2 = await token(c, hs());
    expect(reason(await c.confirm(hs({ token: t2, humanSecret: 'x' })))).toMatch(/\(1 of 5/);
  });

  it('without a configured secret the mode refuses', async () => {
    const { c } = setup();
    expect(reason(await c.confirm(hs()))).toMatch(/human_secret_sha256/);
  });
});

describe('elicitation', () => {
  function elicitor(answer: Awaited<ReturnType<Elicit>>) {
    const seen: { message: string; schema: Record<string, unknown> }[] = [];
    const elicit: Elicit = async (message, schema) => {
      seen.push({ message, schema });
      return answer;
    };
    return { elicit, seen };
  }

  it('accept with an explicit yes → proceed; the form states the preview', async () => {
    const { c } = setup();
    const e = elicitor({ action: 'accept', content: { confirm: true } });
    expect(await c.confirm(call({ elicit: e.elicit }))).toEqual({ kind: 'proceed', via: 'elicitation' });
    expect(e.seen[0]?.message).toContain('Delete contact 7 (Ann Lee)');
    expect(e.seen[0]?.schema).toMatchObject({
      required: ['confirm'],
      properties: { confirm: { type: 'boolean' } },
    });
  });

  it('accept without yes, decline, cancel → declined', async () => {
    const { c } = setup();
    expect(
      await c.confirm(call({ elicit: elicitor({ action: 'accept', content: { confirm: false } }).elicit })),
    ).toEqual({
      kind: 'declined',
      action: 'decline',
    });
    expect(await c.confirm(call({ elicit: elicitor({ action: 'accept' }).elicit }))).toMatchObject({
      kind: 'declined',
    });
    expect(await c.confirm(call({ elicit: elicitor({ action: 'decline' }).elicit }))).toEqual({
      kind: 'declined',
      action: 'decline',
    });
    expect(await c.confirm(call({ elicit: elicitor({ action: 'cancel' }).elicit }))).toEqual({
      kind: 'declined',
      action: 'cancel',
    });
  });

  it('a failing elicitation is a rejection, never a proceed', async () => {
    const { c } = setup();
    const elicit: Elicit = async () => {
      throw new Error('client went away');
    };
    expect(reason(await c.confirm(call({ elicit })))).toMatch(/client went away/);
  });

  it('human_secret mode asks for the secret in the form and counts wrong ones', async () => {
    const { c } = setup('pw');
    const base = { spec: charge, mode: 'human_secret' as const };
    const e = elicitor({ action: 'accept', content: { confirm: true, human_secret: 'nope' } });
    expect(reason(await c.confirm(call({ ...base, elicit: e.elicit })))).toMatch(/Wrong confirmation secret/);
    expect(e.seen[0]?.schema).toMatchObject({ required: ['confirm', 'human_secret'] });
    // the model-supplied humanSecret is ignored when a form is used
    const ok = elicitor({ action: 'accept', content: { confirm: true, human_secret: 'pw' } });
    expect((await c.confirm(call({ ...base, elicit: ok.elicit, humanSecret: 'nope' }))).kind).toBe('proceed');
    const modelOnly = elicitor({ action: 'accept', content: { confirm: true } });
    expect((await c.confirm(call({ ...base, elicit: modelOnly.elicit, humanSecret: 'pw' }))).kind).toBe(
      'rejected',
    );
  });
});
