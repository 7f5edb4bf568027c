/**
 * The clock every time-dependent part takes as an option (default: the system clock), so
 * that tests can step time and benchmarks can run simulated time faster than real time.
 */

export interface Clock {
  /** Milliseconds since the epoch, in this clock's time. */
  now(): number;
  /** Resolves after `ms` of this clock's time; rejects with the signal's reason on abort. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

function abortable(realMs: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, realMs));
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Real time. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => abortable(ms, signal),
};

/**
 * Time that runs `speed` times faster than real time, starting from now. With speed 100, a
 * 120 s simulated boot takes 1.2 s; sleeps shrink by the same factor.
 */
export function createScaledClock(speed: number, start: number = Date.now()): Clock {
  if (!(speed > 0)) throw new RangeError(`clock speed must be positive, got ${speed}`);
  const realStart = performance.now();
  return {
    now: () => start + (performance.now() - realStart) * speed,
    sleep: (ms, signal) => abortable(ms / speed, signal),
  };
}

/** A clock that moves only when told: `advance(ms)` wakes every sleeper whose time came. */
export interface ManualClock extends Clock {
  advance(ms: number): Promise<void>;
  set(now: number): Promise<void>;
}

export function createManualClock(start = 1_700_000_000_000): ManualClock {
  let current = start;
  let sleepers: { at: number; resolve: () => void }[] = [];
  const wake = async () => {
    const due = sleepers.filter((s) => s.at <= current).sort((a, b) => a.at - b.at);
    sleepers = sleepers.filter((s) => s.at > current);
    for (const s of due) s.resolve();
    // Let woken tasks run before the caller looks at their effects.
    for (let i = 0; i < 5; i += 1) await new Promise<void>((r) => setImmediate(r));
  };
  const clock: ManualClock = {
    now: () => current,
    sleep(ms, signal) {
      return new Promise((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const sleeper = { at: current + Math.max(0, ms), resolve };
        sleepers.push(sleeper);
        signal?.addEventListener(
          'abort',
          () => {
            sleepers = sleepers.filter((s) => s !== sleeper);
            reject(signal.reason);
          },
          { once: true },
        );
      });
    },
    async advance(ms) {
      current += ms;
      await wake();
    },
    async set(now) {
      current = now;
      await wake();
    },
  };
  return clock;
}
