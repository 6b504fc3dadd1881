/**
 * The long tail over EVERY operation in the facts (464), through a real MCP client → createServer → the real
 * Keap client → a recording proxy → the sandbox: find returns each operation for its operationId's words and for
 * its path; describe returns its inputs; a write's dry run builds a request that validates against Keap's
 * document; a read's live request validates and any failure comes back as a clean error; an unknown argument is
 * an input error that names it and sends nothing; uploads are refused before anything is sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OperationFact } from '../../src/facts/types.js';
import { allOperations, coverageOf, isUpload, words } from '../../src/longtail/operations.js';
import type { RunningSandbox } from '../../src/sandbox/core/types.js';
import { NO_LIMITS, startSandbox } from '../../src/sandbox/server.js';
import { ALL_TOOLS } from '../../tools/index.js';
import { operationArgs } from '../helpers/fact-samples.js';
import { type RecordingProxy, startRecordingProxy } from '../helpers/recording-proxy.js';
import { validateRequest } from '../sandbox/openapi-helper.js';
import { data, FULL_WRITE_POLICY, type Harness, SANDBOX_KEY, startHarness, text } from '../server/harness.js';

type Data = Record<string, any>;

let sandbox: RunningSandbox;
let proxy: RecordingProxy;
let h: Harness;

beforeAll(async () => {
  sandbox = await startSandbox({
    host: '127.0.0.1',
    port: 0,
    control: true,
    apiKeys: [SANDBOX_KEY],
    limits: NO_LIMITS,
  });
  proxy = await startRecordingProxy(sandbox.baseUrl);
  h = await startHarness({
    policy: FULL_WRITE_POLICY,
    sandbox: { ...sandbox, baseUrl: proxy.baseUrl },
    maxWaitMs: 10_000,
  });
}, 30_000);

afterAll(async () => {
  await h?.close();
  await proxy?.close();
  await sandbox?.close();
});

const OPS = allOperations();

/** Inputs a catalog tool's own rules need beyond the document's required ones (as in faithful-inputs). */
const CATALOG_OVERRIDES: Record<string, Data> = {
  create_hook: { eventKey: 'contact.add', hookUrl: 'https://example.com/hook' },
  send_email: { contacts: ['1'], subject: 'Hi', user_id: '1' },
  achieve_goal: { contact_id: 1, integration: 'i', call_name: 'c' },
  create_order_payment: { payment_amount: 1, apply_to_commissions: false, payment_method_type: 'Cash' },
  create_note: { title: 'Call' },
  create_contact: { email_addresses: [{ email: 'ada@example.com', field: 'EMAIL1' }] },
  create_company: { company_name: 'Acme' },
  create_tag: { name: 'VIP' },
  create_task: { title: 'Call back' },
  add_contacts_to_sequence: { contact_ids: ['1'] },
  remove_contacts_from_sequence: { contact_ids: ['1'] },
  apply_tag: { contact_ids: ['1'] },
  remove_tag: { contact_ids: ['1'] },
};
const COVERING = coverageOf(ALL_TOOLS);

/** Valid arguments from the facts, plus what the covering catalog tool's own rules need. */
function opArgs(op: OperationFact): Data {
  const args = operationArgs(op);
  const tool = COVERING.get(op.operationId)?.spec.name;
  return tool ? { ...args, ...CATALOG_OVERRIDES[tool] } : args;
}

function queryRecord(q: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(q)) if (v !== undefined) out[k] = String(v);
  return out;
}

const version = (op: OperationFact) => (op.path.startsWith('/v1/') ? 'v1' : 'v2');
/** A known mismatch between Keap's facts and its document (as in faithful-inputs). */
const DOC_QUIRKS = [/remind_time_mins must be equal to one of the allowed values/];

