/**
 * The loop, written once (STYLE.md lesson 3): a work queue per reconciler kind, N workers
 * each, a shared rate limit, per-reconcile timeouts, a periodic resync with jitter, and one
 * place that logs, counts and retries. It is a leader-only component: the `LeaderElector`
 * starts it on gaining the lease and stops it on losing it.
 *
 * Reconcilers are registered on it (`register`) and so are the sources that feed it (`watch`,
 * like controller-runtime's `Watches`): spec changes from every replica, agent messages,
 * fleet sweeps (controller/src/sources/). Sources only enqueue keys (`enqueue`); timers are
 * `requeueAfterMs` and backoff. The runner starts its sources before its first resync (so no
 * change falls between the two) and stops them after its workers. While the runner is stopped
 * (this replica does not lead) enqueued keys are dropped: starting always begins with a
 * resync of every key, so nothing is lost.
 */
import { setMaxListeners } from 'node:events';
import type { Fence, Reconciler } from '@toolbelt/reconcilers';
import { systemClock, ToolbeltError } from '@toolbelt/schema';
import type { Component } from '../component.ts';
import { backoffDelay, backoffOptions } from './backoff.ts';
import { openFence } from './fence.ts';
import { type LoopMetrics, loopMetrics } from './metrics.ts';
import { type QueueDepth, WorkQueue } from './queue.ts';
import { TokenBucket } from './rate-limit.ts';
import { logOutcome } from './report.ts';
import { type ReconcileReport, runReconcile } from './reconcile.ts';
import { checkKind, resolveRunnerOptions, type RunnerOptions, type RunnerSettings } from './runner-options.ts';

export type { RunnerOptions } from './runner-options.ts';

/** Where an enqueued key came from (a metric label). */
export type KeySource = 'spec' | 'agent' | 'sweep' | 'resync' | 'api' | 'test' | (string & {});

export interface EnqueueOptions {
  /** Run it after this long rather than now. */
  afterMs?: number;
  source?: KeySource;
}

/** What sources need of the loop: a place to put keys. */
export interface KeySink {
  /** Queues `key` for the `kind` reconciler; false when dropped (this replica does not lead). */
  enqueue(kind: string, key: string, options?: EnqueueOptions): boolean;
  /** Whether a reconciler of this kind is registered. */
  hasKind(kind: string): boolean;
}

export class LoopRunner implements Component, KeySink {
  readonly name = 'loop';
  readonly needsLeadership = true;
  readonly #settings: RunnerSettings;
  readonly #reconcilers = new Map<string, Reconciler>();
  readonly #queues = new Map<string, WorkQueue>();
  readonly #sources: Component[] = [];
  readonly #limiter: TokenBucket;
  readonly #metrics: LoopMetrics;
  readonly #removeQueueSource: () => void;
  #running: { abort: AbortController; tasks: Promise<void>[]; sources: Component[] } | undefined;

  constructor(options: RunnerOptions) {
    this.#settings = resolveRunnerOptions(options);
    this.#limiter = new TokenBucket({ ...this.#settings.rateLimit, clock: this.#settings.clock });
    this.register(...(options.reconcilers ?? []));
    this.#metrics = loopMetrics(this.#settings.registry);
    this.#removeQueueSource = this.#metrics.addQueueSource(() => this.depths());
  }

