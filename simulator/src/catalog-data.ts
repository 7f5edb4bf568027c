/**
 * The fixed catalog the simulator offers: regions, sizes (with DigitalOcean's list prices)
 * and distribution images. Slugs are real DigitalOcean slugs, so a controller configured
 * for the real cloud (e.g. `nyc3`, `s-1vcpu-1gb`, `ubuntu-24-04-x64`) works unchanged.
 */

export interface RegionData {
  readonly slug: string;
  readonly name: string;
  readonly available: boolean;
}

export interface SizeData {
  readonly slug: string;
  readonly memory: number;
  readonly vcpus: number;
  readonly disk: number;
  /** Transfer allowance in TiB per month. */
  readonly transfer: number;
  readonly priceMonthly: number;
  readonly description: string;
}

export interface ImageData {
  readonly id: number;
  readonly slug: string;
  readonly name: string;
  readonly distribution: string;
  readonly minDiskSize: number;
  readonly sizeGigabytes: number;
  readonly createdAt: string;
}

/** Regions (only slugs the OpenAPI document's image-region enum knows). */
export const REGIONS: readonly RegionData[] = [
  { slug: 'nyc1', name: 'New York 1', available: true },
  { slug: 'nyc3', name: 'New York 3', available: true },
  { slug: 'sfo2', name: 'San Francisco 2', available: true },
  { slug: 'sfo3', name: 'San Francisco 3', available: true },
  { slug: 'ams3', name: 'Amsterdam 3', available: true },
  { slug: 'sgp1', name: 'Singapore 1', available: true },
  { slug: 'lon1', name: 'London 1', available: true },
  { slug: 'fra1', name: 'Frankfurt 1', available: true },
  { slug: 'tor1', name: 'Toronto 1', available: true },
  { slug: 'blr1', name: 'Bangalore 1', available: true },
  { slug: 'syd1', name: 'Sydney 1', available: true },
  // Listed but closed to new droplets, as DigitalOcean lists retired regions.
  { slug: 'nyc2', name: 'New York 2', available: false },
];

/** Basic droplet sizes at DigitalOcean's list prices (USD). */
export const SIZES: readonly SizeData[] = [
  { slug: 's-1vcpu-512mb-10gb', memory: 512, vcpus: 1, disk: 10, transfer: 0.5, priceMonthly: 4, description: 'Basic' },
  { slug: 's-1vcpu-1gb', memory: 1024, vcpus: 1, disk: 25, transfer: 1, priceMonthly: 6, description: 'Basic' },
  { slug: 's-1vcpu-2gb', memory: 2048, vcpus: 1, disk: 50, transfer: 2, priceMonthly: 12, description: 'Basic' },
  { slug: 's-2vcpu-2gb', memory: 2048, vcpus: 2, disk: 60, transfer: 3, priceMonthly: 18, description: 'Basic' },
  { slug: 's-2vcpu-4gb', memory: 4096, vcpus: 2, disk: 80, transfer: 4, priceMonthly: 24, description: 'Basic' },
  { slug: 's-4vcpu-8gb', memory: 8192, vcpus: 4, disk: 160, transfer: 5, priceMonthly: 48, description: 'Basic' },
  { slug: 's-8vcpu-16gb', memory: 16384, vcpus: 8, disk: 320, transfer: 6, priceMonthly: 96, description: 'Basic' },
];

/** DigitalOcean bills at most 672 hours a month, so the hourly price is monthly / 672. */
export const HOURS_PER_MONTH = 672;

/** Distribution images. */
const RELEASED = '2025-01-15T10:00:00Z';

export const IMAGES: readonly ImageData[] = [
  { id: 171520001, slug: 'ubuntu-24-04-x64', name: '24.04 (LTS) x64', distribution: 'Ubuntu', minDiskSize: 7, sizeGigabytes: 2.62, createdAt: RELEASED },
  { id: 171520002, slug: 'ubuntu-22-04-x64', name: '22.04 (LTS) x64', distribution: 'Ubuntu', minDiskSize: 7, sizeGigabytes: 2.37, createdAt: RELEASED },
  { id: 171520003, slug: 'debian-12-x64', name: '12 x64', distribution: 'Debian', minDiskSize: 7, sizeGigabytes: 0.98, createdAt: RELEASED },
  { id: 171520004, slug: 'debian-11-x64', name: '11 x64', distribution: 'Debian', minDiskSize: 7, sizeGigabytes: 0.91, createdAt: RELEASED },
  { id: 171520005, slug: 'fedora-42-x64', name: '42 x64', distribution: 'Fedora', minDiskSize: 7, sizeGigabytes: 1.4, createdAt: RELEASED },
  { id: 171520006, slug: 'rockylinux-9-x64', name: '9 x64', distribution: 'Rocky Linux', minDiskSize: 10, sizeGigabytes: 1.21, createdAt: RELEASED },
];

/** Features every simulated region offers. */
export const REGION_FEATURES = ['backups', 'ipv6', 'metadata', 'install_agent', 'storage', 'image_transfer'];

export const findRegion = (slug: string): RegionData | undefined => REGIONS.find((r) => r.slug === slug);
export const findSize = (slug: string): SizeData | undefined => SIZES.find((s) => s.slug === slug);

/** An image by slug or numeric id (DigitalOcean accepts both wherever an image is named). */
export function findImage(ref: string | number): ImageData | undefined {
  const asNumber = typeof ref === 'number' ? ref : /^\d+$/.test(ref) ? Number(ref) : undefined;
  return IMAGES.find((i) => (asNumber !== undefined ? i.id === asNumber : i.slug === ref));
}
