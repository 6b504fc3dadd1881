/** stdio transport: what Claude Desktop and most MCP clients launch. Logs go to stderr; stdout is the protocol. */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

export interface RunningStdio {
  /** Resolves when the client closes the connection (stdin ends). */
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

export async function startStdio(server: McpServer): Promise<RunningStdio> {
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    process.stdin.once('end', () => resolve());
  });
  await server.connect(transport);
  return {
    closed,
    async close() {
      await server.close();
    },
  };
}
