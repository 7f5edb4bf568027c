/**
 * The fleet-sweep source (DESIGN.md, "The loop", 4): one paginated `GET /v2/droplets?
 * tag_name=<fleet tag>` (200 a page) for the whole fleet, shared by every reconcile through
 * the `FleetCache`, instead of one GET per droplet. After each sweep it enqueues the keys
 * whose droplets changed and the keys that asked to be woken; it never acts itself.
 *
 * Pace: every `steadyIntervalMs` (60 s) while the fleet is still; every `fastIntervalMs`
 * (5 s) while any droplet is `new` or locked, or a change of ours is not yet seen; as soon
 * as a reconcile asks (but never two sweeps within `minGapMs`). Failures back off from the
 * fast interval up to the steady one. Leader-only: a new term starts from an empty cache.
 */
import type { FleetCache } from '@toolbelt/reconcilers';
import type { Droplet } from '@toolbelt/reconcilers';
import { type Clock, type Db, environmentOwners, systemClock } from '@toolbelt/schema';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Component } from '../component.ts';
import type { Logger } from '../logger.ts';
import type { KeySink } from '../loop/runner.ts';

export interface SweepTimings {
  fastIntervalMs: number;
  steadyIntervalMs: number;
  minGapMs: number;
}

export const DEFAULT_SWEEP_TIMINGS: SweepTimings = { fastIntervalMs: 5_000, steadyIntervalMs: 60_000, minGapMs: 1_000 };

/** When the next sweep should start. Pure. */
export function nextSweepAt(
  state: { lastStartedAt: number; requestedAt: number | undefined; inTransition: boolean; failures: number },
  timings: SweepTimings,
): number {
  const { lastStartedAt, requestedAt, inTransition, failures } = state;
  const retryGap = failures > 0 ? Math.min(timings.steadyIntervalMs, timings.fastIntervalMs * 2 ** (failures - 1)) : 0;
  if (requestedAt !== undefined) return Math.max(lastStartedAt + Math.max(timings.minGapMs, retryGap), requestedAt);
  const interval = failures > 0 ? retryGap : inTransition ? timings.fastIntervalMs : timings.steadyIntervalMs;
  return lastStartedAt + interval;
}

export interface FleetSweepSourceOptions {
  provider: { listFleet(tag: string, options?: { signal?: AbortSignal }): Promise<Droplet[]> };
  cache: FleetCache;
  fleetTag: string;
  sink: KeySink;
  db: Db;
  logger: Logger;
  clock?: Clock;
  timings?: Partial<SweepTimings>;
  /** The environment reconciler's kind (default `environment`). */
  environmentKind?: string;
  /** The orphan collector's kind and key (default `orphans`/`fleet`), enqueued on candidates. */
  orphans?: { kind: string; key: string };
  registry?: Registry;
}

export class FleetSweepSource implements Component {
  readonly name = 'fleet-sweep';
  readonly needsLeadership = true;
  readonly #o: FleetSweepSourceOptions;
  readonly #timings: SweepTimings;
  readonly #clock: Clock;
  readonly #metrics: { sweeps: Counter<'outcome'>; droplets: Gauge } | undefined;
  #running: { abort: AbortController; task: Promise<void>; unsubscribe: () => void } | undefined;
  #wake: AbortController | undefined;
  /** Sweeps completed in this process (for tests and the benchmark). */
  sweeps = 0;

  constructor(options: FleetSweepSourceOptions) {
    this.#o = options;
    this.#timings = { ...DEFAULT_SWEEP_TIMINGS, ...options.timings };
    this.#clock = options.clock ?? systemClock;
    const { fastIntervalMs, steadyIntervalMs, minGapMs } = this.#timings;
    if (!(minGapMs >= 0 && fastIntervalMs > 0 && steadyIntervalMs >= fastIntervalMs)) {
      throw new RangeError(`fleet sweep: need minGapMs ≥ 0 and 0 < fastIntervalMs ≤ steadyIntervalMs, got ${JSON.stringify(this.#timings)}`);
    }
    this.#metrics = options.registry ? sweepMetrics(options.registry) : undefined;
  }

