/**
 * Preload for test/lean/loading.test.ts (`node --import ./record-loads.mjs …`): appends the URL or file of every
 * module the process loads to the file named by KEAP_MCP_TEST_LOADS, one per line, as it loads: ES modules and
 * packages imported from ES modules through a loader hook (record-loads-hooks.mjs), CommonJS `require`s through
 * Module._load. Test-only; the product never sees it.
 */
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const out = process.env.KEAP_MCP_TEST_LOADS;
if (out !== undefined && out !== '') {
  register('./record-loads-hooks.mjs', import.meta.url);
  const Module = createRequire(import.meta.url)('node:module');
  const load = Module._load;
  Module._load = function recordLoad(request, parent, isMain) {
    const exports = load.call(this, request, parent, isMain);
    let file = request;
    try {
      file = Module._resolveFilename(request, parent, isMain);
    } catch {
      // a built-in or an unresolvable name: keep the request as given
    }
    appendFileSync(out, `${file}\n`);
    return exports;
  };
}
