/**
 * Long-tail results shaped like the catalog's, against a tiny stand-in Keap (a loopback HTTP server that answers
 * a few operations the sandbox does not simulate): v2 token paging and v1 offset paging with hints that say how
 * to ask for the next page through call_keap_read, the result cap, and file downloads reported as type and size
 * (never the bytes).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESULT_CAP_CHARS } from '../../src/results.js';
import type { RunningSandbox } from '../../src/sandbox/core/types.js';
import { data, FULL_WRITE_POLICY, type Harness, startHarness, text } from '../server/harness.js';

const FILE_BYTES = Buffer.alloc(123_457, 7);
let server: Server;
let h: Harness;
const seen: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push(`${req.method} ${url.pathname}${url.search}`);
    if (url.pathname === '/v2/files/5:data') {
      res.writeHead(200, { 'content-type': 'application/pdf' });
      res.end(FILE_BYTES);
    } else if (url.pathname === '/v2/leadSources') {
      const many = url.searchParams.get('page_size') === '1000';
      const items = Array.from({ length: many ? 400 : 2 }, (_, i) => ({
        id: String(i + 1),
        name: `Source ${i + 1}`,
        description: 'x'.repeat(many ? 200 : 10),
      }));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ lead_sources: items, next_page_token: 'tok-2' }));
    } else if (url.pathname === '/v1/transactions') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ transactions: [{ id: 1 }, { id: 2 }], count: 9, next: 'https://x/next' }));
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'no' }));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  const standIn = {
    baseUrl: `http://127.0.0.1:${port}`,
    close: async () => undefined,
  } as unknown as RunningSandbox;
  h = await startHarness({ policy: FULL_WRITE_POLICY, sandbox: standIn });
});

afterAll(async () => {
  await h?.close();
  await new Promise((r) => server.close(r));
});

describe('long-tail results', () => {
  it('v2 token paging: items under Keap key, next_page_token, a hint naming the operation', async () => {
    const d = data(await h.call('call_keap_read', { operationId: 'listLeadSources', arguments: {} }));
    expect(d.lead_sources).toHaveLength(2);
    expect(d.next_page_token).toBe('tok-2');
    expect(d.hint).toMatch(/call_keap_read again with operationId "listLeadSources".*page_token="tok-2"/);
    const next = await h.call('call_keap_read', {
      operationId: 'listLeadSources',
      arguments: { page_token: 'tok-2' },
    });
    expect(next.isError).toBeFalsy();
    expect(seen.at(-1)).toBe('GET /v2/leadSources?page_token=tok-2');
  });

  it('v1 offset paging: next and an offset hint', async () => {
    const d = data(
      await h.call('call_keap_read', { operationId: 'listTransactionsUsingGET', arguments: {} }),
    );
    expect(d.transactions).toHaveLength(2);
    expect(d.next).toBe('https://x/next');
    expect(d.hint).toMatch(/operationId "listTransactionsUsingGET".*offset increased by 2/);
  });

  it('a page over the cap is truncated with the limit stated', async () => {
    const r = await h.call('call_keap_read', {
      operationId: 'listLeadSources',
      arguments: { page_size: 1000 },
    });
    const d = data(r);
    expect(d.lead_sources.length).toBeLessThan(400);
    expect(d.truncated).toContain(`${RESULT_CAP_CHARS} characters`);
    expect(text(r).length).toBeLessThanOrEqual(RESULT_CAP_CHARS + 200);
  });

  it('a file download returns its type and size, not its bytes', async () => {
    const r = await h.call('call_keap_read', { operationId: 'getFileData_1', arguments: { file_id: '5' } });
    expect(r.isError, text(r)).toBeFalsy();
    expect(data(r)).toEqual({ content_type: 'application/pdf', size_bytes: FILE_BYTES.length });
    expect(text(r).length).toBeLessThan(300);
    const rec = h.audit().at(-1) as Record<string, unknown>;
    expect(rec).toMatchObject({
      tool: 'call_keap_read',
      operation: 'getFileData_1',
      resource: 'files',
      status: 200,
    });
  });
});
