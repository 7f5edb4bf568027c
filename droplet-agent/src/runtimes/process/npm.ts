/**
 * Installs an npm package into a tool's own directory and finds the bin to run.
 * `npm install --prefix DIR NAME@VERSION` keeps every tool's dependencies apart.
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ToolbeltError } from '@toolbelt/schema/errors';
import { AGENT_ERROR_CODES } from '@toolbelt/schema/protocol';

export interface NpmOptions {
  command: string;
  registry?: string;
}

/** Runs npm with `args`; resolves with its output, rejects with the tail of stderr. */
export function runNpm(options: NpmOptions, args: string[], cwd: string): Promise<string> {
  const registry = options.registry ? ['--registry', options.registry] : [];
  return new Promise((resolve, reject) => {
    const child = spawn(options.command, [...args, ...registry, '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, npm_config_update_notifier: 'false' },
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

/** Installs `name@version` into `dir` (idempotent: npm keeps an installed version). */
export async function installPackage(options: NpmOptions, dir: string, name: string, version: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  // A package.json of our own keeps npm from walking up to a parent project.
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'toolbelt-tool', private: true }));
  try {
    await runNpm(options, ['install', '--omit=dev', '--no-package-lock', `${name}@${version}`], dir);
  } catch (cause) {
    throw new ToolbeltError(AGENT_ERROR_CODES.installFailed, `installing ${name}@${version} failed`, {
      hint: 'check the package name and version and that the droplet reaches the npm registry',
      cause,
    });
  }
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
