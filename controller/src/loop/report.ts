/**
 * The one log line per reconcile outcome (a thrown error is logged here, once, never by the
 * reconciler), and the Warning event of a terminal failure.
 */
import { type Clock, coerceError, type Db } from '@toolbelt/schema';
import { createEventRecorder } from './events.ts';
import type { RunningReconcile } from './reconcile.ts';

export interface ReportContext {
  db: Db;
  clock: Clock;
  reporter: string;
  /** Consecutive failures of the key, this one included (for an error). */
  failures: number;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;

/** Logs how a reconcile ended (and records the event of a terminal failure). */
export async function logOutcome(running: RunningReconcile, context: ReportContext): Promise<void> {
  const { report, logger } = running;
  const durationMs = Math.round(report.durationMs * 100) / 100;
  switch (report.outcome) {
    case 'success':
      return logger.debug({ outcome: 'success', durationMs }, 'reconciled');
    case 'requeue':
      return logger.debug({ outcome: 'requeue', durationMs, requeueAfterMs: report.afterMs }, 'reconciled; requeued');
    case 'error': {
      const retryInMs = report.retryInMs;
      logger.error(
        { err: report.error, outcome: 'error', durationMs, timedOut: report.timedOut, failures: context.failures, retryInMs },
        retryInMs === undefined
          ? 'reconcile failed; not retried here, the loop is stopping (the next leader resyncs)'
          : `reconcile failed; retrying in ${seconds(retryInMs)}`,
      );
      if (report.timedOut) noteLateFinish(running);
      return;
    }
    case 'terminal':
      return logTerminal(running, context, durationMs);
    case 'fenced':
      return logger.warn(
        { err: report.error, outcome: 'fenced', durationMs },
        'a write was refused by the lease fence; the current leader will redo this',
      );
    case 'interrupted':
      return logger.info({ outcome: 'interrupted', durationMs, reason: report.error.message }, 'reconcile interrupted');
  }
}

async function logTerminal(running: RunningReconcile, context: ReportContext, durationMs: number): Promise<void> {
  const { report, logger } = running;
  if (report.outcome !== 'terminal') return;
  let eventError: string | undefined;
  try {
    const events = createEventRecorder(context, { kind: report.kind, id: report.key });
    await events.warning(report.error.reason, report.error.message);
  } catch (error) {
    eventError = coerceError(error).message;
  }
  logger.error(
    { err: report.error, outcome: 'terminal', reason: report.error.reason, durationMs, eventError },
    'reconcile failed terminally; not retrying until the key is enqueued again',
  );
}

function noteLateFinish(running: RunningReconcile): void {
  const timedOutAt = performance.now();
  void running.settled.then(() =>
    running.logger.warn(
      { lateByMs: Math.round(performance.now() - timedOutAt) },
      'a timed-out reconcile has finished; its key is free again',
    ),
  );
}
