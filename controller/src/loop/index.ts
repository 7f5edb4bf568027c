/**
 * The reconcile loop: work queue, runner, leader election, events and
 * metrics (see docs/architecture.md, "The loop").
 */
export * from './reconciler.ts';
export { type BackoffOptions, DEFAULT_BACKOFF, backoffDelay } from './backoff.ts';
export { createEventRecorder, type EventRecorderOptions } from './events.ts';
export { leaseFence, openFence, refusingFence } from './fence.ts';
export { LeaderElector, type LeaderElectorOptions, type LeadershipState } from './leader.ts';
export { leaderMetrics, loopMetrics, RECONCILE_OUTCOMES, type OutcomeName } from './metrics.ts';
export { type QueueDepth, QueueShutDownError, WorkQueue, type WorkQueueOptions } from './queue.ts';
export { type RateLimitOptions, TokenBucket } from './rate-limit.ts';
export { type ReconcileOutcome, type ReconcileReport, ReconcileTimeoutError } from './reconcile.ts';
export { type EnqueueOptions, type KeySink, type KeySource, LoopRunner, type RunnerOptions } from './runner.ts';
export { RUNNER_DEFAULTS } from './runner-options.ts';
