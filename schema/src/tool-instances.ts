/**
 * Queries on tool instances (`agent_droplet_tools`): an agent's toolbelt, and what its
 * droplet agent reports of each (`agent_tool_observations`, written by the hub).
 */
import { and, asc, eq, inArray, notInArray, sql } from 'drizzle-orm';
import { UUID } from './ids.ts';
import type { DbOrTx } from './db.ts';
import { type Conflict, conflict, type Found, type NotFound, notFound, ok, uniqueOrConflict } from './outcomes.ts';
import { rowsOf } from './raw.ts';
import { agentDropletTools, agentToolObservations, toolCatalog, type ToolDelivery } from './tables.ts';

export type ToolInstance = typeof agentDropletTools.$inferSelect;
export interface ToolInstanceSpec {
  tool_catalog_id: string;
  instance_name: string;
  version: string;
  config_details?: Record<string, unknown>;
  secret_refs?: Record<string, string>;
  desired_state?: 'running' | 'stopped';
  allowed_tools?: string[] | null;
  denied_tools?: string[] | null;
}
/** The controller-owned columns of a tool instance. */
export type ToolStatusPatch = Partial<
  Pick<ToolInstance, 'status' | 'observed_generation' | 'conditions' | 'endpoints' | 'capabilities' | 'last_error'>
>;

/** Adds a tool instance to an environment; a taken instance name is a conflict. */
export async function addToolInstance(
  db: DbOrTx,
  environmentId: string,
  spec: ToolInstanceSpec,
): Promise<Found<ToolInstance> | Conflict> {
  return uniqueOrConflict(async () => {
    const [row] = await db
      .insert(agentDropletTools)
      .values({ agent_droplet_id: environmentId, ...spec })
      .returning();
    return row!;
  }, `this agent already has a tool named "${spec.instance_name}"`);
}

export async function getToolInstance(db: DbOrTx, id: string): Promise<ToolInstance | undefined> {
  const [row] = await db.select().from(agentDropletTools).where(eq(agentDropletTools.id, id));
  return row;
}

/** Every tool instance of one environment, in name order. */
export async function listToolInstances(db: DbOrTx, environmentId: string): Promise<ToolInstance[]> {
  return db
    .select()
    .from(agentDropletTools)
    .where(eq(agentDropletTools.agent_droplet_id, environmentId))
    .orderBy(asc(agentDropletTools.instance_name));
}

/** Changes a tool instance's spec, with optimistic concurrency when a generation is given. */
export async function updateToolSpec(
  db: DbOrTx,
  id: string,
  patch: Partial<Omit<ToolInstanceSpec, 'tool_catalog_id'>>,
  expectedGeneration?: number,
): Promise<Found<ToolInstance> | NotFound | Conflict> {
  const where =
    expectedGeneration === undefined
      ? eq(agentDropletTools.id, id)
      : and(eq(agentDropletTools.id, id), eq(agentDropletTools.generation, expectedGeneration));
  const result = await uniqueOrConflict(
    () => db.update(agentDropletTools).set(patch).where(where).returning(),
    `this agent already has a tool named "${patch.instance_name}"`,
  );
  if (result.kind === 'conflict') return result;
  const [row] = result.value;
  if (row) return ok(row);
  const current = await getToolInstance(db, id);
  if (!current) return notFound;
  return conflict(`tool ${id} is at generation ${current.generation}, not ${expectedGeneration}`);
}

/** Writes observed status; never touches spec or generation. */
export async function updateToolStatus(
  db: DbOrTx,
  id: string,
  patch: ToolStatusPatch,
): Promise<Found<ToolInstance> | NotFound> {
  const [row] = await db.update(agentDropletTools).set(patch).where(eq(agentDropletTools.id, id)).returning();
  return row ? ok(row) : notFound;
}

/** Marks a tool instance for removal; the row goes once the agent confirms the uninstall. */
export async function requestToolRemoval(db: DbOrTx, id: string): Promise<Found<ToolInstance> | NotFound> {
  const current = await getToolInstance(db, id);
  if (!current) return notFound;
  if (current.deletion_requested_at) return ok(current);
  const [row] = await db
    .update(agentDropletTools)
    .set({ deletion_requested_at: new Date() })
    .where(eq(agentDropletTools.id, id))
    .returning();
  return row ? ok(row) : notFound;
}

