/**
 * Health checks. For MCP tools: a real MCP session with the SDK client — `initialize`, then
 * `tools/list` — whose answer becomes the tool's capabilities (each MCP tool's name,
 * description and input schema, the schemas bounded in size). Over the agent-owned stdio
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
/**
 * Input schemas travel in every status report and inventory of the tool (one WebSocket frame
 * holds the whole inventory, MAX_FRAME_BYTES): one larger than this, as JSON, is left out…
 */
const MAX_INPUT_SCHEMA_CHARS = 8 * 1024;
/** …and so is every schema after the tool's first this many characters of them. */
const MAX_INPUT_SCHEMAS_CHARS = 16 * 1024;

type McpToolInfo = ToolCapabilities['tools'][number];

/** Name, description and — within the bounds above — input schema of each MCP tool. */
export function toolInfos(tools: readonly { name: string; description?: string | undefined; inputSchema?: unknown }[]): McpToolInfo[] {
  let budget = MAX_INPUT_SCHEMAS_CHARS;
  return tools.map((t) => {
    const info: McpToolInfo = { name: t.name };
    if (t.description) info.description = t.description;
    const schema = t.inputSchema;
    if (schema && typeof schema === 'object' && !Array.isArray(schema)) {
      const size = JSON.stringify(schema).length;
      if (size <= MAX_INPUT_SCHEMA_CHARS && size <= budget) {
        info.inputSchema = schema as Record<string, unknown>;
        budget -= size;
      }
    }
    return info;
  });
}

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
  const listed: { name: string; description?: string | undefined; inputSchema?: unknown }[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_TOOL_PAGES; page += 1) {
    const result = await client.listTools(cursor ? { cursor } : undefined, { timeout: timeoutMs });
    listed.push(...result.tools);
    cursor = result.nextCursor;
    if (!cursor) break;
  }
  const tools = toolInfos(listed);
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
