/**
 * Streamable HTTP answers: a POST whose answer is one JSON-RPC response, ready at once, is sent as one
 * application/json body; a call that talks to the client while it runs (an elicitation) still gets its event
 * stream, frame by frame, and completes.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type CallToolResult, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHttp } from '../../src/transports/http.js';
import { type HttpFixture, startHttpFixture } from '../helpers/http-server.js';
import { INITIALIZE_BODY, MCP_POST_HEADERS } from '../helpers/mcp-http.js';
import { data, FULL_WRITE_POLICY } from './harness.js';

let fx: HttpFixture;
let http: RunningHttp;

beforeAll(async () => {
  fx = await startHttpFixture({ policy: FULL_WRITE_POLICY });
  http = fx.http;
});

afterAll(async () => {
  await fx?.close();
});

async function post(body: unknown, session?: string): Promise<Response> {
  return fetch(http.url, {
    method: 'POST',
    headers: {
      ...MCP_POST_HEADERS,
      ...(session !== undefined ? { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' } : {}),
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('Streamable HTTP: one response → one JSON body', () => {
  it('tools/call answered as application/json with a length; notifications still get 202', async () => {
    const init = await post(INITIALIZE_BODY);
    expect(init.status).toBe(200);
    const session = init.headers.get('mcp-session-id') ?? '';
    expect(session).not.toBe('');
    await init.text();
    const note = await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, session);
    expect(note.status).toBe(202);

    const res = await post(
      {
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: 'list_contacts', arguments: { page_size: 2 } },
      },
      session,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('mcp-session-id')).toBe(session);
    const text = await res.text();
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(text)));
    const msg = JSON.parse(text) as { id: number; result: CallToolResult };
    expect(msg.id).toBe(7);
    expect(msg.result.isError).toBeFalsy();
    expect(data(msg.result).contacts).toHaveLength(2);

    // An error result is one response too.
    const bad = await post(
      { jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'get_contact', arguments: {} } },
      session,
    );
    expect(bad.headers.get('content-type')).toBe('application/json');
    const badMsg = (await bad.json()) as { id: number; result: CallToolResult };
    expect(badMsg.id).toBe(8);
    expect(badMsg.result.isError).toBe(true);
  });

  it('an elicitation during the call travels on the event stream and the call completes', async () => {
    const client = new Client(
      { name: 'http-elicit', version: '1.0.0' },
      { capabilities: { elicitation: { form: {} } } },
    );
    const asked: string[] = [];
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(req.params.message);
      return { action: 'decline' };
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(http.url)));
    try {
      const list = (await client.callTool({
        name: 'list_contacts',
        arguments: { page_size: 1 },
      })) as CallToolResult;
      const id = String((data(list).contacts as { id: number }[])[0]?.id);
      const r = (await client.callTool({
        name: 'delete_contact',
        arguments: { contact_id: id },
      })) as CallToolResult;
      expect(asked).toHaveLength(1);
      expect(r.isError).toBeFalsy();
      expect(data(r).declined).toBe(true);
      // Nothing was deleted.
      const still = (await client.callTool({
        name: 'get_contact',
        arguments: { contact_id: id },
      })) as CallToolResult;
      expect(still.isError).toBeFalsy();
    } finally {
      await client.close();
    }
  });
});
