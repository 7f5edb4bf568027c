/**
 * Keeps the host metrics history the console charts: of the heartbeats a flush writes, the
 * first one of each environment in each minute becomes that minute's point (later ones in the
 * same minute are dropped, so the write rate is one row per environment a minute however
 * often agents beat). Points older than 24 hours are pruned every `pruneEveryMs`.
 */
import {
  type Clock,
  type Db,
  type HeartbeatRow,
  HOST_METRICS_RETENTION_MS,
  type HostMetricPoint,
  minuteOf,
  pruneHostMetricPoints,
  writeHostMetricPoints,
} from '@toolbelt/schema';

const CHUNK = 5000;

export class MetricsHistory {
  /** Environment id → the minute (ms) of its last written point. */
  readonly #written = new Map<string, number>();
  #lastPrune = 0;

  constructor(private readonly deps: { db: Db; clock: Clock; pruneEveryMs?: number }) {}

  /** Writes a point for each row that starts a new minute for its environment. */
  async record(rows: readonly HeartbeatRow[]): Promise<void> {
    const points: HostMetricPoint[] = [];
    for (const row of rows) {
      if (!row.metrics) continue;
      const minute = minuteOf(row.at);
      if (this.#written.get(row.environmentId) === minute.getTime()) continue;
      points.push({ environmentId: row.environmentId, minute, metrics: row.metrics });
    }
    for (let i = 0; i < points.length; i += CHUNK) await writeHostMetricPoints(this.deps.db, points.slice(i, i + CHUNK));
    for (const p of points) this.#written.set(p.environmentId, p.minute.getTime());
    await this.#maybePrune();
  }

  async #maybePrune(): Promise<void> {
    const now = this.deps.clock.now();
    if (now - this.#lastPrune < (this.deps.pruneEveryMs ?? 10 * 60_000)) return;
    this.#lastPrune = now;
    await pruneHostMetricPoints(this.deps.db, new Date(now - HOST_METRICS_RETENTION_MS));
    // Forget environments not heard from for two minutes (deleted or silent): bounded memory.
    for (const [id, minute] of this.#written) if (now - minute > 120_000) this.#written.delete(id);
  }
}
