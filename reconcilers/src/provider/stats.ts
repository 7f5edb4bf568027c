/**
 * Counters of DigitalOcean calls per endpoint and outcome, for metrics (the controller will
 * expose them; the benchmark reads them).
 */

/** An HTTP status, or what happened when no answer came. */
export type CallOutcome = number | 'timeout' | 'network';

export interface EndpointCount {
  /** The operation, e.g. `GET /v2/droplets`. */
  endpoint: string;
  outcome: CallOutcome;
  count: number;
}

/** Totals since the provider was made. */
export interface CallCounts {
  /** Requests sent (attempts, retries included). */
  requests: number;
  /** Of those, answered 429. */
  rateLimited: number;
  /** Resends after a failure (429 or transient). */
  retries: number;
  /** Per endpoint and outcome, sorted by endpoint then outcome. */
  byEndpoint: EndpointCount[];
}

/** A mutable tally; `snapshot()` copies it. */
export class CallCounter {
  private readonly counts = new Map<string, EndpointCount>();
  private requests = 0;
  private rateLimited = 0;
  private retries = 0;

  record(endpoint: string, outcome: CallOutcome): void {
    this.requests += 1;
    if (outcome === 429) this.rateLimited += 1;
    const key = `${endpoint}\u0000${outcome}`;
    const entry = this.counts.get(key);
    if (entry) entry.count += 1;
    else this.counts.set(key, { endpoint, outcome, count: 1 });
  }

  retried(): void {
    this.retries += 1;
  }

  snapshot(): CallCounts {
    const byEndpoint = [...this.counts.values()]
      .map((e) => ({ ...e }))
      .sort((a, b) => a.endpoint.localeCompare(b.endpoint) || String(a.outcome).localeCompare(String(b.outcome)));
    return { requests: this.requests, rateLimited: this.rateLimited, retries: this.retries, byEndpoint };
  }
}
