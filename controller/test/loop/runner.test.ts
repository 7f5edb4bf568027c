import { TerminalError } from '@toolbelt/reconcilers';
import { createManualClock, listEvents, type ManualClock } from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { refusingFence } from '../../src/loop/fence.ts';
import { LoopRunner, type RunnerOptions } from '../../src/loop/runner.ts';
import { captureLogger, type CapturedLogger, deferred, flush, Outcomes, scripted } from '../support/loop.ts';

let clock: ManualClock;
let log: CapturedLogger;
let runners: LoopRunner[];

beforeEach(() => {
  clock = createManualClock();
  log = captureLogger();
  runners = [];
});
afterEach(async () => {
  for (const runner of runners) await runner.stop();
});

describeEachDatabase('loop runner', (t) => {
  function makeRunner(options: Partial<RunnerOptions> & Pick<RunnerOptions, 'reconcilers'>): LoopRunner {
    const runner = new LoopRunner({ db: t.db, logger: log.logger, clock, registry: new Registry(), ...options });
    runners.push(runner);
    return runner;
  }

  describe('reconcileOnce', () => {
    it('success: one debug line carrying reconcileId, kind, key and generation; counted', async () => {
      const registry = new Registry();
      const runner = makeRunner({
        registry,
        reconcilers: [
          scripted('env', async (ctx) => {
            ctx.setGeneration(7);
            ctx.logger.info({ step: 'observe' }, 'looked');
          }),
        ],
      });
      const report = await runner.reconcileOnce('env', 'k1');
      expect(report).toMatchObject({ outcome: 'success', kind: 'env', key: 'k1', generation: 7 });
      const lines = log.lines.filter((l) => l.reconcileId === report.reconcileId);
      expect(lines.map((l) => l.msg)).toEqual(['looked', 'reconciled']);
      expect(lines[1]).toMatchObject({ kind: 'env', key: 'k1', generation: 7, outcome: 'success' });
      expect(log.errors()).toEqual([]);
      const text = await registry.metrics();
      expect(text).toContain('toolbelt_reconcile_total{kind="env",outcome="success"} 1');
      expect(text).toMatch(/toolbelt_reconcile_duration_seconds_count\{kind="env",outcome="success"\} 1/);
    });

    it('requeue: the key waits in the queue for requeueAfterMs', async () => {
      const runner = makeRunner({ reconcilers: [scripted('env', async () => ({ requeueAfterMs: 30_000 }))] });
      const report = await runner.reconcileOnce('env', 'k1');
      expect(report).toMatchObject({ outcome: 'requeue', afterMs: 30_000 });
      expect(runner.queue('env').dueAt('k1')).toBe(clock.now() + 30_000);
    });

    it('error: retried with growing backoff, logged once per throw with the error, reset by a success', async () => {
      let fail = true;
      const runner = makeRunner({
        reconcilers: [
          scripted('env', async () => {
            if (fail) throw new Error('droplet API said 500');
          }),
        ],
      });
      const first = await runner.reconcileOnce('env', 'k1');
      const second = await runner.reconcileOnce('env', 'k1');
      expect(first).toMatchObject({ outcome: 'error', timedOut: false, error: { message: 'droplet API said 500' } });
      expect(first.retryInMs).toBeGreaterThanOrEqual(500);
      expect(first.retryInMs).toBeLessThanOrEqual(1_000);
      expect(second.retryInMs).toBeGreaterThanOrEqual(1_000);
      expect(second.retryInMs).toBeLessThanOrEqual(2_000);
      expect(runner.queue('env').dueAt('k1')).toBe(clock.now() + first.retryInMs!);

      const errors = log.errors();
      expect(errors).toHaveLength(2);
      expect(errors.map((e) => e.reconcileId)).toEqual([first.reconcileId, second.reconcileId]);
      expect(errors[1]).toMatchObject({ kind: 'env', key: 'k1', failures: 2, err: { message: 'droplet API said 500' } });
      expect(String(errors[1]!.msg)).toMatch(/retrying in \d\.\d s/);

      fail = false;
      expect((await runner.reconcileOnce('env', 'k1')).outcome).toBe('success');
      expect(runner.queue('env').failures('k1')).toBe(0);
    });

    it('terminal: a Warning event with its reason, folded on repeat; not retried', async () => {
      const runner = makeRunner({
        reconcilers: [
          scripted('env', async () => {
            throw new TerminalError('size s-99 does not exist', { reason: 'InvalidSpec' });
          }),
        ],
      });
      const first = await runner.reconcileOnce('env', 'bad');
      await clock.advance(5_000);
      await runner.reconcileOnce('env', 'bad');
      expect(first.outcome).toBe('terminal');
      expect(runner.queue('env').dueAt('bad')).toBeUndefined();
      const events = await listEvents(t.db, { objectKind: 'env', objectId: 'bad', limit: 10 });
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ type: 'Warning', reason: 'InvalidSpec', message: 'size s-99 does not exist', count: 2 });
      expect(events[0]!.last_seen.getTime() - events[0]!.first_seen.getTime()).toBe(5_000);
      expect(log.errors()).toHaveLength(2);
      expect(log.errors()[0]).toMatchObject({ outcome: 'terminal', reason: 'InvalidSpec' });
    });

    it('timeout: the signal aborts, the outcome is an error retried with backoff', async () => {
      let seen: AbortSignal | undefined;
      const runner = makeRunner({
        timeoutMs: 2_000,
        reconcilers: [
          scripted('env', (ctx) => {
            seen = ctx.signal;
            return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
          }),
        ],
      });
      const pending = runner.reconcileOnce('env', 'slow');
      await clock.advance(1_999);
      expect(seen?.aborted).toBe(false);
      await clock.advance(1);
      const report = await pending;
      expect(report).toMatchObject({ outcome: 'error', timedOut: true, error: { code: 'RECONCILE_TIMEOUT' } });
      expect(report.retryInMs).toBeGreaterThan(0);
      expect(seen?.aborted).toBe(true);
      expect(log.errors()).toHaveLength(1);
    });

    it('fenced: a refused write is counted as fenced and not retried', async () => {
      const runner = makeRunner({
        fence: () => refusingFence('not the leader'),
        reconcilers: [
          scripted('env', async (ctx) => {
            await ctx.fence.write(async () => 'never');
          }),
        ],
      });
      const report = await runner.reconcileOnce('env', 'k');
      expect(report).toMatchObject({ outcome: 'fenced', error: { code: 'LEASE_FENCED' } });
      expect(runner.queue('env').dueAt('k')).toBeUndefined();
      expect(log.errors()).toEqual([]);
    });

    it('records events from the reconcile, folded, at clock time', async () => {
      const runner = makeRunner({
        reconcilers: [
          scripted('env', async (ctx) => {
            await ctx.events.normal('DropletCreated', 'created droplet 42');
          }),
        ],
      });
      await runner.reconcileOnce('env', 'e1');
      await clock.advance(60_000);
      await runner.reconcileOnce('env', 'e1');
      const [event] = await listEvents(t.db, { objectKind: 'env', objectId: 'e1', limit: 10 });
      expect(event).toMatchObject({ type: 'Normal', reason: 'DropletCreated', count: 2, reporter: 'controller' });
      expect(event!.first_seen.getTime()).toBe(clock.now() - 60_000);
      expect(event!.last_seen.getTime()).toBe(clock.now());
    });

    it('an invalid requeueAfterMs is an error that names the bug', async () => {
      const runner = makeRunner({ reconcilers: [scripted('env', async () => ({ requeueAfterMs: -5 }))] });
      expect(await runner.reconcileOnce('env', 'k')).toMatchObject({
        outcome: 'error',
        error: { code: 'RECONCILE_RESULT_INVALID' },
      });
    });
  });

  describe('running', () => {
    it('reconciles enqueued keys; a key added while in flight runs once more after, never alongside', async () => {
      const outcomes = new Outcomes();
      const gate = deferred();
      let running = 0;
      let maxRunning = 0;
      const calls: string[] = [];
      const runner = makeRunner({
        onOutcome: outcomes.push,
        workersPerKind: 4,
        reconcilers: [
          scripted('env', async (_ctx, key) => {
            calls.push(key);
            running += 1;
            maxRunning = Math.max(maxRunning, running);
            if (key === 'a' && calls.filter((c) => c === 'a').length === 1) await gate.promise;
            running -= 1;
          }),
        ],
      });
      await runner.start(new AbortController().signal);
      runner.enqueue('env', 'a', { source: 'test' });
      await flush();
      for (let i = 0; i < 3; i += 1) runner.enqueue('env', 'a', { source: 'test' });
      runner.enqueue('env', 'b', { source: 'test' });
      await outcomes.until(() => outcomes.reports.some((r) => r.key === 'b'));
      expect(calls).toEqual(['a', 'b']);
      gate.resolve();
      await outcomes.count(3);
      await flush();
      expect(calls).toEqual(['a', 'b', 'a']);
      expect(maxRunning).toBe(2); // a and b together, never a twice
      expect(runner.queue('env').depth).toEqual({ ready: 0, delayed: 0, inFlight: 0 });
    });

    it('never runs one key twice at once under load', async () => {
      const outcomes = new Outcomes();
      const inFlight = new Set<string>();
      let overlaps = 0;
      const runner = makeRunner({
        onOutcome: outcomes.push,
        workersPerKind: 8,
        reconcilers: [
          scripted('env', async (_ctx, key) => {
            if (inFlight.has(key)) overlaps += 1;
            inFlight.add(key);
            await flush(1);
            inFlight.delete(key);
          }),
        ],
      });
      await runner.start(new AbortController().signal);
      for (let round = 0; round < 20; round += 1) {
        for (let k = 0; k < 10; k += 1) runner.enqueue('env', `k${k}`);
        await flush(1);
      }
      const idle = () => Object.values(runner.queue('env').depth).every((n) => n === 0);
      for (let i = 0; i < 1_000 && !idle(); i += 1) await flush(1);
      expect(idle()).toBe(true);
      expect(overlaps).toBe(0);
      expect(outcomes.reports.length).toBeGreaterThanOrEqual(10);
    });

    it('retries a failing key after its backoff, by the clock', async () => {
      const outcomes = new Outcomes();
      let attempts = 0;
      const runner = makeRunner({
        onOutcome: outcomes.push,
        random: () => 0.5,
        reconcilers: [
          scripted('env', async () => {
            attempts += 1;
            if (attempts < 3) throw new Error(`attempt ${attempts} failed`);
          }),
        ],
      });
      await runner.start(new AbortController().signal);
      runner.enqueue('env', 'k');
      await outcomes.count(1);
      expect(outcomes.reports[0]!.retryInMs).toBe(750);
      await clock.advance(749);
      expect(attempts).toBe(1);
      await clock.advance(1);
      await outcomes.count(2);
      expect(outcomes.reports[1]!.retryInMs).toBe(1_500);
      await clock.advance(1_500);
      await outcomes.count(3);
      expect(outcomes.reports.map((r) => r.outcome)).toEqual(['error', 'error', 'success']);
      expect(log.errors()).toHaveLength(2);
    });

    it('keeps a timed-out key blocked until its reconcile really ends', async () => {
      const outcomes = new Outcomes();
      const stuck = deferred();
      let calls = 0;
      const runner = makeRunner({
        onOutcome: outcomes.push,
        timeoutMs: 1_000,
        reconcilers: [
          scripted('env', async () => {
            calls += 1;
            if (calls === 1) await stuck.promise; // ignores ctx.signal
          }),
        ],
      });
      await runner.start(new AbortController().signal);
      runner.enqueue('env', 'k');
      await flush();
      await clock.advance(1_000);
      await outcomes.count(1);
      expect(outcomes.reports[0]).toMatchObject({ outcome: 'error', timedOut: true });
      runner.enqueue('env', 'k');
      await clock.advance(60_000); // past any backoff
      expect(calls).toBe(1);
      expect(runner.queue('env').isInFlight('k')).toBe(true);
      stuck.resolve();
      await outcomes.count(2);
      expect(calls).toBe(2);
      expect(log.lines.some((l) => l.msg === 'a timed-out reconcile has finished; its key is free again')).toBe(true);
    });

    it('resyncs every listed key on start and again after the jittered interval', async () => {
      const outcomes = new Outcomes();
      const runner = makeRunner({
        onOutcome: outcomes.push,
        resyncIntervalMs: 60_000,
        resyncJitter: 0.1,
        random: () => 0.999,
        reconcilers: [scripted('env', async () => {}, async () => ['a', 'b', 'c'])],
      });
      await runner.start(new AbortController().signal);
      await outcomes.count(3);
      await clock.advance(60_000);
      await flush();
      expect(outcomes.reports).toHaveLength(3);
      await clock.advance(6_000); // 60 s · (1 + 0.1 · 0.998) ≈ 65.99 s
      await outcomes.count(6);
      expect(outcomes.reports.map((r) => r.key).sort()).toEqual(['a', 'a', 'b', 'b', 'c', 'c']);
    });

    it('retries a failed key listing with backoff rather than waiting a whole interval', async () => {
      const outcomes = new Outcomes();
      let listings = 0;
      const runner = makeRunner({
        onOutcome: outcomes.push,
        random: () => 0,
        reconcilers: [
          scripted('env', async () => {}, async () => {
            listings += 1;
            if (listings === 1) throw new Error('database restarting');
            return ['a'];
          }),
        ],
      });
      await runner.start(new AbortController().signal);
      await flush();
      expect(log.errors()[0]).toMatchObject({ kind: 'env', msg: 'listing env keys for the resync failed' });
      await clock.advance(500);
      await outcomes.count(1);
      expect(listings).toBe(2);
    });

    it('stopping interrupts reconciles in flight, drops queued keys, and drops keys enqueued while stopped', async () => {
      const outcomes = new Outcomes();
      const runner = makeRunner({
        onOutcome: outcomes.push,
        workersPerKind: 1,
        reconcilers: [
          scripted('env', (ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)))),
        ],
      });
      await runner.start(new AbortController().signal);
      expect(runner.enqueue('env', 'a')).toBe(true);
      runner.enqueue('env', 'b');
      await flush();
      await runner.stop();
      expect(outcomes.reports.map((r) => [r.key, r.outcome])).toEqual([['a', 'interrupted']]);
      expect(runner.queue('env').depth).toEqual({ ready: 0, delayed: 0, inFlight: 0 });
      expect(runner.enqueue('env', 'c')).toBe(false);
      expect(log.errors()).toEqual([]);
    });

    it('schedules nothing for a reconcile that ends while the loop stops', async () => {
      const outcomes = new Outcomes();
      const gate = deferred();
      const runner = makeRunner({
        onOutcome: outcomes.push,
        reconcilers: [
          scripted('env', async () => {
            await gate.promise; // ignores ctx.signal
            return { requeueAfterMs: 1_000 };
          }),
        ],
      });
      await runner.start(new AbortController().signal);
      runner.enqueue('env', 'k');
      await flush();
      const stopping = runner.stop();
      gate.resolve();
      await stopping;
      expect(outcomes.reports.map((r) => r.outcome)).toEqual(['requeue']);
      expect(runner.queue('env').dueAt('k')).toBeUndefined();
      expect(runner.queue('env').depth).toEqual({ ready: 0, delayed: 0, inFlight: 0 });
    });

    it('reports queue depth as a metric', async () => {
      const registry = new Registry();
      const gate = deferred();
      const runner = makeRunner({
        registry,
        workersPerKind: 1,
        reconcilers: [scripted('env', () => gate.promise)],
      });
      await runner.start(new AbortController().signal);
      runner.enqueue('env', 'a', { source: 'spec' });
      runner.enqueue('env', 'b', { source: 'spec' });
      runner.enqueue('env', 'c', { source: 'agent', afterMs: 10_000 });
      await flush();
      const text = await registry.metrics();
      expect(text).toContain('toolbelt_workqueue_keys{kind="env",state="in_flight"} 1');
      expect(text).toContain('toolbelt_workqueue_keys{kind="env",state="ready"} 1');
      expect(text).toContain('toolbelt_workqueue_keys{kind="env",state="delayed"} 1');
      expect(text).toContain('toolbelt_workqueue_adds_total{kind="env",source="spec"} 2');
      gate.resolve();
    });
  });
});

