/**
 * Health checks. For MCP tools: a real MCP session with the SDK client — `initialize`, then
 * `tools/list` — whose answer becomes the tool's capabilities. Over the agent-owned stdio
 * pipe for mcp-stdio tools, over Streamable HTTP for mcp-http tools. For http tools: a GET
 * that answers below 500.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { ToolCapabilities } from '@toolbelt/schema/types';

export interface HealthResult {
  healthy: boolean;
  message?: string;
  capabilities?: ToolCapabilities;
}

const MAX_TOOL_PAGES = 10;
/** Runs initialize + tools/list over `transport` and closes the session. */
export async function mcpSession(transport: Transport, timeoutMs: number, agentVersion: string): Promise<HealthResult> {
  const client = new Client({ name: 'toolbelt-droplet-agent', version: agentVersion });
  client.onerror = () => {}; // stray lines on a shared pipe are not this check's failure
  try {
    await client.connect(transport, { timeout: timeoutMs });
    return await listCapabilities(client, timeoutMs);
  } catch (error) {
    return { healthy: false, message: `MCP check failed: ${(error as Error).message}` };
  } finally {
    if (transport instanceof StreamableHTTPClientTransport) await transport.terminateSession().catch(() => {});
    await client.close().catch(() => {});
  }
}

/** `tools/list` (paginated) on a connected session: the tool's capabilities. Throws on failure. */
export async function listCapabilities(client: Client, timeoutMs: number): Promise<HealthResult> {
  const tools: { name: string; description?: string }[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_TOOL_PAGES; page += 1) {
    const result = await client.listTools(cursor ? { cursor } : undefined, { timeout: timeoutMs });
    for (const t of result.tools) tools.push(t.description ? { name: t.name, description: t.description } : { name: t.name });
    cursor = result.nextCursor;
    if (!cursor) break;
  }
  const info = client.getServerVersion();
  return {
    healthy: true,
    capabilities: {
      ...(info ? { serverInfo: { name: info.name, version: info.version } } : {}),
      tools,
      checkedAt: new Date().toISOString(),
    },
  };
}

/** An MCP session over Streamable HTTP at `url`. */
export function mcpHttpCheck(url: string, timeoutMs: number, agentVersion: string): Promise<HealthResult> {
  return mcpSession(new StreamableHTTPClientTransport(new URL(url)), timeoutMs, agentVersion);
}

/** A plain HTTP GET: healthy when it answers with a status below 500. */
export async function httpCheck(url: string, timeoutMs: number): Promise<HealthResult> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await response.body?.cancel();
    return response.status < 500
      ? { healthy: true, message: `HTTP ${response.status}` }
      : { healthy: false, message: `HTTP ${response.status}` };
  } catch (error) {
    return { healthy: false, message: `GET ${url} failed: ${(error as Error).message}` };
  }
}
