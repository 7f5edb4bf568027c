/**
 * The loop's Prometheus metrics, on a prom-client `Registry` the controller passes in (the
 * API serves it at /metrics). Created once per registry, so several runners or electors in
 * one process (tests) share the series instead of failing to register twice.
 *
 * - `toolbelt_reconcile_total{kind,outcome}` — reconciles by outcome.
 * - `toolbelt_reconcile_duration_seconds{kind,outcome}` — how long they took.
 * - `toolbelt_workqueue_adds_total{kind,source}` — keys enqueued, by source.
 * - `toolbelt_workqueue_keys{kind,state}` — keys ready, delayed and in flight, read at scrape.
 * - `toolbelt_leader{lease}` (1 while this replica leads), `toolbelt_leader_epoch{lease}`,
 *   `toolbelt_leader_transitions_total{lease,change}` (gained/lost).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { QueueDepth } from './queue.ts';

/** How a reconcile ended. */
export const RECONCILE_OUTCOMES = ['success', 'requeue', 'error', 'terminal', 'fenced', 'interrupted'] as const;
export type OutcomeName = (typeof RECONCILE_OUTCOMES)[number];

/** Reads the depth of each kind's queue at scrape time. */
export type QueueDepthSource = () => Iterable<[kind: string, depth: QueueDepth]>;

export interface LoopMetrics {
  readonly reconciles: Counter<'kind' | 'outcome'>;
  readonly duration: Histogram<'kind' | 'outcome'>;
  readonly adds: Counter<'kind' | 'source'>;
  /** Adds a source of queue depths; returns its removal. */
  addQueueSource(source: QueueDepthSource): () => void;
}

export interface LeaderMetrics {
  readonly leader: Gauge<'lease'>;
  readonly epoch: Gauge<'lease'>;
  readonly transitions: Counter<'lease' | 'change'>;
}

const loopCache = new WeakMap<Registry, LoopMetrics>();
const leaderCache = new WeakMap<Registry, LeaderMetrics>();

export function loopMetrics(registry: Registry): LoopMetrics {
  const cached = loopCache.get(registry);
  if (cached) return cached;
  const sources = new Set<QueueDepthSource>();
  const registers = [registry];
  const metrics: LoopMetrics = {
    reconciles: new Counter({
      name: 'toolbelt_reconcile_total',
      help: 'Reconciles run, by reconciler kind and outcome.',
      labelNames: ['kind', 'outcome'],
      registers,
    }),
    duration: new Histogram({
      name: 'toolbelt_reconcile_duration_seconds',
      help: 'Duration of reconciles, by reconciler kind and outcome.',
      labelNames: ['kind', 'outcome'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    adds: new Counter({
      name: 'toolbelt_workqueue_adds_total',
      help: 'Keys put on the work queue, by reconciler kind and source.',
      labelNames: ['kind', 'source'],
      registers,
    }),
    addQueueSource(source) {
      sources.add(source);
      return () => sources.delete(source);
    },
  };
  new Gauge({
    name: 'toolbelt_workqueue_keys',
    help: 'Keys on the work queue: ready (waiting for a worker), delayed (waiting for a time), in_flight.',
    labelNames: ['kind', 'state'],
    registers,
    collect() {
      this.reset();
      for (const source of sources) {
        for (const [kind, depth] of source()) {
          this.inc({ kind, state: 'ready' }, depth.ready);
          this.inc({ kind, state: 'delayed' }, depth.delayed);
          this.inc({ kind, state: 'in_flight' }, depth.inFlight);
        }
      }
    },
  });
  loopCache.set(registry, metrics);
  return metrics;
}

export function leaderMetrics(registry: Registry): LeaderMetrics {
  const cached = leaderCache.get(registry);
  if (cached) return cached;
  const registers = [registry];
  const metrics: LeaderMetrics = {
    leader: new Gauge({
      name: 'toolbelt_leader',
      help: '1 while this replica holds the lease and runs the leader-only components.',
      labelNames: ['lease'],
      registers,
    }),
    epoch: new Gauge({
      name: 'toolbelt_leader_epoch',
      help: 'The fencing epoch of the lease this replica last held.',
      labelNames: ['lease'],
      registers,
    }),
    transitions: new Counter({
      name: 'toolbelt_leader_transitions_total',
      help: 'Leadership gained and lost by this replica.',
      labelNames: ['lease', 'change'],
      registers,
    }),
  };
  leaderCache.set(registry, metrics);
  return metrics;
}
