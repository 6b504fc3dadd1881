/**
 * globalSetup of the secret scan (issue 4, last acceptance point): creates the capture directory that every worker's
 * setup file (capture.ts) writes into, and on teardown scans all captured product output — stderr of the test
 * workers, stderr of every spawned process, and the text of every MCP tool result — for the configured secrets
 * (secrets.ts). A hit fails the run, naming the capture file and the kind of secret, never the secret.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { secretKindsIn } from './secrets.js';

declare module 'vitest' {
  export interface ProvidedContext {
    secretScanDir: string;
  }
}

export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'keap-mcp-secret-scan-'));
  project.provide('secretScanDir', dir);
  return () => {
    const files = readdirSync(dir).sort();
    const hits: string[] = [];
    let bytes = 0;
    for (const f of files) {
      const text = readFileSync(join(dir, f), 'utf8');
      bytes += statSync(join(dir, f)).size;
      for (const kind of secretKindsIn(text)) hits.push(`${f}: ${kind}`);
    }
    const keep = process.env.KEAP_MCP_SECRET_SCAN_KEEP === '1';
    if (!keep) rmSync(dir, { recursive: true, force: true });
    if (hits.length > 0) {
      // vitest only logs an error thrown by a teardown ("error during close"); the exit code must be set too.
      process.exitCode = 1;
      throw new Error(
        `secret scan: configured secrets found in product output (${hits.length}):\n  ${hits.join('\n  ')}` +
          (keep
            ? `\n  captures kept in ${dir}`
            : '\n  (set KEAP_MCP_SECRET_SCAN_KEEP=1 to keep the captures)'),
      );
    }
    process.stderr.write(
      `secret scan: ${files.length} capture files, ${bytes} bytes, no configured secret\n`,
    );
  };
}
