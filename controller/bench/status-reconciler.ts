/**
 * A small but realistic reconciler for the loop benchmark: it loads its `agent_droplets`
 * row, computes a Ready condition from it, and writes status — guarded by the lease fence —
 * only when the condition or observed generation changed. No cloud calls.
 *
 * The status write is one fenced statement (`ctx.fence.condition` in its WHERE clause), the
 * cheap form of `ctx.fence.write`; `statusReconcilerTx` below is the same reconciler with
 * the transactional form, for comparison.
 */
import type { ReconcileContext, Reconciler } from '@toolbelt/reconcilers';
import { agentDroplets, type Condition, type Db, type Environment, getEnvironment } from '@toolbelt/schema';
import { and, eq } from 'drizzle-orm';

/** The Ready condition an environment row implies (a pure function of the row). */
export function readyCondition(env: Environment, now: Date): Condition {
  const ready = env.status === 'active' && env.droplet_id !== null;
  const reason = ready ? 'AgentConnected' : env.droplet_id === null ? 'NoDroplet' : 'Provisioning';
  const previous = env.conditions.find((c) => c.type === 'Ready');
  const status = ready ? 'True' : 'False';
  return {
    type: 'Ready',
    status,
    reason,
    message: ready ? 'the droplet agent is connected' : `waiting: ${reason}`,
    // A transition time moves only when the status does.
    lastTransitionTime: previous && previous.status === status ? previous.lastTransitionTime : now.toISOString(),
    observedGeneration: env.generation,
  };
}

const sameCondition = (a: Condition | undefined, b: Condition) =>
  a !== undefined && a.status === b.status && a.reason === b.reason && a.message === b.message && a.observedGeneration === b.observedGeneration;

async function listKeys(db: Db): Promise<string[]> {
  const rows = await db.select({ id: agentDroplets.id }).from(agentDroplets);
  return rows.map((r) => r.id);
}

/** Loads the row and the status it should have; undefined when nothing needs writing. */
async function desiredStatus(ctx: ReconcileContext, key: string) {
  const env = await getEnvironment(ctx.db, key);
  if (!env) return undefined; // a missing row is success
  ctx.setGeneration(env.generation);
  const ready = readyCondition(env, new Date(ctx.clock.now()));
  const current = env.conditions.find((c) => c.type === 'Ready');
  if (sameCondition(current, ready) && env.observed_generation === env.generation) return undefined;
  const conditions = [...env.conditions.filter((c) => c.type !== 'Ready'), ready];
  return { conditions, observed_generation: env.generation };
}

export const statusReconciler: Reconciler = {
  kind: 'environment',
  listKeys,
  async reconcile(ctx, key) {
    const patch = await desiredStatus(ctx, key);
    if (!patch) return;
    const written = await ctx.db
      .update(agentDroplets)
      .set(patch)
      .where(and(eq(agentDroplets.id, key), ctx.fence.condition))
      .returning({ id: agentDroplets.id });
    // Nothing written: fenced (check throws FencedError) or the row is gone (success).
    if (written.length === 0) await ctx.fence.check();
  },
};

export const statusReconcilerTx: Reconciler = {
  kind: 'environment',
  listKeys,
  async reconcile(ctx, key) {
    const patch = await desiredStatus(ctx, key);
    if (!patch) return;
    await ctx.fence.write((tx) => tx.update(agentDroplets).set(patch).where(eq(agentDroplets.id, key)));
  },
};
