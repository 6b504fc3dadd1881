import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { Policy, PolicyError, parsePolicy } from '../../src/safety/policy.js';
import { sha, spec } from './helpers.js';

describe('policy and config: operator console settings', () => {
  it('parses operator_token_sha256 (lower-cased) and confirm_via "console"', () => {
    const file = parsePolicy(
      JSON.stringify({
        operator_token_sha256: sha('op').toUpperCase(),
        agents: { bot: { grants: { '*': 'write' }, confirm_via: 'console' }, other: { grants: {} } },
      }),
    );
    const p = new Policy(file, { readOnly: false });
    expect(p.operatorTokenSha256()).toBe(sha('op'));
    expect(p.consoleConfirm('bot')).toBe(true);
    expect(p.consoleConfirm('other')).toBe(false);
    // never the model-held token for a console agent
    expect(p.confirmChannel('bot', spec('delete_contact', 'contacts', 'write'))).toBe('human');
    expect(p.confirmChannel('other', spec('delete_contact', 'contacts', 'write'))).toBe('any');
  });

  it('rejects a malformed operator token hash, naming the field', () => {
    expect(() => parsePolicy(JSON.stringify({ operator_token_sha256: 'abc', agents: { a: {} } }))).toThrow(
      PolicyError,
    );
    expect(() => parsePolicy(JSON.stringify({ operator_token_sha256: 'abc', agents: { a: {} } }))).toThrow(
      /operator_token_sha256/,
    );
  });

  it('config: --console-port and KEAP_MCP_OPERATOR_TOKEN_SHA256', () => {
    const c = loadConfig(
      { values: { KEAP_MCP_CONSOLE_PORT: '3100' } },
      { KEAP_MCP_OPERATOR_TOKEN_SHA256: sha('op').toUpperCase() },
    );
    expect(c.console).toEqual({ port: 3100, operatorTokenSha256: sha('op'), approvalWaitS: 60 });
    expect(loadConfig({}, {}).console).toEqual({
      port: undefined,
      operatorTokenSha256: undefined,
      approvalWaitS: 60,
    });
    expect(() => loadConfig({ values: { KEAP_MCP_CONSOLE_PORT: '0' } }, {})).toThrow(/--console-port/);
    expect(() => loadConfig({}, { KEAP_MCP_OPERATOR_TOKEN_SHA256: 'nothex' })).toThrow(
      /KEAP_MCP_OPERATOR_TOKEN_SHA256/,
    );
  });
});
