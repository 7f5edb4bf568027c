import { describe, expect, it } from 'vitest';
import { createManualClock, createScaledClock } from '../src/clock.ts';

describe('clocks', () => {
  it('manual clock wakes sleepers in order when advanced', async () => {
    const clock = createManualClock(0);
    const woke: number[] = [];
    void clock.sleep(200).then(() => woke.push(200));
    void clock.sleep(100).then(() => woke.push(100));
    await clock.advance(50);
    expect(woke).toEqual([]);
    await clock.advance(200);
    expect(woke).toEqual([100, 200]);
  });

  it('manual clock sleeps are abortable', async () => {
    const clock = createManualClock(0);
    const controller = new AbortController();
    const sleeping = clock.sleep(1000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(sleeping).rejects.toThrow('stop');
  });

  it('scaled clock runs faster than real time', async () => {
    const clock = createScaledClock(1000);
    const before = clock.now();
    await clock.sleep(5_000); // 5 ms of real time
    expect(clock.now() - before).toBeGreaterThanOrEqual(4_000);
  });

  it('refuses a non-positive speed', () => {
    expect(() => createScaledClock(0)).toThrow(/positive/);
  });
});
