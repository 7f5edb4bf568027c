/**
 * Queries on tool environments (`agent_droplets`): one per agent, stable across droplet
 * replacement. Spec writes (region, size, image) bump the generation; status writes do not.
 *
 * The environment reconciler is keyed by **agent id** (the agent holds the switch
 * `tool_environment_active`; an agent has at most one environment): what one reconcile reads
 * in one round trip and the keys of its resync are here too.
 */
import { and, asc, eq, gt, inArray, isNotNull, or } from 'drizzle-orm';
import type { AgentSession } from './agent-sessions.ts';
import type { Agent } from './agents.ts';
import type { DbOrTx } from './db.ts';
import { UUID } from './ids.ts';
import { type Conflict, type Found, type NotFound, notFound, ok, uniqueOrConflict } from './outcomes.ts';
import { agentDroplets, agents, agentSessions } from './tables.ts';

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
    | 'boot_failures'
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
  const ids = environmentIds.filter((id) => UUID.test(id));
  if (ids.length === 0) return new Map();
  const rows = await db
    .select({ id: agentDroplets.id, agentId: agentDroplets.agent_id })
    .from(agentDroplets)
    .where(inArray(agentDroplets.id, ids));
  return new Map(rows.map((r) => [r.id, r.agentId]));
}


/**
 * Whether a connection from `remoteAddress` may enroll as the environment's agent: true when
 * it is the droplet's public IPv4 as the lifecycle last observed it (`ip_address`, written from
 * the fleet sweep). For the hub's optional source-address check on enrollment, which closes
 * the batch-token gap (a sibling's user_data holder enrolling first). IPv4-mapped IPv6
 * (`::ffff:a.b.c.d`) is compared as IPv4. False when the address is not known yet.
 */
export async function isDropletAddress(db: DbOrTx, environmentId: string, remoteAddress: string): Promise<boolean> {
  if (!UUID.test(environmentId)) return false;
  const [row] = await db.select({ ip: agentDroplets.ip_address }).from(agentDroplets).where(eq(agentDroplets.id, environmentId));
  const address = remoteAddress.startsWith('::ffff:') ? remoteAddress.slice('::ffff:'.length) : remoteAddress;
  return Boolean(row?.ip) && row!.ip === address;
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
