/**
 * The agent releases this controller serves, public and unauthenticated (they are code;
 * droplets check them against the SHA-256 their user_data pins):
 *
 *   GET /agent/v1/releases                      → { current, releases: [{ version, sha256, bytes, url }] }
 *   GET /agent/v1/releases/:version/agent.mjs   → the release itself
 *
 * Every release in the directory is served (the current one and earlier ones, for droplets
 * still booting with an older pin and for rollbacks). In a checkout, the current release is
 * built from `droplet-agent/` first when it is missing or stale (esbuild, well under a second),
 * so `npm start`, the tests and CI never run a stale agent.
 */
import { createReadStream, existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_RELEASE_FILE } from '@toolbelt/schema/cloud-init';
import { type Router, sendError, sendJson } from './http/router.ts';
import type { Logger } from './logger.ts';

/** `true` in the production build (esbuild's `define`, scripts/build.mjs); undeclared under tsx. */
declare const TOOLBELT_BUILT: boolean | undefined;
const BUILT = typeof TOOLBELT_BUILT !== 'undefined' && TOOLBELT_BUILT;
const AGENT_SOURCES = fileURLToPath(new URL('../../droplet-agent/src/', import.meta.url));
/**
 * Where a checkout builds its releases (ignored by git); in the production build, the
 * release `npm run build` made, beside the bundle (`dist/agent-releases/`).
 */
export const DEFAULT_AGENT_RELEASES_DIR = fileURLToPath(
  new URL(BUILT ? '../agent-releases/' : '../../droplet-agent/dist/releases/', import.meta.url),
);
const VERSION = /^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$/;

/** One release as `release.json` describes it. */
export interface AgentRelease {
  version: string;
  sha256: string;
  bytes: number;
}

/** What user_data pins: the release's URL as droplets reach this controller, and its hash. */
export interface PinnedRelease {
  version: string;
  url: string;
  sha256: string;
}

export interface AgentReleasesOptions {
  dir?: string;
  /** The release new droplets get (default: the one built from this checkout, else the newest). */
  version?: string;
  /** The controller's HTTP base as droplets reach it (read per call: the port may be 0 until listening). */
  publicUrl: () => string;
  logger: Logger;
}

export class AgentReleases {
  readonly #o: AgentReleasesOptions & { dir: string };
  #releases = new Map<string, AgentRelease>();
  #current: string | undefined;

  constructor(options: AgentReleasesOptions) {
    this.#o = { ...options, dir: resolve(options.dir ?? DEFAULT_AGENT_RELEASES_DIR) };
  }

  /** Builds the checkout's release when stale, then reads every release in the directory. */
  async load(): Promise<void> {
    const built = !BUILT && existsSync(AGENT_SOURCES) ? await buildFromCheckout(this.#o.dir) : undefined;
    if (built) this.#o.logger.info({ version: built.version, sha256: built.sha256 }, `agent release ${built.version} ready`);
    this.#releases = await readReleases(this.#o.dir);
    const wanted = this.#o.version ?? built?.version ?? newest([...this.#releases.keys()]);
    if (!wanted || !this.#releases.has(wanted)) {
      throw new Error(
        `no agent release ${wanted ?? ''} in ${this.#o.dir}: build one (node --import tsx droplet-agent/release/build.ts --out DIR) or fix TOOLBELT_AGENT_VERSION / TOOLBELT_AGENT_RELEASES_DIR`,
      );
    }
    this.#current = wanted;
  }

  /** The releases served, oldest version first. */
  list(): AgentRelease[] {
    return [...this.#releases.values()].sort((a, b) => compareVersions(a.version, b.version));
  }

  /** The release new droplets get. */
  get current(): string {
    if (!this.#current) throw new Error('agent releases not loaded');
    return this.#current;
  }

  /** The pin for `version` (default: the current release); undefined for a release not served. */
  pin(version: string = this.current): PinnedRelease | undefined {
    const release = this.#releases.get(version);
    if (!release) return undefined;
    return { version, sha256: release.sha256, url: `${this.#o.publicUrl()}/agent/v1/releases/${encodeURIComponent(version)}/${AGENT_RELEASE_FILE}` };
  }

  /** Reads the directory again (a release added by an operator). */
  async refresh(): Promise<void> {
    this.#releases = await readReleases(this.#o.dir);
  }

  mount(router: Router): void {
    router.on('GET', '/agent/v1/releases', ({ res }) => {
      sendJson(res, 200, { current: this.#current, releases: this.list().map((r) => ({ ...r, url: this.pin(r.version)!.url })) });
    });
    router.on('GET', `/agent/v1/releases/:version/${AGENT_RELEASE_FILE}`, ({ res, params }) => {
      const release = VERSION.test(params.version ?? '') ? this.#releases.get(params.version!) : undefined;
      if (!release) {
        sendError(res, 404, { code: 'NOT_FOUND', message: `no agent release ${params.version}`, hint: 'GET /agent/v1/releases lists the releases served' });
        return;
      }
      res.writeHead(200, {
        'content-type': 'text/javascript; charset=utf-8',
        'content-length': String(release.bytes),
        'x-toolbelt-sha256': release.sha256,
        'cache-control': 'public, max-age=31536000, immutable',
      });
      createReadStream(join(this.#o.dir, release.version, AGENT_RELEASE_FILE)).pipe(res);
    });
  }
}

async function buildFromCheckout(dir: string): Promise<AgentRelease> {
  // Only in a checkout: an installed controller has no sources and no esbuild.
  const { ensureAgentRelease } = await import('@toolbelt/droplet-agent/release-build');
  return ensureAgentRelease({ outDir: dir });
}

async function readReleases(dir: string): Promise<Map<string, AgentRelease>> {
  const releases = new Map<string, AgentRelease>();
  for (const version of await readdir(dir).catch(() => [] as string[])) {
    if (!VERSION.test(version)) continue;
    try {
      const manifest = JSON.parse(await readFile(join(dir, version, 'release.json'), 'utf8')) as AgentRelease;
      if (manifest.version === version && /^[0-9a-f]{64}$/.test(manifest.sha256)) {
        releases.set(version, { version, sha256: manifest.sha256, bytes: manifest.bytes });
      }
    } catch {
      // Not a complete release (its manifest is written last): not served.
    }
  }
  return releases;
}

/** Orders versions by their dot-separated numbers (then as text). */
function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+-]/);
  const pb = b.split(/[.+-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i += 1) {
    const [x, y] = [pa[i] ?? '', pb[i] ?? ''];
    const diff = /^\d+$/.test(x) && /^\d+$/.test(y) ? Number(x) - Number(y) : x.localeCompare(y);
    if (diff !== 0) return diff;
  }
  return 0;
}

const newest = (versions: string[]) => versions.sort(compareVersions).at(-1);

/** A pin for lifecycles whose droplets run no agent (the lifecycle's own tests and benchmark). */
export const NO_AGENT_RELEASE: PinnedRelease = { version: '0.0.0', url: 'http://127.0.0.1:9/agent.mjs', sha256: '0'.repeat(64) };
