/**
 * The client-side request budget: DigitalOcean counts every request of a token for an hour
 * (5,000/h) and, separately, bursts (250/min); each request has its own timer (a sliding
 * window, not a reset on the hour). The budget keeps a log of our own send times and lets
 * a request go only while both windows stay under a ceiling (default 80 % of each limit),
 * so the client slows down before DigitalOcean says no.
 *
 * Every answer's `ratelimit-*` headers correct it: the hourly limit DigitalOcean states, and
 * requests DigitalOcean counted that were not ours (another client on the same token). A 429
 * or `ratelimit-remaining: 0` pauses every caller until `retry-after` or the reset.
 */
import type { Clock } from '@toolbelt/schema';
import type { RateLimitHeaders } from './answers.ts';

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
  /** When the next request may be sent (clock ms; `now` when `allowedNow > 0`). */
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

/** The budget one provider (one token) shares among all its callers. */
export class RateBudget {
  private readonly clock: Clock;
  private readonly fraction: number;
  private readonly fixedPerMinute: number | undefined;
  private perHour: number;
  /** Our send times, ascending; entries before `head` have left the hourly window. */
  private sends: number[] = [];
  private head = 0;
  private external = 0;
  private pausedUntil = 0;
  private server: BudgetSnapshot['server'] = { remaining: undefined, resetAt: undefined, observedAt: undefined };
  /** Callers wait in turn (FIFO), so a burst cannot starve an earlier caller. */
  private queue: Promise<void> = Promise.resolve();

  constructor(options: RateBudgetOptions) {
    checkOptions(options);
    this.clock = options.clock;
    this.fraction = options.fraction ?? DEFAULT_BUDGET_FRACTION;
    this.perHour = options.limits?.perHour ?? DIGITALOCEAN_RATE_LIMITS.perHour;
    this.fixedPerMinute = options.limits?.perMinute;
  }

  /**
   * Waits until both windows have room and no pause holds, then counts one request as sent.
   * Rejects with the signal's reason if aborted while waiting (nothing is counted then).
   */
  acquire(signal?: AbortSignal): Promise<void> {
    const turn = this.queue.then(() => this.waitForSlot(signal));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async waitForSlot(signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const now = this.clock.now();
      const at = this.nextSlotAt(now);
      if (at <= now) {
        this.sends.push(now);
        return;
      }
      await this.clock.sleep(at - now, signal);
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
      // Our requests still in flight are not yet in DigitalOcean's count, so this
      // underestimates others' use a little; every answer corrects it.
      this.external = Math.max(0, this.perHour - headers.remaining - this.ownInWindow(now, HOUR_MS));
    }
    if (status !== 429 && !(headers.remaining !== undefined && headers.remaining <= 0)) return undefined;
    const until = headers.retryAfterS !== undefined ? now + headers.retryAfterS * 1000 : this.resetPause(now);
    this.pausedUntil = Math.max(this.pausedUntil, until);
    return this.pausedUntil;
  }

  /** The budget as it stands now. */
  snapshot(): BudgetSnapshot {
    const now = this.clock.now();
    const hour = this.window(this.perHour, this.ownInWindow(now, HOUR_MS) + this.external);
    const minute = this.window(this.perMinute(), this.ownInWindow(now, MINUTE_MS));
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

  /** The earliest time a request may be sent, given both windows and the pause. */
  private nextSlotAt(now: number): number {
    this.prune(now);
    let at = Math.max(now, this.pausedUntil);
    at = Math.max(at, this.hourSlot(now));
    at = Math.max(at, this.minuteSlot(now));
    return at;
  }

  private hourSlot(now: number): number {
    const ceiling = this.window(this.perHour, 0).ceiling;
    const own = this.sends.length - this.head;
    const excess = own + this.external - ceiling + 1;
    if (excess <= 0) return now;
    // Room comes back as our oldest sends expire, one hour after they were sent.
    if (excess <= own) return this.sends[this.head + excess - 1]! + HOUR_MS;
    // Others' use alone fills our share: we cannot know when theirs expires, so send one
    // probe a minute after the last answer or send; its headers tell whether room came back.
    const lastSend = this.sends[this.sends.length - 1] ?? -Infinity;
    return Math.max(this.server.observedAt ?? now, lastSend) + MINUTE_MS;
  }

  private minuteSlot(now: number): number {
    const ceiling = this.window(this.perMinute(), 0).ceiling;
    const first = this.firstIndexAfter(now - MINUTE_MS);
    const inWindow = this.sends.length - first;
    if (inWindow < ceiling) return now;
    return this.sends[first + inWindow - ceiling]! + MINUTE_MS;
  }

  private ownInWindow(now: number, windowMs: number): number {
    this.prune(now);
    return this.sends.length - this.firstIndexAfter(now - windowMs);
  }

  /** Index of the first send strictly after `t` (binary search over the live part). */
  private firstIndexAfter(t: number): number {
    let lo = this.head;
    let hi = this.sends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sends[mid]! > t) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private prune(now: number): void {
    this.head = this.firstIndexAfter(now - HOUR_MS);
    if (this.head > 1024 && this.head * 2 > this.sends.length) {
      this.sends = this.sends.slice(this.head);
      this.head = 0;
    }
  }
}
