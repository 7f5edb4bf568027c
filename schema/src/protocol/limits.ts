/**
 * Flood protection both ends apply to the frames they receive: token buckets per socket (in
 * messages; the controller also in bytes), and a budget of invalid frames after which the
 * socket is closed with 4002. The controller also bounds the work it queues per socket.
 */
import type { Clock } from '../clock.ts';

/** Default receive limits: sustained rate, burst, and invalid frames tolerated per socket. */
export const RECEIVE_LIMITS = {
  messagesPerSecond: 500,
  burst: 1000,
  /** After this many invalid frames the receiver closes with CLOSE_CODES.protocolError. */
  maxInvalidFrames: 20,
} as const;

/**
 * What the controller accepts from one agent socket: tighter than RECEIVE_LIMITS, because one
 * replica serves the whole fleet and one droplet's credential must not degrade it. A real
 * agent sends a heartbeat every 15 s, a few statuses and command answers; bursts cover a
 * reconnect. In bytes: a sustained rate and a burst of at least one largest frame. The backlog
 * bounds what waits unhandled; beyond it the socket is closed with CLOSE_CODES.backlog.
 */
export const HUB_RECEIVE_LIMITS = {
  messagesPerSecond: 100,
  burst: 1000,
  maxInvalidFrames: RECEIVE_LIMITS.maxInvalidFrames,
  bytesPerSecond: 256 * 1024,
  burstBytes: 4 * 1024 * 1024,
  maxQueuedMessages: 256,
  maxQueuedBytes: 4 * 1024 * 1024,
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

  /** Takes `cost` tokens (default one); false, taking none, when fewer are left. */
  take(cost = 1): boolean {
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#rate);
    this.#last = now;
    if (this.#tokens < cost) return false;
    this.#tokens -= cost;
    return true;
  }
}
