import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { RESOURCES } from '../../src/registry/define.js';
import { createSafety, DEFAULT_AGENT, PolicyError, parsePolicy } from '../../src/safety/index.js';
import { Policy } from '../../src/safety/policy.js';
import type { Grant } from '../../src/safety/types.js';
import { openStateDb } from '../../src/state/db.js';
import { sha, spec, tmpDir, writeJson } from './helpers.js';

const GRANTS: Grant[] = ['none', 'read', 'write'];

function policyWith(
  grants: Record<string, Grant>,
  extra: Record<string, unknown> = {},
  readOnly = false,
): Policy {
  return new Policy(parsePolicy(JSON.stringify({ agents: { a: { grants, ...extra } } })), { readOnly });
}

describe('policy parsing', () => {
  it('accepts the documented shape', () => {
    const p = parsePolicy(
      JSON.stringify({
        default_agent: 'assistant',
        human_secret_sha256: sha('s3cret'),
        agents: {
          assistant: {
            token_sha256: sha('tok'),
            grants: { contacts: 'write', notes: 'write', tags: 'read', '*': 'none' },
            deny_tools: ['delete_contact'],
            confirm_tools: ['apply_tag'],
            human_secret_tools: ['create_order_payment'],
            no_confirm_tools: [],
          },
        },
      }),
    );
    expect(p.default_agent).toBe('assistant');
    expect(p.agents.assistant?.grants.contacts).toBe('write');
  });

  it('names the JSON path (and line) of a bad grant', () => {
    const text = JSON.stringify({ agents: { bot: { grants: { contacts: 'admin' } } } }, null, 2);
    const err = (() => {
      try {
        parsePolicy(text, 'p.json');
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(PolicyError);
    expect(err?.message).toContain('$.agents.bot.grants.contacts');
    expect(err?.message).toMatch(/line 5/);
  });

  it.each([
    [{ agents: { a: { grants: { contact: 'read' } } } }, '$.agents.a.grants.contact'],
    [{ agents: { a: { grants: {}, deny_tool: [] } } }, '$.agents.a.deny_tool (line 1): unknown field'],
    [{ agents: { a: { token_sha256: 'abc' } } }, '$.agents.a.token_sha256'],
    [{ agents: { a: {} }, default_agent: 'b' }, '$.default_agent'],
    [{ agents: { a: { human_secret_tools: ['send_email'] } } }, '$.agents.a.human_secret_tools'],
    [{ agents: { a: { deny_tools: ['Bad Name'] } } }, '$.agents.a.deny_tools[0]'],
    [{ agents: { a: { token_sha256: sha('x') }, b: { token_sha256: sha('x') } } }, '$.agents.b.token_sha256'],
    [{ agents: {} }, '$.agents'],
    [{ agent: {} }, '$.agent (line 1): unknown field'],
  ])('rejects %j naming %s', (value, path) => {
    expect(() => parsePolicy(JSON.stringify(value))).toThrow(path);
  });

  it('reports invalid JSON', () => {
    expect(() => parsePolicy('{ "agents": ', 'x.json')).toThrow(/x.json: not valid JSON/);
  });

  it('flags unknown tool names when the catalog is known', () => {
    const text = JSON.stringify({ agents: { a: { deny_tools: ['delete_contact', 'delete_contcat'] } } });
    expect(() => parsePolicy(text, 'p', ['delete_contact'])).toThrow(
      '$.agents.a.deny_tools[1]: unknown tool "delete_contcat"',
    );
  });

  it('createSafety reads the file and fails with the path', () => {
    const dir = tmpDir();
    const good = writeJson(dir, 'good.json', { agents: { x: { grants: { '*': 'read' } } } });
    const bad = writeJson(dir, 'bad.json', { agents: { x: { grants: { '*': 'rw' } } } });
    const db = openStateDb(undefined);
    const s = createSafety({ policyFile: good, readOnly: false, sandbox: false, db, logger: silentLogger });
    expect(s.policy.agents()).toEqual(['x']);
    expect(s.policy.defaultAgent()).toBe('x');
    expect(() =>
      createSafety({ policyFile: bad, readOnly: false, sandbox: false, db, logger: silentLogger }),
    ).toThrow(/\$\.agents\.x\.grants\["\*"\]/);
    expect(() =>
      createSafety({
        policyFile: `${dir}/missing.json`,
        readOnly: false,
        sandbox: false,
        db,
        logger: silentLogger,
      }),
    ).toThrow(`policy file not found: ${dir}/missing.json (KEAP_POLICY / --policy)`);
  });
});

describe('policy matrix', () => {
  for (const g of GRANTS) {
    for (const access of ['read', 'write'] as const) {
      for (const readOnly of [false, true]) {
        const allowed = (g === 'write' && !readOnly) || (g !== 'none' && access === 'read');
        it(`grant ${g} × ${access}${readOnly ? ' (read-only)' : ''} → ${allowed ? 'allowed' : 'refused'}`, () => {
          for (const r of RESOURCES) {
            const p = policyWith({ [r]: g }, {}, readOnly);
            const s = spec(`t_${r}`, r, access);
            expect(p.isAllowed('a', s)).toBe(allowed);
            if (!allowed) expect(p.denialReason('a', s)).toMatch(/not allowed by server policy/);
            // other resources fall back to '*' → absent → none
            const other = RESOURCES.find((x) => x !== r) ?? 'contacts';
            expect(p.isAllowed('a', spec('o', other, 'read'))).toBe(false);
          }
        });
      }
    }
  }

  it('"*" covers the rest; explicit grants win', () => {
    const p = policyWith({ '*': 'write', payments: 'none', tags: 'read' });
    expect(p.isAllowed('a', spec('x', 'contacts', 'write'))).toBe(true);
    expect(p.isAllowed('a', spec('x', 'payments', 'read'))).toBe(false);
    expect(p.isAllowed('a', spec('x', 'tags', 'read'))).toBe(true);
    expect(p.isAllowed('a', spec('x', 'tags', 'write'))).toBe(false);
  });

  it('deny_tools wins over grants; unknown agents get nothing', () => {
    const p = policyWith({ '*': 'write' }, { deny_tools: ['delete_contact'] });
    expect(p.isAllowed('a', spec('delete_contact', 'contacts', 'write'))).toBe(false);
    expect(p.denialReason('a', spec('delete_contact', 'contacts', 'write'))).toMatch(/deny list/);
    expect(p.isAllowed('a', spec('update_contact', 'contacts', 'write'))).toBe(true);
    expect(p.isAllowed('nobody', spec('list_contacts', 'contacts', 'read'))).toBe(false);
    expect(p.isAllowed('__proto__', spec('list_contacts', 'contacts', 'read'))).toBe(false);
  });

  it('read-only caps write and says so', () => {
    const p = policyWith({ '*': 'write' }, {}, true);
    expect(p.isAllowed('a', spec('x', 'orders', 'write'))).toBe(false);
    expect(p.denialReason('a', spec('x', 'orders', 'write'))).toMatch(/read-only/);
    expect(p.isAllowed('a', spec('x', 'orders', 'read'))).toBe(true);
  });

  it('confirmation modes', () => {
    const p = new Policy(
      parsePolicy(
        JSON.stringify({
          human_secret_sha256: sha('s'),
          agents: {
            a: {
              grants: { '*': 'write' },
              confirm_tools: ['apply_tag'],
              human_secret_tools: ['create_order_payment'],
              no_confirm_tools: ['delete_opportunity', 'create_order_payment'],
            },
          },
        }),
      ),
      { readOnly: false },
    );
    const mode = (name: string, confirm?: boolean) =>
      p.confirmationMode('a', spec(name, 'contacts', 'write', confirm === undefined ? {} : { confirm }));
    expect(mode('create_order_payment', true)).toBe('human_secret');
    expect(mode('create_order_payment')).toBe('human_secret');
    expect(mode('delete_contact', true)).toBe('confirm');
    expect(mode('apply_tag')).toBe('confirm');
    expect(mode('delete_opportunity', true)).toBe('none');
    expect(mode('update_contact')).toBe('none');
    expect(p.confirmationMode('ghost', spec('delete_contact', 'contacts', 'write', { confirm: true }))).toBe(
      'confirm',
    );
  });

  it('tokens: constant-time lookup by sha256; requiresTokens', () => {
    const p = new Policy(
      parsePolicy(
        JSON.stringify({
          agents: {
            a: { token_sha256: sha('token-a') },
            b: { token_sha256: sha('token-b').toUpperCase() },
            c: {},
          },
        }),
      ),
      { readOnly: false },
    );
    expect(p.agentForToken('token-a')).toBe('a');
    expect(p.agentForToken('token-b')).toBe('b');
    expect(p.agentForToken('token-c')).toBeUndefined();
    expect(p.agentForToken('')).toBeUndefined();
    expect(p.requiresTokens()).toBe(true);
    expect(policyWith({}).requiresTokens()).toBe(false);
  });
});

describe('defaults without a policy file', () => {
  const db = openStateDb(undefined);
  const make = (sandbox: boolean, readOnly: boolean) =>
    createSafety({ readOnly, sandbox, db, logger: silentLogger }).policy;

  it(`serves "${DEFAULT_AGENT}" with read everywhere`, () => {
    const p = make(false, false);
    expect(p.agents()).toEqual([DEFAULT_AGENT]);
    expect(p.defaultAgent()).toBe(DEFAULT_AGENT);
    expect(p.requiresTokens()).toBe(false);
    for (const r of RESOURCES) {
      expect(p.isAllowed(DEFAULT_AGENT, spec('x', r, 'read'))).toBe(true);
      expect(p.isAllowed(DEFAULT_AGENT, spec('x', r, 'write'))).toBe(false);
    }
  });

  it('sandbox adds write, confirmations stay on; --read-only caps it', () => {
    const p = make(true, false);
    const del = spec('delete_contact', 'contacts', 'write', { confirm: true });
    expect(p.isAllowed(DEFAULT_AGENT, del)).toBe(true);
    expect(p.confirmationMode(DEFAULT_AGENT, del)).toBe('confirm');
    expect(make(true, true).isAllowed(DEFAULT_AGENT, del)).toBe(false);
  });
});
