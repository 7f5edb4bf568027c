/**
 * The tools reconciler — every tool instance of one environment on its droplet. Keyed by
 * environment id (`agent_droplets.id`): one agent's inventory covers all its tools. Reads as
 * steps:
 *
 *   load desired (tool rows, catalog, secret versions)
 *   → observe (the agent's reported tools, its session, the commands already sent)
 *   → diff (pure: diff.ts; its input and plan in plan.ts)
 *   → act (record deliveries, enqueue commands through the hub's command seam)
 *   → status, events, rows of confirmed uninstalls deleted.
 */
import {
  type Db,
  enqueueCommand,
  listToolEnvironmentIds,
  removeToolInstance,
  replaceToolObservations,
  setToolDelivery,
  type ToolInstance,
  TOOLS_KIND,
  updateToolStatus,
} from '@toolbelt/schema';
import type { ReconcileContext, Reconciler, ReconcileResult } from '../contract.ts';
import type { PlannedCommand, ToolPlan, ToolsPlan } from './plan.ts';
import { loadToolsState } from './load.ts';
import { diffTools, MAX_EVENTS_PER_RECONCILE, MAX_ORPHANS_PER_RECONCILE } from './diff.ts';
import { identityPackage, type ResolvePackage } from './spec.ts';

/** The reconciler kind, defined with the spec changes (`announceToolsChange`). */
export { TOOLS_KIND };
/** Events about one tool instance carry this object kind and the instance id. */
export const TOOL_OBJECT_KIND = 'tool';

export interface ToolsReconcilerOptions {
  /** Maps catalog packages to what the agent installs (default: as they are). */
  resolvePackage?: ResolvePackage;
  /** Where tools listen on their droplets (see `SpecOptions.hostIp`; default 127.0.0.1). */
  toolHostIp?: string;
  /** Backoff of a failed command: first retry after `baseMs`, doubling up to `maxMs`. */
  retry?: { baseMs?: number; maxMs?: number };
  /** Timeout of each command (default: the command seam's). */
  commandTimeoutMs?: number;
}

const COMMAND_VERB: Record<PlannedCommand['type'], string> = {
  install: 'Installing',
  configure: 'Configuring',
  start: 'Starting',
  stop: 'Stopping',
  uninstall: 'Uninstalling',
};

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** Status columns that differ from the row (conditions compared without their times). */
function statusChanged(row: ToolInstance, patch: ToolPlan['status']): boolean {
  const strip = (c: readonly { type: string; status: string; reason: string; message: string }[] | undefined) =>
    (c ?? []).map(({ type, status, reason, message }) => ({ type, status, reason, message }));
  return (
    row.status !== patch.status ||
    row.last_error !== patch.last_error ||
    row.observed_generation !== patch.observed_generation ||
    !same(strip(row.conditions), strip(patch.conditions)) ||
    !same(row.endpoints, patch.endpoints) ||
    !same(row.capabilities, patch.capabilities)
  );
}

