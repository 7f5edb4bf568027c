/**
 * What the agent says about its droplet in `hello`: hostname, boot id, DigitalOcean droplet
 * id (cloud-init's instance id) and the environment id learned at enrollment.
 */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { DropletIdentity } from '@toolbelt/schema/protocol';

async function readTrimmed(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Reads the droplet's identity; every part but the hostname is optional. */
export async function readDropletIdentity(options: {
  instanceIdFile: string;
  /** DigitalOcean names the host after the droplet; this file says it (default /etc/hostname). */
  hostnameFile?: string;
  environmentId: string | undefined;
}): Promise<DropletIdentity> {
  const instanceId = await readTrimmed(options.instanceIdFile);
  const name = options.hostnameFile ? await readTrimmed(options.hostnameFile) : undefined;
  const bootId = await readTrimmed('/proc/sys/kernel/random/boot_id');
  const dropletId = instanceId && /^\d+$/.test(instanceId) ? Number(instanceId) : undefined;
  return {
    hostname: (name ?? hostname()).slice(0, 255),
    ...(bootId ? { bootId: bootId.slice(0, 64) } : {}),
    ...(dropletId ? { dropletId } : {}),
    ...(options.environmentId ? { environmentId: options.environmentId } : {}),
  };
}
