/**
 * Records → DigitalOcean's JSON shapes (as the OpenAPI document describes them).
 */
import {
  findImage,
  findRegion,
  findSize,
  HOURS_PER_MONTH,
  type ImageData,
  REGION_FEATURES,
  REGIONS,
  type RegionData,
  SIZES,
  type SizeData,
} from './catalog-data.ts';
import type { FirewallRecord } from './firewall-store.ts';
import type { ActionRecord, DropletRecord } from './model.ts';
import type { SimState } from './state.ts';

/** DigitalOcean's timestamps: ISO 8601 in UTC without milliseconds. */
export const isoTime = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

const availableRegionSlugs = () => REGIONS.filter((r) => r.available).map((r) => r.slug);

/**
 * Catalog entries never change, so each is rendered once and shared (answers are serialised
 * at once and never mutated). This keeps a 200-droplet page cheap.
 */
function memo<T extends { slug: string }>(render: (item: T) => Record<string, unknown>) {
  const cache = new Map<string, Record<string, unknown>>();
  return (item: T) => {
    let rendered = cache.get(item.slug);
    if (!rendered) {
      rendered = render(item);
      cache.set(item.slug, rendered);
    }
    return rendered;
  };
}

export const renderRegion = memo((region: RegionData): Record<string, unknown> => ({
    name: region.name,
    slug: region.slug,
    features: REGION_FEATURES,
    available: region.available,
    sizes: region.available ? SIZES.map((s) => s.slug) : [],
}));

export const renderSize = memo((size: SizeData): Record<string, unknown> => ({
    slug: size.slug,
    memory: size.memory,
    vcpus: size.vcpus,
    disk: size.disk,
    transfer: size.transfer,
    price_monthly: size.priceMonthly,
    price_hourly: Number((size.priceMonthly / HOURS_PER_MONTH).toFixed(5)),
    regions: availableRegionSlugs(),
    available: true,
    description: size.description,
    disk_info: [{ type: 'local', size: { amount: size.disk, unit: 'gib' } }],
}));

export const renderImage = memo((image: ImageData): Record<string, unknown> => ({
    id: image.id,
    name: image.name,
    distribution: image.distribution,
    slug: image.slug,
    public: true,
    regions: availableRegionSlugs(),
    created_at: image.createdAt,
    type: 'base',
    min_disk_size: image.minDiskSize,
    size_gigabytes: image.sizeGigabytes,
    description: `${image.distribution} ${image.name}`,
    tags: [],
    status: 'available',
    error_message: '',
}));

function renderNetworks(droplet: DropletRecord): Record<string, unknown> {
  // Like DigitalOcean, addresses appear once the droplet is provisioned, not in the create answer.
  if (droplet.status === 'new') return { v4: [], v6: [] };
  const gateway = droplet.publicIp.replace(/\.\d+$/, '.1');
  return {
    v4: [
      { ip_address: droplet.privateIp, netmask: '255.255.0.0', gateway: 'nil', type: 'private' },
      { ip_address: droplet.publicIp, netmask: '255.255.255.0', gateway, type: 'public' },
    ],
    v6: droplet.ipv6 ? [{ ip_address: droplet.ipv6, netmask: 64, gateway: '2001:db8::1', type: 'public' }] : [],
  };
}

export function renderDroplet(droplet: DropletRecord): Record<string, unknown> {
  const size = findSize(droplet.size)!;
  const image = findImage(droplet.image)!;
  return {
    id: droplet.id,
    name: droplet.name,
    memory: size.memory,
    vcpus: size.vcpus,
    disk: size.disk,
    disk_info: [{ type: 'local', size: { amount: size.disk, unit: 'gib' } }],
    locked: droplet.pendingActionId !== undefined,
    status: droplet.status,
    kernel: null,
    created_at: isoTime(droplet.createdAt),
    features: [...droplet.features],
    backup_ids: [],
    next_backup_window: null,
    snapshot_ids: [],
    image: renderImage(image),
    volume_ids: [],
    size: renderSize(size),
    size_slug: size.slug,
    networks: renderNetworks(droplet),
    region: renderRegion(findRegion(droplet.region)!),
    tags: [...droplet.tags],
    vpc_uuid: droplet.vpcUuid,
  };
}

export function renderAction(action: ActionRecord): Record<string, unknown> {
  return {
    id: action.id,
    status: action.status,
    type: action.type,
    started_at: isoTime(action.startedAt),
    completed_at: action.completedAt === undefined ? null : isoTime(action.completedAt),
    resource_id: action.dropletId,
    resource_type: 'droplet',
    region: renderRegion(findRegion(action.region)!),
    region_slug: action.region,
  };
}

export function renderTag(state: SimState, name: string, baseUrl: string): Record<string, unknown> {
  const count = state.tags.count(name);
  const last = state.tags.lastTagged(name);
  const droplets = last === undefined ? { count } : { count, last_tagged_uri: `${baseUrl}/droplets/${last}` };
  return {
    name,
    resources: {
      ...droplets,
      droplets,
      images: { count: 0 },
      volumes: { count: 0 },
      volume_snapshots: { count: 0 },
      databases: { count: 0 },
    },
  };
}

export function renderFirewall(firewall: FirewallRecord): Record<string, unknown> {
  return {
    id: firewall.id,
    name: firewall.name,
    status: 'succeeded',
    created_at: isoTime(firewall.createdAt),
    pending_changes: [],
    droplet_ids: [...firewall.dropletIds],
    tags: [...firewall.tags],
    inbound_rules: firewall.inboundRules,
    outbound_rules: firewall.outboundRules,
  };
}
