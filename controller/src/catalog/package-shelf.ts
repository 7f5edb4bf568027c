/**
 * The package shelf: the controller serves `npm pack` tarballs of the repository's own tools
 * (which are not on the npm registry) at `GET /v1/packages/<file>.tgz`, unauthenticated —
 * they are public code, and the droplet agent installs them with plain npm
 * (`npm install @toolbelt/echo-mcp@http://CONTROLLER/v1/packages/toolbelt-echo-mcp-1.0.0.tgz`;
 * their dependencies come from the npm registry). A real droplet reaches the controller at
 * the URL it dials for the agent socket, so the same URL works there.
 *
 * Catalog entries name such a tool by its npm name and version as usual; `resolvePackage`
 * turns the pair into the tarball URL when the shelf holds it.
 *
 * From a checkout (tsx) the tools are packed on first download into the state directory; in
 * the production build (`npm run build`) they were packed at build time into `packages/`
 * beside the bundle, listed in its `shelf.json`, and nothing is written at run time.
 */
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ResolvePackage } from '@toolbelt/reconcilers';
import type { Logger } from '../logger.ts';
import { type Router, sendJson } from '../http/router.ts';

const run = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** `true` in the production build (esbuild's `define`, scripts/build.mjs); undeclared under tsx. */
declare const TOOLBELT_BUILT: boolean | undefined;
/** The build's prepacked shelf (`dist/packages/`), or undefined when running from source. */
export const PREBUILT_SHELF_DIR: string | undefined =
  typeof TOOLBELT_BUILT !== 'undefined' && TOOLBELT_BUILT ? fileURLToPath(new URL('../packages/', import.meta.url)) : undefined;
/** The index of a prebuilt shelf: what scripts/build.mjs packed. */
export const SHELF_INDEX = 'shelf.json';

/** The repository's tools the shelf packs (folder under the repository root). */
export const LOCAL_TOOL_DIRS: readonly string[] = ['tools/echo-mcp'];

interface Shelved {
  name: string;
  version: string;
  file: string;
  dir: string;
}

/** npm's tarball name: `@scope/name` → `scope-name-VERSION.tgz`. */
export const tarballName = (name: string, version: string) => `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`;

export interface PackageShelfOptions {
  /** Where the tarballs are written. */
  dir: string;
  logger: Logger;
  /** The controller's HTTP base URL as droplets reach it (read per call: the port may be 0 until listening). */
  publicUrl: () => string;
  toolDirs?: readonly string[];
  /** A directory of tarballs packed at build time, listed in its shelf.json (default: the build's, if any). */
  prebuiltDir?: string | undefined;
}

export class PackageShelf {
  readonly #o: PackageShelfOptions;
  #shelved: Promise<Map<string, Shelved>> | undefined;

  constructor(options: PackageShelfOptions) {
    // Absolute: `npm pack` writes there from each tool's own directory.
    this.#o = { prebuiltDir: PREBUILT_SHELF_DIR, ...options, dir: resolve(options.dir) };
  }

  /** Reads the tools' package.json files (cheap; packing happens on first download). */
  async list(): Promise<Map<string, Shelved>> {
    this.#shelved ??= (async () => {
      const prebuilt = this.#o.prebuiltDir;
      if (prebuilt) {
        const index = JSON.parse(await readFile(join(prebuilt, SHELF_INDEX), 'utf8')) as Omit<Shelved, 'dir'>[];
        return new Map(index.map((s) => [s.name, { ...s, dir: prebuilt }]));
      }
      const shelved = new Map<string, Shelved>();
      for (const rel of this.#o.toolDirs ?? LOCAL_TOOL_DIRS) {
        const dir = join(REPO_ROOT, rel);
        const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { name: string; version: string };
        shelved.set(manifest.name, { name: manifest.name, version: manifest.version, file: tarballName(manifest.name, manifest.version), dir });
      }
      return shelved;
    })();
    return this.#shelved;
  }

  /** The package and version of a shelf tool, as a URL the agent's npm installs from. */
  async resolver(): Promise<ResolvePackage> {
    const shelved = await this.list();
    return (catalog, version) => {
      const shelf = shelved.get(catalog.package_identifier);
      if (catalog.packaging_type !== 'npm_package' || !shelf || shelf.version !== version) {
        return { packageIdentifier: catalog.package_identifier, version };
      }
      return { packageIdentifier: catalog.package_identifier, version: `${this.#o.publicUrl()}/v1/packages/${shelf.file}` };
    };
  }

  #packing = new Map<string, Promise<string>>();

  /** Packs a tool once per process (npm pack is deterministic for unchanged files). */
  async #tarball(shelf: Shelved): Promise<string> {
    if (this.#o.prebuiltDir) return join(this.#o.prebuiltDir, shelf.file);
    let packing = this.#packing.get(shelf.file);
    if (!packing) {
      packing = (async () => {
        await mkdir(this.#o.dir, { recursive: true });
        await run('npm', ['pack', '--pack-destination', this.#o.dir, '--loglevel=error'], { cwd: shelf.dir });
        const path = join(this.#o.dir, shelf.file);
        await stat(path);
        this.#o.logger.info({ file: shelf.file }, `packed ${shelf.name}@${shelf.version} for droplets`);
        return path;
      })();
      packing.catch(() => this.#packing.delete(shelf.file));
      this.#packing.set(shelf.file, packing);
    }
    return packing;
  }

  /** Mounts `GET /v1/packages/:file`. */
  mount(router: Router): void {
    router.on('GET', '/v1/packages/:file', async ({ res, params }) => {
      const shelf = [...(await this.list()).values()].find((s) => s.file === params.file);
      if (!shelf) {
        sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `no package ${params.file} here`, hint: 'the controller serves only its own tools' } });
        return;
      }
      const path = await this.#tarball(shelf);
      const size = (await stat(path)).size;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) });
      createReadStream(path).pipe(res);
    });
  }
}