describe('every operation in the facts', () => {
  it('there are 464', () => {
    expect(OPS).toHaveLength(464);
  });

  it.each(OPS.map((o) => [o.operationId, o] as const))(
    'find: %s by its words and by its path',
    async (id, op) => {
      const byWords = data(await h.call('find_keap_operations', { query: words(id).join(' ') }));
      expect(
        byWords.operations.map((o: Data) => o.operationId),
        `words "${words(id).join(' ')}"`,
      ).toContain(id);
      const byPath = data(await h.call('find_keap_operations', { query: op.path }));
      expect(
        byPath.operations.map((o: Data) => o.operationId),
        `path ${op.path}`,
      ).toContain(id);
      const row = byPath.operations.find((o: Data) => o.operationId === id);
      expect(row).toMatchObject({
        method: op.method,
        path: op.path,
        access: op.method === 'GET' ? 'read' : 'write',
      });
      expect(typeof row.summary).toBe('string');
    },
  );

  it.each(OPS.map((o) => [o.operationId, o] as const))('describe: %s', async (id, op) => {
    const d = data(await h.call('describe_keap_operation', { operationId: id }));
    expect(d.operationId).toBe(id);
    expect(d.paging).toBe(op.paging);
    for (const where of ['path', 'query', 'header'] as const) {
      const names = op.params.filter((p) => p.in === where).map((p) => p.name);
      expect(Object.keys(d.inputs[where] ?? {}).sort(), where).toEqual(names.sort());
    }
    if (op.body) expect(d.inputs.body.content_type).toBe(op.body.contentType);
    else expect(d.inputs.body).toBeUndefined();
  });

  const writes = OPS.filter((o) => o.method !== 'GET');
  it.each(writes.map((o) => [o.operationId, o] as const))('write: %s dry run validates', async (_id, op) => {
    proxy.clear();
    const res = await h.call('call_keap_write', {
      operationId: op.operationId,
      arguments: opArgs(op),
      dry_run: true,
    });
    expect(proxy.requests).toHaveLength(0);
    if (isUpload(op)) {
      expect(res.isError).toBe(true);
      expect(text(res)).toMatch(/upload.*multipart\/form-data/);
      return;
    }
    expect(res.isError, text(res)).toBeFalsy();
    const d = data(res);
    expect(d.dry_run).toBe(true);
    const req = d.request as Data;
    expect(req.method).toBe(op.method);
    expect(
      validateRequest(version(op), op.method, op.path, {
        query: queryRecord(req.query ?? {}),
        body: req.body,
      }).filter((e) => !DOC_QUIRKS.some((q) => q.test(e))),
    ).toEqual([]);
  });

  const reads = OPS.filter((o) => o.method === 'GET');
  it.each(reads.map((o) => [o.operationId, o] as const))(
    'read: %s live request validates',
    async (_id, op) => {
      proxy.clear();
      const res = await h.call('call_keap_read', { operationId: op.operationId, arguments: opArgs(op) });
      expect(proxy.requests.length, text(res)).toBeGreaterThanOrEqual(1);
      const ex = proxy.requests.at(-1);
      expect(validateRequest(version(op), 'GET', op.path, { query: ex?.query })).toEqual([]);
      if (res.isError) {
        // Unsimulated operations (501) and unknown ids (404) come back as the one error format.
        const e = data(res).error as Data;
        expect(typeof e.category).toBe('string');
        expect(typeof e.next_step).toBe('string');
        expect(text(res)).not.toMatch(/\n\s+at |TypeError|undefined/);
      }
    },
  );

  it.each(OPS.map((o) => [o.operationId, o] as const))(
    'unknown argument: %s is an input error naming it, nothing sent',
    async (_id, op) => {
      proxy.clear();
      const res = await h.call(op.method === 'GET' ? 'call_keap_read' : 'call_keap_write', {
        operationId: op.operationId,
        arguments: { ...opArgs(op), zz_not_documented: 1 },
      });
      expect(res.isError).toBe(true);
      expect(data(res).error.category).toBe('input');
      expect(text(res)).toMatch(isUpload(op) ? /upload/ : /zz_not_documented/);
      expect(proxy.requests).toHaveLength(0);
    },
  );
});
