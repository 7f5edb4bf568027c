/** A real MCP client (@modelcontextprotocol/sdk) calling a tool over Streamable HTTP. */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export interface EndpointLike {
  host: string;
  port: number;
  path: string;
}

/** Calls `name` with `args` at the endpoint; resolves to the text of the answer. */
export async function callMcpTool(endpoint: EndpointLike, name: string, args: Record<string, unknown> = {}): Promise<string> {
  const client = new Client({ name: 'toolbelt-e2e', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`http://${endpoint.host}:${endpoint.port}${endpoint.path}`));
  await client.connect(transport);
  try {
    const result = await client.callTool({ name, arguments: args });
    const content = result.content as { type: string; text?: string }[];
    return content.map((c) => c.text ?? '').join('');
  } finally {
    await client.close();
  }
}

/** The answer, or the error's message when the server cannot be reached. */
export async function tryMcpTool(endpoint: EndpointLike, name: string, args: Record<string, unknown> = {}): Promise<string> {
  try {
    return await callMcpTool(endpoint, name, args);
  } catch (error) {
    return `unreachable: ${(error as Error).message}`;
  }
}
