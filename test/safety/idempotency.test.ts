import { describe, expect, it } from 'vitest';
import { argsHash } from '../../src/safety/canonical.js';
import { IDEMPOTENCY_TTL_MS, Idempotency } from '../../src/safety/idempotency.js';
import { openStateDb } from '../../src/state/db.js';
import { tmpDir } from './helpers.js';

function setup(dir?: string) {
  let t = 1_000_000;
  const db = openStateDb(dir);
  return {
    i: new Idempotency({ db, now: () => t }),
    advance: (ms: number) => {
      t += ms;
    },
  };
}

const h1 = argsHash({ contact_id: 1, total: 10 });
const h2 = argsHash({ contact_id: 1, total: 11 });

describe('idempotency', () => {
  it('new → replay with the stored result; different args → conflict; per agent', async () => {
    const { i } = setup();
    expect(await i.begin('a', 'k1', 'create_order', h1)).toEqual({ state: 'new' });
    await i.complete('a', 'k1', { id: 42, items: [1] });
    expect(await i.begin('a', 'k1', 'create_order', h1)).toEqual({
      state: 'replay',
      result: { id: 42, items: [1] },
    });
    expect(await i.begin('a', 'k1', 'create_order', h2)).toEqual({ state: 'conflict' });
    expect(await i.begin('a', 'k1', 'create_contact', h1)).toEqual({ state: 'conflict' });
    expect(await i.begin('b', 'k1', 'create_order', h2)).toEqual({ state: 'new' });
  });

  it('pending (in flight or crashed) → unknown; markUnknown stays unknown; release forgets', async () => {
    const { i } = setup();
    expect((await i.begin('a', 'k', 't', h1)).state).toBe('new');
    expect(await i.begin('a', 'k', 't', h1)).toEqual({ state: 'unknown' });
    await i.markUnknown('a', 'k');
    expect(await i.begin('a', 'k', 't', h1)).toEqual({ state: 'unknown' });
    await i.release('a', 'k'); // only pending claims are released
    expect(await i.begin('a', 'k', 't', h1)).toEqual({ state: 'unknown' });
    expect((await i.begin('a', 'k2', 't', h1)).state).toBe('new');
    await i.release('a', 'k2');
    expect((await i.begin('a', 'k2', 't', h1)).state).toBe('new');
  });

  it('the claim is durable before the call: a crash leaves "unknown" after restart', async () => {
    const dir = tmpDir();
    const first = setup(dir);
    expect((await first.i.begin('a', 'k', 't', h1)).state).toBe('new');
    const second = setup(dir); // a new process
    expect(await second.i.begin('a', 'k', 't', h1)).toEqual({ state: 'unknown' });
  });

  it('records expire after 24 hours', async () => {
    const { i, advance } = setup();
    await i.begin('a', 'k', 't', h1);
    await i.complete('a', 'k', { id: 1 });
    advance(IDEMPOTENCY_TTL_MS - 1);
    expect((await i.begin('a', 'k', 't', h1)).state).toBe('replay');
    advance(2);
    expect((await i.begin('a', 'k', 't', h2)).state).toBe('new');
  });

  it('argsHash ignores key order and safety fields', async () => {
    expect(argsHash({ a: 1, b: 2 })).toBe(argsHash({ b: 2, a: 1, idempotency_key: 'x', dry_run: false }));
    expect(argsHash({ a: 1 })).not.toBe(argsHash({ a: 2 }));
  });
});
