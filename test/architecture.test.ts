/**
 * Architecture rules checked over the source: the sandbox is an independent Keap (it imports nothing from the
 * product), the product never imports test or bench code, tools/ imports only the catalog contract, and only
 * src/keap/client.ts talks HTTP (undici / fetch) outside the sandbox.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

/** Module specifiers of static and dynamic imports and re-exports. */
function imports(file: string): string[] {
  const src = readFileSync(join(ROOT, file), 'utf8');
  const out: string[] = [];
  for (const m of src.matchAll(
    /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g,
  )) {
    out.push((m[1] ?? m[2]) as string);
  }
  return out;
}

/** Repo-relative target of a relative specifier, or undefined for packages and node: built-ins. */
function target(file: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  return relative(ROOT, resolve(ROOT, dirname(file), spec));
}

describe('architecture', () => {
  it('the sandbox imports nothing outside src/sandbox', () => {
    const files = tsFiles('src/sandbox');
    expect(files.length).toBeGreaterThan(10);
    const bad = files.flatMap((f) =>
      imports(f)
        .map((s) => target(f, s))
        .filter((t): t is string => t !== undefined && !t.startsWith('src/sandbox/'))
        .map((t) => `${f} → ${t}`),
    );
    expect(bad).toEqual([]);
  });

  it('src/ and tools/ never import test or bench code', () => {
    const files = [...tsFiles('src'), ...tsFiles('tools')];
    const bad = files.flatMap((f) =>
      imports(f)
        .map((s) => target(f, s))
        .filter((t): t is string => t !== undefined && (t.startsWith('test/') || t.startsWith('bench/')))
        .map((t) => `${f} → ${t}`),
    );
    expect(bad).toEqual([]);
  });

  it('tools/ imports only zod, the catalog contract and tools/shared', () => {
    const bad = tsFiles('tools').flatMap((f) =>
      imports(f)
        .filter((s) => {
          if (s === 'zod') return false;
          const t = target(f, s);
          return t === undefined || !(t.startsWith('tools/') || t === 'src/registry/define.js');
        })
        .map((s) => `${f} → ${s}`),
    );
    expect(bad).toEqual([]);
  });

  it('outside the sandbox, only src/keap/client.ts opens HTTP connections', () => {
    const files = [...tsFiles('src'), ...tsFiles('tools')].filter((f) => !f.startsWith('src/sandbox/'));
    // Client-side HTTP only: undici, fetch, node:https, http.request/get. Servers (the MCP transport, the OAuth
    // login callback) listen with node:http and never call Keap.
    const users = files.filter((f) => {
      const src = readFileSync(join(ROOT, f), 'utf8');
      return (
        imports(f).includes('undici') ||
        /\bfetch\(/.test(src) ||
        /from ['"]node:https['"]/.test(src) ||
        /\bhttps?\.(request|get)\(/.test(src) ||
        /import\s*\{[^}]*\b(request|get)\b[^}]*\}\s*from ['"]node:http['"]/.test(src)
      );
    });
    expect(users).toEqual(['src/keap/client.ts']);
  });
});
