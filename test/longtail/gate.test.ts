/**
 * The long tail behind the same gate: the resource and risk tables over every operation; the policy matrix
 * (none / read / write) for find, describe and both call tools; operationIds in the policy's tool lists; the
 * wrong direction refused; every risk class confirmed like a ✋ tool (form accept → 1 request, decline → 0,
 * token path; a token never carries over to another operation); idempotency on creates; audit records carry the
 * operationId. Real MCP clients → createServer → the real Keap client → a recording proxy → the sandbox.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operationById } from '../../src/facts/index.js';
import type { OperationFact } from '../../src/facts/types.js';
import { allOperations, coverageOf, operationInfo } from '../../src/longtail/operations.js';
import { RESOURCE_TABLE, resourceOf } from '../../src/longtail/resources.js';
import { RISK_TABLE, type RiskClass, riskOf } from '../../src/longtail/risk.js';
import { RESOURCES } from '../../src/registry/define.js';
import type { RunningSandbox } from '../../src/sandbox/core/types.js';
import { NO_LIMITS, startSandbox } from '../../src/sandbox/server.js';
import { ALL_TOOLS, LONGTAIL_TOOLS } from '../../tools/index.js';
import { operationArgs } from '../helpers/fact-samples.js';
import { type RecordingProxy, startRecordingProxy } from '../helpers/recording-proxy.js';
import {
  data,
  FULL_WRITE_POLICY,
  type Harness,
  type HarnessOptions,
  SANDBOX_KEY,
  startHarness,
  text,
} from '../server/harness.js';

type Data = Record<string, any>;

let sandbox: RunningSandbox;
let proxy: RecordingProxy;

beforeAll(async () => {
  sandbox = await startSandbox({
    host: '127.0.0.1',
    port: 0,
    control: true,
    apiKeys: [SANDBOX_KEY],
    // Request counts are exact: no 429 (and its retry) from the sandbox's default rate limits.
    limits: NO_LIMITS,
  });
  proxy = await startRecordingProxy(sandbox.baseUrl);
}, 30_000);

afterAll(async () => {
  await proxy?.close();
  await sandbox?.close();
});

function op(id: string): OperationFact {
  const o = operationById(id);
  if (!o) throw new Error(id);
  return o;
}

async function withHarness<T>(opts: HarnessOptions, f: (h: Harness) => Promise<T>): Promise<T> {
  const h = await startHarness({ ...opts, sandbox: { ...sandbox, baseUrl: proxy.baseUrl } });
  try {
    return await f(h);
  } finally {
    await h.close();
  }
}

async function call(h: Harness, name: string, args: Data) {
  proxy.clear();
  const res = await h.call(name, args);
  return { res, sent: proxy.requests.length };
}

describe('the tables', () => {
  it('every one of the 464 operations maps to a resource the policy knows', () => {
    const ops = allOperations();
    expect(ops).toHaveLength(464);
    const unmapped = ops.filter((o) => resourceOf(o) === undefined).map((o) => `${o.method} ${o.path}`);
    expect(unmapped).toEqual([]);
    for (const o of ops) expect(RESOURCES).toContain(resourceOf(o));
    // Every row of the table is used.
    for (const [re] of RESOURCE_TABLE)
      expect(
        ops.some((o) => re.test(o.path)),
        String(re),
      ).toBe(true);
  });

  it('agrees with the catalog where a catalog tool covers the operation', () => {
    const coverage = coverageOf(ALL_TOOLS);
    expect(coverage.size).toBeGreaterThanOrEqual(58);
    const differ = [...coverage]
      // list_custom_fields reads every model's definitions under one (contacts) grant.
      .filter(([, c]) => c.spec.name !== 'list_custom_fields')
      .filter(([id, c]) => resourceOf(op(id)) !== c.spec.resource)
      .map(([id, c]) => `${id}: table ${resourceOf(op(id))}, ${c.spec.name} ${c.spec.resource}`);
    expect(differ).toEqual([]);
  });

  it('puts each risk class on the operations it names, never on reads', () => {
    const cases: [string, RiskClass][] = [
      ['deleteLeadSource', 'delete'],
      ['deleteEmails', 'delete'],
      ['createCreditCardUsingPOST', 'payment'],
      ['deactivatePaymentMethod', 'payment'],
      ['sendEmailTemplate', 'send'],
      ['sendEmailUsingPOST', 'send'],
      ['updateSubscriptionPlan', 'billing'],
      ['invoiceSubscription', 'billing'],
      ['replacePaymentPlanUsingPUT', 'billing'],
      ['mergeContacts', 'merge'],
      ['addAffiliateToProgram', 'commission'],
      ['applyCommissionOnOrderItems', 'commission'],
      ['addContactsToAutomationSequence', 'sequence'],
      ['updateBusinessProfile', 'settings'],
      ['updateAccountInfoUsingPUT', 'settings'],
      ['createUserUsingPOST', 'settings'],
      ['setMerchantGatewayAsDefault', 'settings'],
    ];
    for (const [id, cls] of cases) expect(operationInfo(op(id)).risk, id).toContain(cls);
    for (const id of ['createLeadSource', 'createTagCategory', 'create_a_hook_subscription', 'runReport']) {
      expect(operationInfo(op(id)).risk, id).toEqual([]);
    }
    for (const o of allOperations().filter((x) => x.method === 'GET')) {
      expect(riskOf(o, resourceOf(o) ?? 'contacts'), o.operationId).toEqual([]);
    }
    for (const [cls] of RISK_TABLE) {
      expect(
        allOperations().some((o) => operationInfo(o).risk.includes(cls)),
        cls,
      ).toBe(true);
    }
    // Every write in a risk class is confirmed by default; no read is.
    for (const o of allOperations()) {
      expect(operationInfo(o).spec.confirm === true, o.operationId).toBe(operationInfo(o).risk.length > 0);
    }
  });
});

describe('policy matrix: lead_sources at none / read / write (contacts read so the tools are listed)', () => {
  const levels = ['none', 'read', 'write'] as const;
  it.each(levels)('lead_sources=%s', async (level) => {
    const policy = {
      default_agent: 'a',
      agents: { a: { grants: { contacts: 'read', lead_sources: level } } },
    };
    await withHarness({ policy }, async (h) => {
      const names = (await h.client.listTools()).tools.map((t) => t.name);
      expect(names).toEqual(
        expect.arrayContaining(['find_keap_operations', 'describe_keap_operation', 'call_keap_read']),
      );
      expect(names.includes('call_keap_write')).toBe(level === 'write');

      const found = data(await h.call('find_keap_operations', { query: 'lead source' })).operations as Data[];
      const row = (id: string) => found.find((o) => o.operationId === id);
      expect(row('listLeadSources')?.allowed).toBe(level === 'none' ? false : undefined);
      expect(row('createLeadSource')?.allowed).toBe(level === 'write' ? undefined : false);
      // The resource filter and the access filter.
      const writes = data(
        await h.call('find_keap_operations', { query: 'lead', resource: 'lead_sources', access: 'write' }),
      ).operations as Data[];
      expect(writes.length).toBeGreaterThan(0);
      expect(writes.every((o) => o.resource === 'lead_sources' && o.access === 'write')).toBe(true);

      const d = data(await h.call('describe_keap_operation', { operationId: 'createLeadSource' }));
      expect(d.resource).toBe('lead_sources');
      expect(d.access).toBe('write');
      expect(d.allowed).toBe(level === 'write' ? undefined : false);

      const read = await call(h, 'call_keap_read', { operationId: 'listLeadSources', arguments: {} });
      if (level === 'none') {
        expect(data(read.res).error.category).toBe('policy');
        expect(read.sent).toBe(0);
      } else {
        expect(read.sent).toBe(1);
      }

      const write = await call(h, 'call_keap_write', {
        operationId: 'createLeadSource',
        arguments: { name: 'Fair' },
        dry_run: true,
      });
      expect(write.sent).toBe(0);
      if (level === 'write') expect(data(write.res).dry_run).toBe(true);
      else expect(data(write.res).error.category).toBe('policy');

      const audit = h.audit();
      const last = audit.at(-1) as Data;
      expect(last.tool).toBe('call_keap_write');
      expect(last.operation).toBe('createLeadSource');
      expect(last.decision).toBe(level === 'write' ? 'dry_run' : 'denied');
    });
  });

  it('an agent with no grant sees none of the four tools; calls are refused by policy', async () => {
    const policy = { default_agent: 'a', agents: { a: { grants: {} } } };
    await withHarness({ policy }, async (h) => {
      const names = (await h.client.listTools()).tools.map((t) => t.name);
      for (const t of LONGTAIL_TOOLS) expect(names).not.toContain(t.name);
      const r = await call(h, 'call_keap_read', { operationId: 'getTag', arguments: { tag_id: '1' } });
      expect(data(r.res).error.category).toBe('policy');
      expect(r.sent).toBe(0);
    });
  });

  it('deny_tools, confirm_tools and no_confirm_tools take operationIds', async () => {
    const policy = {
      default_agent: 'a',
      agents: {
        a: {
          grants: { '*': 'write' },
          deny_tools: ['createTagCategory', 'deleteContact'],
          confirm_tools: ['createLeadSource'],
          no_confirm_tools: ['deleteLeadSourceCategory', 'call_keap_write'],
        },
      },
    };
    await withHarness({ policy }, async (h) => {
      const names = (await h.client.listTools()).tools.map((t) => t.name);
      // Denying an operationId denies the catalog tool that covers it.
      expect(names).not.toContain('delete_contact');
      expect(names).toContain('call_keap_write');
      const denied = await call(h, 'call_keap_write', {
        operationId: 'createTagCategory',
        arguments: { name: 'x' },
      });
      expect(data(denied.res).error.category).toBe('policy');
      expect(denied.sent).toBe(0);
      const viaLongTail = await call(h, 'call_keap_write', {
        operationId: 'deleteContact',
        arguments: { contact_id: '1' },
      });
      expect(data(viaLongTail.res).error.category).toBe('policy');
      expect(viaLongTail.sent).toBe(0);
      // Added confirmation by operationId.
      const added = await call(h, 'call_keap_write', {
        operationId: 'createLeadSource',
        arguments: { name: 'Fair' },
      });
      expect(data(added.res).confirmation_required).toBe(true);
      expect(added.sent).toBe(0);
      // Waived by operationId: sent without asking.
      const waived = await call(h, 'call_keap_write', {
        operationId: 'deleteLeadSourceCategory',
        arguments: { lead_source_category_id: '1' },
      });
      expect(data(waived.res).confirmation_required).toBeUndefined();
      expect(waived.sent).toBe(1);
      // Waiving the call tool's name waives nothing (it stands for every operation).
      const kept = await call(h, 'call_keap_write', {
        operationId: 'deleteLeadSource',
        arguments: { lead_source_id: '1' },
      });
      expect(data(kept.res).confirmation_required).toBe(true);
      expect(kept.sent).toBe(0);
    });
  });
});

describe('direction, uploads, unknown operations', () => {
  it('a GET through call_keap_write and a write through call_keap_read are refused; nothing is sent', async () => {
    await withHarness({ policy: FULL_WRITE_POLICY }, async (h) => {
      const a = await call(h, 'call_keap_write', { operationId: 'getTag', arguments: { tag_id: '1' } });
      expect(data(a.res).error.category).toBe('input');
      expect(text(a.res)).toMatch(/call_keap_read/);
      expect(a.sent).toBe(0);
      const b = await call(h, 'call_keap_read', {
        operationId: 'deleteCompany',
        arguments: { company_id: '1' },
      });
      expect(data(b.res).error.category).toBe('input');
      expect(text(b.res)).toMatch(/call_keap_write/);
      expect(b.sent).toBe(0);
      const c = await call(h, 'call_keap_read', { operationId: 'listLeadSource', arguments: {} });
      expect(text(c.res)).toMatch(/did you mean listLeadSources/);
      const d = await call(h, 'call_keap_read', { operationId: 'getTag', dry_run: true, arguments: {} });
      expect(text(d.res)).toMatch(/dry_run: not an argument of call_keap_read/);
      const e = await call(h, 'call_keap_write', {
        operationId: 'createFile',
        arguments: {},
      });
      expect(text(e.res)).toMatch(/multipart\/form-data/);
      expect(e.sent).toBe(0);
      const audit = h.audit();
      expect(audit.some((r) => r.operation === 'getTag' && r.error_category === 'input')).toBe(true);
    });
  });

  it('a covered operation is served by its catalog tool, whose rules apply, and the result names it', async () => {
    await withHarness({ policy: FULL_WRITE_POLICY }, async (h) => {
      const r = await call(h, 'call_keap_write', {
        operationId: 'deleteContact',
        arguments: { contact_id: '1' },
      });
      const d = data(r.res);
      expect(d.prefer_tool).toBe('delete_contact');
      expect(d.confirmation_required).toBe(true);
      expect(d.preview).toMatch(/contact 1/);
      // The preview read the contact (a GET, audited as preview_read); nothing was written.
      expect(proxy.requests.filter((q) => q.method !== 'GET')).toHaveLength(0);
      const m = await call(h, 'call_keap_read', {
        operationId: 'retrieveCompanyCustomFieldModel',
        arguments: {},
      });
      expect(data(m.res).prefer_tool).toBe('list_custom_fields');
      expect(proxy.requests.at(-1)?.path).toBe('/v2/companies/model');
    });
  });
});

/** One uncovered operation per risk class (with the facts' sample arguments). */
const RISKY: Record<RiskClass, string> = {
  delete: 'deleteCompany',
  payment: 'createCreditCardUsingPOST',
  send: 'sendEmailTemplate',
  billing: 'updateSubscriptionPlan',
  merge: 'mergeContacts',
  commission: 'addAffiliateToProgram',
  sequence: 'addContactsToAutomationSequence',
  settings: 'updateBusinessProfile',
};

