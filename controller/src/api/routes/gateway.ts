/**
 * The MCP gateway's routes: `/v1/agents/{id}/mcp` (Streamable HTTP; POST, GET for a 2025
 * session's stream, DELETE to end one) and the audit of an agent's calls. Operators and
 * admins may use any agent's gateway; a caller token only its own agent's.
 */
import { listToolCalls } from '@toolbelt/schema';
import { z } from 'zod';
import { assertAgentAccess } from '../auth.ts';
import type { ApiDeps } from '../deps.ts';
import { requireAgent } from '../ops/agents.ts';
import { type AnyRoute, defineRoute, type Method } from '../route.ts';
import type { McpEndpoint } from '../../gateway/endpoint.ts';
import { AUTH_ERRORS, agentParams, errors } from './common.ts';

const TAG = 'gateway';

const mcpRoute = (deps: ApiDeps, endpoint: McpEndpoint, method: Method): AnyRoute =>
  defineRoute({
    method,
    path: '/v1/agents/:id/mcp',
    summary:
      method === 'POST'
        ? "The agent's MCP endpoint (Streamable HTTP, revisions 2026-07-28 and 2025-11-25): every running MCP tool of its toolbelt as <instance>__<tool>"
        : method === 'GET'
          ? "A 2025-11-25 session's server-to-client stream (list_changed notifications)"
          : 'End a 2025-11-25 MCP session',
    tag: TAG,
    access: 'operator',
    agentCaller: true,
    // A call changes no object the API knows (its audit row is not one).
    writes: [],
    params: agentParams,
    responses: {
      200: { description: 'a JSON-RPC answer (application/json) or a stream of them (text/event-stream)' },
      ...errors(...AUTH_ERRORS, 404, 413),
      429: { description: 'too many requests for this agent; see Retry-After' },
    },
    async handle({ params, caller, req, res }) {
      const agent = await requireAgent(deps.db, params.id);
      assertAgentAccess(caller, agent);
      await endpoint.handle(req, res, { agent, caller: caller! });
      return undefined;
    },
  });

export const toolCallViewSchema = z.object({
  at: z.string(),
  caller: z.string(),
  instance_name: z.string().nullable(),
  method: z.string(),
  tool: z.string().nullable(),
  duration_ms: z.number(),
  outcome: z.string(),
  error_code: z.number().nullable(),
  bytes_in: z.number(),
  bytes_out: z.number(),
});

const callsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: z.iso.datetime({ offset: true }).optional().describe('the `next` of the previous page'),
});

const listCalls = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'GET',
    path: '/v1/agents/:id/calls',
    summary: "An agent's MCP calls through the gateway, newest first (never their arguments or results)",
    tag: TAG,
    access: 'viewer',
    params: agentParams,
    query: callsQuery,
    responses: {
      200: { description: 'a page of calls', schema: z.object({ items: z.array(toolCallViewSchema), next: z.string().nullable() }) },
      ...errors(400, ...AUTH_ERRORS, 404),
    },
    async handle({ params, query }) {
      const agent = await requireAgent(deps.db, params.id);
      const rows = await listToolCalls(deps.db, agent.id, { limit: query.limit, before: query.before ? new Date(query.before) : undefined });
      const items = rows.map(({ id: _id, agent_id: _agent, at, ...row }) => ({ ...row, at: at.toISOString() }));
      return { status: 200, body: { items, next: rows.length === query.limit ? items.at(-1)!.at : null } };
    },
  });

/** The gateway's routes. */
export const gatewayRoutes = (deps: ApiDeps, endpoint: McpEndpoint): AnyRoute[] => [
  mcpRoute(deps, endpoint, 'POST'),
  mcpRoute(deps, endpoint, 'GET'),
  mcpRoute(deps, endpoint, 'DELETE'),
  listCalls(deps),
];
