import { createManualClock, type ManualClock } from '@toolbelt/schema';
import { beforeEach, describe, expect, it } from 'vitest';
import { backoffCeiling, backoffDelay, backoffOptions, DEFAULT_BACKOFF } from '../../src/loop/backoff.ts';
import { QueueShutDownError, WorkQueue } from '../../src/loop/queue.ts';
import { TokenBucket } from '../../src/loop/rate-limit.ts';

/** Lets queued promise callbacks run. */
const flush = async () => {
  for (let i = 0; i < 5; i += 1) await new Promise<void>((r) => setImmediate(r));
};

/** Tracks whether a promise has settled, without awaiting it. */
function track<T>(promise: Promise<T>) {
  const state: { done: boolean; value?: T; error?: unknown } = { done: false };
  promise.then(
    (value) => Object.assign(state, { done: true, value }),
    (error: unknown) => Object.assign(state, { done: true, error }),
  );
  return state;
}

/** A deterministic stream of numbers in [0, 1). */
function seeded(seed = 42): () => number {
  let s = seed;
  return () => {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

let clock: ManualClock;
beforeEach(() => {
  clock = createManualClock();
});

describe('WorkQueue', () => {
  it('holds a key once however often it is added, and hands keys out in order', async () => {
    const queue = new WorkQueue({ clock });
    queue.add('a');
    queue.add('b');
    queue.add('a');
    expect(queue.depth).toEqual({ ready: 2, delayed: 0, inFlight: 0 });
    expect(await queue.get()).toBe('a');
    expect(await queue.get()).toBe('b');
    expect(queue.depth).toEqual({ ready: 0, delayed: 0, inFlight: 2 });
  });

  it('never hands out a key that is in flight; an add meanwhile runs it once more after', async () => {
    const queue = new WorkQueue({ clock });
    queue.add('a');
    expect(await queue.get()).toBe('a');
    queue.add('a');
    queue.add('a');
    const second = track(queue.get());
    await flush();
    expect(second.done).toBe(false);
    expect(queue.depth).toEqual({ ready: 0, delayed: 0, inFlight: 1 });

    queue.done('a');
    await flush();
    expect(second).toMatchObject({ done: true, value: 'a' });
    queue.done('a');
    expect(queue.depth).toEqual({ ready: 0, delayed: 0, inFlight: 0 });
  });

  it('does not run a key again after done when nobody added it meanwhile', async () => {
    const queue = new WorkQueue({ clock });
    queue.add('a');
    await queue.get();
    queue.done('a');
    expect(queue.depth.ready).toBe(0);
    queue.done('a'); // a second done is harmless
    expect(queue.depth.ready).toBe(0);
  });

  it('wakes a waiting worker when a key arrives', async () => {
    const queue = new WorkQueue({ clock });
    const waiting = track(queue.get());
    await flush();
    expect(waiting.done).toBe(false);
    queue.add('x');
    await flush();
    expect(waiting).toMatchObject({ done: true, value: 'x' });
  });

  it('adds a delayed key when its time comes, keeping the earlier of two times', async () => {
    const queue = new WorkQueue({ clock });
    const start = clock.now();
    queue.addAfter('a', 5_000);
    queue.addAfter('a', 1_000);
    queue.addAfter('a', 9_000);
    expect(queue.dueAt('a')).toBe(start + 1_000);
    expect(queue.depth).toEqual({ ready: 0, delayed: 1, inFlight: 0 });
    const got = track(queue.get());
    await clock.advance(999);
    expect(got.done).toBe(false);
    await clock.advance(1);
    expect(got).toMatchObject({ done: true, value: 'a' });
    expect(queue.depth.delayed).toBe(0);
  });

  it('fires many delayed keys in due order', async () => {
    const queue = new WorkQueue({ clock });
    const random = seeded(7);
    const due = new Map<string, number>();
    for (let i = 0; i < 200; i += 1) {
      const ms = 1 + Math.floor(random() * 10_000);
      due.set(`k${i}`, ms);
      queue.addAfter(`k${i}`, ms);
    }
    const order: string[] = [];
    for (let t = 0; t < 10_000; t += 250) {
      await clock.advance(250);
      while (queue.depth.ready > 0) order.push(await queue.get());
    }
    expect(order).toHaveLength(200);
    const times = order.map((k) => Math.ceil(due.get(k)! / 250));
    expect(times).toEqual([...times].sort((x, y) => x - y));
  });

  it('backs a failing key off exponentially within the jitter bounds, up to the cap, until forgotten', async () => {
    const random = seeded(3);
    const queue = new WorkQueue({ clock, random });
    const delays: number[] = [];
    for (let failure = 1; failure <= 14; failure += 1) {
      const delay = queue.addRateLimited('k');
      delays.push(delay);
      const ceiling = Math.min(300_000, 1_000 * 2 ** (failure - 1));
      expect(delay, `failure ${failure}`).toBeGreaterThanOrEqual(ceiling / 2);
      expect(delay, `failure ${failure}`).toBeLessThanOrEqual(ceiling);
      expect(queue.dueAt('k')).toBe(clock.now() + delay);
      await clock.advance(delay);
      expect(await queue.get()).toBe('k');
      queue.done('k');
    }
    expect(queue.failures('k')).toBe(14);
    expect(Math.max(...delays)).toBeLessThanOrEqual(300_000);
    expect(delays.slice(-3).every((d) => d >= 150_000)).toBe(true);
    queue.forget('k');
    expect(queue.failures('k')).toBe(0);
    const afterForget = queue.addRateLimited('k');
    expect(afterForget).toBeGreaterThanOrEqual(500);
    expect(afterForget).toBeLessThanOrEqual(1_000);
  });

  it('keeps backoff per key', () => {
    const queue = new WorkQueue({ clock, backoff: { jitter: 'none' } });
    expect([queue.addRateLimited('a'), queue.addRateLimited('a'), queue.addRateLimited('a')]).toEqual([1_000, 2_000, 4_000]);
    expect(queue.addRateLimited('b')).toBe(1_000);
  });

  it('passes a shared rate limit: burst at once, then one key per token interval', async () => {
    const limiter = new TokenBucket({ perSecond: 10, burst: 2, clock });
    const one = new WorkQueue({ clock, limiter });
    const two = new WorkQueue({ clock, limiter });
    for (const key of ['a', 'b', 'c']) one.add(key);
    two.add('z');
    expect(await one.get()).toBe('a');
    expect(await two.get()).toBe('z');
    const third = track(one.get());
    await clock.advance(99);
    expect(third.done).toBe(false);
    // While b waits for a token it is in flight but still waiting: an add changes nothing.
    one.add('b');
    await clock.advance(1);
    expect(third).toMatchObject({ done: true, value: 'b' });
    one.done('b');
    expect(one.depth.ready).toBe(1);
    const fourth = track(one.get());
    await clock.advance(100);
    expect(fourth).toMatchObject({ done: true, value: 'c' });
    expect(one.depth.ready).toBe(0);
  });

  it('gives a key back when its get is aborted while waiting for a token', async () => {
    const limiter = new TokenBucket({ perSecond: 1, burst: 1, clock });
    const queue = new WorkQueue({ clock, limiter });
    queue.add('a');
    queue.add('b');
    expect(await queue.get()).toBe('a');
    const abort = new AbortController();
    const pending = track(queue.get(abort.signal));
    await flush();
    abort.abort(new Error('stop'));
    await flush();
    expect(pending.error).toMatchObject({ message: 'stop' });
    expect(queue.depth).toEqual({ ready: 1, delayed: 0, inFlight: 1 });
    await clock.advance(1_000);
    expect(await queue.get()).toBe('b');
  });

  it('rejects a waiting get on abort and on shutdown, and then refuses adds', async () => {
    const queue = new WorkQueue({ clock });
    const abort = new AbortController();
    const aborted = track(queue.get(abort.signal));
    const other = track(queue.get());
    abort.abort(new Error('gone'));
    await flush();
    expect(aborted.error).toMatchObject({ message: 'gone' });
    expect(other.done).toBe(false);
    queue.addAfter('later', 1_000);
    queue.shutDown();
    await flush();
    expect(other.error).toBeInstanceOf(QueueShutDownError);
    queue.add('x');
    await clock.advance(2_000);
    expect(queue.depth).toEqual({ ready: 0, delayed: 0, inFlight: 0 });
    await expect(queue.get()).rejects.toBeInstanceOf(QueueShutDownError);
  });

  it('clear drops waiting and delayed keys; a key in flight is not run again', async () => {
    const queue = new WorkQueue({ clock });
    queue.add('a');
    await queue.get();
    queue.add('a');
    queue.add('b');
    queue.addAfter('c', 10);
    queue.addRateLimited('d');
    queue.clear();
    queue.done('a');
    await clock.advance(60_000);
    expect(queue.depth).toEqual({ ready: 0, delayed: 0, inFlight: 0 });
    expect(queue.failures('d')).toBe(0);
  });
});

describe('backoff', () => {
  it('doubles from 1 s to a 5 min cap by default', () => {
    const ceilings = [1, 2, 3, 9, 10, 50, 1_000].map((n) => backoffCeiling(n, DEFAULT_BACKOFF));
    expect(ceilings).toEqual([1_000, 2_000, 4_000, 256_000, 300_000, 300_000, 300_000]);
  });

  it('jitters within [d/2, d] (equal) and [0, d] (full)', () => {
    const options = backoffOptions();
    expect(backoffDelay(3, options, () => 0)).toBe(2_000);
    expect(backoffDelay(3, options, () => 0.999_999)).toBe(4_000);
    const full = backoffOptions({ jitter: 'full' });
    expect(backoffDelay(3, full, () => 0)).toBe(0);
    expect(backoffDelay(3, full, () => 0.5)).toBe(2_000);
  });

  it('refuses nonsense options with a clear error', () => {
    expect(() => backoffOptions({ baseMs: 0 })).toThrow(/0 < baseMs ≤ maxMs/);
    expect(() => backoffOptions({ baseMs: 10, maxMs: 5 })).toThrow(/baseMs=10 maxMs=5/);
    expect(() => new TokenBucket({ perSecond: 0, burst: 1 })).toThrow(/perSecond > 0/);
  });
});

describe('TokenBucket', () => {
  it('refills at its rate up to the burst', async () => {
    const bucket = new TokenBucket({ perSecond: 4, burst: 3, clock });
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve()]).toEqual([0, 0, 0]);
    expect(bucket.reserve()).toBe(250);
    expect(bucket.reserve()).toBe(500);
    await clock.advance(60_000);
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve(), bucket.reserve()]).toEqual([0, 0, 0, 250]);
  });
});
