/**
 * Droplet operations: the fleet sweep, get, create (one, or up to 10 sharing a spec),
 * delete, power actions.
 *
 * Creates are sent once (`safety: 'once'`): after a timeout, reset or 5xx the error says
 * `outcomeUnknown` and the caller must sweep the fleet and adopt by identity (identity.ts)
 * before creating again. A 429 or a refused connection is resent (DigitalOcean did not act).
 */
import { MAX_USER_DATA_BYTES } from '@toolbelt/schema/cloud-init';
import { invalidRequest, isProviderError, itemIn, listIn } from './errors.ts';
import { dropletNameProblem, tagProblem } from './identity.ts';
import type { DotsClient, Transport } from './transport.ts';
import {
  type Droplet,
  type DropletAction,
  type DropletSpec,
  type PowerAction,
  type SharedDropletSpec,
  POWER_ACTIONS,
  toAction,
  toDroplet,
} from './types.ts';

/** DigitalOcean takes at most this many names in one create. */
export const MAX_DROPLETS_PER_CREATE = 10;
/** Largest page DigitalOcean serves; the fleet sweep uses it. */
export const FLEET_PAGE_SIZE = 200;
/** A sweep stops after this many pages (200,000 droplets), whatever `links.next` says. */
const MAX_FLEET_PAGES = 1000;
/** user_data limit (64 KiB), defined once with the cloud-init document. */
export { MAX_USER_DATA_BYTES };

/** Power actions that are safe to send twice (they name a target state). */
const IDEMPOTENT_ACTIONS = new Set<PowerAction>(['power_on', 'power_off', 'shutdown']);

/** What every operation works through. */
export interface ProviderContext {
  client: DotsClient;
  transport: Transport;
}

/** Cancels waiting (for the budget or a backoff) of one call. */
export interface CallOptions {
  signal?: AbortSignal;
}

/** Why a shared spec cannot be sent, or undefined. Pure. */
export function sharedSpecProblem(spec: SharedDropletSpec): string | undefined {
  for (const field of ['region', 'size'] as const) {
    if (typeof spec[field] !== 'string' || spec[field].trim() === '') return `${field} is required`;
  }
  if (spec.image === undefined || spec.image === '') return 'image is required';
  for (const tag of spec.tags ?? []) {
    const problem = tagProblem(tag);
    if (problem) return problem;
  }
  if (spec.userData !== undefined && Buffer.byteLength(spec.userData, 'utf8') > MAX_USER_DATA_BYTES) {
    return `user_data is ${Buffer.byteLength(spec.userData, 'utf8')} bytes; DigitalOcean takes at most 64 KiB`;
  }
  return undefined;
}

/** Why a list of names cannot be one multi-create, or undefined. Pure. */
export function namesProblem(names: readonly string[]): string | undefined {
  if (names.length === 0) return 'no names given';
  if (names.length > MAX_DROPLETS_PER_CREATE) return `${names.length} names; DigitalOcean takes at most ${MAX_DROPLETS_PER_CREATE} per create`;
  if (new Set(names).size !== names.length) return 'names repeat';
  for (const name of names) {
    const problem = dropletNameProblem(name);
    if (problem) return problem;
  }
  return undefined;
}

/** The request fields shared by both create forms, in DigitalOcean's names. */
function body(spec: SharedDropletSpec) {
  return {
    region: spec.region,
    size: spec.size,
    image: spec.image,
    tags: spec.tags,
    user_data: spec.userData,
    ssh_keys: spec.sshKeys,
    vpc_uuid: spec.vpcUuid,
    ipv6: spec.ipv6,
    monitoring: spec.monitoring,
  };
}

function sendPowerAction(client: DotsClient, id: number, type: PowerAction) {
  const droplet = client.droplet;
  const request = { droplet_id: id };
  switch (type) {
    case 'power_on':
      return droplet.powerOnDroplet(request);
    case 'power_off':
      return droplet.powerOffDroplet(request);
    case 'shutdown':
      return droplet.shutdownDroplet(request);
    case 'power_cycle':
      return droplet.powerCycleDroplet(request);
    case 'reboot':
      return droplet.rebootDroplet(request);
  }
}

