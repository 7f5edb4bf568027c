/**
 * Installs an npm package into a tool's own directory and finds the bin to run.
 * One directory per tool keeps every tool's dependencies apart; it is filled atomically.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ToolbeltError } from '@toolbelt/schema/errors';
import { AGENT_ERROR_CODES } from '@toolbelt/schema/protocol';

export interface NpmOptions {
  command: string;
  registry?: string;
  /** A private CA's PEM file npm trusts besides the public ones (NODE_EXTRA_CA_CERTS). */
  caFile?: string;
}

/** Runs npm with `args`; resolves with its output, rejects with the tail of stderr. */
export function runNpm(options: NpmOptions, args: string[], cwd: string): Promise<string> {
  const registry = options.registry ? ['--registry', options.registry] : [];
  return new Promise((resolve, reject) => {
    const child = spawn(options.command, [...args, ...registry, '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, npm_config_update_notifier: 'false', ...(options.caFile ? { NODE_EXTRA_CA_CERTS: options.caFile } : {}) },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out = (out + chunk.toString()).slice(-16_384)));
    child.stderr.on('data', (chunk: Buffer) => (err = (err + chunk.toString()).slice(-16_384)));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) return resolve(out);
      reject(new Error(`npm ${args.join(' ')} exited with ${code}: ${err.trim().split('\n').slice(-5).join(' | ')}`));
    });
  });
}

/** Written last into a finished install: a directory without it is not an installed tool. */
const INSTALLED_MARKER = '.toolbelt-installed.json';

/**
 * Installs `name@version` as `dir`, atomically: npm runs in a fresh sibling directory, which
 * is renamed over `dir` only once npm succeeded. An install killed midway (a power cut, the
 * agent killed) leaves a sibling the next install removes, never a half-written `dir` that
 * counts as installed. A `dir` already holding `name@version` is kept as it is.
 */
export async function installPackage(options: NpmOptions, dir: string, name: string, version: string): Promise<void> {
  const wanted = { name, version };
  if ((await readMarker(dir)) === JSON.stringify(wanted)) return;
  const parent = dirname(dir);
  await mkdir(parent, { recursive: true });
  await removeLeftovers(parent, basename(dir));
  const staging = `${dir}.installing-${randomBytes(4).toString('hex')}`;
  try {
    await mkdir(staging);
    // A package.json of our own keeps npm from walking up to a parent project.
    await writeFile(join(staging, 'package.json'), JSON.stringify({ name: 'toolbelt-tool', private: true }));
    await runNpm(options, ['install', '--omit=dev', '--no-package-lock', `${name}@${version}`], staging);
    await writeFile(join(staging, INSTALLED_MARKER), JSON.stringify(wanted));
    await replaceDir(staging, dir);
  } catch (cause) {
    await rm(staging, { recursive: true, force: true }).catch(() => {});
    throw new ToolbeltError(AGENT_ERROR_CODES.installFailed, `installing ${name}@${version} failed`, {
      hint: 'check the package name and version and that the droplet reaches the npm registry',
      cause,
    });
  }
}

async function readMarker(dir: string): Promise<string | undefined> {
  return readFile(join(dir, INSTALLED_MARKER), 'utf8').catch(() => undefined);
}

/** Removes what killed installs left beside `base` in `parent` (staging and old directories). */
async function removeLeftovers(parent: string, base: string): Promise<void> {
  const names = await readdir(parent).catch(() => [] as string[]);
  const leftovers = names.filter((n) => n.startsWith(`${base}.installing-`) || n.startsWith(`${base}.old-`));
  await Promise.all(leftovers.map((n) => rm(join(parent, n), { recursive: true, force: true })));
}

/** Puts `staging` in the place of `dir` by renames; the old `dir` is removed afterwards. */
async function replaceDir(staging: string, dir: string): Promise<void> {
  const old = `${dir}.old-${randomBytes(4).toString('hex')}`;
  const moved = await rename(dir, old).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
  await rename(staging, dir);
  if (moved) await rm(old, { recursive: true, force: true });
}

/** The absolute path of the bin to run: `bin` by name, or the package's only/same-named one. */
export async function resolveBin(dir: string, name: string, bin: string | undefined): Promise<string> {
  const packageDir = join(dir, 'node_modules', name);
  let manifest: { bin?: string | Record<string, string> };
  try {
    manifest = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as typeof manifest;
  } catch (cause) {
    throw new ToolbeltError(AGENT_ERROR_CODES.installFailed, `${name} is not installed in ${dir}`, {
      hint: 'check the package identifier and version (npm may have linked a path that does not exist)',
      cause,
    });
  }
  const bins = typeof manifest.bin === 'string' ? { [name.split('/').pop()!]: manifest.bin } : (manifest.bin ?? {});
  const names = Object.keys(bins);
  const chosen = bin ?? (names.length === 1 ? names[0] : names.find((n) => n === name.split('/').pop()));
  const target = chosen === undefined ? undefined : bins[chosen];
  if (!target) {
    throw new ToolbeltError(AGENT_ERROR_CODES.installFailed, `${name} has no bin "${bin ?? '(default)'}"`, {
      hint: `set the tool's bin to one of: ${names.join(', ') || '(the package has no bins)'}`,
    });
  }
  return join(packageDir, target);
}
