/**
 * The environment reconciler — the droplet lifecycle (DESIGN.md, "Droplet lifecycle";
 * docs/architecture.md). Keyed by agent id. Reads as steps:
 *
 *   load desired (agent, environment row, agent session)
 *   → observe (the shared fleet sweep, this process's create batcher)
 *   → diff (pure: diff.ts)
 *   → act (act.ts: intent first, idempotent calls, fenced writes)
 *   → status and events.
 */
import { ENVIRONMENT_KIND, listEnvironmentKeys, loadEnvironmentState, removeDeletedAgent } from '@toolbelt/schema';
import type { Db } from '@toolbelt/schema';
import type { ReconcileContext, Reconciler, ReconcileResult } from '../contract.ts';
import type { FleetCache } from '../fleet.ts';
import { type BeforeDelete, carryOut, type LifecycleProvider } from './act.ts';
import type { CreateBatcher } from './batcher.ts';
import { diffEnvironment } from './diff.ts';
import { diffInputOf } from './observe.ts';
import { type LifecycleTimings, resolveTimings } from './options.ts';

/** The reconciler kind (and the kind of its events' object), defined with the spec changes. */
export { ENVIRONMENT_KIND };

export interface EnvironmentReconcilerOptions {
  provider: LifecycleProvider;
  fleet: FleetCache;
  batcher: CreateBatcher;
  timings?: Partial<LifecycleTimings>;
  /**
   * Stops the environment's tools gracefully before its droplet is deleted (the tools work
   * sends stop commands through the hub here). Default: nothing to stop.
   */
  beforeDelete?: BeforeDelete;
}

/** Makes the environment reconciler. */
export function createEnvironmentReconciler(options: EnvironmentReconcilerOptions): Reconciler {
  const timings = resolveTimings(options.timings);
  const deps = { provider: options.provider, fleet: options.fleet, batcher: options.batcher, beforeDelete: options.beforeDelete };

  async function reconcile(ctx: ReconcileContext, key: string): Promise<ReconcileResult> {
    const state = await loadEnvironmentState(ctx.db, key);
    if (!state) return;
    const environment = state.environment;
    if (!environment) {
      // No environment was ever declared: a deleted agent can go at once.
      if (state.agent.deletion_requested_at) await ctx.fence.write((tx) => removeDeletedAgent(tx, key));
      return;
    }
    ctx.setGeneration(environment.generation);
    const wake = { kind: ENVIRONMENT_KIND, key };
    options.fleet.bind(environment.id, wake);
    const input = diffInputOf({ ...state, environment }, { ...deps, timings, now: ctx.clock.now() });
    const plan = diffEnvironment(input);
    await carryOut(ctx, deps, { envId: environment.id, agentId: key, wake, placement: input.placement, row: input.row }, plan);
    return plan.requeueAfterMs === undefined ? undefined : { requeueAfterMs: plan.requeueAfterMs };
  }

  return {
    kind: ENVIRONMENT_KIND,
    reconcile,
    listKeys: (db: Db) => allEnvironmentKeys(db),
  };
}

async function allEnvironmentKeys(db: Db): Promise<string[]> {
  const keys: string[] = [];
  for (let after: string | undefined; ; ) {
    const page = await listEnvironmentKeys(db, { limit: 1000, ...(after === undefined ? {} : { after }) });
    keys.push(...page);
    if (page.length < 1000) return keys;
    after = page[page.length - 1];
  }
}

export { type BeforeDelete, type EnvironmentRef, type LifecycleProvider } from './act.ts';
export {
  CreateBatcher,
  type BatcherStats,
  type CreateBatcherOptions,
  type CreateOutcome,
  type CreateRequest,
  type DropletPlacement,
} from './batcher.ts';
export { diffEnvironment } from './diff.ts';
export { DEFAULT_LIFECYCLE_TIMINGS, type LifecycleTimings, resolveTimings } from './options.ts';
export type { Action, DiffInput, Plan } from './plan.ts';
export { enrollmentUserData, type RenderUserData } from './user-data.ts';
