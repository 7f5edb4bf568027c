/**
 * Spec-change notification: wakes the leader's work queue from any replica. A writer
 * announces its change in the transaction of its write, in the reconcilers' own kinds and
 * keys; Postgres delivers a NOTIFY on commit and drops it on rollback.
 */
import { sql } from 'drizzle-orm';
import type { DbOrTx } from './db.ts';
import { ToolbeltError } from './errors.ts';
import { agentDroplets } from './tables.ts';

/** The NOTIFY channel spec writers signal on; the leader's loop listens. */
export const SPEC_CHANNEL = 'toolbelt_spec';

/** A spec change: which reconciler kind and which key to reconcile. */
export interface SpecChange {
  kind: string;
  key: string;
}

/**
 * Tells every replica (through NOTIFY on `SPEC_CHANNEL`, payload `kind:key`) that the spec
 * of `key` changed. Call it in the same transaction as the spec write: Postgres delivers it
 * on commit and drops it on rollback. Only for spec writes — NOTIFY in hot transactions
 * (status writes, heartbeats) halves commit throughput.
 */
export async function notifySpecChange(db: DbOrTx, change: SpecChange): Promise<void> {
  if (!/^[A-Za-z0-9_.-]+$/.test(change.kind)) {
    throw new ToolbeltError('SPEC_KIND_INVALID', `reconciler kind "${change.kind}" is not a plain name`, {
      hint: 'kinds are letters, digits, "_", "." or "-"',
    });
  }
  await db.execute(sql`select pg_notify(${SPEC_CHANNEL}, ${`${change.kind}:${change.key}`})`);
}

/**
 * The NOTIFY channel a follower forwards its agents' events on (payload `kind:key`, as on
 * `SPEC_CHANNEL`): the leader's loop enqueues them at once, wherever the agent's socket landed.
 */
export const AGENT_EVENTS_CHANNEL = 'toolbelt_agent_events';

/** Sends each `kind:key` on `AGENT_EVENTS_CHANNEL`, in one statement (outside any transaction). */
export async function forwardAgentEvents(db: DbOrTx, changes: readonly SpecChange[]): Promise<void> {
  if (changes.length === 0) return;
  const payloads = changes.map((c) => `${c.kind}:${c.key}`);
  await db.execute(sql`select pg_notify(${AGENT_EVENTS_CHANNEL}, p) from jsonb_array_elements_text(${JSON.stringify(payloads)}::jsonb) as p`);
}

/** Reads a `SPEC_CHANNEL` payload; undefined when it is not `kind:key`. */
export function parseSpecChange(payload: string): SpecChange | undefined {
  const colon = payload.indexOf(':');
  if (colon <= 0 || colon === payload.length - 1) return undefined;
  return { kind: payload.slice(0, colon), key: payload.slice(colon + 1) };
}

/** The environment reconciler's kind; its key is the **agent id** (the agent holds the switch). */
export const ENVIRONMENT_KIND = 'environment';
/** The tools reconciler's kind; its key is the **environment id** (`agent_droplets.id`). */
export const TOOLS_KIND = 'tools';

/**
 * Announces a change to an agent's spec (its switch, its environment's region, size or image,
 * its deletion): its `environment` key, and the `tools` key of its environment if it has one.
 * Call it in the transaction of the write.
 */
export async function announceAgentChange(db: DbOrTx, agentId: string): Promise<void> {
  await notifySpecChange(db, { kind: ENVIRONMENT_KIND, key: agentId });
  await announceAgentToolsChange(db, agentId);
}

/**
 * Announces a change to what an agent's tools are given (one of its secrets was put or
 * removed): the `tools` key of its environment, if it has one. Call it in the transaction
 * of the write.
 */
export async function announceAgentToolsChange(db: DbOrTx, agentId: string): Promise<void> {
  await db.execute(
    sql`select pg_notify(${SPEC_CHANNEL}, ${`${TOOLS_KIND}:`} || ${agentDroplets.id}::text) from ${agentDroplets} where ${agentDroplets.agent_id}::text = ${agentId}`,
  );
}

/** Announces a change to a tool instance of an environment: that environment's `tools` key. */
export async function announceToolsChange(db: DbOrTx, environmentId: string): Promise<void> {
  await notifySpecChange(db, { kind: TOOLS_KIND, key: environmentId });
}
