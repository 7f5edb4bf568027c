/**
 * The MCP server one gateway request is answered by (official SDK, low-level `Server`): its
 * handlers ask the agent's `Toolset` and record each call in the audit. The server is built
 * per request (2026-07-28) or per session (2025-11-25); it holds no state of its own.
 */
import { ProtocolError, Server } from '@modelcontextprotocol/server';
import type { McpReplyBody } from '@toolbelt/schema/protocol';
import type { CallRecorder } from './audit.ts';
import { GatewayError, type ListKind, type Toolset } from './toolset.ts';

export const GATEWAY_SERVER_INFO = { name: 'toolbelt-gateway', version: '1.0.0' };

type Params = Record<string, unknown> | undefined;
type Ctx = { mcpReq: { signal: AbortSignal } };

/** The JSON-RPC error of a gateway failure, or of a tool's own error answer. */
function protocolError(error: unknown): unknown {
  if (error instanceof GatewayError) return new ProtocolError(error.code, error.message, error.data);
  return error;
}

function unwrap(reply: McpReplyBody): Record<string, unknown> {
  if ('error' in reply) throw new ProtocolError(reply.error.code, reply.error.message, reply.error.data);
  return reply.result;
}

/** Builds the server for one caller of one agent. */
export function buildGatewayServer(toolset: Toolset, recorder: CallRecorder): Server {
  const server = new Server(GATEWAY_SERVER_INFO, {
    capabilities: { tools: { listChanged: true }, prompts: { listChanged: true }, resources: { listChanged: true } },
    instructions: `The tools of agent "${toolset.agent.name}": each is named <tool instance>__<tool>.`,
  });
  const list = (kind: ListKind, field: string) => async (_request: unknown, ctx: Ctx) => {
    try {
      return { [field]: (await toolset.list(kind, { signal: ctx.mcpReq.signal })).items };
    } catch (error) {
      throw protocolError(error);
    }
  };
  const on = server.setRequestHandler.bind(server) as (method: string, handler: (request: { params?: Params }, ctx: Ctx) => unknown) => void;
  on('tools/list', list('tools', 'tools'));
  on('prompts/list', list('prompts', 'prompts'));
  on('resources/list', list('resources', 'resources'));
  on('resources/templates/list', list('resourceTemplates', 'resourceTemplates'));
  const handlers = { toolset, recorder };
  on('tools/call', (request, ctx) => invoke(handlers, 'tools', request.params ?? {}, ctx));
  on('prompts/get', (request, ctx) => invoke(handlers, 'prompts', request.params ?? {}, ctx));
  on('resources/read', async (request, ctx) => {
    const params = request.params ?? {};
    const uri = String(params.uri ?? '');
    return recorder.record({ method: 'resources/read', tool: uri, params }, async (note) => {
      const { tool, reply } = await toolset.read(uri, params, { signal: ctx.mcpReq.signal });
      note.instance(tool.instanceName);
      return unwrap(note.reply(reply));
    }).catch((error: unknown) => {
      throw protocolError(error);
    });
  });
  return server;
}

async function invoke(
  { toolset, recorder }: { toolset: Toolset; recorder: CallRecorder },
  kind: 'tools' | 'prompts',
  params: Record<string, unknown>,
  ctx: Ctx,
) {
  const name = String(params.name ?? '');
  const method = kind === 'tools' ? 'tools/call' : 'prompts/get';
  try {
    return await recorder.record({ method, tool: name, params }, async (note) => {
      const { tool, reply } = await toolset.invoke(kind, name, params, { signal: ctx.mcpReq.signal });
      note.instance(tool.instanceName);
      return unwrap(note.reply(reply));
    });
  } catch (error) {
    throw protocolError(error);
  }
}
