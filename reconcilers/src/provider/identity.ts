/**
 * Droplet identity: names and tags derived from our row ids (STYLE.md lesson 4), so that a
 * retried reconcile finds what the last one made with one fleet sweep.
 *
 * - The **name** `tb-<envId>` carries the row identity. It is the one attribute that differs
 *   per droplet in a multi-create (DigitalOcean shares every other attribute, tags
 *   included, across the `names` of one request), so it is the identity that always holds.
 * - The **fleet tag** (default `toolbelt`) marks every droplet toolbelt owns; the fleet is
 *   listed by it, and a droplet with it that no row owns is an orphan.
 * - The **row tag** `tb-env-<envId>` is added when a droplet is created alone; when present
 *   it must agree with the name (a droplet whose tag and name disagree is not ours to adopt).
 */
import type { Droplet } from './types.ts';

/** The fleet tag used unless configured otherwise. */
export const DEFAULT_FLEET_TAG = 'toolbelt';

/** DigitalOcean tag names: `^[a-zA-Z0-9_\-:]+$`, at most 255 characters. */
export const TAG_PATTERN = /^[a-zA-Z0-9_\-:]+$/;
export const TAG_MAX_LENGTH = 255;

/** DigitalOcean droplet names (the OpenAPI pattern), at most 255 characters. */
export const DROPLET_NAME_PATTERN = /^[a-zA-Z0-9]?[a-z0-9A-Z.-]*[a-z0-9A-Z]$/;
export const DROPLET_NAME_MAX_LENGTH = 255;

const NAME_PREFIX = 'tb-';
const ROW_TAG_PREFIX = 'tb-env-';
/** Row ids are uuids in practice; any id made of these characters works. */
const ENV_ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]$|^[a-zA-Z0-9]$/;
const MAX_ENV_ID_LENGTH = 200;

/** Why a tag is not acceptable to DigitalOcean, or undefined when it is. */
export function tagProblem(tag: string): string | undefined {
  if (tag.length === 0) return 'a tag cannot be empty';
  if (tag.length > TAG_MAX_LENGTH) return `tag "${tag.slice(0, 40)}…" is longer than ${TAG_MAX_LENGTH} characters`;
  if (!TAG_PATTERN.test(tag)) return `tag "${tag}" may contain only letters, digits, "_", "-" and ":"`;
  return undefined;
}

/** Why a droplet name is not acceptable to DigitalOcean, or undefined when it is. */
export function dropletNameProblem(name: string): string | undefined {
  if (name.length > DROPLET_NAME_MAX_LENGTH) return `droplet name is longer than ${DROPLET_NAME_MAX_LENGTH} characters`;
  if (!DROPLET_NAME_PATTERN.test(name)) {
    return `droplet name "${name}" must be letters, digits, "." and "-", starting and ending with a letter or digit`;
  }
  return undefined;
}

function checkEnvId(envId: string): void {
  if (envId.length > MAX_ENV_ID_LENGTH || !ENV_ID_PATTERN.test(envId)) {
    throw new RangeError(
      `environment id "${envId.slice(0, 60)}" cannot name a droplet: use letters, digits and inner "-" (a uuid)`,
    );
  }
}

/** The droplet name of an environment row: `tb-<envId>`. */
export function dropletNameFor(envId: string): string {
  checkEnvId(envId);
  return `${NAME_PREFIX}${envId}`;
}

/** The per-row tag of an environment row: `tb-env-<envId>`. */
export function rowTagFor(envId: string): string {
  checkEnvId(envId);
  return `${ROW_TAG_PREFIX}${envId}`;
}

/** The tags of a droplet created alone for a row: the fleet tag and the row tag. */
export function identityTagsFor(envId: string, fleetTag: string = DEFAULT_FLEET_TAG): string[] {
  return [fleetTag, rowTagFor(envId)];
}

/**
 * The environment row a droplet belongs to, from its name (and row tag, if it has one), or
 * undefined when it carries no toolbelt identity or its name and row tag disagree.
 */
export function identityOf(droplet: Pick<Droplet, 'name' | 'tags'>): string | undefined {
  if (!droplet.name.startsWith(NAME_PREFIX)) return undefined;
  const envId = droplet.name.slice(NAME_PREFIX.length);
  if (!ENV_ID_PATTERN.test(envId)) return undefined;
  const rowTags = droplet.tags.filter((t) => t.startsWith(ROW_TAG_PREFIX));
  if (rowTags.some((t) => t !== `${ROW_TAG_PREFIX}${envId}`)) return undefined;
  return envId;
}

/**
 * The fleet indexed by row: envId → its droplets, oldest first (more than one means a
 * duplicate the reconciler must resolve). Droplets without a toolbelt identity come back
 * apart as `unidentified` (orphan candidates).
 */
export function indexFleet(droplets: readonly Droplet[]): {
  byEnv: Map<string, Droplet[]>;
  unidentified: Droplet[];
} {
  const byEnv = new Map<string, Droplet[]>();
  const unidentified: Droplet[] = [];
  const ordered = [...droplets].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id - b.id);
  for (const droplet of ordered) {
    const envId = identityOf(droplet);
    if (envId === undefined) {
      unidentified.push(droplet);
      continue;
    }
    const list = byEnv.get(envId);
    if (list) list.push(droplet);
    else byEnv.set(envId, [droplet]);
  }
  return { byEnv, unidentified };
}
