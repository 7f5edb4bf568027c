/**
 * Queries on tool environments (`agent_droplets`): one per agent, stable across droplet
 * replacement. Spec writes (region, size, image) bump the generation; status writes do not.
 */
import { asc, eq, gt } from 'drizzle-orm';
import type { DbOrTx } from './db.ts';
import { type Conflict, type Found, type NotFound, notFound, ok, uniqueOrConflict } from './outcomes.ts';
import { agentDroplets } from './tables.ts';

export type Environment = typeof agentDroplets.$inferSelect;
export interface EnvironmentSpec {
  region: string;
  size: string;
  image?: string;
}
/** The controller-owned columns of an environment. */
export type EnvironmentStatusPatch = Partial<
  Pick<
    Environment,
    | 'droplet_id'
    | 'ip_address'
    | 'private_ip_address'
    | 'status'
    | 'observed_generation'
    | 'conditions'
    | 'create_requested_at'
    | 'last_heartbeat_at'
    | 'agent_version'
    | 'host_metrics'
  >
>;

/** Creates the agent's environment; an agent that has one already is a conflict. */
export async function createEnvironment(
  db: DbOrTx,
  agentId: string,
  spec: EnvironmentSpec,
): Promise<Found<Environment> | Conflict> {
  return uniqueOrConflict(async () => {
    const [row] = await db
      .insert(agentDroplets)
      .values({ agent_id: agentId, ...spec })
      .returning();
    return row!;
  }, `agent ${agentId} already has a tool environment`);
}

export async function getEnvironment(db: DbOrTx, id: string): Promise<Environment | undefined> {
  const [row] = await db.select().from(agentDroplets).where(eq(agentDroplets.id, id));
  return row;
}

export async function getEnvironmentByAgent(db: DbOrTx, agentId: string): Promise<Environment | undefined> {
  const [row] = await db.select().from(agentDroplets).where(eq(agentDroplets.agent_id, agentId));
  return row;
}

/** Environments in id order, `limit` at a time after `after` (keyset pagination). */
export async function listEnvironments(db: DbOrTx, page: { limit: number; after?: string }): Promise<Environment[]> {
  return db
    .select()
    .from(agentDroplets)
    .where(page.after === undefined ? undefined : gt(agentDroplets.id, page.after))
    .orderBy(asc(agentDroplets.id))
    .limit(page.limit);
}

/** Changes where and on what the environment runs. */
export async function updateEnvironmentSpec(
  db: DbOrTx,
  id: string,
  patch: Partial<EnvironmentSpec>,
): Promise<Found<Environment> | NotFound> {
  const [row] = await db.update(agentDroplets).set(patch).where(eq(agentDroplets.id, id)).returning();
  return row ? ok(row) : notFound;
}

/** Writes observed status; never touches spec or generation. */
export async function updateEnvironmentStatus(
  db: DbOrTx,
  id: string,
  patch: EnvironmentStatusPatch,
): Promise<Found<Environment> | NotFound> {
  const [row] = await db.update(agentDroplets).set(patch).where(eq(agentDroplets.id, id)).returning();
  return row ? ok(row) : notFound;
}

/** Removes an environment row once its droplet is confirmed gone. */
export async function deleteEnvironmentRow(db: DbOrTx, id: string): Promise<boolean> {
  const rows = await db.delete(agentDroplets).where(eq(agentDroplets.id, id)).returning({ id: agentDroplets.id });
  return rows.length > 0;
}
