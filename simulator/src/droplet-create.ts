/**
 * Reading a `POST /v2/droplets` body into create specs, with DigitalOcean's rules: `name`
 * or `names` (at most 10), a known size and image, a region (or a region prefix such as
 * `nyc`), valid tags, and user_data of at most 64 KiB.
 */
import { MAX_USER_DATA_BYTES } from '@toolbelt/schema/cloud-init';
import { unprocessable } from './api-error.ts';
import { findImage, findSize, REGIONS } from './catalog-data.ts';
import type { CreateSpec } from './state.ts';
import {
  checkDropletName,
  checkTagName,
  optionalBoolean,
  optionalString,
  requireObject,
  requiredString,
  stringList,
} from './validate.ts';

/** DigitalOcean creates at most this many droplets per request. */
export const MAX_NAMES = 10;
/** user_data limit (64 KiB), defined once with the cloud-init document. */
export { MAX_USER_DATA_BYTES };

function readNames(body: Record<string, unknown>): string[] {
  const hasName = body.name !== undefined;
  const hasNames = body.names !== undefined;
  if (hasName === hasNames) throw unprocessable('Give either name (one droplet) or names (up to 10 droplets), not both and not neither.');
  if (hasName) return [checkDropletName(requiredString(body, 'name'))];
  const names = stringList(body.names, 'names');
  if (names.length === 0) throw unprocessable('names must list at least one droplet name.');
  if (names.length > MAX_NAMES) throw unprocessable(`You may only create up to ${MAX_NAMES} Droplets at a time; names lists ${names.length}.`);
  return names.map(checkDropletName);
}

function readRegion(body: Record<string, unknown>): string {
  const wanted = optionalString(body, 'region');
  const open = REGIONS.filter((r) => r.available);
  // No region: DigitalOcean may place the droplet anywhere; a prefix picks any datacenter of it.
  const region = wanted === undefined ? open[0] : open.find((r) => r.slug === wanted) ?? open.find((r) => r.slug.startsWith(wanted) && /^[a-z]+$/.test(wanted));
  if (!region) throw unprocessable(`You specified an invalid region for Droplet creation: "${wanted}".`);
  return region.slug;
}

function readImage(body: Record<string, unknown>): number {
  const ref = body.image;
  if (typeof ref !== 'string' && typeof ref !== 'number') throw unprocessable('image is required (a slug such as "ubuntu-24-04-x64" or an image id).');
  const image = findImage(ref);
  if (!image) throw unprocessable(`You specified an invalid image for Droplet creation: "${ref}".`);
  return image.id;
}

function readUserData(body: Record<string, unknown>): string | undefined {
  const userData = optionalString(body, 'user_data');
  if (userData !== undefined && Buffer.byteLength(userData) > MAX_USER_DATA_BYTES) {
    throw unprocessable(`user_data is ${Buffer.byteLength(userData)} bytes; the limit is ${MAX_USER_DATA_BYTES} bytes (64 KiB).`);
  }
  return userData;
}

function readSshKeys(body: Record<string, unknown>): (string | number)[] {
  const keys = body.ssh_keys;
  if (keys === undefined || keys === null) return [];
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string' || Number.isInteger(k))) {
    throw unprocessable('ssh_keys must be an array of key ids or fingerprints.');
  }
  return keys as (string | number)[];
}

function readFeatures(body: Record<string, unknown>): { features: string[]; ipv6: boolean } {
  const ipv6 = optionalBoolean(body, 'ipv6');
  const features = ['private_networking'];
  if (optionalBoolean(body, 'backups')) features.push('backups');
  if (ipv6) features.push('ipv6');
  if (optionalBoolean(body, 'monitoring')) features.push('monitoring');
  optionalBoolean(body, 'private_networking');
  return { features, ipv6 };
}

/** One spec per droplet named in the body; throws 422 on the first problem found. */
export function readCreateRequest(raw: unknown): CreateSpec[] {
  const body = requireObject(raw);
  const names = readNames(body);
  const sizeSlug = requiredString(body, 'size');
  if (!findSize(sizeSlug)) throw unprocessable(`You specified an invalid size for Droplet creation: "${sizeSlug}".`);
  const shared = {
    region: readRegion(body),
    size: sizeSlug,
    image: readImage(body),
    tags: [...new Set(stringList(body.tags, 'tags').map(checkTagName))],
    userData: readUserData(body),
    sshKeys: readSshKeys(body),
    ...readFeatures(body),
  };
  return names.map((name) => ({ name, ...shared }));
}