  async start(signal: AbortSignal): Promise<void> {
    if (this.#running) return;
    this.#o.cache.reset();
    const abort = new AbortController();
    signal.addEventListener('abort', () => abort.abort(signal.reason), { once: true });
    const unsubscribe = this.#o.cache.onRequest(() => this.#wake?.abort());
    this.#running = { abort, unsubscribe, task: this.#loop(abort.signal) };
  }

  async stop(): Promise<void> {
    const running = this.#running;
    if (!running) return;
    this.#running = undefined;
    running.abort.abort();
    this.#wake?.abort();
    running.unsubscribe();
    await running.task;
    this.#o.cache.reset();
  }

  async #loop(signal: AbortSignal): Promise<void> {
    let lastStartedAt = -Infinity;
    let failures = 0;
    while (!signal.aborted) {
      const { cache } = this.#o;
      const due = nextSweepAt({ lastStartedAt, requestedAt: cache.sweepRequestedAt, inTransition: cache.inTransition(), failures }, this.#timings);
      const wait = due - this.#clock.now();
      if (wait > 0) {
        await this.#sleep(wait, signal);
        continue;
      }
      lastStartedAt = cache.beginSweep();
      failures = (await this.#sweep(lastStartedAt, signal)) ? 0 : failures + 1;
    }
  }

  /** Sleeps until `ms` pass, a sweep is asked for, or the source stops. */
  async #sleep(ms: number, signal: AbortSignal): Promise<void> {
    const wake = new AbortController();
    this.#wake = wake;
    const stop = () => wake.abort();
    signal.addEventListener('abort', stop, { once: true });
    try {
      await this.#clock.sleep(ms, wake.signal);
    } catch {
      // woken early: the loop looks again
    } finally {
      signal.removeEventListener('abort', stop);
    }
  }

  /** One sweep; false when it failed (the cache keeps the previous one). */
  async #sweep(startedAt: number, signal: AbortSignal): Promise<boolean> {
    const { provider, cache, fleetTag, logger } = this.#o;
    let droplets: Droplet[];
    try {
      droplets = await provider.listFleet(fleetTag, { signal });
    } catch (error) {
      if (signal.aborted) return true;
      this.#metrics?.sweeps.inc({ outcome: 'error' });
      logger.warn({ err: error, fleetTag }, 'fleet sweep failed; keeping the previous one and trying again');
      return false;
    }
    if (signal.aborted) return true;
    this.sweeps += 1;
    this.#metrics?.sweeps.inc({ outcome: 'ok' });
    this.#metrics?.droplets.set(droplets.length);
    const result = cache.publish(droplets, startedAt);
    for (const target of [...result.changed, ...result.woken]) this.#o.sink.enqueue(target.kind, target.key, { source: 'sweep' });
    await this.#enqueueUnbound(result.unbound).catch((error: unknown) =>
      logger.warn({ err: error }, 'could not look up the owners of swept droplets; the resync will'),
    );
    logger.debug({ droplets: droplets.length, changed: result.changed.length, woken: result.woken.length }, 'fleet swept');
    return true;
  }

  /** Droplets changed whose environment no reconcile has bound: their owners, or orphans. */
  async #enqueueUnbound(envIds: string[]): Promise<void> {
    const orphans = this.#o.orphans ?? { kind: 'orphans', key: 'fleet' };
    const snapshot = this.#o.cache.latest();
    let orphanSeen = (snapshot?.unidentified.length ?? 0) > 0;
    if (envIds.length > 0) {
      const owners = await environmentOwners(this.#o.db, envIds);
      const kind = this.#o.environmentKind ?? 'environment';
      for (const envId of envIds) {
        const owner = owners.get(envId);
        if (owner) this.#o.sink.enqueue(kind, owner, { source: 'sweep' });
        else if (snapshot?.byEnv.has(envId)) orphanSeen = true;
      }
    }
    if (orphanSeen && this.#o.sink.hasKind(orphans.kind)) this.#o.sink.enqueue(orphans.kind, orphans.key, { source: 'sweep' });
  }
}

function sweepMetrics(registry: Registry) {
  return {
    sweeps: new Counter({ name: 'toolbelt_fleet_sweeps_total', help: 'Fleet sweeps by outcome', labelNames: ['outcome'], registers: [registry] }),
    droplets: new Gauge({ name: 'toolbelt_fleet_droplets', help: 'Droplets with the fleet tag in the last sweep', registers: [registry] }),
  };
}
