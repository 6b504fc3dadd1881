/**
 * README promises that are easy to break: the tool table carries every description whole, the sandbox mcp.json
 * entry shown in the text is the one in mcp.json (complete: command, args with --sandbox, no env), and the
 * sections on sessions, Keap's documents and packaging name their settings.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../../src/config.js';
import { cell, END, START } from '../../src/docs/tool-table.js';
import { TABLE_TOOLS } from '../../tools/index.js';

const ROOT = join(import.meta.dirname, '..', '..');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

interface Entry {
  command: string;
  args: string[];
  env?: Record<string, string>;
}

describe('README', () => {
  it('the tool table has every description whole (not cut at the first sentence)', () => {
    const table = readme.slice(readme.indexOf(START), readme.indexOf(END));
    for (const t of TABLE_TOOLS) {
      const row = table.split('\n').find((l) => l.startsWith(`| \`${t.name}\` |`));
      expect(row, t.name).toBeDefined();
      expect(row?.endsWith(` ${cell(t.description)} |`), t.name).toBe(true);
    }
    expect(TABLE_TOOLS.some((t) => /[.!?]\s+\S/.test(t.description.trim()))).toBe(true); // some have 2+ sentences
  });

  it('shows the complete sandbox entry of mcp.json: node, [dist/src/index.js, --sandbox], no env', () => {
    const m = JSON.parse(readFileSync(join(ROOT, 'mcp.json'), 'utf8')) as {
      mcpServers: Record<string, Entry>;
    };
    const sandbox = m.mcpServers['keap-sandbox'];
    expect(sandbox).toEqual({
      command: 'node',
      args: ['/absolute/path/to/keap-mcp/dist/src/index.js', '--sandbox'],
    });
    const blocks = [...readme.matchAll(/```json\n([\s\S]*?)```/g)].map((b) =>
      (b[1] ?? '').replace(/^ {2}/gm, ''),
    );
    const shown = blocks
      .map((b) => {
        try {
          return JSON.parse(b) as { mcpServers?: Record<string, Entry> };
        } catch {
          return undefined;
        }
      })
      .find((j) => j?.mcpServers?.['keap-sandbox'] !== undefined);
    expect(shown?.mcpServers?.['keap-sandbox']).toEqual(sandbox);
    expect(readme).not.toMatch(/replace `env` with/);
  });

  it('documents sessions, health, logging, Keap documents, the sandbox OAuth client and native builds', () => {
    for (const s of SETTINGS.filter(
      (x) => x.env.startsWith('KEAP_MCP_SESSION') || x.env.startsWith('KEAP_MCP_MAX'),
    )) {
      expect(readme, s.env).toContain(s.env);
    }
    expect(readme).toMatch(/HTTP 503/);
    expect(readme).toMatch(/logging\/setLevel/);
    expect(readme).toContain('KEAP_OPENAPI_DIR');
    expect(readme).toContain('infusionsoft/keap-sdk');
    expect(readme).toContain('sdks/v2/swagger.yml');
    expect(readme).toContain('`sandbox-client` / `sandbox-secret`');
    expect(readme).toContain('auth login --manual');
    expect(readme).toMatch(/python3.*make.*C\+\+/s);
    expect(readme).not.toContain('inspector-cli@1.0.3');
  });
});
