/**
 * The DigitalOcean provider: `createProvider(options)` and everything its callers need to
 * read its answers (types, identity helpers, errors, budget, config parsing).
 */
export { createProvider, type Provider, type ProviderOptions } from './provider.ts';
export {
  DEFAULT_FLEET_TAG,
  dropletNameFor,
  dropletNameProblem,
  identityOf,
  identityTagsFor,
  indexFleet,
  rowTagFor,
  tagProblem,
} from './identity.ts';
export {
  ProviderError,
  type ProviderErrorKind,
  classifyFailure,
  isProviderError,
  mayHaveActed,
  providerErrorCode,
} from './errors.ts';
export {
  type BudgetSnapshot,
  DEFAULT_BUDGET_FRACTION,
  DIGITALOCEAN_RATE_LIMITS,
  RateBudget,
  type RateLimits,
  type WindowSnapshot,
} from './budget.ts';
export { DIGITALOCEAN_API_URL, type ProviderConfig, normalizeApiUrl, providerConfigFromEnv, providerEnvSchema } from './config.ts';
export { type CallOptions, FLEET_PAGE_SIZE, MAX_DROPLETS_PER_CREATE, MAX_USER_DATA_BYTES } from './droplets.ts';
export type { EnsureFirewallResult, Firewall, FirewallSpec, FirewallTargets, InboundRule, OutboundRule } from './firewall.ts';
export { type Offer, type SpecProblem, checkDropletSpec, costOf } from './catalog.ts';
export type { CallCounts, CallOutcome, EndpointCount } from './stats.ts';
export type { ProviderLogger } from './transport.ts';
export {
  type Account,
  type Droplet,
  type DropletAction,
  type DropletSpec,
  DROPLET_STATUSES,
  type DropletStatus,
  type Image,
  POWER_ACTIONS,
  type PowerAction,
  type Region,
  type SharedDropletSpec,
  type Size,
} from './types.ts';
