/**
 * The agent release: `src/main.ts` bundled by esbuild into one self-contained ES module
 * (its dependencies inside; no tsx, no workspace package, nothing from node_modules at run
 * time), written as `OUT/VERSION/agent.mjs` beside a `release.json` with its SHA-256.
 * Droplets run it with plain `node`; the controller serves every release in OUT.
 *
 * `ensureAgentRelease` builds only when the release is missing or older than one of the
 * files it was built from (their list is kept in `release.json`), so `npm start`, the tests
 * and CI always get a current release without a manual step:
 *
 *   node --import tsx droplet-agent/release/build.ts [--out DIR] [--version V] [--force]
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const AGENT_DIR = fileURLToPath(new URL('../', import.meta.url));
const REPO_ROOT = resolve(AGENT_DIR, '..');
/** Where releases are built by default (ignored by git). */
export const DEFAULT_RELEASES_DIR = join(AGENT_DIR, 'dist', 'releases');
/** The release's file name inside its version directory. */
export const RELEASE_FILE = 'agent.mjs';
/** The global a release carries its version in (read by `agentVersion()`). */
export const VERSION_GLOBAL = '__toolbeltAgentVersion';

/** What `release.json` says about one release. */
export interface ReleaseManifest {
  version: string;
  sha256: string;
  bytes: number;
  file: string;
  builtAt: string;
  /** The files it was built from, relative to the repository root (for the staleness check). */
  inputs: string[];
}

/** The agent package's version. */
export async function sourceVersion(): Promise<string> {
  return (JSON.parse(await readFile(join(AGENT_DIR, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * Bundles the agent as release `version` (default: the package's) into `OUT/VERSION/`.
 * `entry` replaces the agent's main module (tests build a broken agent this way).
 */
export async function buildAgentRelease(options: { outDir?: string; version?: string; entry?: string } = {}): Promise<ReleaseManifest> {
  const version = options.version ?? (await sourceVersion());
  if (!/^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$/.test(version)) throw new Error(`"${version}" is not a version`);
  const result = await build({
    entryPoints: [options.entry ?? join(AGENT_DIR, 'src', 'main.ts')],
    absWorkingDir: REPO_ROOT,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    write: false,
    outfile: RELEASE_FILE,
    metafile: true,
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
    // Optional native add-ons of ws and ssh2 (through dockerode): each is loaded in a
    // try/catch with a JavaScript fallback, so the release runs without them.
    external: ['bufferutil', 'utf-8-validate', 'cpu-features', '*.node'],
    // Never called by the agent, and heavy: see unused-stub.cjs.
    alias: Object.fromEntries(['ssh2', '@grpc/grpc-js', '@grpc/proto-loader'].map((name) => [name, join(AGENT_DIR, 'release', 'unused-stub.cjs')])),
    banner: {
      js: [
        `globalThis.${VERSION_GLOBAL} = ${JSON.stringify(version)};`,
        // Bundled CommonJS dependencies call require() and read __dirname; an ES module has neither.
        "import { createRequire as __toolbeltCreateRequire } from 'node:module';",
        "import { fileURLToPath as __toolbeltFileURLToPath } from 'node:url';",
        'const require = __toolbeltCreateRequire(import.meta.url);',
        'const __filename = __toolbeltFileURLToPath(import.meta.url);',
        "const __dirname = __filename.slice(0, __filename.lastIndexOf('/'));",
      ].join('\n'),
    },
  });
  const code = result.outputFiles[0]!.contents;
  const dir = join(resolve(options.outDir ?? DEFAULT_RELEASES_DIR), version);
  await mkdir(dir, { recursive: true });
  const manifest: ReleaseManifest = {
    version,
    sha256: createHash('sha256').update(code).digest('hex'),
    bytes: code.byteLength,
    file: RELEASE_FILE,
    builtAt: new Date().toISOString(),
    inputs: Object.keys(result.metafile.inputs).sort(),
  };
  // The code first, the manifest last: a release with a manifest is complete.
  await writeAtomically(join(dir, RELEASE_FILE), code);
  await writeAtomically(join(dir, 'release.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

async function writeAtomically(path: string, data: string | Uint8Array): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, data);
  await rename(temporary, path);
}

/** Reads a release's manifest; undefined when there is none (or it is unreadable). */
export async function readRelease(outDir: string, version: string): Promise<ReleaseManifest | undefined> {
  try {
    return JSON.parse(await readFile(join(outDir, version, 'release.json'), 'utf8')) as ReleaseManifest;
  } catch {
    return undefined;
  }
}

/** Whether a file the release was built from changed since (or went away). */
async function stale(manifest: ReleaseManifest, outDir: string): Promise<boolean> {
  const built = (await stat(join(outDir, manifest.version, RELEASE_FILE)).catch(() => undefined))?.mtimeMs;
  if (built === undefined) return true;
  // The build's own settings count too (this file).
  const inputs = [...manifest.inputs, 'package-lock.json', 'droplet-agent/release/build.ts'];
  for (const input of inputs) {
    const changed = (await stat(join(REPO_ROOT, input)).catch(() => undefined))?.mtimeMs;
    if (changed === undefined || changed > built) return true;
  }
  return false;
}

/**
 * The current release in `outDir`, built first when it is missing or stale. Without the
 * agent's sources (an installed controller) it only reads what is there.
 */
export async function ensureAgentRelease(options: { outDir?: string } = {}): Promise<ReleaseManifest> {
  const outDir = resolve(options.outDir ?? DEFAULT_RELEASES_DIR);
  const version = await sourceVersion();
  const existing = await readRelease(outDir, version);
  if (existing && !(await stale(existing, outDir))) return existing;
  return buildAgentRelease({ outDir, version });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, version: { type: 'string' }, force: { type: 'boolean' } } });
  const outDir = values.out ?? DEFAULT_RELEASES_DIR;
  const manifest = values.force || values.version ? await buildAgentRelease({ outDir, ...(values.version ? { version: values.version } : {}) }) : await ensureAgentRelease({ outDir });
  process.stdout.write(`${join(outDir, manifest.version, RELEASE_FILE)} ${manifest.version} sha256:${manifest.sha256} (${manifest.bytes} bytes)${existsSync(outDir) ? '' : ''}\n`);
}
