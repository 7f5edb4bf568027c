/**
 * Heartbeats are kept in memory, latest per environment, and written every `flushMs` in
 * one statement for all of them (`writeHeartbeats`) — never one UPDATE per message. A
 * failed write keeps the rows for the next flush unless a newer heartbeat came meanwhile.
 */
import { type Clock, type Db, type HeartbeatRow, type HostMetrics, writeHeartbeats } from '@toolbelt/schema';
import type { Logger } from '../logger.ts';
import { MetricsHistory } from './metrics-history.ts';

/** Rows per statement: keeps one statement's JSON parameter to a few MB. */
const CHUNK = 5000;

export interface HeartbeatStats {
  received: number;
  written: number;
  flushes: number;
  lastFlushRows: number;
  /** Time spent in flushes (ms), in total and the longest one. */
  flushMsTotal: number;
  flushMsMax: number;
}

export class HeartbeatBuffer {
  #pending = new Map<string, HeartbeatRow>();
  #flushing: Promise<void> | undefined;
  readonly stats: HeartbeatStats = { received: 0, written: 0, flushes: 0, lastFlushRows: 0, flushMsTotal: 0, flushMsMax: 0 };

  readonly #history: MetricsHistory;

  constructor(private readonly deps: { db: Db; clock: Clock; logger: Logger; flushMs: number }) {
    this.#history = new MetricsHistory({ db: deps.db, clock: deps.clock });
  }

  /** Notes that the environment's agent was heard from now. */
  record(environmentId: string, agentVersion: string, metrics?: HostMetrics): void {
    this.stats.received += 1;
    const previous = this.#pending.get(environmentId);
    this.#pending.set(environmentId, {
      environmentId,
      at: new Date(this.deps.clock.now()),
      agentVersion,
      metrics: metrics ?? previous?.metrics,
    });
  }

  get pending(): number {
    return this.#pending.size;
  }

  /** Writes what is buffered; concurrent calls share one write. */
  flush(): Promise<void> {
    this.#flushing ??= this.#write().finally(() => (this.#flushing = undefined));
    return this.#flushing;
  }

  /** Flushes every `flushMs` until the signal aborts, then once more. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.deps.clock.sleep(this.deps.flushMs, signal);
      } catch {
        break;
      }
      await this.flush();
    }
    await this.flush();
  }

  async #write(): Promise<void> {
    if (this.#pending.size === 0) return;
    const rows = [...this.#pending.values()];
    this.#pending = new Map();
    const started = performance.now();
    try {
      for (let i = 0; i < rows.length; i += CHUNK) {
        this.stats.written += await writeHeartbeats(this.deps.db, rows.slice(i, i + CHUNK));
      }
      const ms = performance.now() - started;
      this.stats.flushes += 1;
      this.stats.lastFlushRows = rows.length;
      this.stats.flushMsTotal += ms;
      this.stats.flushMsMax = Math.max(this.stats.flushMsMax, ms);
    } catch (error) {
      this.deps.logger.warn({ err: error, rows: rows.length }, 'writing heartbeats failed; retrying with the next flush');
      for (const row of rows) if (!this.#pending.has(row.environmentId)) this.#pending.set(row.environmentId, row);
      return;
    }
    // The history is for charts: a failed write is logged and skipped, never retried.
    await this.#history.record(rows).catch((error: unknown) => this.deps.logger.warn({ err: error }, 'writing host metrics history failed'));
  }
}
