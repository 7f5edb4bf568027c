/**
 * Reads of the MCP gateway: an agent's environment facts and tool instances with their
 * catalog transport, in one query — what the gateway needs to aggregate and route a call.
 */
import { and, asc, desc, eq, lt, sql } from 'drizzle-orm';
import type { DbOrTx } from './db.ts';
import { agentDroplets, agentDropletTools, toolCalls, toolCatalog } from './tables.ts';
import type { Transport } from './tables.ts';

/** One tool instance as the gateway sees it. */
export interface GatewayTool {
  id: string;
  instanceName: string;
  toolName: string;
  transport: Transport;
  desiredState: string;
  status: string;
  deleting: boolean;
  lastError: string | null;
  allowedTools: string[] | null;
  deniedTools: string[] | null;
}

/** The agent's environment (if any) and its tool instances in instance-name order. */
export interface GatewayTarget {
  environment: { id: string; status: string; lastHeartbeatAt: Date | null } | undefined;
  tools: GatewayTool[];
}

export async function getGatewayTarget(db: DbOrTx, agentId: string): Promise<GatewayTarget> {
  const [environment] = await db
    .select({ id: agentDroplets.id, status: agentDroplets.status, lastHeartbeatAt: agentDroplets.last_heartbeat_at })
    .from(agentDroplets)
    .where(eq(agentDroplets.agent_id, agentId));
  if (!environment) return { environment: undefined, tools: [] };
  const rows = await db
    .select({
      id: agentDropletTools.id,
      instanceName: agentDropletTools.instance_name,
      toolName: toolCatalog.tool_name,
      transport: toolCatalog.transport,
      desiredState: agentDropletTools.desired_state,
      status: agentDropletTools.status,
      deletionRequestedAt: agentDropletTools.deletion_requested_at,
      lastError: agentDropletTools.last_error,
      allowedTools: agentDropletTools.allowed_tools,
      deniedTools: agentDropletTools.denied_tools,
    })
    .from(agentDropletTools)
    .innerJoin(toolCatalog, eq(toolCatalog.id, agentDropletTools.tool_catalog_id))
    .where(eq(agentDropletTools.agent_droplet_id, environment.id))
    .orderBy(asc(agentDropletTools.instance_name));
  return {
    environment,
    tools: rows.map(({ deletionRequestedAt, ...row }) => ({ ...row, deleting: deletionRequestedAt !== null })),
  };
}

export type ToolCallRow = typeof toolCalls.$inferSelect;
export type ToolCallInput = Omit<ToolCallRow, 'id'>;

/** Writes audit rows, many in one statement. */
export async function insertToolCalls(db: DbOrTx, rows: readonly ToolCallInput[]): Promise<void> {
  if (rows.length > 0) await db.insert(toolCalls).values([...rows]);
}

/** An agent's calls, newest first, `limit` at a time before the time `before`. */
export async function listToolCalls(db: DbOrTx, agentId: string, page: { limit: number; before?: Date | undefined }): Promise<ToolCallRow[]> {
  return db
    .select()
    .from(toolCalls)
    .where(page.before ? and(eq(toolCalls.agent_id, agentId), lt(toolCalls.at, page.before)) : eq(toolCalls.agent_id, agentId))
    .orderBy(desc(toolCalls.at), desc(toolCalls.id))
    .limit(page.limit);
}

/** Deletes audit rows older than `before`; answers how many went. */
export async function pruneToolCalls(db: DbOrTx, before: Date): Promise<number> {
  const gone = await db.delete(toolCalls).where(lt(toolCalls.at, before)).returning({ id: toolCalls.id });
  return gone.length;
}

/** The NOTIFY channel on which an agent's gateway lists are said to have changed (payload: the agent id). */
export const GATEWAY_LISTS_CHANNEL = 'toolbelt_gateway_lists';

/**
 * Tells every replica that an agent's gateway lists changed (its tools' reports, or its
 * filters), so each tells its clients of that agent (`notifications/tools/list_changed`).
 * Inside a transaction the notice goes out at commit.
 */
export async function announceGatewayLists(db: DbOrTx, agentId: string): Promise<void> {
  await db.execute(sql`select pg_notify(${GATEWAY_LISTS_CHANNEL}, ${agentId})`);
}
