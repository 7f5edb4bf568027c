/**
 * A token bucket: `perSecond` tokens a second, at most `burst` banked. The loop takes one
 * token per reconcile, across every kind, so that a hot loop or a resync of everything
 * cannot swamp the database or the cloud API.
 */
import { type Clock, systemClock, ToolbeltError } from '@toolbelt/schema';

export interface RateLimitOptions {
  /** Sustained reconciles per second. */
  perSecond: number;
  /** How many may start at once after a quiet spell. */
  burst: number;
}

export class TokenBucket {
  readonly perSecond: number;
  readonly burst: number;
  readonly #clock: Clock;
  #tokens: number;
  #last: number;

  constructor(options: RateLimitOptions & { clock?: Clock }) {
    if (!(options.perSecond > 0) || !(options.burst >= 1)) {
      throw new ToolbeltError(
        'RATE_LIMIT_INVALID',
        `a rate limit needs perSecond > 0 and burst ≥ 1, got perSecond=${options.perSecond} burst=${options.burst}`,
      );
    }
    this.perSecond = options.perSecond;
    this.burst = options.burst;
    this.#clock = options.clock ?? systemClock;
    this.#tokens = options.burst;
    this.#last = this.#clock.now();
  }

  /**
   * Takes a token now and returns how many ms the caller must wait before using it (0 when
   * one was banked). Reservations queue up: the tenth caller in an empty bucket waits ten
   * token intervals, so concurrent takers share the rate fairly.
   */
  reserve(): number {
    const now = this.#clock.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) * this.perSecond) / 1000);
    this.#last = now;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens * 1000) / this.perSecond);
  }

  /** Waits for a token. On abort the reservation is given back and the signal's reason thrown. */
  async take(signal?: AbortSignal): Promise<void> {
    const wait = this.reserve();
    if (wait === 0) return;
    try {
      await this.#clock.sleep(wait, signal);
    } catch (error) {
      this.#tokens += 1;
      throw error;
    }
  }
}
