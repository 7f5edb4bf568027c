/**
 * The container engine and registry the docker runtime's tests use (installed and started by
 * scripts/install-container-engine.sh), and the test image: a busybox httpd imported from
 * a local rootfs and pushed to the local registry — no public registry is reachable here.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { tempDir } from './agent-process.ts';

export const ENGINE_SOCKET = process.env.TOOLBELT_PODMAN_SOCKET ?? '/run/toolbelt-podman.sock';
export const REGISTRY = `127.0.0.1:${process.env.TOOLBELT_REGISTRY_PORT ?? '5000'}`;
export const TEST_IMAGE = `${REGISTRY}/toolbelt-test/busybox-httpd`;
const BUSYBOX = '/bin/busybox';

/** Whether the engine, the registry, podman and a static busybox are all there. */
export async function engineAvailable(): Promise<boolean> {
  if (!existsSync(ENGINE_SOCKET) || !existsSync(BUSYBOX)) return false;
  try {
    await new Docker({ socketPath: ENGINE_SOCKET }).ping();
    const registry = await fetch(`http://${REGISTRY}/v2/`, { signal: AbortSignal.timeout(3000) });
    execFileSync('podman', ['--version'], { stdio: 'ignore' });
    return registry.ok;
  } catch {
    return false;
  }
}

/**
 * Builds the test image under `tag` and pushes it to the local registry, then removes the
 * local copy so that an install must pull it through the Docker Engine API.
 */
export function pushTestImage(tag: string): string {
  const ref = `${TEST_IMAGE}:${tag}`;
  const dir = tempDir('toolbelt-image-');
  const root = join(dir, 'rootfs');
  mkdirSync(join(root, 'bin'), { recursive: true });
  mkdirSync(join(root, 'www'));
  copyFileSync(BUSYBOX, join(root, 'bin', 'busybox'));
  writeFileSync(join(root, 'www', 'index.html'), 'toolbelt test tool\n');
  execFileSync('tar', ['-C', root, '-cf', join(dir, 'rootfs.tar'), '.']);
  const cmd = JSON.stringify(['/bin/busybox', 'httpd', '-f', '-v', '-p', '8080', '-h', '/www']);
  execFileSync('podman', ['import', '--change', `CMD ${cmd}`, join(dir, 'rootfs.tar'), ref], { stdio: 'ignore' });
  execFileSync('podman', ['push', ref], { stdio: 'ignore' });
  execFileSync('podman', ['rmi', '-f', ref], { stdio: 'ignore' });
  return ref;
}
