/**
 * An agent's toolbelt: its tool instances (list, add, get, change, remove) and the
 * `toolbelt` view the agent platform reads — active tools with endpoints and MCP capabilities.
 */
import { getEnvironmentByAgent, type ToolInstance, toolInstanceSpecSchema, toolUpdateSchema } from '@toolbelt/schema';
import { z } from 'zod';
import type { ApiDeps } from '../deps.ts';
import type { IncomingMessage } from 'node:http';
import { assertAgentAccess } from '../auth.ts';
import { requireAgent } from '../ops/agents.ts';
import { write } from '../ops/context.ts';
import { addToolWrite, listAgentTools, removeToolWrite, requireAgentTool, updateToolWrite } from '../ops/tools.ts';
import { type AnyRoute, defineRoute } from '../route.ts';
import { pageOf, toolView, toolViewSchema } from '../views.ts';
import { AUTH_ERRORS, agentParams, errors, nextCursor, pageQuery } from './common.ts';

const TAG = 'tools';

/** A tool instance as the API answers it, its generation as the ETag. */
function toolAnswer<S extends number>(status: S, agent: { id: string }, record: { tool: ToolInstance; toolName: string }) {
  return { status, body: toolView(record.tool, { agentId: agent.id, toolName: record.toolName }), etag: String(record.tool.generation) };
}
const toolParams = agentParams.extend({ tool: z.string().min(1).describe('tool instance id or instance_name') });

const listTools = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'GET',
    path: '/v1/agents/:id/tools',
    summary: "List an agent's tool instances (by instance name)",
    tag: TAG,
    access: 'viewer',
    params: agentParams,
    query: pageQuery,
    responses: { 200: { description: 'a page of tools', schema: pageOf(toolViewSchema) }, ...errors(400, ...AUTH_ERRORS, 404) },
    async handle({ params, query }) {
      const agent = await requireAgent(deps.db, params.id);
      const all = await listAgentTools(deps.db, agent);
      // An agent has few tools: page over the sorted list in memory.
      const page = all.filter((t) => query.after === undefined || t.tool.instance_name > query.after).slice(0, query.limit);
      const items = page.map((t) => toolView(t.tool, { agentId: agent.id, toolName: t.toolName }));
      return { status: 200, body: { items, next: nextCursor(page, query.limit, (t) => t.tool.instance_name) } };
    },
  });

const addTool = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'POST',
    path: '/v1/agents/:id/tools',
    summary: "Add a catalog tool to an agent's toolbelt (checked against the catalog)",
    tag: TAG,
    access: 'operator',
    writes: ['Tool'],
    params: agentParams,
    body: toolInstanceSpecSchema,
    responses: { 201: { description: 'added', schema: toolViewSchema }, ...errors(400, ...AUTH_ERRORS, 404, 409) },
    async handle({ params, body }) {
      const { agent, record } = await write(deps, async (ctx) => {
        const owner = await requireAgent(ctx.tx, params.id, { lock: true });
        return { agent: owner, record: await addToolWrite(ctx, owner, body) };
      });
      return toolAnswer(201, agent, record);
    },
  });

const getTool = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'GET',
    path: '/v1/agents/:id/tools/:tool',
    summary: 'Get one tool instance (spec and status)',
    tag: TAG,
    access: 'viewer',
    params: toolParams,
    responses: { 200: { description: 'the tool; ETag is its generation', schema: toolViewSchema }, ...errors(...AUTH_ERRORS, 404) },
    async handle({ params }) {
      const agent = await requireAgent(deps.db, params.id);
      const record = await requireAgentTool(deps.db, agent, params.tool);
      return toolAnswer(200, agent, record);
    },
  });

const updateTool = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'PATCH',
    path: '/v1/agents/:id/tools/:tool',
    summary: "Change a tool's config, version, secret references, desired state or gateway filters",
    tag: TAG,
    access: 'operator',
    writes: ['Tool'],
    params: toolParams,
    body: toolUpdateSchema,
    ifMatch: true,
    responses: { 200: { description: 'updated', schema: toolViewSchema }, ...errors(400, ...AUTH_ERRORS, 404, 409) },
    async handle({ params, body, ifMatch }) {
      const { agent, record } = await write(deps, async (ctx) => {
        const owner = await requireAgent(ctx.tx, params.id, { lock: true });
        const current = await requireAgentTool(ctx.tx, owner, params.tool);
        return { agent: owner, record: await updateToolWrite(ctx, { agent: owner, record: current }, body, { ifMatch }) };
      });
      return toolAnswer(200, agent, record);
    },
  });

