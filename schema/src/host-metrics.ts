/**
 * Host metrics history: one point a minute per environment, 24 hours (see `hostMetricPoints`).
 * Points are written in one statement for many environments and pruned by age.
 */
import { and, asc, eq, gte, sql } from 'drizzle-orm';
import type { DbOrTx } from './db.ts';
import { rowsOf } from './raw.ts';
import { hostMetricPoints } from './tables.ts';
import type { HostMetrics } from './types.ts';

/** How long points are kept. */
export const HOST_METRICS_RETENTION_MS = 24 * 60 * 60 * 1000;

export interface HostMetricPoint {
  environmentId: string;
  /** The minute the point stands for (seconds and below are dropped). */
  minute: Date;
  metrics: HostMetrics;
}

/** The start of the minute `at` falls in. */
export const minuteOf = (at: Date): Date => new Date(Math.floor(at.getTime() / 60_000) * 60_000);

/** Writes points in one statement; a second point for the same minute replaces the first. */
export async function writeHostMetricPoints(db: DbOrTx, points: readonly HostMetricPoint[]): Promise<void> {
  if (points.length === 0) return;
  const json = JSON.stringify(points.map((p) => ({ id: p.environmentId, minute: p.minute.toISOString(), metrics: p.metrics })));
  // Environments deleted meanwhile are skipped by the join, not refused by the foreign key.
  await db.execute(sql`
    insert into host_metric_points (agent_droplet_id, minute, metrics)
    select v.id, v.minute, v.metrics
    from jsonb_to_recordset(${json}::jsonb) as v(id uuid, minute timestamptz, metrics jsonb)
    join agent_droplets d on d.id = v.id
    on conflict (agent_droplet_id, minute) do update set metrics = excluded.metrics`);
}

/** An environment's points since `since`, oldest first (at most 1,440 for 24 hours). */
export async function listHostMetricPoints(db: DbOrTx, environmentId: string, since: Date): Promise<{ minute: Date; metrics: HostMetrics }[]> {
  return db
    .select({ minute: hostMetricPoints.minute, metrics: hostMetricPoints.metrics })
    .from(hostMetricPoints)
    .where(and(eq(hostMetricPoints.agent_droplet_id, environmentId), gte(hostMetricPoints.minute, since)))
    .orderBy(asc(hostMetricPoints.minute))
    .limit(1500);
}

/** Deletes points older than `before`; returns how many. */
export async function pruneHostMetricPoints(db: DbOrTx, before: Date): Promise<number> {
  const result = rowsOf<{ n: number | string }>(
    await db.execute(sql`with d as (delete from host_metric_points where minute < ${before.toISOString()}::timestamptz returning 1) select count(*) as n from d`),
  );
  return Number(result[0]?.n ?? 0);
}
