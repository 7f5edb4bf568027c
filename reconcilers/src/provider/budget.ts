/**
 * The client-side request budget: DigitalOcean counts every request of a token for an hour
 * (5,000/h) and, separately, bursts (250/min); each request has its own timer (a sliding
 * window, not a reset on the hour). The budget keeps a log of our own requests (send-log.ts:
 * in flight, then a window after their answer) and lets a request go only while both
 * windows stay under a ceiling (default 80 % of each limit), so the client slows down before
 * DigitalOcean says no — whatever the latency, since the log over-counts the server's view.
 *
 * Every answer's `ratelimit-*` headers correct it: the hourly limit DigitalOcean states, and
 * requests DigitalOcean counted that were not ours (another client on the same token). A 429
 * or `ratelimit-remaining: 0` pauses every caller until `retry-after` or the reset.
 */
import type { Clock } from '@toolbelt/schema';
import type { RateLimitHeaders } from './answers.ts';
import { SendLog } from './send-log.ts';

export const HOUR_MS = 3_600_000;
export const MINUTE_MS = 60_000;

/** DigitalOcean's documented limits per token. */
export const DIGITALOCEAN_RATE_LIMITS = { perHour: 5_000, perMinute: 250 } as const;

/** Share of each limit the client allows itself by default. */
export const DEFAULT_BUDGET_FRACTION = 0.8;

/** DigitalOcean's burst limit is 5 % of the hourly one (250 of 5,000). */
const MINUTE_SHARE_OF_HOUR = 0.05;

export interface RateLimits {
  perHour: number;
  perMinute: number;
}

export interface RateBudgetOptions {
  clock: Clock;
  /**
   * Limits to assume until DigitalOcean's headers say otherwise (default: DigitalOcean's).
   * `ratelimit-limit` replaces `perHour`; `perMinute` follows it at 5 % unless given here.
   */
  limits?: Partial<RateLimits>;
  /** Share of each limit to use, in (0, 1] (default 0.8). */
  fraction?: number;
}

/** One window of the budget. */
export interface WindowSnapshot {
  /** The limit DigitalOcean applies (as known). */
  limit: number;
  /** Our ceiling: `floor(limit × fraction)`. */
  ceiling: number;
  /** Requests counted in the window (ours, plus others' seen in the headers for the hour). */
  used: number;
  /** `ceiling − used`, never below 0. */
  remaining: number;
}

/** What the budget allows now; the reconcilers size their batches with `allowedNow`. */
export interface BudgetSnapshot {
  /** Requests that may be sent right now without waiting. */
  allowedNow: number;
  /**
   * When the next request may be sent (clock ms; `now` when `allowedNow > 0`; `Infinity`
   * while only answers to requests in flight can make room).
   */
  nextSlotAt: number;
  hour: WindowSnapshot;
  minute: WindowSnapshot;
  /** Until when every caller is held back by a 429 or an exhausted window (clock ms). */
  pausedUntil: number | undefined;
  /** What DigitalOcean itself said last (`ratelimit-remaining`, the reset, when seen). */
  server: { remaining: number | undefined; resetAt: number | undefined; observedAt: number | undefined };
  /** Requests DigitalOcean counted this hour that were not sent by this client. */
  external: number;
}

/** Rejects bad options with a message that says which and why. */
function checkOptions(options: RateBudgetOptions): void {
  const fraction = options.fraction ?? DEFAULT_BUDGET_FRACTION;
  if (!(fraction > 0 && fraction <= 1)) throw new RangeError(`budgetFraction must be in (0, 1], got ${fraction}`);
  for (const [name, value] of Object.entries(options.limits ?? {})) {
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
      throw new RangeError(`rate limit ${name} must be a positive integer, got ${value}`);
    }
  }
}

/** Marks one request answered; call it once the answer (or the failure) is in. */
export type Settle = () => void;

/** Longest a waiter sleeps before looking again (it is also woken by answers). */
const MAX_WAIT_MS = MINUTE_MS;

/** The budget one provider (one token) shares among all its callers. */
export class RateBudget {
  private readonly clock: Clock;
  private readonly fraction: number;
  private readonly fixedPerMinute: number | undefined;
  private perHour: number;
  private readonly log = new SendLog(HOUR_MS);
  private external = 0;
  private pausedUntil = 0;
  private server: BudgetSnapshot['server'] = { remaining: undefined, resetAt: undefined, observedAt: undefined };
  /** Callers wait in turn (FIFO), so a burst cannot starve an earlier caller. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Wakes the waiting caller when an answer may have made room. */
  private wake: AbortController | undefined;

  constructor(options: RateBudgetOptions) {
    checkOptions(options);
    this.clock = options.clock;
    this.fraction = options.fraction ?? DEFAULT_BUDGET_FRACTION;
    this.perHour = options.limits?.perHour ?? DIGITALOCEAN_RATE_LIMITS.perHour;
    this.fixedPerMinute = options.limits?.perMinute;
  }

