/** Helpers for the loop's tests: a logger whose lines can be read, deferreds, reconcilers. */
import type { ReconcileContext, Reconciler, ReconcileResult } from '@toolbelt/reconcilers';
import pino from 'pino';
import type { Logger } from '../../src/logger.ts';
import type { ReconcileReport } from '../../src/loop/reconcile.ts';

export interface CapturedLogger {
  logger: Logger;
  lines: Record<string, unknown>[];
  /** Lines at error level (50) or above. */
  errors(): Record<string, unknown>[];
}

/** A real pino logger at debug level writing parsed JSON lines into an array. */
export function captureLogger(): CapturedLogger {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines, errors: () => lines.filter((l) => (l.level as number) >= 50) };
}

export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets queued promise callbacks and immediates run. */
export async function flush(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i += 1) await new Promise<void>((r) => setImmediate(r));
}

/** Collects reports and resolves when a condition on them holds. */
export class Outcomes {
  readonly reports: ReconcileReport[] = [];
  #waiters: { test: () => boolean; resolve: () => void }[] = [];

  readonly push = (report: ReconcileReport): void => {
    this.reports.push(report);
    this.#waiters = this.#waiters.filter((w) => (w.test() ? (w.resolve(), false) : true));
  };

  /** Resolves once `test` holds (checked after every report). */
  until(test: () => boolean): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ test, resolve }));
  }

  /** Resolves once `n` reports arrived in all. */
  count(n: number): Promise<void> {
    return this.until(() => this.reports.length >= n);
  }
}

/** A reconciler of kind `kind` whose behaviour each test supplies. */
export function scripted(
  kind: string,
  reconcile: (ctx: ReconcileContext, key: string) => Promise<ReconcileResult>,
  listKeys?: () => Promise<string[]>,
): Reconciler {
  return listKeys ? { kind, reconcile, listKeys } : { kind, reconcile };
}
