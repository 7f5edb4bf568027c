/**
 * Queries of the droplet lifecycle (the environment, orphan and firewall reconcilers): what
 * one environment reconcile reads in one round trip, the keys of the resync, which
 * environment rows exist, and the final removal of a torn-down environment.
 *
 * The environment reconciler is keyed by **agent id** (the agent holds the switch
 * `tool_environment_active`; an agent has at most one environment).
 */
import { and, asc, eq, gt, inArray, isNotNull, or, sql } from 'drizzle-orm';
import type { Agent } from './agents.ts';
import type { AgentSession } from './agent-sessions.ts';
import type { DbOrTx } from './db.ts';
import type { Environment } from './environments.ts';
import { rowsOf } from './raw.ts';
import { agentDroplets, agentDropletTools, agents, agentSessions, toolCatalog } from './tables.ts';

/** Everything an environment reconcile starts from. */
export interface EnvironmentState {
  agent: Agent;
  /** Undefined when the agent has no environment row. */
  environment: Environment | undefined;
  /** The hub's record of the agent's connection, if it ever connected. */
  session: AgentSession | undefined;
}

/** The agent, its environment and its agent session, in one query; undefined without the agent. */
export async function loadEnvironmentState(db: DbOrTx, agentId: string): Promise<EnvironmentState | undefined> {
  const [row] = await db
    .select({ agent: agents, environment: agentDroplets, session: agentSessions })
    .from(agents)
    .leftJoin(agentDroplets, eq(agentDroplets.agent_id, agents.id))
    .leftJoin(agentSessions, eq(agentSessions.agent_droplet_id, agentDroplets.id))
    .where(eq(agents.id, agentId));
  if (!row) return undefined;
  return { agent: row.agent, environment: row.environment ?? undefined, session: row.session ?? undefined };
}

/**
 * Keys of the environment reconciler (agent ids) that may need work: agents with an
 * environment row, and agents whose deletion was asked for. `limit` at a time after `after`.
 */
export async function listEnvironmentKeys(db: DbOrTx, page: { limit: number; after?: string }): Promise<string[]> {
  const rows = await db
    .select({ id: agents.id })
    .from(agents)
    .leftJoin(agentDroplets, eq(agentDroplets.agent_id, agents.id))
    .where(
      and(
        or(isNotNull(agentDroplets.id), isNotNull(agents.deletion_requested_at)),
        page.after === undefined ? undefined : gt(agents.id, page.after),
      ),
    )
    .orderBy(asc(agents.id))
    .limit(page.limit);
  return rows.map((r) => r.id);
}

/** The agent id (reconcile key) of each environment id that has a row. */
export async function environmentOwners(db: DbOrTx, environmentIds: readonly string[]): Promise<Map<string, string>> {
  const ids = environmentIds.filter((id) => UUID_TEXT.test(id));
  if (ids.length === 0) return new Map();
  const rows = await db
    .select({ id: agentDroplets.id, agentId: agentDroplets.agent_id })
    .from(agentDroplets)
    .where(inArray(agentDroplets.id, ids));
  return new Map(rows.map((r) => [r.id, r.agentId]));
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

/** Every port any catalog tool listens on, ascending (the fleet firewall opens these). */
export async function catalogToolPorts(db: DbOrTx): Promise<number[]> {
  const rows = rowsOf<{ port: number | string }>(
    await db.execute(sql`select distinct (jsonb_array_elements_text(${toolCatalog.ports}))::int as port from ${toolCatalog} order by 1`),
  );
  return rows.map((r) => Number(r.port)).filter((p) => Number.isInteger(p) && p >= 1 && p <= 65535);
}

/** Row ids are uuids: anything else can never name a row (and must not reach a uuid cast). */
const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Whether a connection from `remoteAddress` may enroll as the environment's agent: true when
 * it is the droplet's public IPv4 as the lifecycle last observed it (`ip_address`, written from
 * the fleet sweep). For the hub's optional source-address check on enrollment, which closes
 * the batch-token gap (a sibling's user_data holder enrolling first). IPv4-mapped IPv6
 * (`::ffff:a.b.c.d`) is compared as IPv4. False when the address is not known yet.
 */
export async function isDropletAddress(db: DbOrTx, environmentId: string, remoteAddress: string): Promise<boolean> {
  if (!UUID_TEXT.test(environmentId)) return false;
  const [row] = await db.select({ ip: agentDroplets.ip_address }).from(agentDroplets).where(eq(agentDroplets.id, environmentId));
  const address = remoteAddress.startsWith('::ffff:') ? remoteAddress.slice('::ffff:'.length) : remoteAddress;
  return Boolean(row?.ip) && row!.ip === address;
}