  /**
   * Waits until both windows have room and no pause holds, then counts one request as in
   * flight and returns the function that marks it answered. Rejects with the signal's
   * reason if aborted while waiting (nothing is counted then).
   */
  acquire(signal?: AbortSignal): Promise<Settle> {
    const turn = this.queue.then(() => this.waitForSlot(signal));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async waitForSlot(signal: AbortSignal | undefined): Promise<Settle> {
    for (;;) {
      signal?.throwIfAborted();
      const now = this.clock.now();
      const at = this.nextSlotAt(now);
      if (at <= now) {
        const answered = this.log.send(now);
        return () => {
          answered(this.clock.now());
          this.wake?.abort();
        };
      }
      await this.sleep(Math.min(at - now, MAX_WAIT_MS), signal);
    }
  }

  /** Sleeps, unless woken early by an answer; rejects only when `signal` aborts. */
  private async sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    const wake = new AbortController();
    this.wake = wake;
    try {
      await this.clock.sleep(ms, signal ? AbortSignal.any([signal, wake.signal]) : wake.signal);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (!wake.signal.aborted) throw error;
    } finally {
      if (this.wake === wake) this.wake = undefined;
    }
  }

  /**
   * Takes in the `ratelimit-*` headers of one answer. A 429, or `ratelimit-remaining: 0`,
   * holds every caller back until `retry-after` if sent, else the announced reset (when it
   * lies within the hour), else for a minute. Returns the end of the pause, if any.
   */
  observe(headers: RateLimitHeaders, status?: number): number | undefined {
    const now = this.clock.now();
    if (headers.limit !== undefined) this.perHour = headers.limit;
    if (headers.resetAtS !== undefined) this.server.resetAt = headers.resetAtS * 1000;
    // A 429 of the burst limit also says `remaining: 0` (DigitalOcean's documentation), which
    // says nothing about the hour: only answers that were served count others' use.
    if (headers.remaining !== undefined && status !== 429) {
      this.server.remaining = headers.remaining;
      this.server.observedAt = now;
      // Our own count includes this request (still in flight) and over-counts the server's
      // view of ours, so this errs towards too few others: every answer corrects it.
      this.external = Math.max(0, this.perHour - headers.remaining - this.log.count(now, HOUR_MS));
    }
    this.wake?.abort();
    if (status !== 429 && !(headers.remaining !== undefined && headers.remaining <= 0)) return undefined;
    const until = headers.retryAfterS !== undefined ? now + headers.retryAfterS * 1000 : this.resetPause(now);
    this.pausedUntil = Math.max(this.pausedUntil, until);
    return this.pausedUntil;
  }

  /** The budget as it stands now. */
  snapshot(): BudgetSnapshot {
    const now = this.clock.now();
    const hour = this.window(this.perHour, this.log.count(now, HOUR_MS) + this.external);
    const minute = this.window(this.perMinute(), this.log.count(now, MINUTE_MS));
    const paused = this.pausedUntil > now;
    const nextSlotAt = this.nextSlotAt(now);
    return {
      allowedNow: paused || nextSlotAt > now ? 0 : Math.min(hour.remaining, minute.remaining),
      nextSlotAt,
      hour,
      minute,
      pausedUntil: paused ? this.pausedUntil : undefined,
      server: { ...this.server },
      external: this.external,
    };
  }

  private window(limit: number, used: number): WindowSnapshot {
    const ceiling = Math.max(1, Math.floor(limit * this.fraction));
    return { limit, ceiling, used, remaining: Math.max(0, ceiling - used) };
  }

  private perMinute(): number {
    return this.fixedPerMinute ?? Math.max(1, Math.round(this.perHour * MINUTE_SHARE_OF_HOUR));
  }

  /** The reset DigitalOcean announced if it is ahead and within the hour, else a minute. */
  private resetPause(now: number): number {
    const reset = this.server.resetAt;
    return reset !== undefined && reset > now && reset <= now + HOUR_MS ? reset : now + MINUTE_MS;
  }

  /**
   * The earliest time a request may be sent, given both windows and the pause; `Infinity`
   * while only answers of requests in flight can make room.
   */
  private nextSlotAt(now: number): number {
    return Math.max(now, this.pausedUntil, this.hourSlot(now), this.minuteSlot(now));
  }

  private hourSlot(now: number): number {
    const excess = this.log.count(now, HOUR_MS) + this.external - this.window(this.perHour, 0).ceiling + 1;
    if (excess <= 0) return now;
    const freed = this.log.freedAt(now, HOUR_MS, excess);
    if (freed !== undefined) return freed;
    if (this.external === 0) return Infinity;
    // Others' use fills our share: we cannot know when theirs expires, so send one probe a
    // minute after the last answer or send; its headers tell whether room came back.
    return Math.max(this.server.observedAt ?? now, this.log.lastSentAt) + MINUTE_MS;
  }

  private minuteSlot(now: number): number {
    const excess = this.log.count(now, MINUTE_MS) - this.window(this.perMinute(), 0).ceiling + 1;
    if (excess <= 0) return now;
    return this.log.freedAt(now, MINUTE_MS, excess) ?? Infinity;
  }
}
