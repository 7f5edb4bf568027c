/**
 * Carries out an environment plan: every step idempotent, every write after acting on the
 * world fenced by the leader lease, intents (create, delete) written before the call.
 */
import {
  agentDroplets,
  type EnvironmentStatusPatch,
  removeDeletedAgent,
  revokeDropletCredentials,
  ToolbeltError,
} from '@toolbelt/schema';
import { and, eq } from 'drizzle-orm';
import type { ReconcileContext } from '../contract.ts';
import type { FleetCache, WakeTarget } from '../fleet.ts';
import { isProviderError } from '../provider/errors.ts';
import type { CreateBatcher, DropletPlacement } from './batcher.ts';
import { sameConditions } from './conditions.ts';
import type { Action, Plan, RowState, StatusWrite } from './plan.ts';
import type { Droplet, DropletAction, PowerAction } from '../provider/types.ts';

/** What deleting and power actions need of the provider. */
export interface LifecycleProvider {
  deleteDroplet(id: number, options?: { signal?: AbortSignal }): Promise<'deleted' | 'already_gone'>;
  powerAction(id: number, type: PowerAction, options?: { signal?: AbortSignal }): Promise<DropletAction>;
}

/** The environment a `beforeDelete` hook is asked to wind down. */
export interface EnvironmentRef {
  environmentId: string;
  agentId: string;
  dropletIds: number[];
}

/** Stops an environment's tools gracefully before its droplet is deleted. */
export type BeforeDelete = (env: EnvironmentRef, signal: AbortSignal) => Promise<void>;

export interface ActDeps {
  provider: LifecycleProvider;
  fleet: FleetCache;
  batcher: CreateBatcher;
  beforeDelete: BeforeDelete | undefined;
}

export interface ActTarget {
  envId: string;
  agentId: string;
  wake: WakeTarget;
  placement: DropletPlacement;
  row: RowState;
}

/** The status patch when the plan's status differs from the row's; undefined when it does not. */
export function statusPatch(row: RowState, next: StatusWrite): EnvironmentStatusPatch | undefined {
  const patch: EnvironmentStatusPatch = {};
  if (row.status !== next.status) patch.status = next.status;
  if (row.dropletId !== next.dropletId) patch.droplet_id = next.dropletId;
  if (row.ipAddress !== next.ipAddress) patch.ip_address = next.ipAddress;
  if (row.privateIpAddress !== next.privateIpAddress) patch.private_ip_address = next.privateIpAddress;
  if (row.createRequestedAt !== next.createRequestedAt) {
    patch.create_requested_at = next.createRequestedAt === null ? null : new Date(next.createRequestedAt);
  }
  if (!sameConditions(row.conditions, next.conditions)) patch.conditions = next.conditions;
  if (row.observedGeneration !== next.observedGeneration) patch.observed_generation = next.observedGeneration;
  if (row.bootFailures !== next.bootFailures) patch.boot_failures = next.bootFailures;
  return Object.keys(patch).length > 0 ? patch : undefined;
}

/** Writes what changed, fenced in one statement (the lease condition in its WHERE clause). */
async function writeStatus(ctx: ReconcileContext, target: ActTarget, status: StatusWrite): Promise<void> {
  const patch = statusPatch(target.row, status);
  if (!patch) return;
  const written = await ctx.db
    .update(agentDroplets)
    .set(patch)
    .where(and(eq(agentDroplets.id, target.envId), ctx.fence.condition))
    .returning({ id: agentDroplets.id });
  // Nothing written: fenced (throws) or the row is gone (a missing row is success).
  if (written.length === 0) await ctx.fence.check();
}

/** Runs the plan: intent → actions → status → events → final removal. */
export async function carryOut(ctx: ReconcileContext, deps: ActDeps, target: ActTarget, plan: Plan): Promise<void> {
  if (plan.intentFirst) await writeStatus(ctx, target, plan.status);
  const last: Action[] = [];
  const actor: Actor = { ctx, deps, target, plan };
  for (const action of plan.actions) {
    if (action.type === 'removeAgent' || action.type === 'forgetCreate') last.push(action);
    else await runAction(actor, action);
  }
  if (!plan.intentFirst) await writeStatus(ctx, target, plan.status);
  for (const event of plan.events) {
    if (event.type === 'Warning') await ctx.events.warning(event.reason, event.message);
    else await ctx.events.normal(event.reason, event.message);
  }
  for (const action of last) await runAction(actor, action);
  if (plan.waitForSweep) deps.fleet.requestSweep(target.wake);
}

/** One reconcile carrying out its plan. */
interface Actor {
  ctx: ReconcileContext;
  deps: ActDeps;
  target: ActTarget;
  plan: Plan;
}

async function runAction(actor: Actor, action: Action): Promise<void> {
  const { ctx, deps, target } = actor;
  const { signal } = ctx;
  switch (action.type) {
    case 'create':
      return submitCreate(deps, target);
    case 'cancelCreate':
      deps.batcher.cancel(target.envId);
      return;
    case 'forgetCreate':
      deps.batcher.forget(target.envId);
      return;
    case 'deleteDroplet':
      await deps.provider.deleteDroplet(action.droplet.id, { signal }).finally(() => deps.fleet.noteMutation(target.envId));
      return;
    case 'powerOn':
    case 'powerCycle':
      return power(actor, action.droplet, action.type === 'powerOn' ? 'power_on' : 'power_cycle');
    case 'stopTools':
      return stopTools(actor);
    case 'revokeCredentials':
      await ctx.fence.write((tx) => revokeDropletCredentials(tx, target.envId, { now: new Date(ctx.clock.now()) }));
      return;
    case 'removeAgent':
      await ctx.fence.write((tx) => removeDeletedAgent(tx, target.agentId));
      await ctx.events.normal('AgentRemoved', `the agent's droplet is gone; its environment and agent rows are removed`);
      return;
  }
}

function submitCreate(deps: ActDeps, target: ActTarget): void {
  const accepted = deps.batcher.submit({ envId: target.envId, wake: target.wake, placement: target.placement });
  // Not accepted: one is already queued or on the wire (fine), or the batcher is stopped.
  if (!accepted && !deps.batcher.outcome(target.envId)) {
    throw new ToolbeltError('CREATE_BATCHER_STOPPED', 'the create batcher is not running (this replica is stopping or lost the lead)');
  }
}

async function power({ ctx, deps, target }: Actor, droplet: Droplet, type: PowerAction): Promise<void> {
  try {
    await deps.provider.powerAction(droplet.id, type, { signal: ctx.signal });
  } finally {
    deps.fleet.noteMutation(target.envId);
  }
}

/** Asks the tools work to stop the tools; a failure is reported and does not block the delete. */
async function stopTools({ ctx, deps, target, plan }: Actor): Promise<void> {
  if (!deps.beforeDelete) return;
  const dropletIds = plan.actions.flatMap((a) => (a.type === 'deleteDroplet' ? [a.droplet.id] : []));
  try {
    await deps.beforeDelete({ environmentId: target.envId, agentId: target.agentId, dropletIds }, ctx.signal);
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    const message = isProviderError(error) || error instanceof Error ? error.message : String(error);
    await ctx.events.warning('StopToolsFailed', `stopping the tools before the delete failed (${message}); deleting anyway`);
  }
}