/** Every droplet carrying `tag`, all pages (200 a page): one sweep of the fleet. */
export async function listFleet(ctx: ProviderContext, tag: string, options: CallOptions = {}): Promise<Droplet[]> {
  const problem = tagProblem(tag);
  if (problem) throw invalidRequest('GET /v2/droplets', problem);
  const byId = new Map<number, Droplet>();
  for (let page = 1; page <= MAX_FLEET_PAGES; page += 1) {
    const answer = await ctx.transport.call({
      endpoint: 'GET /v2/droplets',
      safety: 'idempotent',
      signal: options.signal,
      send: () => ctx.client.droplet.listDroplets({ tag_name: tag, page, per_page: FLEET_PAGE_SIZE }),
    });
    const droplets = listIn<unknown>(answer, 'droplets', 'GET /v2/droplets');
    // A droplet created or deleted between pages shifts the pages: de-duplicate by id.
    for (const raw of droplets) {
      const droplet = toDroplet(raw);
      byId.set(droplet.id, droplet);
    }
    if (!answer.data.links?.pages?.next || droplets.length < FLEET_PAGE_SIZE) break;
  }
  return [...byId.values()];
}

/** One droplet, or undefined when DigitalOcean does not know it (404). */
export async function getDroplet(ctx: ProviderContext, id: number, options: CallOptions = {}): Promise<Droplet | undefined> {
  try {
    const answer = await ctx.transport.call({
      endpoint: 'GET /v2/droplets/{id}',
      safety: 'idempotent',
      signal: options.signal,
      send: () => ctx.client.droplet.getDroplet({ droplet_id: id }),
    });
    return toDroplet(itemIn(answer, 'droplet', 'GET /v2/droplets/{id}'));
  } catch (error) {
    if (isProviderError(error, 'not_found')) return undefined;
    throw error;
  }
}

/** Creates one droplet (its own user_data and tags). Never resent after a lost answer. */
export async function createDroplet(ctx: ProviderContext, spec: DropletSpec, options: CallOptions = {}): Promise<Droplet> {
  const problem = dropletNameProblem(spec.name ?? '') ?? sharedSpecProblem(spec);
  if (problem) throw invalidRequest('POST /v2/droplets', problem);
  const answer = await ctx.transport.call({
    endpoint: 'POST /v2/droplets',
    safety: 'once',
    signal: options.signal,
    send: () => ctx.client.droplet.createDroplet({ name: spec.name, ...body(spec) }),
  });
  return toDroplet(itemIn(answer, 'droplet', 'POST /v2/droplets', true));
}

/**
 * Creates up to 10 droplets in one request. WARNING: every attribute but the name is
 * shared — tags and user_data too — so no per-droplet secret can ride in user_data here.
 * Never resent after a lost answer.
 */
export async function createDroplets(ctx: ProviderContext, names: readonly string[], shared: SharedDropletSpec, options: CallOptions = {}): Promise<Droplet[]> {
  const problem = namesProblem(names) ?? sharedSpecProblem(shared);
  if (problem) throw invalidRequest('POST /v2/droplets', problem);
  const answer = await ctx.transport.call({
    endpoint: 'POST /v2/droplets',
    safety: 'once',
    signal: options.signal,
    send: () => ctx.client.droplet.createDroplets({ names: [...names], ...body(shared) }),
  });
  return listIn<unknown>(answer, 'droplets', 'POST /v2/droplets', true).map(toDroplet);
}

/** Deletes a droplet; `already_gone` when DigitalOcean answers 404 (e.g. a resend). */
export async function deleteDroplet(ctx: ProviderContext, id: number, options: CallOptions = {}): Promise<'deleted' | 'already_gone'> {
  try {
    await ctx.transport.call({
      endpoint: 'DELETE /v2/droplets/{id}',
      safety: 'idempotent',
      signal: options.signal,
      send: () => ctx.client.droplet.deleteDroplet({ droplet_id: id }),
    });
    return 'deleted';
  } catch (error) {
    if (isProviderError(error, 'not_found')) return 'already_gone';
    throw error;
  }
}

/**
 * Starts a power action. power_on, power_off and shutdown are resent after a lost answer
 * (they name a state); power_cycle and reboot are not (twice would mean two reboots).
 */
export async function powerAction(ctx: ProviderContext, id: number, type: PowerAction, options: CallOptions = {}): Promise<DropletAction> {
  if (!POWER_ACTIONS.includes(type)) {
    throw invalidRequest('POST /v2/droplets/{id}/actions', `unknown power action "${String(type)}"`);
  }
  const answer = await ctx.transport.call({
    endpoint: 'POST /v2/droplets/{id}/actions',
    safety: IDEMPOTENT_ACTIONS.has(type) ? 'idempotent' : 'once',
    signal: options.signal,
    send: () => sendPowerAction(ctx.client, id, type),
  });
  return toAction(itemIn(answer, 'action', 'POST /v2/droplets/{id}/actions', true));
}
