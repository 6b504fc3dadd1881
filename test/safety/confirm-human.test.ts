/**
 * Acceptance (real MCP clients against the sandbox): the human channel can be required (`confirm_via: "human"`,
 * `human_confirm_tools`), and a human's "no" in one session holds in every session of the same agent.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/safety/policy.js';
import { openStateDb } from '../../src/state/db.js';
import { ALL_TOOLS } from '../../tools/index.js';
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

let env: Env;
let contactIds: string[] = [];
beforeAll(async () => {
  env = await startEnv();
  const c = await connect(env, { sandbox: false });
  const r = data(await c.call('list_contacts', { page_size: 10 }));
  contactIds = (r.contacts as { id: number | string }[]).map((x) => String(x.id));
  expect(contactIds.length).toBeGreaterThanOrEqual(6);
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
const everything = (r: unknown) => JSON.stringify(r);

const humanAgent = { agents: { a: { grants: { '*': 'write' }, confirm_via: 'human' } } };

describe('confirm_via: "human"', () => {
  it('a client without elicitation is refused with a clear error and never gets a token', async () => {
    const conn = await connect(env, { policy: humanAgent, agent: 'a' });
    const r = await conn.call('delete_contact', { contact_id: id(0) });
    expect(r.isError).toBe(true);
    expect(data(r).error.category).toBe('confirmation');
    expect(text(r)).toContain("needs a human to confirm in the client's form");
    expect(text(r)).toContain('does not support elicitation');
    expect(everything(r)).not.toMatch(/confirmation_token"\s*:\s*"/);
    expect(data(r).confirmation_required).toBeUndefined();
    // a made-up token does not help either
    const forged = await conn.call('delete_contact', { contact_id: id(0), confirmation_token: 'x.y' });
    expect(forged.isError).toBe(true);
    expect(text(forged)).toContain('does not support elicitation');
    expect(await total()).toBe(0);
    await conn.close();
  });

  it('with elicitation: accept → exactly one write at the sandbox', async () => {
    const conn = await connect(env, {
      policy: humanAgent,
      agent: 'a',
      elicit: { action: 'accept', content: { confirm: true } },
    });
    const r = await conn.call('delete_contact', { contact_id: id(1) });
    expect(r.isError, text(r)).toBeFalsy();
    expect(conn.elicitations).toHaveLength(1);
    const c = await counts(env.sb);
    expect(writes(c)).toBe(1);
    expect(effective(c, /^DELETE \/v2\/contacts/)).toBe(1);
    await conn.close();
  });

  it('human_confirm_tools requires the form for the listed tools only', async () => {
    const policy = {
      agents: { a: { grants: { '*': 'write' }, human_confirm_tools: ['delete_contact', 'update_contact'] } },
    };
    const conn = await connect(env, { policy, agent: 'a' });
    const del = await conn.call('delete_contact', { contact_id: id(2) });
    expect(del.isError).toBe(true);
    expect(text(del)).toContain('does not support elicitation');
    // a tool that normally needs no confirmation now needs the form
    const upd = await conn.call('update_contact', { contact_id: id(2), given_name: 'Zed' });
    expect(upd.isError).toBe(true);
    expect(text(upd)).toContain('does not support elicitation');
    // other ✋ tools keep the token fallback
    const opp = data(await conn.call('delete_opportunity', { opportunity_id: '1' }));
    expect(opp.confirmation_required).toBe(true);
    expect(typeof opp.confirmation_token).toBe('string');
    expect(await total()).toBe(0);
    await conn.close();
  });
});

describe("a human's decline holds across sessions of the agent", () => {
  const policy = { agents: { a: { grants: { '*': 'write' } }, b: { grants: { '*': 'write' } } } };

  it('session A declines → session B (no elicitation, same agent) is refused; no token, no write', async () => {
    const db = openStateDb(undefined);
    const withoutForm = await connect(env, { policy, agent: 'a', db });
    // a token fetched before the decline …
    const early = data(await withoutForm.call('delete_contact', { contact_id: id(3) }));
    expect(typeof early.confirmation_token).toBe('string');

    const withForm = await connect(env, { policy, agent: 'a', db, elicit: { action: 'decline' } });
    const declined = await withForm.call('delete_contact', { contact_id: id(3) });
    expect(data(declined).declined).toBe(true);

    // … cannot be used after it
    const late = await withoutForm.call('delete_contact', {
      contact_id: id(3),
      confirmation_token: early.confirmation_token,
    });
    expect(late.isError).toBe(true);
    expect(text(late)).toContain('declined exactly this action');

    // a new session without elicitation gets no token for the same arguments
    const other = await connect(env, { policy, agent: 'a', db });
    const again = await other.call('delete_contact', { contact_id: id(3) });
    expect(again.isError).toBe(true);
    expect(text(again)).toContain('declined exactly this action');
    expect(everything(again)).not.toMatch(/confirmation_token"\s*:\s*"/);
    expect(await total()).toBe(0);

    // the block is per (agent, tool, arguments): other arguments and other agents are unaffected
    expect(data(await other.call('delete_contact', { contact_id: id(4) })).confirmation_required).toBe(true);
    const b = await connect(env, { policy, agent: 'b', db });
    expect(data(await b.call('delete_contact', { contact_id: id(3) })).confirmation_required).toBe(true);
    expect(await total()).toBe(0);

    // the human changing their mind in the form clears it
    const yes = await connect(env, {
      policy,
      agent: 'a',
      db,
      elicit: { action: 'accept', content: { confirm: true } },
    });
    const done = await yes.call('delete_contact', { contact_id: id(3) });
    expect(done.isError, text(done)).toBeFalsy();
    expect(await total()).toBe(1);
    for (const c of [withoutForm, withForm, other, b, yes]) await c.close();
  });

  it('an unticked "yes" counts as a decline; a cancel (form dismissed) does not block', async () => {
    const db = openStateDb(undefined);
    const unticked = await connect(env, {
      policy,
      agent: 'a',
      db,
      elicit: { action: 'accept', content: { confirm: false } },
    });
    await unticked.call('delete_contact', { contact_id: id(5) });
    const cancel = await connect(env, { policy, agent: 'b', db, elicit: { action: 'cancel' } });
    await cancel.call('delete_contact', { contact_id: id(5) });
    const a = await connect(env, { policy, agent: 'a', db });
    const b = await connect(env, { policy, agent: 'b', db });
    expect(text(await a.call('delete_contact', { contact_id: id(5) }))).toContain(
      'declined exactly this action',
    );
    expect(data(await b.call('delete_contact', { contact_id: id(5) })).confirmation_required).toBe(true);
    expect(await total()).toBe(0);
    for (const c of [unticked, cancel, a, b]) await c.close();
  });
});

describe('policy file', () => {
  const known = ALL_TOOLS.map((t) => t.name);
  it('accepts confirm_via and human_confirm_tools; rejects bad values, unknown tools and conflicts', () => {
    const p = parsePolicy(
      JSON.stringify({ agents: { a: { confirm_via: 'human', human_confirm_tools: ['delete_contact'] } } }),
      'policy',
      known,
    );
    expect(p.agents.a?.confirm_via).toBe('human');
    expect(() => parsePolicy(JSON.stringify({ agents: { a: { confirm_via: 'model' } } }))).toThrow(
      /\$\.agents\.a\.confirm_via/,
    );
    expect(() =>
      parsePolicy(JSON.stringify({ agents: { a: { human_confirm_tools: ['nope_tool'] } } }), 'policy', known),
    ).toThrow(/\$\.agents\.a\.human_confirm_tools\[0\]: unknown tool "nope_tool"/);
    expect(() =>
      parsePolicy(
        JSON.stringify({
          agents: { a: { human_confirm_tools: ['delete_contact'], no_confirm_tools: ['delete_contact'] } },
        }),
      ),
    ).toThrow(/human_confirm_tools\[0\].*also in no_confirm_tools/);
  });
});
