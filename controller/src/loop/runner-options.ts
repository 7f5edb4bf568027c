/**
 * The runner's options: defaults spread once, nonsense refused at construction with an
 * error that says which option and why (STYLE.md lesson 10).
 */
import type { Fence, Reconciler } from '@toolbelt/reconcilers';
import { type Clock, type Db, systemClock, ToolbeltError } from '@toolbelt/schema';
import { Registry } from 'prom-client';
import type { Logger } from '../logger.ts';
import { type BackoffOptions, backoffOptions } from './backoff.ts';
import type { RateLimitOptions } from './rate-limit.ts';
import type { ReconcileReport } from './reconcile.ts';

export interface RunnerOptions {
  db: Db;
  /** One per kind; kinds must be unique plain names. More may be added with `register`. */
  reconcilers?: readonly Reconciler[];
  logger: Logger;
  clock?: Clock;
  /** Where the loop's metrics go (default: a registry of its own). */
  registry?: Registry;
  /** Concurrent reconciles per kind (default 4). */
  workersPerKind?: number;
  /** Per-reconcile timeout (default 60 s): `ctx.signal` aborts, the key is retried with backoff. */
  timeoutMs?: number;
  /** Per-key backoff (default 1 s doubling to 5 min, equal jitter). */
  backoff?: Partial<BackoffOptions>;
  /** The global rate limit across kinds (default 5,000/s, burst 500). */
  rateLimit?: RateLimitOptions;
  /** How often every key is enqueued again (default 5 min), ± `resyncJitter` (default 0.1). */
  resyncIntervalMs?: number;
  resyncJitter?: number;
  /** How long `stop` waits for reconciles in flight (default 2 s). */
  stopGraceMs?: number;
  /** The fence each reconcile gets, read as it starts (default: open — no election). */
  fence?: () => Fence;
  /** The `reporter` of recorded events (default `controller`). */
  reporter?: string;
  /** Randomness for jitter (tests fix it). */
  random?: () => number;
  /** Called after each reconcile with its report (observers, tests). */
  onOutcome?: (report: ReconcileReport) => void;
}

export type RunnerSettings = Required<Omit<RunnerOptions, 'fence' | 'onOutcome' | 'backoff' | 'reconcilers'>> &
  Pick<RunnerOptions, 'fence' | 'onOutcome'> & { backoff: BackoffOptions };

export const RUNNER_DEFAULTS = {
  workersPerKind: 4,
  timeoutMs: 60_000,
  rateLimit: { perSecond: 5_000, burst: 500 },
  resyncIntervalMs: 300_000,
  resyncJitter: 0.1,
  stopGraceMs: 2_000,
  reporter: 'controller',
} as const;

const KIND = /^[A-Za-z0-9_.-]+$/;

export function resolveRunnerOptions(options: RunnerOptions): RunnerSettings {
  const settings: RunnerSettings = {
    ...RUNNER_DEFAULTS,
    clock: systemClock,
    registry: new Registry(),
    random: Math.random,
    ...definedOnly(options),
    db: options.db,
    logger: options.logger,
    backoff: backoffOptions(options.backoff),
  };
  const seen = new Set<string>();
  for (const { kind } of options.reconcilers ?? []) {
    checkKind(kind, seen);
    seen.add(kind);
  }
  if (!Number.isInteger(settings.workersPerKind) || settings.workersPerKind < 1) {
    invalid(`workersPerKind must be a whole number ≥ 1, got ${settings.workersPerKind}`);
  }
  for (const name of ['timeoutMs', 'resyncIntervalMs', 'stopGraceMs'] as const) {
    if (!(settings[name] > 0)) invalid(`${name} must be > 0, got ${settings[name]}`);
  }
  if (!(settings.resyncJitter >= 0 && settings.resyncJitter < 1)) {
    invalid(`resyncJitter must be in [0, 1), got ${settings.resyncJitter}`);
  }
  return settings;
}

/** Refuses a kind that is not a plain name or is already among `taken`. */
export function checkKind(kind: string, taken: { has(kind: string): boolean }): void {
  if (!KIND.test(kind)) invalid(`reconciler kind "${kind}" is not a plain name (letters, digits, _ . -)`);
  if (taken.has(kind)) invalid(`two reconcilers have the kind "${kind}"`);
}

function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function invalid(message: string): never {
  throw new ToolbeltError('LOOP_OPTIONS_INVALID', message);
}
