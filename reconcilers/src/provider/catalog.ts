/**
 * What DigitalOcean offers — sizes, regions, images, the account's limits — for validating
 * an environment's spec before any create, and for showing its cost.
 */
import type { CallOptions, ProviderContext } from './droplets.ts';
import { listIn } from './errors.ts';
import type { DotsAnswer } from './transport.ts';
import { type Account, type DropletSpec, type Image, type Region, type Size, toAccount, toImage, toRegion, toSize } from './types.ts';

interface Paged {
  links?: { pages?: { next?: string } };
}

async function allPages<R extends Paged, T>(
  ctx: ProviderContext,
  request: { endpoint: string; signal: AbortSignal | undefined; send: (page: number) => Promise<DotsAnswer<R>> },
  items: (answer: DotsAnswer<R>) => T[],
): Promise<T[]> {
  const out: T[] = [];
  for (let page = 1; ; page += 1) {
    const answer = await ctx.transport.call({
      endpoint: request.endpoint,
      safety: 'idempotent',
      signal: request.signal,
      send: () => request.send(page),
    });
    out.push(...items(answer));
    if (!answer.data.links?.pages?.next) return out;
  }
}

export function listSizes(ctx: ProviderContext, options: CallOptions = {}): Promise<Size[]> {
  return allPages(
    ctx,
    { endpoint: 'GET /v2/sizes', signal: options.signal, send: (page) => ctx.client.size.listSizes({ page, per_page: 200 }) },
    (answer) => listIn<unknown>(answer, 'sizes', 'GET /v2/sizes').map(toSize),
  );
}

export function listRegions(ctx: ProviderContext, options: CallOptions = {}): Promise<Region[]> {
  return allPages(
    ctx,
    { endpoint: 'GET /v2/regions', signal: options.signal, send: (page) => ctx.client.region.listRegions({ page, per_page: 200 }) },
    (answer) => listIn<unknown>(answer, 'regions', 'GET /v2/regions').map(toRegion),
  );
}

/** Images; `type: 'distribution'` (the default) lists the public OS images. */
export function listImages(
  ctx: ProviderContext,
  filter: { type?: 'distribution' | 'application' } = {},
  options: CallOptions = {},
): Promise<Image[]> {
  const type = filter.type ?? 'distribution';
  return allPages(
    ctx,
    { endpoint: 'GET /v2/images', signal: options.signal, send: (page) => ctx.client.image.listImages({ page, per_page: 200, type }) },
    (answer) => listIn<unknown>(answer, 'images', 'GET /v2/images').map(toImage),
  );
}

export async function getAccount(ctx: ProviderContext, options: CallOptions = {}): Promise<Account> {
  const answer = await ctx.transport.call({
    endpoint: 'GET /v2/account',
    safety: 'idempotent',
    signal: options.signal,
    send: () => ctx.client.account.getAccount(),
  });
  return toAccount(answer.data?.account);
}

/** What DigitalOcean offers, as listed. */
export interface Offer {
  sizes: readonly Size[];
  regions: readonly Region[];
  images: readonly Image[];
}

/** One thing wrong with a spec: the field and what to do. */
export interface SpecProblem {
  field: 'region' | 'size' | 'image';
  message: string;
}

function imageProblem(spec: Pick<DropletSpec, 'region' | 'image'>, offer: Offer): SpecProblem | undefined {
  const image = offer.images.find((i) => i.slug === spec.image || i.id === Number(spec.image));
  if (!image) return { field: 'image', message: `image "${spec.image}" is not offered; pick one of the listed images` };
  if (image.regions.length > 0 && !image.regions.includes(spec.region)) {
    return { field: 'image', message: `image "${spec.image}" is not available in ${spec.region}` };
  }
  return undefined;
}

/**
 * Checks region, size and image against what DigitalOcean offers (pure): each must exist,
 * be available, and the size and image must be offered in the region. Empty when fine.
 */
export function checkDropletSpec(spec: Pick<DropletSpec, 'region' | 'size' | 'image'>, offer: Offer): SpecProblem[] {
  const problems: SpecProblem[] = [];
  const region = offer.regions.find((r) => r.slug === spec.region);
  const size = offer.sizes.find((s) => s.slug === spec.size);
  if (!region) problems.push({ field: 'region', message: `region "${spec.region}" does not exist; use a listed region slug such as nyc3` });
  else if (!region.available) problems.push({ field: 'region', message: `region "${spec.region}" takes no new droplets now` });
  if (!size) problems.push({ field: 'size', message: `size "${spec.size}" does not exist; use a listed size slug such as s-1vcpu-1gb` });
  else if (!size.available) problems.push({ field: 'size', message: `size "${spec.size}" is not available` });
  else if (region && !size.regions.includes(region.slug)) {
    problems.push({ field: 'size', message: `size "${spec.size}" is not offered in ${region.slug}` });
  }
  const image = imageProblem(spec, offer);
  if (image) problems.push(image);
  return problems;
}

/** Monthly and hourly price (USD) of a size, or undefined when the size is unknown. */
export function costOf(sizeSlug: string, sizes: readonly Size[]): { monthly: number; hourly: number } | undefined {
  const size = sizes.find((s) => s.slug === sizeSlug);
  return size ? { monthly: size.priceMonthly, hourly: size.priceHourly } : undefined;
}
