/**
 * Queries on the `agents` aggregate. Each takes a db or a transaction.
 */
import { and, asc, eq, gt, isNull } from 'drizzle-orm';
import type { DbOrTx } from './db.ts';
import { type Conflict, conflict, type Found, type NotFound, notFound, ok, uniqueOrConflict } from './outcomes.ts';
import { agents } from './tables.ts';

export type Agent = typeof agents.$inferSelect;
export interface AgentSpec {
  name: string;
  description?: string;
  tool_environment_active?: boolean;
}

/** Creates an agent; a taken name is a conflict. */
export async function createAgent(db: DbOrTx, spec: AgentSpec): Promise<Found<Agent> | Conflict> {
  return uniqueOrConflict(async () => {
    const [row] = await db.insert(agents).values(spec).returning();
    return row!;
  }, `an agent named "${spec.name}" already exists`);
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
    `an agent named "${patch.name}" already exists`,
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
