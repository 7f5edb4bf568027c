/**
 * Agents and their tool environments: list, get, create, update, delete,
 * `PUT /v1/agents/{id}/environment` — the switch that provisions (true) or de-provisions
 * (false) the agent's droplet — and `POST /v1/agents/{id}/environment/retry`, which starts
 * the boot attempts of an environment stopped in BootFailed over.
 */
import {
  agentCreateSchema,
  agentUpdateSchema,
  environmentSpecSchema,
  getAgentWithEnvironment,
  listAgentsWithEnvironments,
  listEnvironmentsWithAgents,
  provisioningStats,
} from '@toolbelt/schema';
import { z } from 'zod';
import type { ApiDeps } from '../deps.ts';
import { notFoundError } from '../errors.ts';
import {
  createAgentWrite,
  deleteAgentWrite,
  reload,
  requireAgent,
  retryEnvironmentWrite,
  setEnvironment,
  updateAgentWrite,
} from '../ops/agents.ts';
import { write } from '../ops/context.ts';
import { type AnyRoute, defineRoute } from '../route.ts';
import { priceSchema } from './console-data.ts';
import { agentView, agentViewSchema, environmentEtag, environmentView, environmentViewSchema, pageOf } from '../views.ts';
import { AUTH_ERRORS, agentParams, errors, nextCursor, pageQuery } from './common.ts';

const TAG = 'agents';

const listAgents = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'GET',
    path: '/v1/agents',
    summary: 'List agents with their environments (by name)',
    tag: TAG,
    access: 'viewer',
    query: pageQuery,
    responses: { 200: { description: 'a page of agents', schema: pageOf(agentViewSchema) }, ...errors(400, ...AUTH_ERRORS) },
    async handle({ query }) {
      const rows = await listAgentsWithEnvironments(deps.db, query);
      return { status: 200, body: { items: rows.map(agentView), next: nextCursor(rows, query.limit, (r) => r.agent.name) } };
    },
  });

const createAgent = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'POST',
    path: '/v1/agents',
    summary: 'Create an agent (optionally with its environment)',
    tag: TAG,
    access: 'operator',
    writes: ['Agent', 'Environment'],
    body: agentCreateSchema,
    responses: { 201: { description: 'created', schema: agentViewSchema }, ...errors(400, ...AUTH_ERRORS, 409) },
    async handle({ body }) {
      const created = await write(deps, (ctx) => createAgentWrite(ctx, body));
      return { status: 201, body: agentView(created), etag: String(created.agent.generation) };
    },
  });

const getAgent = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'GET',
    path: '/v1/agents/:id',
    summary: 'Get an agent by id, name or ext:<external_id>',
    tag: TAG,
    access: 'viewer',
    params: agentParams,
    responses: { 200: { description: 'the agent; ETag is its generation', schema: agentViewSchema }, ...errors(...AUTH_ERRORS, 404) },
    async handle({ params }) {
      const agent = await requireAgent(deps.db, params.id);
      const full = await reload(deps.db, agent.id);
      return { status: 200, body: agentView(full), etag: String(agent.generation) };
    },
  });

const updateAgent = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'PATCH',
    path: '/v1/agents/:id',
    summary: 'Rename or re-describe an agent',
    tag: TAG,
    access: 'operator',
    writes: ['Agent'],
    params: agentParams,
    body: agentUpdateSchema,
    ifMatch: true,
    responses: { 200: { description: 'updated', schema: agentViewSchema }, ...errors(400, ...AUTH_ERRORS, 404, 409) },
    async handle({ params, body, ifMatch }) {
      const updated = await write(deps, (ctx) => updateAgentWrite(ctx, params.id, body, ifMatch));
      return { status: 200, body: agentView(updated), etag: String(updated.agent.generation) };
    },
  });

const deleteAgent = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'DELETE',
    path: '/v1/agents/:id',
    summary: 'Delete an agent (its environment is torn down first)',
    tag: TAG,
    access: 'operator',
    writes: ['Agent', 'Environment', 'Tool', 'Secret'],
    params: agentParams,
    ifMatch: true,
    responses: {
      202: { description: 'marked for deletion; the row goes once its droplet is gone', schema: agentViewSchema },
      204: { description: 'deleted (it had no environment)' },
      ...errors(400, ...AUTH_ERRORS, 404, 409),
    },
    async handle({ params, ifMatch }) {
      const outcome = await write(deps, async (ctx) => {
        const state = await deleteAgentWrite(ctx, params.id, ifMatch);
        return state === 'deleted' ? undefined : await reload(ctx.tx, (await requireAgent(ctx.tx, params.id)).id);
      });
      return outcome ? { status: 202, body: agentView(outcome) } : { status: 204 };
    },
  });

