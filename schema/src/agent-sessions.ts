/**
 * What the hub learns from droplet agents and writes for the reconcilers to read: the
 * connection (`agent_sessions`) and the heartbeat columns of `agent_droplets` (last seen,
 * version, host metrics) — the latter in batches, one statement for many agents, never one
 * UPDATE per heartbeat. What agents report of each tool is in tool-instances.ts.
 *
 * Liveness is `agent_droplets.last_heartbeat_at`: a session row says which replica held the
 * socket last, but a replica that died cannot mark its sessions closed.
 */
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { DbOrTx } from './db.ts';
import { rowsOf } from './raw.ts';
import { agentSessions } from './tables.ts';
import type { HostMetrics } from './types.ts';

/** NOTIFY channel: `ENVIRONMENT_ID REPLICA_ID CONNECTION_ID` of a new agent connection. */
export const AGENT_SESSIONS_CHANNEL = 'toolbelt_agent_sessions';

export type AgentSession = typeof agentSessions.$inferSelect;

export interface AgentConnection {
  environmentId: string;
  replicaId: string;
  /** Where that replica takes forwarded gateway requests (see `agentSessions.replica_url`). */
  replicaUrl?: string | null | undefined;
  connectionId: string;
  credentialId: string | null;
  at: Date;
}

/**
 * Records a new connection of an environment's agent (replacing the previous session) and
 * NOTIFYs it, so that another replica still holding an older socket of it closes that one.
 */
export async function recordAgentConnected(db: DbOrTx, c: AgentConnection): Promise<void> {
  const at = c.at.toISOString();
  await db.execute(sql`
    with s as (
      insert into agent_sessions (agent_droplet_id, replica_id, replica_url, connection_id, credential_id, connected_at)
      values (${c.environmentId}, ${c.replicaId}, ${c.replicaUrl ?? null}, ${c.connectionId}, ${c.credentialId}, ${at})
      on conflict (agent_droplet_id) do update set replica_id = excluded.replica_id, replica_url = excluded.replica_url,
        connection_id = excluded.connection_id, credential_id = excluded.credential_id,
        connected_at = excluded.connected_at, disconnected_at = null, hello_at = null
      returning agent_droplet_id
    )
    select pg_notify(${AGENT_SESSIONS_CHANNEL}, ${`${c.environmentId} ${c.replicaId} ${c.connectionId}`}) from s`);
}

/** The replica holding an environment's agent socket now (an open session), if any. */
export async function getSocketHolder(db: DbOrTx, environmentId: string): Promise<{ replicaId: string; replicaUrl: string | null } | undefined> {
  const [row] = await db
    .select({ replicaId: agentSessions.replica_id, replicaUrl: agentSessions.replica_url })
    .from(agentSessions)
    .where(and(eq(agentSessions.agent_droplet_id, environmentId), isNull(agentSessions.disconnected_at)));
  return row;
}

/** What a hello says about the agent, kept on its session. */
export interface AgentHelloFacts {
  agentVersion: string;
  protocolVersion: number;
  hostname: string;
  bootId?: string | undefined;
  dropletId?: number | undefined;
  runtimes: string[];
}

/** Records the agent's hello on its current session (a stale connection id changes nothing). */
export async function recordAgentHello(
  db: DbOrTx,
  input: { environmentId: string; connectionId: string; at: Date; hello: AgentHelloFacts },
): Promise<boolean> {
  const rows = await db
    .update(agentSessions)
    .set({
      hello_at: input.at,
      agent_version: input.hello.agentVersion,
      protocol_version: input.hello.protocolVersion,
      hostname: input.hello.hostname,
      boot_id: input.hello.bootId ?? null,
      reported_droplet_id: input.hello.dropletId ?? null,
      runtimes: input.hello.runtimes,
    })
    .where(and(eq(agentSessions.agent_droplet_id, input.environmentId), eq(agentSessions.connection_id, input.connectionId)))
    .returning({ id: agentSessions.agent_droplet_id });
  return rows.length > 0;
}

/** Marks a connection closed, unless a newer connection of the agent replaced it. */
export async function recordAgentDisconnected(
  db: DbOrTx,
  input: { environmentId: string; connectionId: string; at: Date },
): Promise<void> {
  await db
    .update(agentSessions)
    .set({ disconnected_at: input.at })
    .where(
      and(
        eq(agentSessions.agent_droplet_id, input.environmentId),
        eq(agentSessions.connection_id, input.connectionId),
        isNull(agentSessions.disconnected_at),
      ),
    );
}

/** Marks every open session of a replica closed (the hub stopping). Returns how many. */
export async function closeReplicaSessions(db: DbOrTx, replicaId: string, at: Date): Promise<number> {
  const rows = await db
    .update(agentSessions)
    .set({ disconnected_at: at })
    .where(and(eq(agentSessions.replica_id, replicaId), isNull(agentSessions.disconnected_at)))
    .returning({ id: agentSessions.agent_droplet_id });
  return rows.length;
}

export async function getAgentSession(db: DbOrTx, environmentId: string): Promise<AgentSession | undefined> {
  const [row] = await db.select().from(agentSessions).where(eq(agentSessions.agent_droplet_id, environmentId));
  return row;
}

/** One agent's latest heartbeat, as buffered by the hub. */
export interface HeartbeatRow {
  environmentId: string;
  at: Date;
  agentVersion: string;
  metrics?: HostMetrics | undefined;
}

/**
 * Writes many heartbeats in one statement (`UPDATE … FROM jsonb_to_recordset(…)`): last
 * seen, agent version and, when given, host metrics. A heartbeat older than the stored one
 * changes nothing. Returns how many environments were updated.
 */
export async function writeHeartbeats(db: DbOrTx, rows: readonly HeartbeatRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const json = JSON.stringify(
    // A missing `metrics` key reads as SQL NULL (keep the stored metrics); a JSON null might not.
    rows.map((r) => ({ id: r.environmentId, at: r.at.toISOString(), version: r.agentVersion, ...(r.metrics ? { metrics: r.metrics } : {}) })),
  );
  const result = rowsOf<{ n: number | string }>(
    await db.execute(sql`
      with u as (update agent_droplets d set last_heartbeat_at = v.at, agent_version = v.version,
        host_metrics = coalesce(v.metrics, d.host_metrics)
      from jsonb_to_recordset(${json}::jsonb) as v(id uuid, at timestamptz, version text, metrics jsonb)
      where d.id = v.id and (d.last_heartbeat_at is null or d.last_heartbeat_at < v.at)
      returning 1)
      select count(*) as n from u`),
  );
  return Number(result[0]?.n ?? 0);
}
