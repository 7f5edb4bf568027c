/**
 * Queries on the `agents` aggregate. Each takes a db or a transaction. The API's read model
 * (an agent with its tool environment, one left join) and the final removal of a deleted
 * agent are here too.
 */
import { and, asc, eq, gt, inArray, isNotNull, isNull } from 'drizzle-orm';
import type { DbOrTx } from './db.ts';
import type { Environment } from './environments.ts';
import { type Conflict, conflict, type Found, type NotFound, notFound, ok, uniqueOrConflict } from './outcomes.ts';
import { agentDroplets, agentDropletTools, agents } from './tables.ts';

export type Agent = typeof agents.$inferSelect;
export interface AgentSpec {
  name: string;
  /** The platform's id for the agent (unique, 1–128 characters); null clears it. */
  external_id?: string | null;
  description?: string;
  tool_environment_active?: boolean;
}

/** Creates an agent; a taken name or external id is a conflict. */
export async function createAgent(db: DbOrTx, spec: AgentSpec): Promise<Found<Agent> | Conflict> {
  if (spec.external_id && (await getAgentByExternalId(db, spec.external_id))) {
    return conflict(`an agent with external_id "${spec.external_id}" already exists`);
  }
  return uniqueOrConflict(async () => {
    const [row] = await db.insert(agents).values(spec).returning();
    return row!;
  }, `an agent named "${spec.name}" (or with external_id "${spec.external_id ?? ''}") already exists`);
}

/** The agent carrying the platform's id `externalId`. */
export async function getAgentByExternalId(db: DbOrTx, externalId: string): Promise<Agent | undefined> {
  const [row] = await db.select().from(agents).where(eq(agents.external_id, externalId));
  return row;
}

export async function getAgent(db: DbOrTx, id: string): Promise<Agent | undefined> {
  const [row] = await db.select().from(agents).where(eq(agents.id, id));
  return row;
}

export async function getAgentByName(db: DbOrTx, name: string): Promise<Agent | undefined> {
  const [row] = await db.select().from(agents).where(eq(agents.name, name));
  return row;
}

/** Agents in name order, `limit` at a time after the name `after` (keyset pagination). */
export async function listAgents(db: DbOrTx, page: { limit: number; after?: string }): Promise<Agent[]> {
  return db
    .select()
    .from(agents)
    .where(page.after === undefined ? undefined : gt(agents.name, page.after))
    .orderBy(asc(agents.name))
    .limit(page.limit);
}

/**
 * Changes an agent's spec. With `expectedGeneration`, a row whose generation moved on is a
 * conflict (optimistic concurrency); the generation itself is bumped by the database.
 */
export async function updateAgentSpec(
  db: DbOrTx,
  id: string,
  patch: Partial<AgentSpec>,
  expectedGeneration?: number,
): Promise<Found<Agent> | NotFound | Conflict> {
  const where =
    expectedGeneration === undefined
      ? eq(agents.id, id)
      : and(eq(agents.id, id), eq(agents.generation, expectedGeneration));
  const result = await uniqueOrConflict(
    () => db.update(agents).set(patch).where(where).returning(),
    patch.external_id
      ? `an agent named "${patch.name ?? '…'}" or with external_id "${patch.external_id}" already exists`
      : `an agent named "${patch.name}" already exists`,
  );
  if (result.kind === 'conflict') return result;
  const [row] = result.value;
  if (row) return ok(row);
  const current = await getAgent(db, id);
  if (!current) return notFound;
  return conflict(`agent ${id} is at generation ${current.generation}, not ${expectedGeneration}`);
}

/** Marks an agent for deletion; its environment is torn down before the row goes. */
export async function requestAgentDeletion(db: DbOrTx, id: string): Promise<Found<Agent> | NotFound> {
  const [row] = await db
    .update(agents)
    .set({ deletion_requested_at: new Date() })
    .where(and(eq(agents.id, id), isNull(agents.deletion_requested_at)))
    .returning();
  if (row) return ok(row);
  const current = await getAgent(db, id);
  return current ? ok(current) : notFound;
}

/** Removes the row of an agent whose environment is gone. */
export async function deleteAgentRow(db: DbOrTx, id: string): Promise<boolean> {
  const rows = await db.delete(agents).where(eq(agents.id, id)).returning({ id: agents.id });
  return rows.length > 0;
}

/**
 * Removes an environment whose droplet DigitalOcean confirmed gone, when its agent was
 * deleted: its tool instances, the environment row (credentials, sessions, commands and
 * observations go with it by cascade) and the agent row. Returns whether the agent row went.
 */
export async function removeDeletedAgent(db: DbOrTx, agentId: string): Promise<boolean> {
  const environments = await db.select({ id: agentDroplets.id }).from(agentDroplets).where(eq(agentDroplets.agent_id, agentId));
  const envIds = environments.map((e) => e.id);
  if (envIds.length > 0) {
    await db.delete(agentDropletTools).where(inArray(agentDropletTools.agent_droplet_id, envIds));
    await db.delete(agentDroplets).where(inArray(agentDroplets.id, envIds));
  }
  const removed = await db
    .delete(agents)
    .where(and(eq(agents.id, agentId), isNotNull(agents.deletion_requested_at)))
    .returning({ id: agents.id });
  return removed.length > 0;
}

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
