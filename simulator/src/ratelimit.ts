/**
 * DigitalOcean's rate limits, per token: a rolling hour and a rolling minute. Each request
 * counts for one full window after it was made ("each request has its own timer"), so the
 * windows are sliding logs of request times, measured in the simulator's clock.
 */
import type { Clock } from '@toolbelt/schema/clock';

export interface RateLimits {
  /** Requests per rolling hour (DigitalOcean: 5,000). */
  readonly perHour: number;
  /** Requests per rolling minute, the burst limit (DigitalOcean: 250). */
  readonly perMinute: number;
}

export const DIGITALOCEAN_RATE_LIMITS: RateLimits = { perHour: 5000, perMinute: 250 };

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

/** What the limiter decided for one request, with the headers to send either way. */
export interface RateDecision {
  readonly allowed: boolean;
  readonly headers: Record<string, string>;
  /** Seconds to wait, set when the per-minute (burst) limit refused the request. */
  readonly retryAfterSeconds?: number;
}

/** Index of the first entry later than `at` in the sorted array `times`. */
function firstAfter(times: number[], at: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! <= at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class RateLimiter {
  readonly #clock: Clock;
  readonly #limits: RateLimits;
  readonly #logs = new Map<string, number[]>();

  constructor(clock: Clock, limits: RateLimits) {
    this.#clock = clock;
    this.#limits = limits;
  }

  /**
   * Counts a request for `key` if it fits both windows; a refused request is not counted
   * (it never reached the API). With `count: false` only reports (e.g. for a 401).
   */
  take(key: string, count = true): RateDecision {
    const now = this.#clock.now();
    const log = this.#window(key, now);
    const inMinute = log.length - firstAfter(log, now - MINUTE_MS);
    const overHour = log.length >= this.#limits.perHour;
    const overMinute = inMinute >= this.#limits.perMinute;
    if (!count) return { allowed: true, headers: this.#headers(log, now, false) };
    if (overHour || overMinute) {
      const decision: RateDecision = { allowed: false, headers: this.#headers(log, now, true) };
      if (overHour) return decision;
      const oldestInMinute = log[log.length - inMinute]!;
      const retryAfterSeconds = Math.max(1, Math.ceil((oldestInMinute + MINUTE_MS - now) / 1000));
      return { ...decision, retryAfterSeconds };
    }
    // Keep the log sorted even if a manual clock was set backwards.
    log.push(Math.max(now, log[log.length - 1] ?? now));
    return { allowed: true, headers: this.#headers(log, now, false) };
  }

  /** The log of `key` with requests older than an hour dropped. */
  #window(key: string, now: number): number[] {
    let log = this.#logs.get(key);
    if (!log) {
      log = [];
      this.#logs.set(key, log);
    }
    const expired = firstAfter(log, now - HOUR_MS);
    if (expired > 0) log.splice(0, expired);
    return log;
  }

  #headers(log: number[], now: number, refused: boolean): Record<string, string> {
    const remaining = refused ? 0 : Math.max(0, this.#limits.perHour - log.length);
    const oldest = log[0] ?? now;
    return {
      'ratelimit-limit': String(this.#limits.perHour),
      'ratelimit-remaining': String(remaining),
      'ratelimit-reset': String(Math.floor((oldest + HOUR_MS) / 1000)),
    };
  }
}
