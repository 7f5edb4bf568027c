/**
 * The fleet sweep's pace (pure), and the fence around the environment reconciler: a replica
 * that does not lead records no intent and so creates nothing.
 */
import { FencedError } from '@toolbelt/schema';
import { describeEachDatabase, truncateAll } from '@toolbelt/schema/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { refusingFence } from '../../src/loop/fence.ts';
import { LoopRunner } from '../../src/loop/runner.ts';
import { DEFAULT_SWEEP_TIMINGS, nextSweepAt } from '../../src/sources/fleet-sweep.ts';
import { type Harness, seedAgents, startHarness } from './harness.ts';
import { eventually } from '../support/eventually.ts';

describe('fleet sweep pace', () => {
  const t = DEFAULT_SWEEP_TIMINGS;
  const at = (over: Partial<Parameters<typeof nextSweepAt>[0]>) =>
    nextSweepAt({ lastStartedAt: 100_000, requestedAt: undefined, inTransition: false, failures: 0, ...over }, t);

  it('sweeps every minute while the fleet is still, every 5 s while it changes', () => {
    expect(at({})).toBe(100_000 + 60_000);
    expect(at({ inTransition: true })).toBe(100_000 + 5_000);
  });

  it('sweeps when asked, but never twice within the minimum gap', () => {
    expect(at({ requestedAt: 103_000 })).toBe(103_000);
    expect(at({ requestedAt: 100_200 })).toBe(100_000 + t.minGapMs);
    expect(at({ lastStartedAt: -Infinity, requestedAt: 5 })).toBe(5);
  });

  it('backs off after failures, from the fast interval up to the steady one', () => {
    expect(at({ failures: 1 })).toBe(100_000 + 5_000);
    expect(at({ failures: 3 })).toBe(100_000 + 20_000);
    expect(at({ failures: 10 })).toBe(100_000 + 60_000);
    expect(at({ failures: 2, requestedAt: 100_001 })).toBe(100_000 + 10_000);
  });
});

describeEachDatabase('environment reconciler under a refusing fence', (t) => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stop();
    harness = undefined;
    await truncateAll(t.db);
  });

  it('a replica that does not lead records no intent and sends no create', async () => {
    const h = (harness = await startHarness({ db: t.db }));
    const [a] = await seedAgents(t.db, 1, 'fenced');
    // Let the first sweep land so that the reconcile gets as far as deciding to create.
    await eventually(() => h.lifecycle.cache.latest() !== undefined, () => 'no sweep');
    const deposed = new LoopRunner({ db: t.db, reconcilers: h.lifecycle.reconcilers, logger: (await import('pino')).default({ level: 'silent' }), fence: () => refusingFence('another replica leads') });
    const report = await deposed.reconcileOnce('environment', a!.agentId);
    deposed.dispose();
    expect(report.outcome).toBe('fenced');
    expect((report as { error: unknown }).error).toBeInstanceOf(FencedError);
    await new Promise((r) => setTimeout(r, 300));
    expect(h.sim.stats.calls('POST', '/v2/droplets')).toBe(0);
    expect(h.lifecycle.batcher.outcome(a!.envId)).toBeUndefined();
  });
});
