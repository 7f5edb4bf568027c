/**
 * The log of our own requests the budget counts: requests in flight, and the times at
 * which finished ones were answered.
 *
 * Why answer times and not send times: DigitalOcean counts a request from when it *arrives*,
 * somewhere between our send and its answer. Counting a request in flight for as long as it
 * is in flight, then for a whole window after its answer, over-counts what the server sees
 * at every instant, whatever the latency or queueing. Hence: if a request is sent only while
 * this count is under the ceiling, the server's count never exceeds the ceiling either.
 */

export class SendLog {
  /** Requests sent and not yet answered (or failed). */
  private inFlight = 0;
  /** Answer times, ascending; entries before `head` are older than the longest window. */
  private answered: number[] = [];
  private head = 0;
  /** When the last request was sent. */
  lastSentAt = -Infinity;

  constructor(private readonly longestWindowMs: number) {}

  /** Counts a request as sent; the returned function marks it answered (once). */
  send(now: number): (answeredAt: number) => void {
    this.inFlight += 1;
    this.lastSentAt = now;
    let done = false;
    return (answeredAt) => {
      if (done) return;
      done = true;
      this.inFlight -= 1;
      // Keep the log sorted even if a manual clock was set backwards.
      const last = this.answered[this.answered.length - 1] ?? answeredAt;
      this.answered.push(Math.max(last, answeredAt));
    };
  }

  /** Requests counted in the window ending at `now`: in flight, plus answered within it. */
  count(now: number, windowMs: number): number {
    this.prune(now);
    return this.inFlight + this.answered.length - this.firstAfter(now - windowMs);
  }

  /**
   * When the count of the window will have dropped by `excess` through answered requests
   * leaving it, or undefined when fewer than `excess` answered requests are in the window
   * (the rest are in flight: room comes back only after they are answered).
   */
  freedAt(now: number, windowMs: number, excess: number): number | undefined {
    this.prune(now);
    const first = this.firstAfter(now - windowMs);
    const entry = this.answered[first + excess - 1];
    return entry === undefined ? undefined : entry + windowMs;
  }

  private firstAfter(t: number): number {
    let lo = this.head;
    let hi = this.answered.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.answered[mid]! > t) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private prune(now: number): void {
    this.head = this.firstAfter(now - this.longestWindowMs);
    if (this.head > 1024 && this.head * 2 > this.answered.length) {
      this.answered = this.answered.slice(this.head);
      this.head = 0;
    }
  }
}
