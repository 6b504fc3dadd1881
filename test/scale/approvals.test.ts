/**
 * Pending approvals across replicas (issue 15), end to end: three real server processes on one Redis, the
 * operator token set, MCP clients without elicitation (so a confirmation becomes a console approval).
 * - delete_contact on replica 0 → approval_pending, nothing written;
 * - the operator approves it in replica 1's console (login, CSRF token, same-origin POST);
 * - the model's repeat with the approval_id, sent to replicas 1 and 2 at once → exactly one runs the stored
 *   request (one Keap write); a later repeat on replica 0 is refused and writes nothing.
 * - an approval denied on one replica cannot be used on another.
 * Skipped with a printed reason when redis-server is missing, unless KEAP_MCP_REQUIRE_REDIS=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_LIMITS } from '../../src/sandbox/server.js';
import { control } from '../client/helpers.js';
import { login } from '../console/helpers.js';
import { redisSkipReason } from '../helpers/redis-server.js';
import { type Cluster, startCluster } from '../helpers/replica-cluster.js';
import { type Counts, data, text, writes } from '../safety/harness.js';

const skip = redisSkipReason();
const OPERATOR = 'replica-operator-token-91c4';
const counts = async (cl: Cluster) => (await control(cl.sb.baseUrl, 'GET', '/__sandbox/requests')) as Counts;
const resetCounts = (cl: Cluster) => control(cl.sb.baseUrl, 'DELETE', '/__sandbox/requests');

/** Decides approval `id` in replica `i`'s console as the operator. */
async function decide(cl: Cluster, i: number, id: string, decision: 'approve' | 'deny'): Promise<string> {
  const base = cl.replicas[i]?.origin as string;
  const { cookie, csrf } = await login(base, OPERATOR);
  const r = await fetch(`${base}/console/approvals/${id}/${decision}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, origin: base },
    body: new URLSearchParams({ csrf }).toString(),
  });
  expect(r.status).toBe(303);
  return r.headers.get('location') ?? '';
}

describe.skipIf(skip !== undefined)('approvals across three replicas', () => {
  let cl: Cluster;

  beforeAll(async () => {
    cl = await startCluster({ replicas: 3, limits: NO_LIMITS, operatorToken: OPERATOR });
  }, 120_000);

  afterAll(async () => {
    await cl?.close();
  });

  async function newContact(tag: string): Promise<string> {
    const created = await cl.call(0, 'create_contact', {
      given_name: 'Appr',
      family_name: tag,
      email_addresses: [{ email: `appr.${tag.toLowerCase()}@example.com`, field: 'EMAIL1' }],
    });
    expect(created.isError, text(created)).toBeFalsy();
    return String(data(created).id);
  }

  it('created on one replica, approved in the console of another, consumed exactly once across all three', async () => {
    const id = await newContact('Once');
    await resetCounts(cl);
    const first = await cl.call(0, 'delete_contact', { contact_id: id });
    expect(first.isError, text(first)).toBeFalsy();
    const pending = data(first);
    expect(pending.approval_pending).toBe(true);
    const approvalId = pending.approval_id as string;
    expect(typeof approvalId).toBe('string');
    expect(writes(await counts(cl))).toBe(0);

    expect(await decide(cl, 1, approvalId, 'approve')).toBe('/console/approvals?done=approved');
    expect(writes(await counts(cl))).toBe(0);

    const both = await Promise.all(
      [1, 2].map((i) => cl.call(i, 'delete_contact', { contact_id: id, approval_id: approvalId })),
    );
    const ran = both.filter((r) => !r.isError);
    expect(ran, both.map(text).join('\n')).toHaveLength(1);
    for (const r of both.filter((x) => x.isError)) expect(text(r)).toContain('already used');
    expect(writes(await counts(cl))).toBe(1);

    const replay = await cl.call(0, 'delete_contact', { contact_id: id, approval_id: approvalId });
    expect(replay.isError).toBe(true);
    expect(text(replay)).toContain('already used');
    expect(writes(await counts(cl))).toBe(1);
  }, 90_000);

  it('denied on one replica: the repeat on another is refused and nothing is written', async () => {
    const id = await newContact('Denied');
    await resetCounts(cl);
    const first = await cl.call(2, 'delete_contact', { contact_id: id });
    const approvalId = data(first).approval_id as string;
    expect(typeof approvalId).toBe('string');
    expect(await decide(cl, 0, approvalId, 'deny')).toBe('/console/approvals?done=denied');
    const repeat = await cl.call(1, 'delete_contact', { contact_id: id, approval_id: approvalId });
    expect(repeat.isError).toBe(true);
    expect(text(repeat)).toMatch(/denied/i);
    expect(writes(await counts(cl))).toBe(0);
  }, 90_000);
});
