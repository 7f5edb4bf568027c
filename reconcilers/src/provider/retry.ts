/**
 * When to send a failed request again, and how long to wait first. Pure functions.
 *
 * - 429: always safe to resend (DigitalOcean did not act); the wait is the shared pause the
 *   budget sets from `retry-after` / the reset, not a backoff.
 * - 5xx, timeouts, resets: resent only for idempotent calls (reads, deletes, updates, tagging,
 *   power on/off), after an exponential backoff with full jitter. A call marked `once` (a
 *   create, a power cycle) is resent only when the request provably never reached
 *   DigitalOcean (connection refused); otherwise its error says `outcomeUnknown` and the
 *   caller must look (list by identity) before trying again.
 * - everything else (auth, validation, quota, not found, conflict): never resent.
 */
import type { ProviderErrorKind } from './errors.ts';

/** Whether a call may be sent twice without harm. */
export type CallSafety = 'idempotent' | 'once';

export interface RetryPolicy {
  /** Resends after the first attempt (default 5). */
  maxRetries: number;
  /** First backoff ceiling (default 250 ms); doubles on each retry. */
  baseDelayMs: number;
  /** Largest backoff ceiling (default 20 s). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxRetries: 5, baseDelayMs: 250, maxDelayMs: 20_000 };

/**
 * Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): a uniform delay in
 * [0, min(max, base·2^retry)), so that many clients that failed together spread out.
 * `retry` counts from 0 for the first resend.
 */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry));
  return Math.floor(random() * ceiling);
}

export type RetryDecision = { action: 'stop' } | { action: 'backoff' } | { action: 'wait_for_budget' };

/** What to do after a failed attempt. */
export function decideRetry(failure: {
  kind: ProviderErrorKind;
  mayHaveActed: boolean;
  safety: CallSafety;
  retriesSoFar: number;
  maxRetries: number;
}): RetryDecision {
  if (failure.retriesSoFar >= failure.maxRetries) return { action: 'stop' };
  if (failure.kind === 'rate_limited') return { action: 'wait_for_budget' };
  if (failure.kind !== 'transient') return { action: 'stop' };
  if (failure.safety === 'idempotent' || !failure.mayHaveActed) return { action: 'backoff' };
  return { action: 'stop' };
}
