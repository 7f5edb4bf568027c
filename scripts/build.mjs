#!/usr/bin/env node
// `npm run build`: the production build in dist/ — what the container image and the systemd
// unit run. No tsx and no devDependencies at run time, nothing written beside the code.
//
//   dist/bin/controller.mjs   the controller (`node dist/bin/controller.mjs server|migrate`)
//   dist/bin/toolbelt.mjs     the CLI
//   dist/bin/healthcheck.mjs  the image's HEALTHCHECK (deploy/healthcheck.mjs)
//   dist/drizzle/             the committed SQL migrations (schema/drizzle)
//   dist/openapi/             the simulator's DigitalOcean contract (the embedded simulator)
//   dist/packages/            the package shelf's tools, packed now, indexed by shelf.json
//   dist/agent-releases/      the droplet agent's release (droplet-agent/release/build.ts)
//   dist/package.json         exactly the third-party packages the bundles import, pinned to
//                             the versions installed here (`npm install --omit=dev` in dist/)
//
// Our workspaces (@toolbelt/*) are bundled; every other package stays an import resolved from
// dist/node_modules (pino's transports, PGlite's wasm and postgres.js load files of their own).
//
// Hook for parts built by other steps: add them to EXTRA_STEPS below (the droplet agent's
// release bundle served at /agent/v1/…, the web console's static files) so that `npm run
// build` — and so the image — includes them.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
// `--out DIR` builds elsewhere (the build test); default dist/.
const outFlag = process.argv.indexOf('--out');
const dist = outFlag > 0 ? resolve(process.argv[outFlag + 1]) : join(root, 'dist');
/** The package shelf's tools (keep in step with LOCAL_TOOL_DIRS in controller/src/catalog/package-shelf.ts). */
const SHELF_TOOLS = ['tools/echo-mcp'];
/** Further build steps, each `(dist) => void`, run after the controller's. */
const EXTRA_STEPS = [agentRelease];

/** The droplet agent's release, served at /agent/v1/releases (dist/agent-releases/VERSION/). */
function agentRelease(out) {
  execFileSync(process.execPath, ['--import', 'tsx', join(root, 'droplet-agent/release/build.ts'), '--out', join(out, 'agent-releases'), '--force'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
/** Imports only a checkout reaches (the build-time agent release builder): never in the bundle's dependencies. */
const CHECKOUT_ONLY = ['@toolbelt/droplet-agent/release-build'];

const ENTRIES = { controller: 'controller/src/main.ts', toolbelt: 'controller/src/cli/main.ts' };

/** Leaves every package but our own workspaces to node_modules, and records which. */
function externalPackages(used) {
  return {
    name: 'external-packages',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (CHECKOUT_ONLY.includes(args.path)) return { path: args.path, external: true };
        if (args.path.startsWith('@toolbelt/') || args.path.startsWith('node:') || builtinModules.includes(args.path)) {
          return undefined;
        }
        const parts = args.path.split('/');
        const name = args.path.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
        const dir = packageDir(name, args.resolveDir);
        const version = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
        const seen = used.get(name);
        if (seen && seen !== version) throw new Error(`${name}: bundled code imports both ${seen} and ${version}`);
        used.set(name, version);
        return { path: nodeSubpath(dir, name, args.path), external: true };
      });
    },
  };
}

/**
 * Node's ESM resolver wants a file extension on a deep import into a package without an
 * `exports` map (`ajv/dist/2020` → `ajv/dist/2020.js`); tsx forgave it, node does not.
 */
function nodeSubpath(dir, name, path) {
  if (path === name) return path;
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (manifest.exports || !existsSync(join(dir, `${path.slice(name.length)}.js`))) return path;
  return `${path}.js`;
}

/** The installed package the importer sees: node's lookup, nearest node_modules first. */
function packageDir(name, from) {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === dirname(dir)) throw new Error(`${name} is not installed (imported from ${from})`);
  }
}

async function bundle() {
  const used = new Map();
  await build({
    entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([name, path]) => [name, join(root, path)])),
    outdir: join(dist, 'bin'),
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    define: { TOOLBELT_BUILT: 'true' },
    plugins: [externalPackages(used)],
    logLevel: 'warning',
  });
  return new Map([...used].sort(([a], [b]) => a.localeCompare(b)));
}

function packShelf() {
  const dir = join(dist, 'packages');
  mkdirSync(dir, { recursive: true });
  const index = SHELF_TOOLS.map((tool) => {
    const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dir, '--loglevel=error'], { cwd: join(root, tool), encoding: 'utf8' });
    const [packed] = JSON.parse(out);
    return { name: packed.name, version: packed.version, file: packed.filename };
  });
  writeFileSync(join(dir, 'shelf.json'), `${JSON.stringify(index, null, 2)}\n`);
  return index;
}

const started = Date.now();
rmSync(dist, { recursive: true, force: true });
const packages = await bundle();
cpSync(join(root, 'schema/drizzle'), join(dist, 'drizzle'), { recursive: true });
cpSync(join(root, 'simulator/openapi'), join(dist, 'openapi'), { recursive: true });
cpSync(join(root, 'deploy/healthcheck.mjs'), join(dist, 'bin/healthcheck.mjs'));
const shelf = packShelf();
const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const manifest = {
  name: 'toolbelt-controller',
  version: JSON.parse(readFileSync(join(root, 'controller/package.json'), 'utf8')).version,
  private: true,
  type: 'module',
  description: 'toolbelt controller, production build (npm run build)',
  engines: rootManifest.engines,
  bin: { toolbelt: 'bin/toolbelt.mjs' },
  scripts: { start: 'node bin/controller.mjs server', migrate: 'node bin/controller.mjs migrate' },
  dependencies: Object.fromEntries(packages),
};
writeFileSync(join(dist, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
for (const step of EXTRA_STEPS) await step(dist);
console.log(
  `built ${dist} in ${((Date.now() - started) / 1000).toFixed(1)} s: ${Object.keys(ENTRIES).join(', ')}; ` +
    `${packages.size} runtime packages (${[...packages.keys()].join(', ')}); shelf: ${shelf.map((s) => s.file).join(', ')}`,
);