describe('loop runner under a hot loop', () => {
  it('leaves room for timers and I/O while reconciles resolve without ever waiting on I/O', async () => {
    const cap = 5_000;
    let runs = 0;
    const drained = deferred();
    const runner = new LoopRunner({
      db: undefined as never,
      logger: captureLogger().logger,
      registry: new Registry(),
      rateLimit: { perSecond: 1e9, burst: 1e9 },
      // Resolves in microtasks only (as embedded PGlite queries do) and asks to run again at
      // once, up to `cap` runs.
      reconcilers: [
        scripted('hot', async () => {
          runs += 1;
          if (runs < cap) return { requeueAfterMs: 0 };
          drained.resolve();
        }),
      ],
    });
    runners.push(runner);
    await runner.start(new AbortController().signal);
    runner.enqueue('hot', 'k');
    const runsWhenTimerFired = await new Promise<number>((resolve) => setTimeout(() => resolve(runs), 1));
    await drained.promise;
    // Starved, the timer would have waited for the hot loop to run dry.
    expect(runsWhenTimerFired).toBeLessThan(cap);
    await runner.stop();
  });
});

describe('loop runner options', () => {
  const base = { db: undefined as never, logger: captureLogger().logger };

  it('refuses duplicate and odd kinds, and nonsense numbers, with a clear error', () => {
    const noop = async () => {};
    expect(() => new LoopRunner({ ...base, reconcilers: [scripted('a', noop), scripted('a', noop)] })).toThrow(
      /two reconcilers have the kind "a"/,
    );
    expect(() => new LoopRunner({ ...base, reconcilers: [scripted('a:b', noop)] })).toThrow(/not a plain name/);
    expect(() => new LoopRunner({ ...base, reconcilers: [], workersPerKind: 0 })).toThrow(/workersPerKind/);
    expect(() => new LoopRunner({ ...base, reconcilers: [], timeoutMs: -1 })).toThrow(/timeoutMs must be > 0/);
  });

  it('refuses an unknown kind, naming the registered ones', () => {
    const runner = new LoopRunner({ ...base, reconcilers: [scripted('env', async () => {})] });
    expect(() => runner.enqueue('tools', 'x')).toThrow(/no reconciler of kind "tools"/);
    expect(runner.hasKind('env')).toBe(true);
  });
});
