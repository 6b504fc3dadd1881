/**
 * Policy lint at load: entries that cannot take effect are warnings (logged and returned), unknown tool names are
 * errors with the nearest catalog name, JSON syntax errors name line and column, an unreadable file is said in
 * words. The README's policy example lints clean against the real catalog.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { bindWarnings, createSafety, lintPolicy, PolicyError, parsePolicy } from '../../src/safety/index.js';
import { jsonSyntaxError, loadPolicyFile } from '../../src/safety/policy.js';
import { openStateDb } from '../../src/state/db.js';
import { ALL_TOOLS } from '../../tools/index.js';
import { captureLogger } from '../client/helpers.js';
import { sha, spec, tmpDir, writeJson } from './helpers.js';

const CATALOG = [
  spec('list_contacts', 'contacts', 'read'),
  spec('delete_contact', 'contacts', 'write', { confirm: true }),
  spec('apply_tag', 'tags', 'write'),
  spec('list_tags', 'tags', 'read'),
  spec('create_order_payment', 'payments', 'write', { confirm: true }),
];
const NAMES = CATALOG.map((t) => t.name);

const lint = (agent: Record<string, unknown>, top: Record<string, unknown> = {}) =>
  lintPolicy(parsePolicy(JSON.stringify({ ...top, agents: { a: agent } }), 'p', NAMES), CATALOG);

describe('policy lint: entries that cannot take effect', () => {
  it('a clean policy has no warnings', () => {
    expect(
      lint({
        grants: { contacts: 'write', tags: 'write' },
        deny_tools: ['delete_contact'],
        confirm_tools: ['apply_tag'],
      }),
    ).toEqual([]);
  });

  it('confirm_tools naming a tool the agent is not granted (the old README example)', () => {
    expect(lint({ grants: { contacts: 'write', tags: 'read' }, confirm_tools: ['apply_tag'] })).toEqual([
      '$.agents.a.confirm_tools[0]: "apply_tag" has no effect: agent "a" has read access to tags; it needs write, so it cannot call it',
    ]);
  });

  it('no_confirm_tools, human_confirm_tools and human_secret_tools naming a tool the agent cannot call', () => {
    const w = lint(
      {
        grants: { contacts: 'read' },
        no_confirm_tools: ['delete_contact'],
        human_confirm_tools: ['apply_tag'],
        human_secret_tools: ['create_order_payment'],
      },
      { human_secret_sha256: sha('s') },
    );
    expect(w).toEqual([
      '$.agents.a.no_confirm_tools[0]: "delete_contact" has no effect: agent "a" has read access to contacts; it needs write, so it cannot call it',
      '$.agents.a.human_confirm_tools[0]: "apply_tag" has no effect: agent "a" has none access to tags; it needs write, so it cannot call it',
      '$.agents.a.human_secret_tools[0]: "create_order_payment" has no effect: agent "a" has none access to payments; it needs write, so it cannot call it',
    ]);
  });

  it('a confirmation setting for a denied tool', () => {
    expect(
      lint({ grants: { '*': 'write' }, deny_tools: ['apply_tag'], confirm_tools: ['apply_tag'] }),
    ).toEqual([
      '$.agents.a.confirm_tools[0]: "apply_tag" has no effect: it is in deny_tools, so agent "a" cannot call it',
    ]);
  });

  it('deny of a tool the agent is not granted anyway', () => {
    expect(
      lint({ grants: { contacts: 'read', tags: 'read' }, deny_tools: ['delete_contact', 'list_contacts'] }),
    ).toEqual([
      '$.agents.a.deny_tools[0]: "delete_contact" has no effect: agent "a" has read access to contacts; it needs write, so it cannot call it anyway',
    ]);
  });

  it('confirm_tools for a ✋ tool, no_confirm_tools for a tool without confirmation, no_confirm under human_secret', () => {
    expect(
      lint(
        {
          grants: { '*': 'write' },
          confirm_tools: ['delete_contact'],
          no_confirm_tools: ['list_tags', 'create_order_payment'],
          human_secret_tools: ['create_order_payment'],
        },
        { human_secret_sha256: sha('s') },
      ),
    ).toEqual([
      '$.agents.a.confirm_tools[0]: "delete_contact" has no effect: the tool asks for confirmation already (✋)',
      '$.agents.a.no_confirm_tools[0]: "list_tags" has no effect: the tool does not ask for confirmation',
      '$.agents.a.no_confirm_tools[1]: "create_order_payment" has no effect: human_secret_tools wins, its confirmation stays on',
    ]);
  });

  it('an agent that can call nothing', () => {
    expect(lint({ grants: { '*': 'none' } })).toEqual([
      '$.agents.a.grants: agent "a" can call no tool (no resource is granted)',
    ]);
  });

  it('agents without a token when others have one (HTTP bind)', () => {
    expect(bindWarnings(['a', 'b'], ['a'], '0.0.0.0')).toEqual([
      '$.agents.b.token_sha256: agent "b" has no token, so it cannot connect over HTTP on 0.0.0.0 (set token_sha256)',
    ]);
    expect(bindWarnings(['a', 'b'], [], '127.0.0.1')).toEqual([]);
    expect(bindWarnings(['a'], ['a'], '0.0.0.0')).toEqual([]);
  });

  it('createSafety logs the warnings and returns them as a list', () => {
    const dir = tmpDir();
    const file = writeJson(dir, 'p.json', {
      agents: { a: { grants: { tags: 'read' }, confirm_tools: ['apply_tag'] } },
    });
    const cap = captureLogger();
    const db = openStateDb(undefined);
    try {
      const s = createSafety({
        policyFile: file,
        readOnly: false,
        sandbox: false,
        db,
        logger: cap.logger,
        catalog: CATALOG,
      });
      expect(s.policyWarnings).toHaveLength(1);
      expect(s.policyWarnings[0]).toMatch(/confirm_tools\[0\]: "apply_tag" has no effect/);
      expect(cap.text()).toContain('"level":40');
      expect(cap.text()).toContain('apply_tag\\" has no effect');
      // Without a policy file (the default policy) there is nothing to lint.
      expect(
        createSafety({ readOnly: false, sandbox: true, db, logger: silentLogger, catalog: CATALOG })
          .policyWarnings,
      ).toEqual([]);
      s.audit.close();
    } finally {
      db.close();
    }
  });
});

describe('policy errors in words', () => {
  it('an unknown tool name is an error naming the nearest catalog tool', () => {
    const text = JSON.stringify({ agents: { a: { grants: {}, confirm_tools: ['aply_tag'] } } }, null, 2);
    expect(() => parsePolicy(text, 'p.json', NAMES)).toThrow(
      '$.agents.a.confirm_tools[0]: unknown tool "aply_tag" (line 6); did you mean "apply_tag"?',
    );
    // Far from every name: no suggestion.
    expect(() =>
      parsePolicy(JSON.stringify({ agents: { a: { deny_tools: ['frobnicate_everything'] } } }), 'p', NAMES),
    ).toThrow(/unknown tool "frobnicate_everything" \(line 1\)$/);
  });

  it.each([
    ['{\n  "agents": {\n    "a": { "grants": { } },\n  }\n}', 4, 3, 'trailing comma before "}"'],
    ['{\n  "agents": {\n    a: {}\n  }\n}', 3, 5, 'expected a double-quoted string'],
    ['{\n  "agents": {}\n', 3, 1, 'unexpected end of the file'],
    ['{ "agents": {} } x', 1, 18, 'unexpected text after the JSON value'],
    ['{\n "agents": { "a": { "description": "two\nlines" } } }', 2, 40, 'control character'],
    ["{\n  'agents': {}\n}", 2, 3, 'expected a double-quoted string'],
  ])('invalid JSON %j → line %i, column %i', (text, line, column, problem) => {
    let message = '';
    try {
      parsePolicy(text, 'policy file p.json');
    } catch (e) {
      expect(e).toBeInstanceOf(PolicyError);
      message = (e as Error).message;
    }
    expect(message).toContain(
      `policy file p.json: not valid JSON at line ${line}, column ${column}: ${problem}`,
    );
    expect(message).not.toMatch(/position/);
  });

  it('the scanner accepts what JSON.parse accepts', () => {
    for (const t of ['{}', '[1, -2.5e3, "a\\u00e9\\n", true, false, null, {"x": []}]', ' "s" ', '0']) {
      expect(jsonSyntaxError(t), t).toBeUndefined();
    }
  });

  it('a missing, unreadable or directory policy file is said in words with the setting', () => {
    const dir = tmpDir();
    expect(() => loadPolicyFile(join(dir, 'nope.json'))).toThrow(
      `policy file not found: ${join(dir, 'nope.json')} (KEAP_POLICY / --policy)`,
    );
    expect(() => loadPolicyFile(dir)).toThrow(
      `policy file is a directory, not a file: ${dir} (KEAP_POLICY / --policy)`,
    );
  });
});

describe("the README's policy example", () => {
  it('is valid and has no entry that cannot take effect (real catalog)', () => {
    const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('#### Policy file'));
    const json = /```json\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    const text = json.replace(/"<hex sha256[^"]*>"/g, () => `"${sha(String(Math.random()))}"`);
    const file = parsePolicy(
      text,
      'README example',
      ALL_TOOLS.map((t) => t.name),
    );
    expect(Object.keys(file.agents).length).toBeGreaterThan(1);
    expect(lintPolicy(file, ALL_TOOLS)).toEqual([]);
  });
});
