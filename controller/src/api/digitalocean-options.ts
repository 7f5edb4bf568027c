/**
 * DigitalOcean's regions and sizes (with prices) for the console's pickers and the price
 * shown before switching an environment on, cached for `ttlMs` (default 10 minutes): the
 * lists change rarely, and each read would otherwise spend the account's API budget.
 * The provider is bound once the lifecycle exists; without one (the loop switched off)
 * there is nothing to offer.
 */
import type { Provider, Region, Size } from '@toolbelt/reconcilers';
import type { Clock } from '@toolbelt/schema';

export interface DigitalOceanOffer {
  regions: Region[];
  sizes: Size[];
  fetchedAt: Date;
}

/** Monthly and hourly price (USD) of a size. */
export interface Price {
  monthly: number;
  hourly: number;
  currency: 'USD';
}

export class DigitalOceanOptions {
  #provider: Pick<Provider, 'listRegions' | 'listSizes'> | undefined;
  #cached: DigitalOceanOffer | undefined;
  #loading: Promise<DigitalOceanOffer> | undefined;

  constructor(private readonly deps: { clock: Clock; ttlMs?: number }) {}

  /** Gives it the DigitalOcean provider (the lifecycle's, or the embedded simulator's). */
  bind(provider: Pick<Provider, 'listRegions' | 'listSizes'>): void {
    this.#provider = provider;
  }

  get available(): boolean {
    return this.#provider !== undefined;
  }

  /** The cached lists, fetched again when older than the TTL; concurrent callers share one fetch. */
  async offer(): Promise<DigitalOceanOffer | undefined> {
    if (!this.#provider) return undefined;
    const fresh = this.#cached && this.deps.clock.now() - this.#cached.fetchedAt.getTime() < (this.deps.ttlMs ?? 600_000);
    if (fresh) return this.#cached;
    this.#loading ??= this.#load(this.#provider).finally(() => (this.#loading = undefined));
    return this.#loading;
  }

  /** The price of a size, or null when DigitalOcean does not list it (or nothing is bound). */
  async priceOf(sizeSlug: string): Promise<Price | null> {
    const offer = await this.offer().catch(() => undefined);
    const size = offer?.sizes.find((s) => s.slug === sizeSlug);
    return size ? { monthly: size.priceMonthly, hourly: size.priceHourly, currency: 'USD' } : null;
  }

  async #load(provider: Pick<Provider, 'listRegions' | 'listSizes'>): Promise<DigitalOceanOffer> {
    const [regions, sizes] = await Promise.all([provider.listRegions(), provider.listSizes()]);
    this.#cached = { regions, sizes, fetchedAt: new Date(this.deps.clock.now()) };
    return this.#cached;
  }
}