async function send(ctx: ReconcileContext, environmentId: string, command: PlannedCommand, timeoutMs: number | undefined): Promise<void> {
  const result = await enqueueCommand(ctx.db, {
    environmentId,
    commandType: command.type,
    toolInstanceId: command.toolInstanceId,
    generation: command.generation,
    payload: command.payload,
    dedupe: true,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
  if (result.kind === 'invalid') throw new Error(`the ${command.type} command for tool ${command.toolInstanceId} is invalid: ${result.reason}`);
  if (result.kind === 'ok' && result.value.created) {
    await ctx.events.normal(`Tool${COMMAND_VERB[command.type]}`, `${command.type} sent (delivery ${command.generation})`, { kind: TOOL_OBJECT_KIND, id: command.toolInstanceId });
  }
}

interface ToolAct {
  environmentId: string;
  row: ToolInstance;
  plan: ToolPlan;
  timeoutMs: number | undefined;
}

async function actOnTool(ctx: ReconcileContext, { environmentId, row, plan, timeoutMs }: ToolAct): Promise<void> {
  if (plan.deleteRow) {
    await ctx.fence.write((tx) => removeToolInstance(tx, environmentId, row.id));
    await ctx.events.normal('ToolRemoved', `${row.instance_name} is uninstalled and removed`, { kind: TOOL_OBJECT_KIND, id: row.id });
    return;
  }
  // The delivery is recorded before its command: a crash in between re-sends the same generation.
  if (plan.delivery) await ctx.fence.write((tx) => setToolDelivery(tx, row.id, plan.delivery!));
  if (plan.command) await send(ctx, environmentId, plan.command, timeoutMs);
  if (statusChanged(row, plan.status)) await ctx.fence.write((tx) => updateToolStatus(tx, row.id, plan.status));
}

/** One event when a reconcile left orphans or events for later (the caps of diff.ts). */
async function reportCapped(ctx: ReconcileContext, environmentId: string, plan: ToolsPlan): Promise<void> {
  if (plan.orphansLeft === 0 && plan.eventsOmitted === 0) return;
  // No counts in the message: repeated throttling folds into one event row (its count grows).
  const parts = [
    ...(plan.orphansLeft > 0 ? [`the agent reports more unknown tools than one reconcile uninstalls (${MAX_ORPHANS_PER_RECONCILE}); the rest follow`] : []),
    ...(plan.eventsOmitted > 0 ? [`more tool events than one reconcile writes (${MAX_EVENTS_PER_RECONCILE}); some were left out`] : []),
  ];
  await ctx.events.warning('ToolsThrottled', parts.join('; '), { kind: 'environment', id: environmentId });
}

/** Makes the tools reconciler. */
export function createToolsReconciler(options: ToolsReconcilerOptions = {}): Reconciler {
  const build = { resolve: options.resolvePackage ?? identityPackage, hostIp: options.toolHostIp ?? '127.0.0.1' };
  const retry = { baseMs: options.retry?.baseMs ?? 2_000, maxMs: options.retry?.maxMs ?? 300_000 };

  async function reconcile(ctx: ReconcileContext, key: string): Promise<ReconcileResult> {
    const state = await loadToolsState(ctx.db, key, build);
    if (!state) return;
    // The droplet is gone: its agent's last reports describe nothing that exists any more.
    if (state.staleObservations) await ctx.fence.write((tx) => replaceToolObservations(tx, key, [], new Date(ctx.clock.now())));
    const plan = diffTools({ ...state.diff, now: ctx.clock.now(), retry });
    const rows = new Map(state.rows.map((r) => [r.id, r]));
    for (const toolPlan of plan.tools) {
      await actOnTool(ctx, { environmentId: key, row: rows.get(toolPlan.toolId)!, plan: toolPlan, timeoutMs: options.commandTimeoutMs });
    }
    for (const orphan of plan.orphans) await send(ctx, key, orphan, options.commandTimeoutMs);
    await reportCapped(ctx, key, plan);
    for (const event of plan.events) {
      const object = { kind: TOOL_OBJECT_KIND, id: event.toolInstanceId };
      await (event.type === 'Warning' ? ctx.events.warning(event.reason, event.message, object) : ctx.events.normal(event.reason, event.message, object));
    }
    return plan.requeueAfterMs === undefined ? undefined : { requeueAfterMs: plan.requeueAfterMs };
  }

  return { kind: TOOLS_KIND, reconcile, listKeys: (db: Db) => listToolEnvironmentIds(db) };
}

export { diffTools, MAX_EVENTS_PER_RECONCILE, MAX_ORPHANS_PER_RECONCILE } from './diff.ts';
export * from './plan.ts';
export * from './endpoints.ts';
export * from './spec.ts';
export * from './status.ts';
export { stopEnvironmentTools, type StopToolsOptions } from './stop.ts';
