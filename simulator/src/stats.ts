/**
 * What the simulator answered, counted by `METHOD path-template outcome` (e.g.
 * `GET /v2/droplets 200`, `POST /v2/droplets lost`), so tests and benchmarks can count the
 * API calls a controller made. Outcomes without a status: `dropped`, `timeout`, `lost`.
 */

export type Outcome = number | 'dropped' | 'timeout' | 'lost';

export class SimulatorStats {
  #requests = new Map<string, number>();
  #total = 0;
  #rateLimited = 0;

  /** Counts by `METHOD path-template outcome` (a copy). */
  get requests(): Record<string, number> {
    return Object.fromEntries(this.#requests);
  }

  /** Every request received, whatever became of it. */
  get total(): number {
    return this.#total;
  }

  /** Requests answered 429 (by the rate limiter or an injected 429). */
  get rateLimited(): number {
    return this.#rateLimited;
  }

  /** How many requests matched `method` and `template` (either may be omitted), any outcome. */
  calls(method?: string, template?: string): number {
    let sum = 0;
    for (const [key, n] of this.#requests) {
      const [m, t] = key.split(' ');
      if ((method === undefined || m === method) && (template === undefined || t === template)) sum += n;
    }
    return sum;
  }

  /** Starts counting afresh. */
  reset(): void {
    this.#requests.clear();
    this.#total = 0;
    this.#rateLimited = 0;
  }

  record(method: string, template: string, outcome: Outcome): void {
    const key = `${method} ${template} ${outcome}`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    this.#total += 1;
    if (outcome === 429) this.#rateLimited += 1;
  }
}