describe('each risk class needs a human yes', () => {
  const cases = Object.entries(RISKY) as [RiskClass, string][];

  it.each(cases)('%s (%s): form accept → 1 request', async (_cls, id) => {
    await withHarness(
      { policy: FULL_WRITE_POLICY, elicit: () => ({ action: 'accept', content: { confirm: true } }) },
      async (h) => {
        const r = await call(h, 'call_keap_write', { operationId: id, arguments: operationArgs(op(id)) });
        expect(r.sent, text(r.res)).toBe(1);
        const rec = h.audit().at(-1) as Data;
        expect(rec.operation).toBe(id);
        expect(rec.decision).toBe('confirmed');
      },
    );
  });

  it.each(cases)('%s (%s): form decline → 0 requests', async (_cls, id) => {
    await withHarness({ policy: FULL_WRITE_POLICY, elicit: () => ({ action: 'decline' }) }, async (h) => {
      const r = await call(h, 'call_keap_write', { operationId: id, arguments: operationArgs(op(id)) });
      expect(data(r.res).declined).toBe(true);
      expect(r.sent).toBe(0);
      expect((h.audit().at(-1) as Data).decision).toBe('declined');
    });
  });

  it.each(cases)('%s (%s): token path: preview + token, then 1 request with it', async (_cls, id) => {
    await withHarness({ policy: FULL_WRITE_POLICY }, async (h) => {
      const args = { operationId: id, arguments: operationArgs(op(id)) };
      const first = await call(h, 'call_keap_write', args);
      const d = data(first.res);
      expect(d.confirmation_required).toBe(true);
      expect(d.preview).toContain(id);
      expect(first.sent).toBe(0);
      const second = await call(h, 'call_keap_write', { ...args, confirmation_token: d.confirmation_token });
      expect(second.sent, text(second.res)).toBe(1);
    });
  });

  it('a token for one operation does not confirm another with the same arguments', async () => {
    await withHarness({ policy: FULL_WRITE_POLICY }, async (h) => {
      const a = { discount_id: '1' };
      const first = data(
        await h.call('call_keap_write', { operationId: 'deleteFreeTrialDiscount', arguments: a }),
      );
      const other = await call(h, 'call_keap_write', {
        operationId: 'deleteOrderTotalDiscount',
        arguments: a,
        confirmation_token: first.confirmation_token,
      });
      expect(data(other.res).error.category).toBe('confirmation');
      expect(other.sent).toBe(0);
    });
  });
});

