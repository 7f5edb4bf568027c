/**
 * Row locks for read-check-write sequences inside a transaction (`select … for update`):
 * the API reads a row, checks the caller's expected generation, then writes, and no other
 * writer may slip in between. On PGlite (one session) they are no-ops that still read.
 */
import { eq } from 'drizzle-orm';
import type { Agent } from './agents.ts';
import type { CatalogTool } from './catalog.ts';
import type { DbOrTx } from './db.ts';
import type { Environment } from './environments.ts';
import { agentDroplets, agentDropletTools, agents, toolCatalog } from './tables.ts';
import type { ToolInstance } from './tool-instances.ts';

/** Reads and locks an agent row until the transaction ends. */
export async function lockAgent(tx: DbOrTx, id: string): Promise<Agent | undefined> {
  const [row] = await tx.select().from(agents).where(eq(agents.id, id)).for('update');
  return row;
}

/** Reads and locks an agent's environment row until the transaction ends. */
export async function lockEnvironmentOfAgent(tx: DbOrTx, agentId: string): Promise<Environment | undefined> {
  const [row] = await tx.select().from(agentDroplets).where(eq(agentDroplets.agent_id, agentId)).for('update');
  return row;
}

/** Reads and locks a catalog tool row until the transaction ends. */
export async function lockCatalogTool(tx: DbOrTx, id: string): Promise<CatalogTool | undefined> {
  const [row] = await tx.select().from(toolCatalog).where(eq(toolCatalog.id, id)).for('update');
  return row;
}

/** Reads and locks a tool instance row until the transaction ends. */
export async function lockToolInstance(tx: DbOrTx, id: string): Promise<ToolInstance | undefined> {
  const [row] = await tx.select().from(agentDropletTools).where(eq(agentDropletTools.id, id)).for('update');
  return row;
}