const getEnvironment = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'GET',
    path: '/v1/agents/:id/environment',
    summary: "Get an agent's tool environment (spec and status)",
    tag: TAG,
    access: 'viewer',
    params: agentParams,
    responses: {
      200: {
        description: "the environment with its size's price and this fleet's typical provisioning time; ETag covers the switch and the spec",
        schema: environmentViewSchema.extend({
          price: priceSchema.nullable().describe("DigitalOcean's list price of the size (null when the size is not listed)"),
          typical_provisioning: z.object({
            median_seconds: z.number().nullable().describe('median time from create to Ready'),
            samples: z.number().int().describe('over this many of the last environments that became Ready (at most 20)'),
          }),
        }),
      },
      ...errors(...AUTH_ERRORS, 404),
    },
    async handle({ params }) {
      const agent = await requireAgent(deps.db, params.id);
      const full = await getAgentWithEnvironment(deps.db, agent.id);
      if (!full?.environment) {
        throw notFoundError(`the environment of agent "${agent.name}"`, `create it with PUT /v1/agents/${agent.name}/environment`);
      }
      const [price, stats] = await Promise.all([deps.digitalocean.priceOf(full.environment.size), provisioningStats(deps.db)]);
      return {
        status: 200,
        body: {
          ...environmentView(full.environment, full.agent.tool_environment_active),
          price,
          typical_provisioning: { median_seconds: stats.medianSeconds, samples: stats.samples },
        },
        etag: environmentEtag(full.agent.generation, full.environment.generation),
      };
    },
  });

const putEnvironment = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'PUT',
    path: '/v1/agents/:id/environment',
    summary: 'Switch the tool environment on (provision) or off (de-provision); set region, size, image',
    tag: TAG,
    access: 'operator',
    writes: ['Environment'],
    params: agentParams,
    body: environmentSpecSchema,
    ifMatch: true,
    responses: {
      200: { description: 'the environment as now declared', schema: environmentViewSchema },
      ...errors(400, ...AUTH_ERRORS, 404, 409),
    },
    async handle({ params, body, ifMatch }) {
      const full = await write(deps, async (ctx) => {
        const agent = await requireAgent(ctx.tx, params.id, { lock: true });
        await setEnvironment(ctx, agent, body, ifMatch);
        return reload(ctx.tx, agent.id);
      });
      return {
        status: 200,
        body: environmentView(full.environment!, full.agent.tool_environment_active),
        etag: environmentEtag(full.agent.generation, full.environment!.generation),
      };
    },
  });

const retryEnvironment = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'POST',
    path: '/v1/agents/:id/environment/retry',
    summary: 'Start the boot attempts over: an environment stopped in BootFailed gets droplets again',
    tag: TAG,
    access: 'operator',
    writes: ['Environment'],
    params: agentParams,
    responses: {
      200: {
        description: 'the environment; boot_failures is 0 and the lifecycle was woken (BootFailed clears when it creates the next droplet)',
        schema: environmentViewSchema.extend({ boot_failures_cleared: z.number().int().describe('the count the environment had') }),
      },
      ...errors(400, ...AUTH_ERRORS, 404, 409),
    },
    async handle({ params }) {
      const { full, bootFailures } = await write(deps, (ctx) => retryEnvironmentWrite(ctx, params.id));
      return {
        status: 200,
        body: { ...environmentView(full.environment!, full.agent.tool_environment_active), boot_failures_cleared: bootFailures },
        etag: environmentEtag(full.agent.generation, full.environment!.generation),
      };
    },
  });

const listEnvironments = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'GET',
    path: '/v1/environments',
    summary: 'List tool environments (droplet status of every agent that has one)',
    tag: 'environments',
    access: 'viewer',
    query: pageQuery,
    responses: {
      200: {
        description: 'a page of environments',
        schema: pageOf(environmentViewSchema.extend({ agent_name: z.string() })),
      },
      ...errors(400, ...AUTH_ERRORS),
    },
    async handle({ query }) {
      const rows = await listEnvironmentsWithAgents(deps.db, query);
      const items = rows.map((r) => ({
        ...environmentView(r.environment, r.agent.tool_environment_active),
        agent_name: r.agent.name,
      }));
      return { status: 200, body: { items, next: nextCursor(rows, query.limit, (r) => r.environment.id) } };
    },
  });

/** The agent and environment routes. */
export const agentRoutes = (deps: ApiDeps): AnyRoute[] =>
  [listAgents, createAgent, getAgent, updateAgent, deleteAgent, getEnvironment, putEnvironment, retryEnvironment, listEnvironments].map((route) =>
    route(deps),
  );
