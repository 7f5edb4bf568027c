/**
 * The DigitalOcean provider: typed operations over dots-wrapper with a shared request budget
 * (pacing under 80 % of both rate limits), retries that never repeat a create blindly, typed
 * errors and call counters. One provider per token; every caller shares its budget.
 */
import { type Clock, systemClock } from '@toolbelt/schema';
import { type BudgetSnapshot, type RateLimits, RateBudget } from './budget.ts';
import { type EnsureFirewallResult, type Firewall, type FirewallSpec, ensureFirewall, listFirewalls, tagResources } from './firewall.ts';
import { getAccount, listImages, listRegions, listSizes } from './catalog.ts';
import { normalizeApiUrl, DIGITALOCEAN_API_URL } from './config.ts';
import { type CallOptions, type ProviderContext, createDroplet, createDroplets, deleteDroplet, getDroplet, listFleet, powerAction } from './droplets.ts';
import { DEFAULT_RETRY_POLICY } from './retry.ts';
import { type CallCounts, CallCounter } from './stats.ts';
import { type ProviderLogger, createDotsClient, createTransport } from './transport.ts';
import type { Account, Droplet, DropletAction, DropletSpec, Image, PowerAction, Region, SharedDropletSpec, Size } from './types.ts';

export interface ProviderOptions {
  /** DigitalOcean personal access token. Never logged. */
  token: string;
  /** API base ending in `/v2` (default DigitalOcean's; the simulator's `url` for tests). */
  apiUrl?: string;
  /** Time for pacing and backoff (default the system clock). */
  clock?: Clock;
  /** Share of each rate limit the client allows itself, in (0, 1] (default 0.8). */
  budgetFraction?: number;
  /** Limits until the headers say otherwise (default 5,000/h, 250/min). */
  rateLimits?: Partial<RateLimits>;
  /** Real-time limit of one HTTP request (default 30 s). */
  requestTimeoutMs?: number;
  /** Resends after a retryable failure (default 5). */
  maxRetries?: number;
  /** First backoff ceiling (default 250 ms of clock time; doubles per retry, up to 20 s). */
  retryBaseDelayMs?: number;
  logger?: ProviderLogger;
  /** Jitter source (default Math.random); tests pass a fixed one. */
  random?: () => number;
}

/** Typed DigitalOcean operations. Every method takes an optional `{ signal }` last. */
export interface Provider {
  /** Every droplet with the tag, all pages of 200: one sweep of the fleet. */
  listFleet(tag: string, options?: CallOptions): Promise<Droplet[]>;
  /** One droplet; undefined when DigitalOcean answers 404. */
  getDroplet(id: number, options?: CallOptions): Promise<Droplet | undefined>;
  /** One droplet with its own tags and user_data. Sent once: see ProviderError.outcomeUnknown. */
  createDroplet(spec: DropletSpec, options?: CallOptions): Promise<Droplet>;
  /** Up to 10 droplets sharing everything but the name (user_data and tags too). Sent once. */
  createDroplets(names: readonly string[], shared: SharedDropletSpec, options?: CallOptions): Promise<Droplet[]>;
  /** `already_gone` when DigitalOcean answers 404. */
  deleteDroplet(id: number, options?: CallOptions): Promise<'deleted' | 'already_gone'>;
  powerAction(id: number, type: PowerAction, options?: CallOptions): Promise<DropletAction>;
  /** Tags droplets, creating the tag if DigitalOcean does not know it. */
  tagResources(tag: string, dropletIds: readonly number[], options?: CallOptions): Promise<void>;
  /** Makes the named firewall exist with exactly these rules and tags. */
  ensureFirewall(spec: FirewallSpec, options?: CallOptions): Promise<EnsureFirewallResult>;
  listFirewalls(options?: CallOptions): Promise<Firewall[]>;
  listSizes(options?: CallOptions): Promise<Size[]>;
  listRegions(options?: CallOptions): Promise<Region[]>;
  listImages(filter?: { type?: 'distribution' | 'application' }, options?: CallOptions): Promise<Image[]>;
  getAccount(options?: CallOptions): Promise<Account>;
  /** What the budget allows now (reconcilers size their batches with `allowedNow`). */
  budget(): BudgetSnapshot;
  /** Call counters per endpoint and outcome, and the budget. */
  stats(): CallCounts & { budget: BudgetSnapshot };
  /** Closes idle connections. Calls after close still work (they open new ones). */
  close(): void;
}

function checkOptions(options: ProviderOptions): { apiUrl: string } {
  if (typeof options.token !== 'string' || options.token.trim() === '') {
    throw new TypeError('createProvider: token is required (DIGITALOCEAN_TOKEN)');
  }
  for (const key of ['requestTimeoutMs', 'retryBaseDelayMs'] as const) {
    const value = options[key];
    if (value !== undefined && !(value > 0)) throw new RangeError(`createProvider: ${key} must be positive, got ${value}`);
  }
  if (options.maxRetries !== undefined && !(Number.isInteger(options.maxRetries) && options.maxRetries >= 0)) {
    throw new RangeError(`createProvider: maxRetries must be a whole number ≥ 0, got ${options.maxRetries}`);
  }
  try {
    return { apiUrl: normalizeApiUrl(options.apiUrl ?? DIGITALOCEAN_API_URL) };
  } catch (error) {
    throw new RangeError(`createProvider: apiUrl ${(error as Error).message}`, { cause: error });
  }
}

/** Makes a provider; rejects bad options at once with a message naming the option. */
export function createProvider(options: ProviderOptions): Provider {
  const { apiUrl } = checkOptions(options);
  const clock = options.clock ?? systemClock;
  const budget = new RateBudget({ clock, limits: options.rateLimits, fraction: options.budgetFraction });
  const counter = new CallCounter();
  const retry = {
    ...DEFAULT_RETRY_POLICY,
    ...(options.maxRetries !== undefined ? { maxRetries: options.maxRetries } : {}),
    ...(options.retryBaseDelayMs !== undefined ? { baseDelayMs: options.retryBaseDelayMs } : {}),
  };
  const transport = createTransport({ clock, budget, counter, retry, logger: options.logger, random: options.random });
  const dots = createDotsClient({ token: options.token, apiUrl, requestTimeoutMs: options.requestTimeoutMs ?? 30_000 });
  const ctx: ProviderContext = { client: dots.client, transport };
  return {
    listFleet: (tag, o) => listFleet(ctx, tag, o),
    getDroplet: (id, o) => getDroplet(ctx, id, o),
    createDroplet: (spec, o) => createDroplet(ctx, spec, o),
    createDroplets: (names, shared, o) => createDroplets(ctx, names, shared, o),
    deleteDroplet: (id, o) => deleteDroplet(ctx, id, o),
    powerAction: (id, type, o) => powerAction(ctx, id, type, o),
    tagResources: (tag, ids, o) => tagResources(ctx, tag, ids, o),
    ensureFirewall: (spec, o) => ensureFirewall(ctx, spec, o),
    listFirewalls: (o) => listFirewalls(ctx, o),
    listSizes: (o) => listSizes(ctx, o),
    listRegions: (o) => listRegions(ctx, o),
    listImages: (filter, o) => listImages(ctx, filter, o),
    getAccount: (o) => getAccount(ctx, o),
    budget: () => budget.snapshot(),
    stats: () => ({ ...counter.snapshot(), budget: budget.snapshot() }),
    close: () => dots.close(),
  };
}
