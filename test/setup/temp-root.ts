/**
 * globalSetup (first in the list): every temporary file or directory the suite creates (and HOME, where the
 * product keeps its default state directory) — in test workers, in the
 * product under test and in spawned processes — goes under one root made here, because TMPDIR points at it for
 * the whole run (forked workers and child processes inherit it, and os.tmpdir() reads it). Teardown removes the
 * root, so a run leaves nothing behind in the OS temp directory (.ci/run compares the OS temp directory before and
 * after `npm test` and fails on a new entry).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PREFIX = 'keap-mcp-test-';

export default function setup(): () => void {
  const osTmp = tmpdir();
  const root = mkdtempSync(join(osTmp, PREFIX));
  const saved = {
    TMPDIR: process.env.TMPDIR,
    TMP: process.env.TMP,
    TEMP: process.env.TEMP,
    HOME: process.env.HOME,
  };
  process.env.TMPDIR = root;
  process.env.TMP = root;
  process.env.TEMP = root;
  // The product's default state directory (audit log, token store) is under HOME: a spawned server that is not
  // given KEAP_MCP_STATE_DIR writes there, so HOME is under the root too.
  const home = join(root, 'home');
  mkdirSync(home);
  process.env.HOME = home;
  return () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    // KEAP_MCP_SECRET_SCAN_KEEP=1 keeps the secret scan's captures, which live under the root.
    if (process.env.KEAP_MCP_SECRET_SCAN_KEEP !== '1') rmSync(root, { recursive: true, force: true });
  };
}
