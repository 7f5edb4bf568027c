/**
 * The simulator's options, their defaults, and the checks that refuse bad combinations at
 * start with a clear error (ToolbeltError `SIMULATOR_BAD_OPTION`).
 */
import { randomBytes } from 'node:crypto';
import { type Clock, systemClock } from '@toolbelt/schema/clock';
import { ToolbeltError } from '@toolbelt/schema/errors';
import { checkFaultRule, type FaultRule } from './faults.ts';
import type { SimulatorHooks } from './hooks.ts';
import type { DelaySpec } from './random.ts';
import { DIGITALOCEAN_RATE_LIMITS, type RateLimits } from './ratelimit.ts';

export interface SimulatorOptions extends SimulatorHooks {
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** Port to listen on; default 0 (any free port). */
  port?: number;
  /** The bearer token the API accepts; default a random `dop_v1_sim_…` token. */
  token?: string;
  /** Further tokens the API accepts (each has its own rate-limit windows). */
  extraTokens?: readonly string[];
  /** Simulated time; default the system clock. Boots, actions, delays and rate windows use it. */
  clock?: Clock;
  /** From create to `active`, in simulated ms; default { minMs: 2000, maxMs: 4000 }. */
  bootDelayMs?: DelaySpec;
  /** How long a droplet action runs, in simulated ms; default { minMs: 1000, maxMs: 3000 }. */
  actionDurationMs?: DelaySpec;
  /** Per-token limits; default DigitalOcean's 5,000/hour and 250/minute; false turns them off. */
  rateLimit?: RateLimits | false;
  /**
   * The account's droplet limit; default 25,000 (a raised limit: enough for the 10,000-droplet
   * fleet the benchmarks simulate; real accounts start at a handful).
   */
  dropletLimit?: number;
  /** Fault rules active from the start. */
  faults?: readonly FaultRule[];
  /** Seed for boot delays, action durations, fault rates and UUIDs (deterministic runs). */
  seed?: number;
}

export const DEFAULT_BOOT_DELAY_MS: DelaySpec = { minMs: 2000, maxMs: 4000 };
export const DEFAULT_ACTION_DURATION_MS: DelaySpec = { minMs: 1000, maxMs: 3000 };
export const DEFAULT_DROPLET_LIMIT = 25_000;

export interface ResolvedOptions extends SimulatorHooks {
  readonly host: string;
  readonly port: number;
  readonly token: string;
  readonly tokens: ReadonlySet<string>;
  readonly clock: Clock;
  readonly bootDelayMs: DelaySpec;
  readonly actionDurationMs: DelaySpec;
  readonly rateLimit: RateLimits | false;
  readonly dropletLimit: number;
  readonly faults: readonly FaultRule[];
  readonly seed: number | undefined;
}

function bad(message: string, hint: string): ToolbeltError {
  return new ToolbeltError('SIMULATOR_BAD_OPTION', message, { hint });
}

function checkDelay(name: string, spec: DelaySpec): DelaySpec {
  const ok =
    typeof spec === 'number'
      ? Number.isFinite(spec) && spec >= 0
      : Number.isFinite(spec?.minMs) && Number.isFinite(spec?.maxMs) && spec.minMs >= 0 && spec.maxMs >= spec.minMs;
  if (!ok) throw bad(`${name} is not a valid delay: ${JSON.stringify(spec)}`, 'give ms ≥ 0, or { minMs, maxMs } with 0 ≤ minMs ≤ maxMs');
  return spec;
}

function checkRateLimit(limits: RateLimits | false): RateLimits | false {
  if (limits === false) return false;
  const { perHour, perMinute } = limits;
  if (!(Number.isInteger(perHour) && Number.isInteger(perMinute) && perMinute >= 1 && perHour >= perMinute)) {
    throw bad(`rateLimit is not valid: ${JSON.stringify(limits)}`, 'give whole numbers with 1 ≤ perMinute ≤ perHour, or false');
  }
  return limits;
}

function checkToken(token: string): string {
  if (!/^[\x21-\x7e]{8,}$/.test(token)) {
    throw bad('token must be at least 8 printable characters without spaces', 'pass a token such as dop_v1_sim_…, or omit it for a random one');
  }
  return token;
}

function checkFaults(faults: readonly FaultRule[]): readonly FaultRule[] {
  faults.forEach((rule, i) => {
    try {
      checkFaultRule(rule);
    } catch (error) {
      throw bad(`faults[${i}]: ${(error as Error).message}`, 'see FaultRule in simulator/src/faults.ts');
    }
  });
  return faults;
}

function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw bad(`port must be 0..65535, got ${port}`, 'use 0 for any free port');
  return port;
}

function checkDropletLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 0) throw bad(`dropletLimit must be a whole number ≥ 0, got ${limit}`, 'e.g. 25000');
  return limit;
}

/** Fills in defaults and checks everything; throws ToolbeltError on the first bad option. */
export function resolveOptions(options: SimulatorOptions = {}): ResolvedOptions {
  const defaults = {
    host: '127.0.0.1',
    port: 0,
    token: `dop_v1_sim_${randomBytes(24).toString('hex')}`,
    extraTokens: [] as readonly string[],
    clock: systemClock,
    bootDelayMs: DEFAULT_BOOT_DELAY_MS,
    actionDurationMs: DEFAULT_ACTION_DURATION_MS,
    rateLimit: DIGITALOCEAN_RATE_LIMITS,
    dropletLimit: DEFAULT_DROPLET_LIMIT,
    faults: [] as readonly FaultRule[],
  };
  const o = { ...defaults, ...withoutUndefined(options) };
  const token = checkToken(o.token);
  return {
    host: o.host,
    port: checkPort(o.port),
    token,
    tokens: new Set([token, ...o.extraTokens.map(checkToken)]),
    clock: o.clock,
    bootDelayMs: checkDelay('bootDelayMs', o.bootDelayMs),
    actionDurationMs: checkDelay('actionDurationMs', o.actionDurationMs),
    rateLimit: checkRateLimit(o.rateLimit),
    dropletLimit: checkDropletLimit(o.dropletLimit),
    faults: checkFaults(o.faults),
    seed: o.seed,
    onBoot: o.onBoot,
    onDelete: o.onDelete,
    onStatusChange: o.onStatusChange,
    onRestart: o.onRestart,
    publicIpv4: o.publicIpv4,
  };
}

/** Options given as `undefined` take their defaults. */
function withoutUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}