  /** Adds reconcilers, one per kind (before the runner starts). */
  register(...reconcilers: Reconciler[]): this {
    this.#assertStopped('register');
    for (const reconciler of reconcilers) {
      checkKind(reconciler.kind, this.#reconcilers);
      const { clock, random, backoff } = this.#settings;
      this.#reconcilers.set(reconciler.kind, reconciler);
      this.#queues.set(reconciler.kind, new WorkQueue({ clock, limiter: this.#limiter, random, backoff }));
    }
    return this;
  }

  /**
   * Adds sources (before the runner starts): components that enqueue keys on this runner.
   * They start, in order, each time the runner starts — before its first resync — and stop,
   * in reverse, after its workers.
   */
  watch(...sources: Component[]): this {
    this.#assertStopped('watch');
    this.#sources.push(...sources);
    return this;
  }

  #assertStopped(what: string): void {
    if (this.#running) throw new ToolbeltError('LOOP_RUNNING', `${what} is for a runner that has not started`);
  }

  get running(): boolean {
    return this.#running !== undefined;
  }

  get kinds(): string[] {
    return [...this.#reconcilers.keys()];
  }

  hasKind(kind: string): boolean {
    return this.#reconcilers.has(kind);
  }

  enqueue(kind: string, key: string, options: EnqueueOptions = {}): boolean {
    const queue = this.#queue(kind);
    if (!this.#running) return false;
    queue.addAfter(key, options.afterMs ?? 0);
    this.#metrics.adds.inc({ kind, source: options.source ?? 'direct' });
    return true;
  }

  /** Keys ready, delayed and in flight, per kind. */
  *depths(): Iterable<[string, QueueDepth]> {
    for (const [kind, queue] of this.#queues) yield [kind, queue.depth];
  }

  /** The queue of one kind (for tests and diagnostics). */
  queue(kind: string): WorkQueue {
    return this.#queue(kind);
  }

  async start(signal: AbortSignal): Promise<void> {
    if (this.#running) throw new ToolbeltError('LOOP_RUNNING', 'the loop runner is already running');
    const abort = new AbortController();
    // Every worker and every reconcile in flight listens on it.
    setMaxListeners(0, abort.signal);
    if (signal.aborted) abort.abort(signal.reason);
    signal.addEventListener('abort', () => abort.abort(signal.reason), { once: true });
    const sources = await this.#startSources(abort.signal);
    const tasks: Promise<void>[] = [];
    this.#running = { abort, tasks, sources };
    for (const [kind, queue] of this.#queues) {
      for (let i = 0; i < this.#settings.workersPerKind; i += 1) tasks.push(this.#work(kind, queue, abort.signal));
    }
    tasks.push(this.#resyncLoop(abort.signal));
    this.#settings.logger.info(
      { kinds: this.kinds, workersPerKind: this.#settings.workersPerKind },
      `loop started (${this.#reconcilers.size} reconciler kind(s))`,
    );
  }

  /**
   * Stops the workers and drops every queued key. Reconciles in flight see their signal
   * abort; stop waits for them up to `stopGraceMs` (their late writes are fenced anyway).
   */
  async stop(): Promise<void> {
    for (const queue of this.#queues.values()) queue.clear();
    const running = this.#running;
    if (!running) return;
    this.#running = undefined;
    running.abort.abort(new ToolbeltError('LOOP_STOPPED', 'the loop is stopping'));
    const grace = new AbortController();
    const finished = await Promise.race([
      Promise.allSettled(running.tasks).then(() => true),
      systemClock.sleep(this.#settings.stopGraceMs, grace.signal).then(() => false),
    ]);
    grace.abort();
    await this.#stopSources(running.sources);
    const inFlight = [...this.depths()].reduce((n, [, depth]) => n + depth.inFlight, 0);
    if (!finished) this.#settings.logger.warn({ inFlight }, 'loop stopped with reconciles still running');
    else this.#settings.logger.info('loop stopped');
  }

  async #startSources(signal: AbortSignal): Promise<Component[]> {
    const started: Component[] = [];
    for (const source of this.#sources) {
      try {
        await source.start(signal);
      } catch (error) {
        await this.#stopSources(started);
        throw error;
      }
      started.push(source);
    }
    return started;
  }

  async #stopSources(started: Component[]): Promise<void> {
    for (const source of [...started].reverse()) {
      try {
        await source.stop();
      } catch (error) {
        this.#settings.logger.error({ err: error, source: source.name }, 'a source failed to stop cleanly');
      }
    }
  }

  /** Forgets the runner's metrics source (call when discarding the runner). */
  dispose(): void {
    this.#removeQueueSource();
  }

  /**
   * Runs one reconcile of `key` now and returns how it ended, with the loop's logging,
   * counting, events and backoff bookkeeping — the test seam (STYLE.md lesson 12).
   * A retry or requeue it causes waits in the kind's queue (`queue(kind).dueAt(key)`) until
   * `stop` clears it. WARNING: it bypasses the queue, so it can overlap a worker on the same
   * key: use it on a runner that is not started.
   */
  async reconcileOnce(kind: string, key: string): Promise<ReconcileReport> {
    const shutdown = this.#running?.abort.signal ?? new AbortController().signal;
    const { report } = await this.#reconcile(kind, key, shutdown);
    return report;
  }

  /**
   * Enqueues every key of every reconciler that lists its keys. Returns how many per kind;
   * a kind whose listing failed is logged and missing from the result.
   */
  async resync(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const [kind, reconciler] of this.#reconcilers) {
      if (!reconciler.listKeys) continue;
      try {
        const keys = await reconciler.listKeys(this.#settings.db);
        for (const key of keys) this.enqueue(kind, key, { source: 'resync' });
        counts.set(kind, keys.length);
      } catch (error) {
        this.#settings.logger.error({ err: error, kind }, `listing ${kind} keys for the resync failed`);
      }
    }
    return counts;
  }

  #queue(kind: string): WorkQueue {
    const queue = this.#queues.get(kind);
    if (!queue) {
      throw new ToolbeltError('RECONCILER_UNKNOWN', `no reconciler of kind "${kind}" is registered`, {
        hint: `registered kinds: ${this.kinds.join(', ') || '(none)'}`,
      });
    }
    return queue;
  }

  async #work(kind: string, queue: WorkQueue, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let key: string;
      try {
        key = await queue.get(signal);
      } catch {
        return; // stopping
      }
      try {
        const { settled } = await this.#reconcile(kind, key, signal);
        // After a timeout the reconcile may still run: the key stays in flight until it ends.
        void settled.then(() => queue.done(key));
      } catch (error) {
        queue.done(key);
        this.#settings.logger.error({ err: error, kind, key }, 'the loop failed around a reconcile (a bug)');
      }
      // Yield to timers and I/O between reconciles. With embedded PGlite a query resolves
      // without ever leaving the microtask queue, so busy workers would otherwise starve
      // the lease renewal (and the HTTP server) until the queue runs dry.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  async #reconcile(kind: string, key: string, shutdown: AbortSignal) {
    const reconciler = this.#reconcilers.get(kind);
    const queue = this.#queue(kind);
    const { db, clock, logger, timeoutMs, reporter } = this.#settings;
    const fence: Fence = this.#settings.fence?.() ?? openFence(db);
    const running = await runReconcile({ reconciler: reconciler!, key, db, clock, logger, fence, shutdown, timeoutMs, reporter });
    const { report } = running;
    const failures = queue.failures(key);
    // A stopping loop schedules nothing: its queues are dropped, and a timer would keep the
    // process alive after shutdown.
    if (!shutdown.aborted) this.#applyToQueue(queue, report);
    this.#metrics.reconciles.inc({ kind, outcome: report.outcome });
    this.#metrics.duration.observe({ kind, outcome: report.outcome }, report.durationMs / 1000);
    await logOutcome(running, { failures: failures + 1, db, clock, reporter });
    this.#settings.onOutcome?.(report);
    return running;
  }

  #applyToQueue(queue: WorkQueue, report: ReconcileReport): void {
    switch (report.outcome) {
      case 'success':
      case 'terminal':
      case 'fenced':
        queue.forget(report.key);
        return;
      case 'requeue':
        queue.forget(report.key);
        queue.addAfter(report.key, report.afterMs);
        return;
      case 'error':
        report.retryInMs = queue.addRateLimited(report.key);
        return;
      case 'interrupted':
        return;
    }
  }

  async #resyncLoop(signal: AbortSignal): Promise<void> {
    const { clock, random, resyncIntervalMs, resyncJitter } = this.#settings;
    const retry = backoffOptions({ baseMs: 1_000, maxMs: Math.min(60_000, resyncIntervalMs) });
    let failures = 0;
    while (!signal.aborted) {
      const counts = await this.resync();
      const listed = [...this.#reconcilers.values()].filter((r) => r.listKeys).length;
      failures = counts.size === listed ? 0 : failures + 1;
      const wait =
        failures > 0 ? backoffDelay(failures, retry, random) : resyncIntervalMs * (1 + resyncJitter * (2 * random() - 1));
      try {
        await clock.sleep(wait, signal);
      } catch {
        return;
      }
    }
  }
}
