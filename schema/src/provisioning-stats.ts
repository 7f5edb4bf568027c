/**
 * How long this fleet takes to provision, measured from its own events: for the last N
 * environments that became Ready, the time from their latest `Creating` event to their
 * `Ready` event; the median of those is the "typical provisioning time" the console shows.
 */
import { sql } from 'drizzle-orm';
import type { DbOrTx } from './db.ts';
import { rowsOf } from './raw.ts';

export interface ProvisioningStats {
  /** Median seconds from create to Ready, or null with no samples yet. */
  medianSeconds: number | null;
  /** How many environments the median is over (at most `lastN`). */
  samples: number;
}

/** The median create→Ready time over the last `lastN` environments that became Ready. */
export async function provisioningStats(db: DbOrTx, lastN = 20): Promise<ProvisioningStats> {
  const rows = rowsOf<{ median: number | string | null; n: number | string }>(
    await db.execute(sql`
      with ready as (
        select r.object_id, r.last_seen as ready_at,
          (select max(c.last_seen) from events c
            where c.object_kind = 'environment' and c.object_id = r.object_id
              and c.reason = 'Creating' and c.last_seen <= r.last_seen) as created_at
        from events r
        where r.object_kind = 'environment' and r.reason = 'Ready'
        order by r.last_seen desc
        limit ${lastN})
      select percentile_cont(0.5) within group (order by extract(epoch from ready_at - created_at)) as median,
        count(*) as n
      from ready where created_at is not null`),
  );
  const row = rows[0];
  const samples = Number(row?.n ?? 0);
  return { medianSeconds: samples > 0 && row?.median != null ? Number(row.median) : null, samples };
}
