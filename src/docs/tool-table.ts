/**
 * The README's tool table, generated from the catalog between `<!-- tools:start -->` and `<!-- tools:end -->`.
 *   node dist/src/docs/tool-table.js --write   rewrites README.md
 *   node dist/src/docs/tool-table.js           exits 1 when README.md has drifted from the catalog
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TABLE_TOOLS } from '../../tools/index.js';
import type { AnyToolSpec } from '../registry/define.js';

export const START = '<!-- tools:start -->';
export const END = '<!-- tools:end -->';

/** The whole description on one table line: whitespace collapsed, `|` escaped, nothing cut. */
export function cell(text: string): string {
  return text.replace(/\s+/g, ' ').trim().replace(/\|/g, '\\|');
}

export function toolTable(tools: readonly AnyToolSpec[] = TABLE_TOOLS): string {
  const rows = tools.map(
    (t) =>
      `| \`${t.name}\` | ${t.resource} | ${t.access} | ${t.confirm ? '✋' : ''} | ${cell(t.description)} |`,
  );
  return [
    `${tools.length} tools. ✋ = asks a human before it runs (by default; the policy can add or waive).`,
    '',
    '| tool | resource | access | ✋ | what it does |',
    '|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** README text with the table section replaced. Throws when the markers are missing. */
export function withToolTable(readme: string, tools: readonly AnyToolSpec[] = TABLE_TOOLS): string {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README.md lacks the ${START} / ${END} markers`);
  return `${readme.slice(0, a + START.length)}\n${toolTable(tools)}\n${readme.slice(b)}`;
}

/** The project root (works from src/docs and from dist/src/docs). */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'keap-mcp') return dir;
    } catch {
      // not here; go up
    }
    dir = dirname(dir);
  }
  throw new Error('keap-mcp project root not found');
}

function main(argv: readonly string[]): number {
  const file = join(projectRoot(), 'README.md');
  const current = readFileSync(file, 'utf8');
  const next = withToolTable(current);
  if (argv.includes('--write')) {
    if (next !== current) writeFileSync(file, next);
    process.stderr.write(
      `README.md tool table: ${TABLE_TOOLS.length} tools${next !== current ? ' (updated)' : ''}\n`,
    );
    return 0;
  }
  if (next !== current) {
    process.stderr.write('README.md tool table is out of date: run `npm run docs:tools`\n');
    return 1;
  }
  return 0;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = main(process.argv.slice(2));
}
