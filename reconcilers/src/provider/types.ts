/**
 * The provider's own types: what reconcilers see of DigitalOcean, normalised from the API's
 * JSON (which nests region/size/image objects and varies between endpoints) into flat,
 * stable shapes. `to*` functions are pure and tolerant of missing optional fields.
 */

/** DigitalOcean droplet states. */
export const DROPLET_STATUSES = ['new', 'active', 'off', 'archive'] as const;
export type DropletStatus = (typeof DROPLET_STATUSES)[number];

/** A droplet as observed. */
export interface Droplet {
  id: number;
  name: string;
  status: DropletStatus;
  /** True while an action runs on it; actions on a locked droplet are refused. */
  locked: boolean;
  tags: string[];
  /** Region slug, e.g. `nyc3`. */
  region: string;
  /** Size slug, e.g. `s-1vcpu-1gb`. */
  size: string;
  /** Image slug, or its id when it has no slug. */
  image: string;
  /** ISO 8601. */
  createdAt: string;
  publicIpv4: string | undefined;
  privateIpv4: string | undefined;
}

/** What a new droplet should be. Names and tags come from identity.ts. */
export interface DropletSpec {
  name: string;
  region: string;
  size: string;
  /** Image slug or id. */
  image: string | number;
  tags?: string[];
  /** cloud-init document, at most 64 KiB; readable from the droplet's metadata service. */
  userData?: string;
  sshKeys?: (string | number)[];
  vpcUuid?: string;
  ipv6?: boolean;
  monitoring?: boolean;
}

/** Everything of a multi-create that all its droplets share: all but the name. */
export type SharedDropletSpec = Omit<DropletSpec, 'name'>;

/** Power actions; see retry.ts for which are resent after a lost answer. */
export const POWER_ACTIONS = ['power_on', 'power_off', 'shutdown', 'power_cycle', 'reboot'] as const;
export type PowerAction = (typeof POWER_ACTIONS)[number];

/** An action DigitalOcean accepted. */
export interface DropletAction {
  id: number;
  type: string;
  status: 'in-progress' | 'completed' | 'errored';
  resourceId: number | undefined;
}

export interface Size {
  slug: string;
  memoryMb: number;
  vcpus: number;
  diskGb: number;
  priceMonthly: number;
  priceHourly: number;
  regions: string[];
  available: boolean;
  description: string;
}

export interface Region {
  slug: string;
  name: string;
  available: boolean;
  sizes: string[];
  features: string[];
}

export interface Image {
  id: number;
  slug: string | undefined;
  name: string;
  distribution: string;
  regions: string[];
  status: string;
}

export interface Account {
  dropletLimit: number;
  status: string;
  uuid: string;
}

type Json = Record<string, unknown>;

const obj = (v: unknown): Json => (v && typeof v === 'object' ? (v as Json) : {});
const str = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : fallback);
const num = (v: unknown, fallback = 0): number => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

function slugOf(v: unknown): string {
  if (typeof v === 'string') return v;
  const o = obj(v);
  if (typeof o.slug === 'string' && o.slug) return o.slug;
  return o.id === undefined ? '' : String(o.id);
}

function ipv4Of(networks: unknown, type: 'public' | 'private'): string | undefined {
  const v4 = obj(networks).v4;
  if (!Array.isArray(v4)) return undefined;
  const found = v4.map(obj).find((n) => n.type === type && typeof n.ip_address === 'string');
  return found ? (found.ip_address as string) : undefined;
}

function statusOf(v: unknown): DropletStatus {
  return (DROPLET_STATUSES as readonly string[]).includes(v as string) ? (v as DropletStatus) : 'new';
}

/** A droplet from DigitalOcean's JSON. */
export function toDroplet(raw: unknown): Droplet {
  const d = obj(raw);
  return {
    id: num(d.id),
    name: str(d.name),
    status: statusOf(d.status),
    locked: d.locked === true,
    tags: strings(d.tags),
    region: slugOf(d.region),
    size: str(d.size_slug) || slugOf(d.size),
    image: slugOf(d.image),
    createdAt: str(d.created_at),
    publicIpv4: ipv4Of(d.networks, 'public'),
    privateIpv4: ipv4Of(d.networks, 'private'),
  };
}

/** An action from DigitalOcean's JSON. */
export function toAction(raw: unknown): DropletAction {
  const a = obj(raw);
  const status = a.status === 'completed' || a.status === 'errored' ? a.status : 'in-progress';
  return { id: num(a.id), type: str(a.type), status, resourceId: typeof a.resource_id === 'number' ? a.resource_id : undefined };
}

export function toSize(raw: unknown): Size {
  const s = obj(raw);
  return {
    slug: str(s.slug),
    memoryMb: num(s.memory),
    vcpus: num(s.vcpus),
    diskGb: num(s.disk),
    priceMonthly: num(s.price_monthly),
    priceHourly: num(s.price_hourly),
    regions: strings(s.regions),
    available: s.available !== false,
    description: str(s.description),
  };
}

export function toRegion(raw: unknown): Region {
  const r = obj(raw);
  return { slug: str(r.slug), name: str(r.name), available: r.available !== false, sizes: strings(r.sizes), features: strings(r.features) };
}

export function toImage(raw: unknown): Image {
  const i = obj(raw);
  return {
    id: num(i.id),
    slug: typeof i.slug === 'string' && i.slug ? i.slug : undefined,
    name: str(i.name),
    distribution: str(i.distribution),
    regions: strings(i.regions),
    status: str(i.status, 'available'),
  };
}

export function toAccount(raw: unknown): Account {
  const a = obj(raw);
  return { dropletLimit: num(a.droplet_limit), status: str(a.status), uuid: str(a.uuid) };
}
