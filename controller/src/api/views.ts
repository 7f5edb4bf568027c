/**
 * What the API answers with: zod schemas of each resource view (used for the OpenAPI
 * document) and the functions that turn rows into views. Timestamps are ISO strings.
 */
import {
  type AgentWithEnvironment,
  type CatalogTool,
  conditionSchema,
  endpointSchema,
  type Environment,
  type Event,
  hostMetricsSchema,
  toolCapabilitiesSchema,
  type ToolInstance,
  versionInfoSchema,
} from '@toolbelt/schema';
import { z } from 'zod';

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);
const timestamp = z.string().describe('ISO 8601');

export const environmentViewSchema = z.object({
  id: z.string(),
  agent_id: z.string(),
  active: z.boolean().describe("the agent's tool_environment_active"),
  region: z.string(),
  size: z.string(),
  image: z.string(),
  generation: z.number().int(),
  observed_generation: z.number().int(),
  status: z.string(),
  conditions: z.array(conditionSchema),
  droplet_id: z.number().int().nullable(),
  ip_address: z.string().nullable(),
  private_ip_address: z.string().nullable(),
  last_heartbeat_at: timestamp.nullable(),
  agent_version: z.string().nullable(),
  host_metrics: hostMetricsSchema.nullable(),
  boot_failures: z
    .number()
    .int()
    .describe('droplets in a row whose agent never said hello; past TOOLBELT_BOOT_RETRIES replacements the environment stops in BootFailed'),
  created_at: timestamp,
  updated_at: timestamp,
});
export type EnvironmentView = z.infer<typeof environmentViewSchema>;

export const agentViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  external_id: z.string().nullable().describe("the platform's id; address the agent as ext:<external_id>"),
  description: z.string(),
  tool_environment_active: z.boolean(),
  generation: z.number().int(),
  deletion_requested_at: timestamp.nullable(),
  created_at: timestamp,
  updated_at: timestamp,
  environment: environmentViewSchema.nullable(),
});
export type AgentView = z.infer<typeof agentViewSchema>;

export const catalogToolViewSchema = z.object({
  id: z.string(),
  tool_name: z.string(),
  description: z.string(),
  version_info: versionInfoSchema,
  packaging_type: z.string(),
  package_identifier: z.string(),
  default_config_template: z.record(z.string(), z.unknown()),
  transport: z.string(),
  ports: z.array(z.number().int()),
  health_check: z.record(z.string(), z.unknown()).nullable(),
  generation: z.number().int(),
  created_at: timestamp,
  updated_at: timestamp,
});

export const toolViewSchema = z.object({
  id: z.string(),
  agent_id: z.string(),
  environment_id: z.string(),
  instance_name: z.string(),
  tool_name: z.string(),
  tool_catalog_id: z.string(),
  version: z.string(),
  config_details: z.record(z.string(), z.unknown()),
  secret_refs: z.record(z.string(), z.string()),
  desired_state: z.string(),
  /** The gateway offers only these MCP tools of the instance (null: all). */
  allowed_tools: z.array(z.string()).nullable(),
  /** The gateway hides and refuses these MCP tools of the instance. */
  denied_tools: z.array(z.string()).nullable(),
  deletion_requested_at: timestamp.nullable(),
  generation: z.number().int(),
  observed_generation: z.number().int(),
  status: z.string(),
  conditions: z.array(conditionSchema),
  endpoints: z.array(endpointSchema),
  capabilities: toolCapabilitiesSchema.nullable(),
  last_error: z.string().nullable(),
  created_at: timestamp,
  updated_at: timestamp,
});
export type ToolView = z.infer<typeof toolViewSchema>;

export const eventViewSchema = z.object({
  id: z.number().int(),
  type: z.enum(['Normal', 'Warning']),
  reason: z.string(),
  message: z.string(),
  object: z.object({ kind: z.string(), id: z.string() }),
  count: z.number().int(),
  first_seen: timestamp,
  last_seen: timestamp,
  reporter: z.string(),
});
export type EventView = z.infer<typeof eventViewSchema>;

/** A page of a list: `next` is the cursor to pass as `after` for the following page. */
export const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), next: z.string().nullable() });

export function environmentView(env: Environment, active: boolean): EnvironmentView {
  return {
    id: env.id,
    agent_id: env.agent_id,
    active,
    region: env.region,
    size: env.size,
    image: env.image,
    generation: env.generation,
    observed_generation: env.observed_generation,
    status: env.status,
    conditions: env.conditions,
    droplet_id: env.droplet_id,
    ip_address: env.ip_address,
    private_ip_address: env.private_ip_address,
    last_heartbeat_at: iso(env.last_heartbeat_at),
    agent_version: env.agent_version,
    host_metrics: env.host_metrics ?? null,
    boot_failures: env.boot_failures,
    created_at: iso(env.created_at)!,
    updated_at: iso(env.updated_at)!,
  };
}

export function agentView({ agent, environment }: AgentWithEnvironment): AgentView {
  return {
    id: agent.id,
    name: agent.name,
    external_id: agent.external_id,
    description: agent.description,
    tool_environment_active: agent.tool_environment_active,
    generation: agent.generation,
    deletion_requested_at: iso(agent.deletion_requested_at),
    created_at: iso(agent.created_at)!,
    updated_at: iso(agent.updated_at)!,
    environment: environment ? environmentView(environment, agent.tool_environment_active) : null,
  };
}

export function catalogToolView(tool: CatalogTool): z.infer<typeof catalogToolViewSchema> {
  return {
    ...tool,
    health_check: tool.health_check ?? null,
    created_at: iso(tool.created_at)!,
    updated_at: iso(tool.updated_at)!,
  };
}

export function toolView(tool: ToolInstance, context: { agentId: string; toolName: string }): ToolView {
  return {
    id: tool.id,
    agent_id: context.agentId,
    environment_id: tool.agent_droplet_id,
    instance_name: tool.instance_name,
    tool_name: context.toolName,
    tool_catalog_id: tool.tool_catalog_id,
    version: tool.version,
    config_details: tool.config_details,
    secret_refs: tool.secret_refs,
    desired_state: tool.desired_state,
    allowed_tools: tool.allowed_tools ?? null,
    denied_tools: tool.denied_tools ?? null,
    deletion_requested_at: iso(tool.deletion_requested_at),
    generation: tool.generation,
    observed_generation: tool.observed_generation,
    status: tool.status,
    conditions: tool.conditions,
    endpoints: tool.endpoints,
    capabilities: tool.capabilities ?? null,
    last_error: tool.last_error,
    created_at: iso(tool.created_at)!,
    updated_at: iso(tool.updated_at)!,
  };
}

export function eventView(event: Event): EventView {
  return {
    id: event.id,
    type: event.type,
    reason: event.reason,
    message: event.message,
    object: { kind: event.object_kind, id: event.object_id },
    count: event.count,
    first_seen: iso(event.first_seen)!,
    last_seen: iso(event.last_seen)!,
    reporter: event.reporter,
  };
}

/** The ETag of an agent's environment: it covers the agent's switch and the row's spec. */
export const environmentEtag = (agentGeneration: number, environmentGeneration: number | undefined): string =>
  `${agentGeneration}.${environmentGeneration ?? 0}`;
