/**
 * A Node.js distribution mirror on loopback, laid out like https://nodejs.org/dist (which is
 * not reachable here): `/vX.Y.Z/node-vX.Y.Z-linux-ARCH.tar.xz` and `/vX.Y.Z/SHASUMS256.txt`,
 * what a droplet's install script downloads with TOOLBELT_NODE_DIST_URL pointing at it.
 *
 * The tarball is made from the Node running this process: `bin/node` (process.execPath) and
 * npm from its prefix (`lib/node_modules/npm`, with `bin/npm` and `bin/npx` linking into it as
 * in nodejs.org's tarballs) — the agent runs `bin/node` and installs npm tools with
 * `bin/npm`. It is built once per Node version (xz, about 12 s here) and cached in
 * `$TOOLBELT_IMAGE_CACHE/node-dist` (default /var/cache/toolbelt, as the base images).
 * WARNING: this works for a Node whose binary links only the C and C++ libraries (nodejs.org's
 * builds, NodeSource's, nvm's); a distribution's `nodejs` linking a shared libnode would not
 * run on another userland.
 *
 * `/tampered/vX.Y.Z/…` serves the same tarball with a SHASUMS256.txt whose hash is wrong: what
 * a mirror serving an altered tarball looks like to the install script.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export interface NodeMirror {
  /** The base URL, as TOOLBELT_NODE_DIST_URL takes it (no trailing slash). */
  url: string;
  /** The Node version it serves (`20.20.2`), as TOOLBELT_NODE_VERSION takes it. */
  version: string;
  /** Paths asked for, in order (`/v20.20.2/SHASUMS256.txt`, …). */
  requests: string[];
  close(): Promise<void>;
}

const CACHE = process.env.TOOLBELT_IMAGE_CACHE ?? '/var/cache/toolbelt';

/** The cached distribution directory of this process's Node (built when missing); its tarball's name. */
export function nodeDistribution(): { dir: string; version: string; tarball: string } {
  const version = process.versions.node;
  const name = `node-v${version}-linux-${process.arch}`;
  const dir = join(CACHE, 'node-dist', `v${version}`);
  const tarball = `${name}.tar.xz`;
  if (existsSync(join(dir, 'SHASUMS256.txt'))) return { dir, version, tarball };
  const npm = resolve(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm');
  if (!existsSync(join(npm, 'bin', 'npm-cli.js'))) throw new Error(`npm is not at ${npm}: the mirror's tarball needs the npm of the Node running the tests`);
  const staging = mkdtempSync(join(tmpdir(), 'toolbelt-node-dist-'));
  try {
    const root = join(staging, name);
    mkdirSync(join(root, 'bin'), { recursive: true });
    copyFileSync(process.execPath, join(root, 'bin', 'node'));
    cpSync(npm, join(root, 'lib', 'node_modules', 'npm'), { recursive: true, verbatimSymlinks: true });
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(root, 'bin', 'npm'));
    symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(root, 'bin', 'npx'));
    // xz -0: the format nodejs.org uses, at the fastest level (the mirror is rebuilt rarely, read often).
    execFileSync('bash', ['-c', 'set -o pipefail; tar -C "$1" -c "$2" | xz -0 -T2 > "$3"', 'bash', staging, name, join(staging, tarball)]);
    const sha = createHash('sha256').update(readFileSync(join(staging, tarball))).digest('hex');
    mkdirSync(dir, { recursive: true });
    renameSync(join(staging, tarball), join(dir, tarball));
    // Written last: its presence says the directory is complete.
    writeFileSync(join(dir, 'SHASUMS256.txt.partial'), `${sha}  ${tarball}\n`);
    renameSync(join(dir, 'SHASUMS256.txt.partial'), join(dir, 'SHASUMS256.txt'));
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return { dir, version, tarball };
}

/** Serves this process's Node on 127.0.0.1 (port 0), laid out like nodejs.org/dist. */
export async function startNodeMirror(): Promise<NodeMirror> {
  const { dir, version, tarball } = nodeDistribution();
  const shasums = readFileSync(join(dir, 'SHASUMS256.txt'), 'utf8');
  const tampered = shasums.replace(/^[0-9a-f]/, (c) => (c === '0' ? '1' : '0'));
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push(path);
    const match = /^(\/tampered)?\/v([^/]+)\/([^/]+)$/.exec(path);
    if (!match || match[2] !== version) return void res.writeHead(404).end();
    if (match[3] === 'SHASUMS256.txt') return void res.writeHead(200, { 'content-type': 'text/plain' }).end(match[1] ? tampered : shasums);
    if (match[3] !== tarball) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/x-xz' });
    createReadStream(join(dir, tarball)).pipe(res);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    version,
    requests,
    close: () => new Promise((done) => server.close(() => done())),
  };
}
