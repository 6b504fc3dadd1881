#!/usr/bin/env node
/**
 * `npm start` runs this first: it compiles (tsc -p tsconfig.json) only when dist/ is missing or older than a
 * source. "Older" means: any file or directory under src/ or tools/, or tsconfig.json / package.json, changed
 * after the last successful build made here (dist/.build-stamp, written only when tsc succeeded, so a failed
 * build is retried next time). A directory's mtime catches deleted and renamed files. No dependencies.
 * `--always` (npm run build, prepare) compiles unconditionally and renews the stamp.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'dist', '.build-stamp');
const entry = join(root, 'dist', 'src', 'index.js');

/** Newest mtime (ms) of `path` and, for a directory, of everything below it. */
function newest(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  let m = st.mtimeMs;
  if (st.isDirectory()) {
    for (const name of readdirSync(path)) m = Math.max(m, newest(join(path, name)));
  }
  return m;
}

function stale() {
  if (!existsSync(stamp) || !existsSync(entry)) return 'no previous build';
  const built = statSync(stamp).mtimeMs;
  for (const input of ['src', 'tools', 'tsconfig.json', 'package.json']) {
    if (newest(join(root, input)) > built) return `${input} changed since the last build`;
  }
  return undefined;
}

const why = process.argv.includes('--always') ? undefined : stale();
const build = process.argv.includes('--always') || why !== undefined;
if (build) {
  if (why !== undefined) process.stderr.write(`keap-mcp: building (${why})…\n`);
  const started = new Date(); // a source saved during the build makes the next start rebuild
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write('keap-mcp: the build failed (see above); fix it or run `npm run build`.\n');
    process.exit(r.status ?? 1);
  }
  writeFileSync(stamp, `${started.toISOString()}\n`);
  utimesSync(stamp, started, started);
}
