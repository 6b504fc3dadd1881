import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Access, AnyToolSpec, Resource } from '../../src/registry/define.js';

export const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

export function spec(
  name: string,
  resource: Resource,
  access: Access,
  extra: Partial<AnyToolSpec> = {},
): AnyToolSpec {
  return {
    name,
    title: name,
    description: name,
    resource,
    access,
    method: access === 'read' ? 'GET' : 'POST',
    path: `/v2/${resource}`,
    input: {},
    ...extra,
  };
}

export function tmpDir(prefix = 'keap-safety-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function writeJson(dir: string, name: string, value: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  return file;
}
