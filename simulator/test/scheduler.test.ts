import { createManualClock } from '@toolbelt/schema/clock';
import { describe, expect, it } from 'vitest';
import { Scheduler } from '../src/scheduler.ts';

describe('scheduler', () => {
  it('wakes entries in time order, re-arming for an earlier entry added later', async () => {
    const clock = createManualClock(0);
    const due: [number, number][] = [];
    const scheduler = new Scheduler(clock, (key) => due.push([key, clock.now()]));
    for (const [at, key] of [[500, 5], [300, 3], [900, 9], [100, 1], [300, 33]] as const) scheduler.schedule(at, key);
    expect(scheduler.pending).toBe(5);
    await clock.advance(99);
    expect(due).toEqual([]);
    await clock.advance(1);
    expect(due).toEqual([[1, 100]]);
    scheduler.schedule(150, 15);
    await clock.advance(400);
    expect(due.map(([key]) => key)).toEqual([1, 15, 3, 33, 5]);
    await clock.advance(10_000);
    expect(due.map(([key]) => key)).toEqual([1, 15, 3, 33, 5, 9]);
    expect(scheduler.pending).toBe(0);
  });

  it('runs many entries in heap order', async () => {
    const clock = createManualClock(0);
    const due: number[] = [];
    const scheduler = new Scheduler(clock, (key) => due.push(key));
    const times = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 1000);
    times.forEach((at, i) => scheduler.schedule(at, i));
    await clock.advance(1000);
    const seenTimes = due.map((key) => times[key]!);
    expect(seenTimes).toEqual([...seenTimes].sort((a, b) => a - b));
    expect(due).toHaveLength(1000);
  });

  it('runs entries already due without waiting for the clock to move', async () => {
    const clock = createManualClock(0);
    const due: number[] = [];
    const scheduler = new Scheduler(clock, (key) => due.push(key));
    scheduler.schedule(0, 1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(due).toEqual([1]);
  });

  it('runs nothing after close', async () => {
    const clock = createManualClock(0);
    const due: number[] = [];
    const scheduler = new Scheduler(clock, (key) => due.push(key));
    scheduler.schedule(10, 1);
    scheduler.close();
    scheduler.schedule(5, 2);
    await clock.advance(100);
    expect(due).toEqual([]);
  });
});
