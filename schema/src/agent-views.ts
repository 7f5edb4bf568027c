/**
 * Read models for the API: an agent together with its tool environment (one query, a left
 * join), so that lists do not cost one query per agent.
 */
import { and, asc, count, eq, gt, inArray } from 'drizzle-orm';
import type { Agent } from './agents.ts';
import type { DbOrTx } from './db.ts';
import type { Environment } from './environments.ts';
import { agentDroplets, agentDropletTools, agents, toolCatalog } from './tables.ts';
import type { ToolInstance } from './tools.ts';

/** An agent and its environment row, if it has one. */
export interface AgentWithEnvironment {
  agent: Agent;
  environment: Environment | undefined;
}

function join(db: DbOrTx) {
  return db.select().from(agents).leftJoin(agentDroplets, eq(agentDroplets.agent_id, agents.id));
}

const shape = (row: { agents: Agent; agent_droplets: Environment | null }): AgentWithEnvironment => ({
  agent: row.agents,
  environment: row.agent_droplets ?? undefined,
});

/** Agents with their environments in name order, `limit` at a time after the name `after`. */
export async function listAgentsWithEnvironments(
  db: DbOrTx,
  page: { limit: number; after?: string | undefined },
): Promise<AgentWithEnvironment[]> {
  const rows = await join(db)
    .where(page.after === undefined ? undefined : gt(agents.name, page.after))
    .orderBy(asc(agents.name))
    .limit(page.limit);
  return rows.map(shape);
}

/** One agent with its environment, by id. */
export async function getAgentWithEnvironment(db: DbOrTx, id: string): Promise<AgentWithEnvironment | undefined> {
  const [row] = await join(db).where(eq(agents.id, id));
  return row ? shape(row) : undefined;
}

/** A tool instance with the name of its catalog tool. */
export interface ToolWithCatalogName {
  tool: ToolInstance;
  toolName: string;
}

/** Every tool instance of one environment with its catalog tool's name, in instance-name order. */
export async function listToolsWithCatalogNames(db: DbOrTx, environmentId: string): Promise<ToolWithCatalogName[]> {
  const rows = await db
    .select({ tool: agentDropletTools, toolName: toolCatalog.tool_name })
    .from(agentDropletTools)
    .innerJoin(toolCatalog, eq(toolCatalog.id, agentDropletTools.tool_catalog_id))
    .where(eq(agentDropletTools.agent_droplet_id, environmentId))
    .orderBy(asc(agentDropletTools.instance_name));
  return rows;
}

/** Environments with their agents, in environment-id order, `limit` at a time after `after`. */
export async function listEnvironmentsWithAgents(
  db: DbOrTx,
  page: { limit: number; after?: string | undefined },
): Promise<{ agent: Agent; environment: Environment }[]> {
  return db
    .select({ agent: agents, environment: agentDroplets })
    .from(agentDroplets)
    .innerJoin(agents, eq(agents.id, agentDroplets.agent_id))
    .where(page.after === undefined ? undefined : gt(agentDroplets.id, page.after))
    .orderBy(asc(agentDroplets.id))
    .limit(page.limit);
}

/** How many tool instances run each of `versions` of a catalog tool (only versions in use). */
export async function toolVersionsInUse(
  db: DbOrTx,
  catalogToolId: string,
  versions: string[],
): Promise<{ version: string; n: number }[]> {
  return db
    .select({ version: agentDropletTools.version, n: count() })
    .from(agentDropletTools)
    .where(and(eq(agentDropletTools.tool_catalog_id, catalogToolId), inArray(agentDropletTools.version, versions)))
    .groupBy(agentDropletTools.version)
    .orderBy(asc(agentDropletTools.version));
}
