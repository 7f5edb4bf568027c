import { createManualClock } from '@toolbelt/schema';
import { describe, expect, it } from 'vitest';
import { HOUR_MS, MINUTE_MS, RateBudget } from '../../src/provider/budget.ts';

/** Sends `n` requests answered at once (each is granted without waiting). */
async function takeNow(budget: RateBudget, n: number) {
  for (let i = 0; i < n; i += 1) (await budget.acquire())();
}

/** Starts an acquire and reports whether it resolved after letting pending work run. */
function pending(budget: RateBudget) {
  const state = { done: false, error: undefined as unknown };
  budget.acquire().then(
    (settle) => {
      settle();
      state.done = true;
    },
    (e) => (state.error = e),
  );
  return state;
}

const settle = () => new Promise<void>((r) => setImmediate(r));

describe('RateBudget', () => {
  it('defaults to 80 % of DigitalOcean’s limits: 4,000/h and 200/min', () => {
    const budget = new RateBudget({ clock: createManualClock() });
    const s = budget.snapshot();
    expect(s.hour).toMatchObject({ limit: 5000, ceiling: 4000, used: 0, remaining: 4000 });
    expect(s.minute).toMatchObject({ limit: 250, ceiling: 200, used: 0, remaining: 200 });
    expect(s.allowedNow).toBe(200);
  });

  it('holds the 201st request of a minute until the first one leaves the window', async () => {
    const clock = createManualClock();
    const budget = new RateBudget({ clock });
    await takeNow(budget, 100);
    await clock.advance(10_000);
    await takeNow(budget, 100);
    expect(budget.snapshot()).toMatchObject({ allowedNow: 0, nextSlotAt: clock.now() - 10_000 + MINUTE_MS });
    const next = pending(budget);
    await settle();
    expect(next.done).toBe(false);
    await clock.advance(MINUTE_MS - 10_000 - 1);
    expect(next.done).toBe(false);
    await clock.advance(1);
    expect(next.done).toBe(true);
    // The first 100 left together, so 99 more fit right away.
    expect(budget.snapshot().allowedNow).toBe(99);
  });

  it('paces the hour: after 4,000 requests the next waits for the oldest to expire', async () => {
    const clock = createManualClock();
    const budget = new RateBudget({ clock });
    const start = clock.now();
    for (let minute = 0; minute < 20; minute += 1) {
      await takeNow(budget, 200);
      await clock.advance(MINUTE_MS);
    }
    const s = budget.snapshot();
    expect(s.hour).toMatchObject({ used: 4000, remaining: 0 });
    expect(s.allowedNow).toBe(0);
    expect(s.nextSlotAt).toBe(start + HOUR_MS);
    const next = pending(budget);
    await clock.set(start + HOUR_MS - 1);
    expect(next.done).toBe(false);
    await clock.set(start + HOUR_MS);
    expect(next.done).toBe(true);
  });

  it('follows ratelimit-limit: the hourly ceiling and (at 5 %) the minute ceiling', () => {
    const budget = new RateBudget({ clock: createManualClock() });
    budget.observe({ limit: 1000, remaining: 1000 });
    const s = budget.snapshot();
    expect(s.hour).toMatchObject({ limit: 1000, ceiling: 800 });
    expect(s.minute).toMatchObject({ limit: 50, ceiling: 40 });
  });

  it('keeps a configured per-minute limit when the headers change the hourly one', () => {
    const budget = new RateBudget({ clock: createManualClock(), limits: { perMinute: 20 }, fraction: 0.5 });
    budget.observe({ limit: 1000, remaining: 1000 });
    expect(budget.snapshot().minute).toMatchObject({ limit: 20, ceiling: 10 });
  });

  it('counts requests DigitalOcean saw from other clients of the token', async () => {
    const budget = new RateBudget({ clock: createManualClock() });
    await takeNow(budget, 10);
    budget.observe({ limit: 5000, remaining: 4000 }); // 1,000 used, 10 of them ours
    const s = budget.snapshot();
    expect(s.external).toBe(990);
    expect(s.hour.used).toBe(1000);
    expect(s.hour.remaining).toBe(3000);
  });

  it('when others fill our share, sends one probe a minute after the last answer', async () => {
    const clock = createManualClock();
    const budget = new RateBudget({ clock });
    budget.observe({ limit: 5000, remaining: 500 }); // 4,500 used by others
    expect(budget.snapshot().allowedNow).toBe(0);
    const probe = pending(budget);
    await clock.advance(MINUTE_MS - 1);
    expect(probe.done).toBe(false);
    await clock.advance(1);
    expect(probe.done).toBe(true);
    // No second probe until a minute after the first.
    const second = pending(budget);
    await clock.advance(MINUTE_MS - 1);
    expect(second.done).toBe(false);
    await clock.advance(1);
    expect(second.done).toBe(true);
    // An answer saying the others' use has gone opens the budget again.
    budget.observe({ limit: 5000, remaining: 4990 });
    // The first probe has left the minute window; the second is in it.
    expect(budget.snapshot().allowedNow).toBe(199);
  });

  it('a 429 with retry-after holds every caller for that long (remaining: 0 of a burst is not the hour)', async () => {
    const clock = createManualClock();
    const budget = new RateBudget({ clock });
    const until = budget.observe({ retryAfterS: 29, remaining: 0 }, 429);
    expect(until).toBe(clock.now() + 29_000);
    expect(budget.snapshot()).toMatchObject({ allowedNow: 0, pausedUntil: clock.now() + 29_000 });
    const a = pending(budget);
    const b = pending(budget);
    await clock.advance(28_999);
    expect([a.done, b.done]).toEqual([false, false]);
    await clock.advance(1);
    expect([a.done, b.done]).toEqual([true, true]);
    expect(budget.snapshot().external).toBe(0);
  });

  it('a 429 without retry-after waits for the announced reset', async () => {
    const clock = createManualClock(1_700_000_000_000);
    const budget = new RateBudget({ clock });
    const resetAtS = 1_700_000_000 + 600;
    expect(budget.observe({ resetAtS }, 429)).toBe(resetAtS * 1000);
  });

  it('a 429 with no hint at all (or a reset beyond the hour) waits a minute', () => {
    const clock = createManualClock(1_700_000_000_000);
    const budget = new RateBudget({ clock });
    expect(budget.observe({}, 429)).toBe(clock.now() + MINUTE_MS);
    const other = new RateBudget({ clock });
    expect(other.observe({ resetAtS: 1_700_000_000 + 7200 }, 429)).toBe(clock.now() + MINUTE_MS);
  });

  it('ratelimit-remaining: 0 on a success pauses until the reset', () => {
    const clock = createManualClock(1_700_000_000_000);
    const budget = new RateBudget({ clock });
    expect(budget.observe({ limit: 5000, remaining: 0, resetAtS: 1_700_000_030 }, 200)).toBe(1_700_000_030_000);
    expect(budget.observe({ limit: 5000, remaining: 3 }, 200)).toBe(undefined);
  });

  it('an aborted wait rejects and counts nothing; the callers behind it go on', async () => {
    const clock = createManualClock();
    const budget = new RateBudget({ clock, limits: { perMinute: 10 }, fraction: 1 });
    await takeNow(budget, 10);
    const controller = new AbortController();
    const aborted = budget.acquire(controller.signal);
    const behind = pending(budget);
    controller.abort(new Error('stopping'));
    await expect(aborted).rejects.toThrow('stopping');
    await clock.advance(MINUTE_MS);
    expect(behind.done).toBe(true);
    expect(budget.snapshot().minute.used).toBe(1);
  });

  it('counts a request in flight until its answer, then for a whole window after the answer', async () => {
    const clock = createManualClock();
    const budget = new RateBudget({ clock, limits: { perMinute: 2 }, fraction: 1 });
    const first = await budget.acquire();
    const second = await budget.acquire();
    const third = pending(budget);
    await clock.advance(5 * MINUTE_MS);
    // Both are still in flight: however long they take, no room comes back.
    expect(third.done).toBe(false);
    expect(budget.snapshot()).toMatchObject({ allowedNow: 0, nextSlotAt: Infinity });
    const answeredAt = clock.now();
    first();
    await clock.advance(0);
    expect(third.done).toBe(false);
    second();
    // The answer wakes the waiter, which now waits for the first answer to leave the window.
    await clock.advance(MINUTE_MS - 1);
    expect(third.done).toBe(false);
    await clock.set(answeredAt + MINUTE_MS);
    expect(third.done).toBe(true);
  });

  it('an answer that makes room wakes a waiter early', async () => {
    const clock = createManualClock();
    const budget = new RateBudget({ clock, limits: { perMinute: 50 } });
    budget.observe({ limit: 5000, remaining: 500 }); // others fill our share
    const waiter = pending(budget);
    await clock.advance(1000);
    expect(waiter.done).toBe(false);
    budget.observe({ limit: 5000, remaining: 4999 });
    await clock.advance(0);
    expect(waiter.done).toBe(true);
  });

  it('rejects bad options', () => {
    const clock = createManualClock();
    expect(() => new RateBudget({ clock, fraction: 0 })).toThrow(/budgetFraction/);
    expect(() => new RateBudget({ clock, fraction: 1.5 })).toThrow(/budgetFraction/);
    expect(() => new RateBudget({ clock, limits: { perMinute: -1 } })).toThrow(/perMinute/);
  });
});
