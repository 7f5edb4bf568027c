/**
 * Puts the loop together for the controller process: the runner and the spec-change
 * source as leader-only components under a `LeaderElector`, sharing one metrics registry.
 */
import type { Fence, Reconciler } from '@toolbelt/reconcilers';
import type { Clock, Database } from '@toolbelt/schema';
import type { Registry } from 'prom-client';
import type { Logger } from '../logger.ts';
import { LeaderElector } from './leader.ts';
import { LoopRunner } from './runner.ts';
import { SpecChangeSource } from './spec-source.ts';

/** The loop's settings, as parsed from the controller's configuration. */
export interface LoopSettings {
  leaseTtlMs: number;
  leaseRenewMs: number;
  resyncIntervalMs: number;
  reconcileTimeoutMs: number;
  reconcileWorkers: number;
  /** Reconciles per second across all kinds. */
  reconcileRate: number;
  /** This replica's identity in the lease; default host:pid:random. */
  replicaId?: string | undefined;
}

export interface Loop {
  runner: LoopRunner;
  elector: LeaderElector;
}

export interface CreateLoopOptions {
  database: Database;
  logger: Logger;
  registry: Registry;
  settings: LoopSettings;
  reconcilers: readonly Reconciler[];
  clock?: Clock;
}

/** The elector (a component for every replica) and, under it, the leader-only runner. */
export function createLoop(options: CreateLoopOptions): Loop {
  const { database, settings, registry } = options;
  const runner: LoopRunner = new LoopRunner({
    db: database.db,
    reconcilers: options.reconcilers,
    logger: options.logger.child({ component: 'loop' }),
    clock: options.clock,
    registry,
    workersPerKind: settings.reconcileWorkers,
    timeoutMs: settings.reconcileTimeoutMs,
    rateLimit: { perSecond: settings.reconcileRate, burst: Math.max(1, Math.ceil(settings.reconcileRate / 10)) },
    resyncIntervalMs: settings.resyncIntervalMs,
    // A leader that gives up its lease must be done before the lease can expire (see leader.ts).
    stopGraceMs: Math.max(100, Math.floor(settings.leaseRenewMs / 2)),
    // Read per reconcile, long after `elector` below exists.
    fence: (): Fence => elector.fence(),
  });
  const specChanges = new SpecChangeSource({ database, sink: runner, logger: options.logger.child({ component: 'spec-changes' }) });
  const elector: LeaderElector = new LeaderElector({
    db: database.db,
    logger: options.logger,
    // Listen before the runner's first resync, so no change falls between the two.
    components: [specChanges, runner],
    ttlMs: settings.leaseTtlMs,
    renewEveryMs: settings.leaseRenewMs,
    identity: settings.replicaId,
    clock: options.clock,
    registry,
  });
  return { runner, elector };
}
