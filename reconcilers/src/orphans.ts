/**
 * The orphan collector: a droplet with the fleet tag that no environment row owns (its name
 * is not `tb-<id of a row>`) is deleted after a grace period; with `dryRun` it is reported
 * instead. One key (`fleet`), enqueued by the fleet sweep when it sees a candidate.
 *
 * The grace is remembered in the events table, so it survives restarts and failovers: the
 * first sighting records a Warning `OrphanDetected` about the droplet, whose `first_seen`
 * is when the grace began (its `count` grows with each later sighting). Every deletion is an
 * event too (`OrphanDeleted`; `OrphanWouldDelete` in dry run).
 */
import { type Db, environmentOwners, recordEvent } from '@toolbelt/schema';
import type { ReconcileContext, Reconciler, ReconcileResult } from './contract.ts';
import type { FleetCache, FleetSnapshot } from './fleet.ts';
import type { Droplet } from './provider/types.ts';

export const ORPHANS_KIND = 'orphans';
export const ORPHANS_KEY = 'fleet';

export interface OrphanReconcilerOptions {
  fleet: FleetCache;
  provider: { deleteDroplet(id: number, options?: { signal?: AbortSignal }): Promise<'deleted' | 'already_gone'> };
  /** How long a droplet must stay unowned before it is deleted (default 10 min). */
  graceMs?: number;
  /** Report instead of deleting (default false). */
  dryRun?: boolean;
}

/** Droplets of the sweep that no row owns. */
export async function findOrphans(db: Db, snapshot: FleetSnapshot): Promise<Droplet[]> {
  const owners = await environmentOwners(db, [...snapshot.byEnv.keys()]);
  const unowned = [...snapshot.byEnv].filter(([envId]) => !owners.has(envId)).flatMap(([, droplets]) => droplets);
  return [...snapshot.unidentified, ...unowned];
}

const describe = (d: Droplet) => `droplet ${d.id} (${d.name}, ${d.region}, created ${d.createdAt || 'at an unknown time'})`;

/** Makes the orphan collector. */
export function createOrphanReconciler(options: OrphanReconcilerOptions): Reconciler {
  const graceMs = options.graceMs ?? 10 * 60_000;
  const dryRun = options.dryRun ?? false;
  if (!(graceMs >= 0)) throw new RangeError(`orphan collector: graceMs must be ≥ 0, got ${graceMs}`);
  /** Droplets this process deleted, by id → when: a sweep older than that still lists them. */
  const deleted = new Map<number, number>();

  /** Records the sighting; returns when the grace of this droplet began. */
  async function sighted(ctx: ReconcileContext, droplet: Droplet): Promise<number> {
    const event = await recordEvent(ctx.db, {
      type: 'Warning',
      reason: 'OrphanDetected',
      message: `${describe(droplet)} carries the fleet tag but no environment owns it; ${dryRun ? 'reporting it (dry run)' : 'deleting it'} after ${Math.round(graceMs / 1000)} s`,
      object: { kind: 'droplet', id: String(droplet.id) },
      at: new Date(ctx.clock.now()),
    });
    return event.first_seen.getTime();
  }

  async function collect(ctx: ReconcileContext, droplet: Droplet): Promise<void> {
    const object = { kind: 'droplet', id: String(droplet.id) };
    if (dryRun) {
      await ctx.events.warning('OrphanWouldDelete', `dry run: would delete orphan ${describe(droplet)}`, object);
      return;
    }
    const result = await options.provider.deleteDroplet(droplet.id, { signal: ctx.signal });
    deleted.set(droplet.id, ctx.clock.now());
    options.fleet.requestSweep();
    await ctx.events.normal('OrphanDeleted', `deleted orphan ${describe(droplet)} (${result === 'deleted' ? 'deleted' : 'already gone'})`, object);
  }

  async function reconcile(ctx: ReconcileContext, key: string): Promise<ReconcileResult> {
    if (key !== ORPHANS_KEY) return;
    const snapshot = options.fleet.latest();
    if (!snapshot) {
      options.fleet.requestSweep({ kind: ORPHANS_KIND, key });
      return;
    }
    const now = ctx.clock.now();
    for (const [id, at] of deleted) if (at < snapshot.startedAt) deleted.delete(id);
    let next: number | undefined;
    for (const droplet of await findOrphans(ctx.db, snapshot)) {
      if (deleted.has(droplet.id)) continue;
      const due = (await sighted(ctx, droplet)) + graceMs;
      if (due <= now) await collect(ctx, droplet);
      else next = Math.min(next ?? Infinity, due - now);
    }
    return next === undefined ? undefined : { requeueAfterMs: next };
  }

  return { kind: ORPHANS_KIND, reconcile, listKeys: async () => [ORPHANS_KEY] };
}
