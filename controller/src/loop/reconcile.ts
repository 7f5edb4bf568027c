/**
 * One reconcile, run once: its context (child logger, events, fence, signal), its timeout
 * and the classification of how it ended. Queue effects, logging and counting are the
 * runner's (runner.ts), so that a thrown error is logged exactly once.
 */
import { randomUUID } from 'node:crypto';
import type { Fence, ReconcileContext, Reconciler, ReconcileResult } from '@toolbelt/reconcilers';
import { TerminalError } from '@toolbelt/reconcilers';
import { type Clock, coerceError, type Db, FencedError, ToolbeltError } from '@toolbelt/schema';
import type { Logger } from '../logger.ts';
import { createEventRecorder } from './events.ts';

/** How a reconcile ended. */
export type ReconcileOutcome =
  | { outcome: 'success' }
  | { outcome: 'requeue'; afterMs: number }
  | { outcome: 'error'; error: Error; timedOut: boolean }
  | { outcome: 'terminal'; error: TerminalError }
  | { outcome: 'fenced'; error: FencedError }
  | { outcome: 'interrupted'; error: Error };

/** A finished reconcile: its outcome and what it was. */
export type ReconcileReport = ReconcileOutcome & {
  kind: string;
  key: string;
  reconcileId: string;
  /** Wall time it took (real time, whatever the clock: it measures the work). */
  durationMs: number;
  /** The generation the reconciler said it acted on, if it said. */
  generation?: number;
  /** After an error: when it will be retried (backoff). */
  retryInMs?: number;
};

/** A reconcile that outlived its timeout; it is retried with backoff. */
export class ReconcileTimeoutError extends ToolbeltError {
  constructor(kind: string, key: string, timeoutMs: number) {
    super('RECONCILE_TIMEOUT', `reconcile of ${kind} ${key} did not finish within ${timeoutMs} ms`, {
      hint: 'the reconciler must pass ctx.signal to what it awaits; its key stays blocked until it returns',
    });
    this.name = 'ReconcileTimeoutError';
  }
}

export interface RunReconcileOptions {
  reconciler: Reconciler;
  key: string;
  db: Db;
  clock: Clock;
  logger: Logger;
  fence: Fence;
  /** Aborts on shutdown or loss of leadership. */
  shutdown: AbortSignal;
  timeoutMs: number;
  reporter?: string;
}

export interface RunningReconcile {
  report: ReconcileReport;
  /** The reconcile's own child logger, for the runner's single outcome line. */
  logger: Logger;
  /** Resolves once the reconciler's promise settled: later than `report` after a timeout. */
  settled: Promise<void>;
}

/** Runs `reconciler.reconcile(ctx, key)` with a timeout and reports how it ended. */
export async function runReconcile(options: RunReconcileOptions): Promise<RunningReconcile> {
  const { reconciler, key, clock } = options;
  const reconcileId = randomUUID();
  const logger = options.logger.child({ reconcileId, kind: reconciler.kind, key });
  let generation: number | undefined;
  const abort = new AbortController();
  const onShutdown = () => abort.abort(options.shutdown.reason);
  if (options.shutdown.aborted) onShutdown();
  else options.shutdown.addEventListener('abort', onShutdown, { once: true });
  const ctx: ReconcileContext = {
    db: options.db,
    logger,
    clock,
    events: createEventRecorder({ db: options.db, clock, reporter: options.reporter }, { kind: reconciler.kind, id: key }),
    signal: abort.signal,
    fence: options.fence,
    reconcileId,
    setGeneration(value) {
      generation = value;
      logger.setBindings({ generation: value });
    },
  };
  const started = performance.now();
  const work = Promise.resolve().then(() => reconciler.reconcile(ctx, key));
  const settled = work.then(
    () => {},
    () => {},
  );
  const timer = new AbortController();
  const timeout = clock.sleep(options.timeoutMs, timer.signal).then(() => {
    abort.abort(new ReconcileTimeoutError(reconciler.kind, key, options.timeoutMs));
    throw abort.signal.reason;
  });
  timeout.catch(() => {});
  let outcome: ReconcileOutcome;
  try {
    outcome = classifyResult(await Promise.race([work, timeout]));
  } catch (thrown) {
    outcome = classifyError(thrown, options.shutdown);
  } finally {
    timer.abort();
    void settled.then(() => options.shutdown.removeEventListener('abort', onShutdown));
  }
  const durationMs = performance.now() - started;
  const report: ReconcileReport = { ...outcome, kind: reconciler.kind, key, reconcileId, durationMs };
  if (generation !== undefined) report.generation = generation;
  return { report, logger, settled };
}

function classifyResult(result: ReconcileResult): ReconcileOutcome {
  const after = result?.requeueAfterMs;
  if (after === undefined) return { outcome: 'success' };
  if (typeof after !== 'number' || !Number.isFinite(after) || after < 0) {
    const error = new ToolbeltError('RECONCILE_RESULT_INVALID', `requeueAfterMs must be a number ≥ 0, got ${String(after)}`, {
      hint: 'a bug in the reconciler: return {} or { requeueAfterMs: N }',
    });
    return { outcome: 'error', error, timedOut: false };
  }
  return { outcome: 'requeue', afterMs: after };
}

function classifyError(thrown: unknown, shutdown: AbortSignal): ReconcileOutcome {
  const error = coerceError(thrown);
  if (error instanceof TerminalError) return { outcome: 'terminal', error };
  if (error instanceof FencedError) return { outcome: 'fenced', error };
  if (error instanceof ReconcileTimeoutError) return { outcome: 'error', error, timedOut: true };
  if (shutdown.aborted) return { outcome: 'interrupted', error };
  return { outcome: 'error', error, timedOut: false };
}
