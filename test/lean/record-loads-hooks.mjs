/** Loader hook of record-loads.mjs: every module loaded through the ES module loader, appended as it loads. */
import { appendFileSync } from 'node:fs';

export async function load(url, context, nextLoad) {
  const out = process.env.KEAP_MCP_TEST_LOADS;
  if (out !== undefined && out !== '') appendFileSync(out, `${url}\n`);
  return nextLoad(url, context);
}