describe('idempotency and audit', () => {
  it('a create with an idempotency_key is sent once; a retry replays; other arguments with the key conflict', async () => {
    await withHarness({ policy: FULL_WRITE_POLICY }, async (h) => {
      // createContact is served by create_contact (its idempotency applies, keyed as for a direct call).
      const args = {
        operationId: 'createContact',
        arguments: { given_name: 'Ada', email_addresses: [{ email: 'ada@example.com', field: 'EMAIL1' }] },
        idempotency_key: 'k-1',
      };
      const first = await call(h, 'call_keap_write', args);
      expect(first.res.isError, text(first.res)).toBeFalsy();
      expect(first.sent).toBe(1);
      const again = await call(h, 'call_keap_write', args);
      expect(data(again.res).idempotent_replay).toBe(true);
      expect(again.sent).toBe(0);
      const changed = await call(h, 'call_keap_write', {
        ...args,
        arguments: { ...args.arguments, given_name: 'Bo' },
      });
      expect(data(changed.res).error.category).toBe('conflict');
      expect(changed.sent).toBe(0);
    });
  });

  it('a long-tail create takes an idempotency_key, scoped to its operation; a 4xx releases it', async () => {
    await withHarness({ policy: FULL_WRITE_POLICY }, async (h) => {
      const args = { operationId: 'createLeadSource', arguments: { name: 'Fair' }, idempotency_key: 'k-2' };
      const first = await call(h, 'call_keap_write', args);
      expect(first.sent).toBe(1);
      const status = proxy.requests.at(-1)?.status ?? 0;
      const again = await call(h, 'call_keap_write', args);
      if (status >= 200 && status < 300) {
        expect(data(again.res).idempotent_replay).toBe(true);
        expect(again.sent).toBe(0);
      } else {
        // Keap refused it (the sandbox does not simulate every operation): definitely not applied, so the key is
        // free and the retry is sent.
        expect(status).toBeGreaterThanOrEqual(400);
        expect(again.sent).toBe(1);
      }
      // The same key on another operation is not a replay of this one.
      const other = await call(h, 'call_keap_write', {
        ...args,
        operationId: 'createLeadSourceCategory',
      });
      expect(data(other.res).idempotent_replay).toBeUndefined();
      expect(other.sent).toBe(1);
      const rows = h.audit().filter((r) => r.tool === 'call_keap_write');
      expect(rows.map((r) => r.operation)).toEqual([
        'createLeadSource',
        'createLeadSource',
        'createLeadSourceCategory',
      ]);
      expect(rows.every((r) => r.resource === 'lead_sources')).toBe(true);
    });
  });

  it('reads are audited with their operationId; find and describe are audited too', async () => {
    await withHarness({ policy: FULL_WRITE_POLICY }, async (h) => {
      await h.call('find_keap_operations', { query: 'tag' });
      await h.call('describe_keap_operation', { operationId: 'getTag' });
      const r = await call(h, 'call_keap_read', { operationId: 'getUserById', arguments: { user_id: '1' } });
      expect(r.sent).toBe(1);
      const audit = h.audit();
      expect(audit.map((x) => x.tool)).toEqual([
        'find_keap_operations',
        'describe_keap_operation',
        'call_keap_read',
      ]);
      expect(audit[1]?.operation).toBe('getTag');
      expect(audit[2]).toMatchObject({
        operation: 'getUserById',
        resource: 'users',
        path: '/v2/users/{user_id}',
      });
    });
  });
});