export async function deleteToolRow(db: DbOrTx, id: string): Promise<boolean> {
  const rows = await db
    .delete(agentDropletTools)
    .where(eq(agentDropletTools.id, id))
    .returning({ id: agentDropletTools.id });
  return rows.length > 0;
}

/** Records what the tools reconciler asked the agent for (status; never moves generation). */
export async function setToolDelivery(db: DbOrTx, id: string, delivery: ToolDelivery): Promise<boolean> {
  const rows = await db.update(agentDropletTools).set({ delivery }).where(eq(agentDropletTools.id, id)).returning({ id: agentDropletTools.id });
  return rows.length > 0;
}

/** Deletes a tool instance's row and what its agent last reported of it. */
export async function removeToolInstance(db: DbOrTx, environmentId: string, id: string): Promise<boolean> {
  await db
    .delete(agentToolObservations)
    .where(and(eq(agentToolObservations.agent_droplet_id, environmentId), eq(agentToolObservations.tool_instance_id, id)));
  return deleteToolRow(db, id);
}

/** Environments that have tool instances or reported tools: the tools reconciler's keys. */
export async function listToolEnvironmentIds(db: DbOrTx): Promise<string[]> {
  const rows = rowsOf<{ id: string }>(
    await db.execute(sql`select agent_droplet_id as id from agent_droplet_tools
      union select agent_droplet_id as id from agent_tool_observations order by id`),
  );
  return rows.map((r) => String(r.id));
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

// --- observations: what the agent reports of each tool (written by the hub) ---

export type ToolObservation = typeof agentToolObservations.$inferSelect;

/** A tool report as the agent sent it (the protocol's ToolStatusReport). */
export type ToolReport = { toolInstanceId: string } & Record<string, unknown>;

/** Stores one tool report of an environment, replacing the previous one of that tool. */
export async function upsertToolObservation(db: DbOrTx, environmentId: string, report: ToolReport, at: Date): Promise<void> {
  await db
    .insert(agentToolObservations)
    .values({ agent_droplet_id: environmentId, tool_instance_id: report.toolInstanceId, report, observed_at: at })
    .onConflictDoUpdate({
      target: [agentToolObservations.agent_droplet_id, agentToolObservations.tool_instance_id],
      set: { report, observed_at: at },
    });
}

/** Replaces an environment's observations with a full inventory (tools not in it are gone). */
export async function replaceToolObservations(
  db: DbOrTx,
  environmentId: string,
  reports: readonly ToolReport[],
  at: Date,
): Promise<void> {
  await db.transaction(async (tx) => {
    const ids = reports.map((r) => r.toolInstanceId);
    await tx
      .delete(agentToolObservations)
      .where(
        and(
          eq(agentToolObservations.agent_droplet_id, environmentId),
          ids.length ? notInArray(agentToolObservations.tool_instance_id, ids) : undefined,
        ),
      );
    if (reports.length === 0) return;
    await tx
      .insert(agentToolObservations)
      .values(reports.map((report) => ({ agent_droplet_id: environmentId, tool_instance_id: report.toolInstanceId, report, observed_at: at })))
      .onConflictDoUpdate({
        target: [agentToolObservations.agent_droplet_id, agentToolObservations.tool_instance_id],
        set: { report: sql`excluded.report`, observed_at: sql`excluded.observed_at` },
      });
  });
}

/** What the environment's agent last reported of each tool, by tool instance id. */
export async function listToolObservations(db: DbOrTx, environmentId: string): Promise<ToolObservation[]> {
  return db
    .select()
    .from(agentToolObservations)
    .where(eq(agentToolObservations.agent_droplet_id, environmentId))
    .orderBy(asc(agentToolObservations.tool_instance_id));
}

/**
 * The environment each of these tool instance ids belongs to. Ids that are not tool
 * instances of the store (including ones that are not uuids) are absent from the map.
 */
export async function toolInstanceOwners(db: DbOrTx, ids: readonly string[]): Promise<Map<string, string>> {
  const valid = [...new Set(ids.filter((id) => UUID.test(id)))];
  if (valid.length === 0) return new Map();
  const rows = await db
    .select({ id: agentDropletTools.id, environmentId: agentDropletTools.agent_droplet_id })
    .from(agentDropletTools)
    .where(inArray(agentDropletTools.id, valid));
  return new Map(rows.map((r) => [r.id, r.environmentId]));
}