const removeTool = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'DELETE',
    path: '/v1/agents/:id/tools/:tool',
    summary: 'Remove a tool (the reconciler uninstalls it, then the row goes)',
    tag: TAG,
    access: 'operator',
    writes: ['Tool'],
    params: toolParams,
    ifMatch: true,
    responses: { 202: { description: 'marked for removal', schema: toolViewSchema }, ...errors(400, ...AUTH_ERRORS, 404, 409) },
    async handle({ params, ifMatch }) {
      const { agent, record } = await write(deps, async (ctx) => {
        const owner = await requireAgent(ctx.tx, params.id, { lock: true });
        const current = await requireAgentTool(ctx.tx, owner, params.tool);
        return { agent: owner, record: await removeToolWrite(ctx, current, ifMatch) };
      });
      return { status: 202, body: toolView(record.tool, { agentId: agent.id, toolName: record.toolName }) };
    },
  });

const ACTIVE_STATUSES = new Set(['running', 'active']);
/** The MCP revisions the gateway speaks, newest first. */
export const GATEWAY_PROTOCOL_VERSIONS = ['2026-07-28', '2025-11-25'] as const;

/** The agent's gateway URL as the caller reached this controller (behind a proxy: its forwarded scheme and host). */
function gatewayUrl(req: IncomingMessage, agentName: string): string {
  const proto = String(req.headers['x-forwarded-proto'] ?? '').split(',')[0]?.trim() || ('encrypted' in req.socket && req.socket.encrypted ? 'https' : 'http');
  const host = String(req.headers['x-forwarded-host'] ?? req.headers.host ?? 'localhost').split(',')[0]!.trim();
  return `${proto}://${host}/v1/agents/${encodeURIComponent(agentName)}/mcp`;
}

export const toolbeltViewSchema = z.object({
  gateway: z
    .object({
      url: z.string().describe("the agent's MCP endpoint on this controller: the way to call its tools"),
      transport: z.literal('streamable-http'),
      protocol_versions: z.array(z.string()),
    })
    .describe('where to call the tools: one MCP endpoint for all of them, names prefixed <instance_name>__'),
  agent: z.object({ id: z.string(), name: z.string() }),
  environment: z
    .object({ active: z.boolean(), status: z.string(), ip_address: z.string().nullable() })
    .nullable(),
  tools: z.array(
    toolViewSchema.pick({ id: true, instance_name: true, tool_name: true, version: true, status: true, endpoints: true, capabilities: true }),
  ),
});

const getToolbelt = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'GET',
    path: '/v1/agents/:id/toolbelt',
    summary: "The agent platform's view: the agent's MCP gateway URL, then its running tools with (opt-in direct) endpoints and MCP capabilities",
    tag: TAG,
    access: 'viewer',
    agentCaller: true,
    params: agentParams,
    responses: { 200: { description: 'the active toolbelt', schema: toolbeltViewSchema }, ...errors(...AUTH_ERRORS, 404) },
    async handle({ params, caller, req }) {
      const agent = await requireAgent(deps.db, params.id);
      assertAgentAccess(caller, agent);
      const environment = await getEnvironmentByAgent(deps.db, agent.id);
      const tools = (await listAgentTools(deps.db, agent)).filter(
        ({ tool }) => !tool.deletion_requested_at && tool.desired_state === 'running' && ACTIVE_STATUSES.has(tool.status),
      );
      return {
        status: 200,
        body: {
          gateway: { url: gatewayUrl(req, agent.name), transport: 'streamable-http', protocol_versions: [...GATEWAY_PROTOCOL_VERSIONS] },
          agent: { id: agent.id, name: agent.name },
          environment: environment
            ? { active: agent.tool_environment_active, status: environment.status, ip_address: environment.ip_address }
            : null,
          tools: tools.map(({ tool, toolName }) => ({
            id: tool.id,
            instance_name: tool.instance_name,
            tool_name: toolName,
            version: tool.version,
            status: tool.status,
            endpoints: tool.endpoints,
            capabilities: tool.capabilities ?? null,
          })),
        },
      };
    },
  });

/** The toolbelt routes. */
export const toolRoutes = (deps: ApiDeps): AnyRoute[] =>
  [listTools, addTool, getTool, updateTool, removeTool, getToolbelt].map((route) => route(deps));
