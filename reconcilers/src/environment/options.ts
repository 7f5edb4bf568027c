/**
 * The lifecycle's timings and switches, with the defaults an operator would expect. Every
 * duration is in clock milliseconds (simulated time under a scaled clock).
 */
import { ToolbeltError } from '@toolbelt/schema';

export interface LifecycleTimings {
  /**
   * Whether Ready waits for the droplet agent's hello and heartbeats (and a silent agent
   * leads to power cycle and replacement). Default true; off only where droplets run no
   * agent (a simulator without local droplets, lifecycle tests of the droplet alone).
   */
  agentRequired: boolean;
  /** From the droplet turning active to the agent's first hello (default 10 min). */
  helloGraceMs: number;
  /** Heartbeat silence after which the agent is Unreachable (default 90 s). */
  silenceGraceMs: number;
  /** After a power cycle that did not bring the agent back, replace the droplet (default 10 min). */
  replaceAfterMs: number;
  /** A droplet still `new` this long after its creation is replaced (default 15 min). */
  bootTimeoutMs: number;
  /** After the account's droplet limit refused a create, try again after (default 15 min). */
  quotaRetryMs: number;
  /**
   * How many times an environment whose droplets never bring up an agent (no hello at all) is
   * replaced before it stops in BootFailed (default 2: three droplets tried). A whole number;
   * 0 stops at the first such droplet.
   */
  bootRetries: number;
  /**
   * The wait before the droplet after the first boot failure is created, doubled for each
   * further one (default 5 min: then 10 min). Counted from the decision to replace.
   */
  bootRetryDelayMs: number;
}

export const DEFAULT_LIFECYCLE_TIMINGS: LifecycleTimings = {
  agentRequired: true,
  helloGraceMs: 10 * 60_000,
  silenceGraceMs: 90_000,
  replaceAfterMs: 10 * 60_000,
  bootTimeoutMs: 15 * 60_000,
  quotaRetryMs: 15 * 60_000,
  bootRetries: 2,
  bootRetryDelayMs: 5 * 60_000,
};

/**
 * Fills in defaults; a duration that is not a positive number, or a count that is not a whole
 * number, is refused with its name.
 */
export function resolveTimings(partial: Partial<LifecycleTimings> = {}): LifecycleTimings {
  const timings: LifecycleTimings = { ...DEFAULT_LIFECYCLE_TIMINGS, ...definedOnly(partial) };
  if (!(Number.isInteger(timings.bootRetries) && timings.bootRetries >= 0)) {
    throw new ToolbeltError('LIFECYCLE_OPTIONS_INVALID', `lifecycle setting bootRetries must be a whole number (0 or more), got ${String(timings.bootRetries)}`);
  }
  for (const [name, value] of Object.entries(timings)) {
    if (name === 'agentRequired' || name === 'bootRetries') continue;
    if (!(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
      throw new ToolbeltError('LIFECYCLE_OPTIONS_INVALID', `lifecycle timing ${name} must be a positive number of ms, got ${String(value)}`);
    }
  }
  return timings;
}

function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}
