/**
 * Flood protection both ends apply to the frames they receive: a token bucket per socket,
 * and a budget of invalid frames after which the socket is closed with 4002.
 */
import type { Clock } from '../clock.ts';

/** Default receive limits: sustained rate, burst, and invalid frames tolerated per socket. */
export const RECEIVE_LIMITS = {
  messagesPerSecond: 500,
  burst: 1000,
  /** After this many invalid frames the receiver closes with CLOSE_CODES.protocolError. */
  maxInvalidFrames: 20,
} as const;

/** A token bucket: `take()` is false when the peer sends faster than allowed. */
export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  readonly #clock: Pick<Clock, 'now'>;
  #tokens: number;
  #last: number;

  constructor(options: { perSecond: number; burst: number; clock: Pick<Clock, 'now'> }) {
    if (!(options.perSecond > 0) || !(options.burst >= 1)) {
      throw new RangeError('a token bucket needs perSecond > 0 and burst >= 1');
    }
    this.#rate = options.perSecond / 1000;
    this.#burst = options.burst;
    this.#clock = options.clock;
    this.#tokens = options.burst;
    this.#last = options.clock.now();
  }

  /** Takes one token; false when none is left. */
  take(): boolean {
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#rate);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
