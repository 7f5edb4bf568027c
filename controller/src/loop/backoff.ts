/**
 * Per-key exponential backoff with jitter: `base · factor^(failures−1)`, capped at `maxMs`,
 * then jittered so that keys failing together do not retry together.
 */
import { ToolbeltError } from '@toolbelt/schema';

export type Jitter = 'equal' | 'full' | 'none';

export interface BackoffOptions {
  /** Delay after the first failure, before jitter (default 1 s). */
  baseMs: number;
  /** Cap on the delay before jitter (default 5 min). */
  maxMs: number;
  /** Growth per failure (default 2). */
  factor: number;
  /**
   * `equal` (default): uniform in [d/2, d] — spread out, yet still growing; `full`: uniform
   * in [0, d]; `none`: exactly d.
   */
  jitter: Jitter;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1_000, maxMs: 300_000, factor: 2, jitter: 'equal' };

/** Fills in defaults and refuses nonsense (a clear error at construction, not odd delays later). */
export function backoffOptions(options: Partial<BackoffOptions> = {}): BackoffOptions {
  const merged = { ...DEFAULT_BACKOFF, ...options };
  const { baseMs, maxMs, factor } = merged;
  if (!(baseMs > 0) || !(maxMs >= baseMs) || !(factor >= 1)) {
    throw new ToolbeltError(
      'BACKOFF_INVALID',
      `backoff needs 0 < baseMs ≤ maxMs and factor ≥ 1, got baseMs=${baseMs} maxMs=${maxMs} factor=${factor}`,
    );
  }
  return merged;
}

/** The un-jittered delay after `failures` consecutive failures (1 → baseMs). */
export function backoffCeiling(failures: number, options: BackoffOptions): number {
  const exponent = Math.max(0, failures - 1);
  // Past the cap the power would only overflow; stop computing it there.
  if (exponent > 60) return options.maxMs;
  return Math.min(options.maxMs, options.baseMs * options.factor ** exponent);
}

/** The jittered delay to wait after `failures` consecutive failures. */
export function backoffDelay(failures: number, options: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = backoffCeiling(failures, options);
  switch (options.jitter) {
    case 'none':
      return ceiling;
    case 'full':
      return Math.round(random() * ceiling);
    case 'equal':
      return Math.round(ceiling / 2 + (random() * ceiling) / 2);
  }
}
