/**
 * Self-update. Releases live side by side under `INSTALL/releases/VERSION`; `INSTALL/current`
 * is a symlink to the one systemd runs. `update_agent` installs the new release with npm,
 * checks that it is the version asked for, swaps the symlink atomically (rename over it),
 * answers `done` and then asks to exit: systemd (Restart=always) starts the new version,
 * and since the unit uses KillMode=process, the tools keep running through it.
 */
import { mkdir, readFile, readlink, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ToolbeltError } from '@toolbelt/schema/errors';
import { AGENT_ERROR_CODES, type CommandOf } from '@toolbelt/schema/protocol';
import type { AgentConfig } from './config.ts';
import type { Logger } from './log.ts';
import { runNpm } from './runtimes/process/npm.ts';
import type { CommandOutcome } from './tool-manager.ts';

export const AGENT_PACKAGE = '@toolbelt/droplet-agent';

export interface UpdaterOptions {
  config: Pick<AgentConfig, 'installDir' | 'npm'>;
  currentVersion: string;
  log: Logger;
  /** Called after a successful swap, once the result is sent. */
  onRestart: () => void;
}

export class Updater {
  readonly #o: UpdaterOptions;
  #pending: string | undefined;

  constructor(options: UpdaterOptions) {
    this.#o = options;
  }

  async apply(command: CommandOf<'update_agent'>, progress: (message: string) => void): Promise<CommandOutcome> {
    const { version } = command.payload;
    if (!/^[0-9A-Za-z][0-9A-Za-z.+-]*$/.test(version)) {
      throw new ToolbeltError(AGENT_ERROR_CODES.updateFailed, `"${version}" is not a version`);
    }
    if (version === this.#o.currentVersion) return { message: `already running ${version}`, duplicate: true };
    if (this.#pending === version) return { message: `moving to ${version} already`, duplicate: true };
    const { installDir } = this.#o.config;
    const release = join(installDir, 'releases', version);
    const spec = command.payload.packageSpec ?? `${AGENT_PACKAGE}@${version}`;
    try {
      progress(`installing ${spec}`);
      await mkdir(release, { recursive: true });
      await runNpm(this.#o.config.npm, ['install', '--prefix', release, '--omit=dev', spec], release);
      const installed = await this.#installedVersion(release);
      if (installed !== version) throw new Error(`the package installed is version ${installed}, not ${version}`);
      await this.#swap(release);
    } catch (cause) {
      await rm(release, { recursive: true, force: true }).catch(() => {});
      throw new ToolbeltError(AGENT_ERROR_CODES.updateFailed, `moving to ${version} failed; staying on ${this.#o.currentVersion}`, {
        hint: 'check that the package spec is reachable from the droplet',
        cause,
      });
    }
    this.#pending = version;
    this.#o.log.info('updated; restarting into the new version', { from: this.#o.currentVersion, to: version });
    this.#o.onRestart();
    return { message: `installed ${version}; restarting` };
  }

  async #installedVersion(release: string): Promise<string | undefined> {
    const manifest = join(release, 'node_modules', ...AGENT_PACKAGE.split('/'), 'package.json');
    return (JSON.parse(await readFile(manifest, 'utf8')) as { version?: string }).version;
  }

  /** Points `current` at `release` atomically and remembers the old target as `previous`. */
  async #swap(release: string): Promise<void> {
    const { installDir } = this.#o.config;
    const current = join(installDir, 'current');
    const previous = await readlink(current).catch(() => undefined);
    await replaceSymlink(release, current);
    if (previous) await replaceSymlink(previous, join(installDir, 'previous'));
  }
}

/** Makes `link` point at `target` by renaming a fresh symlink over it (atomic). */
async function replaceSymlink(target: string, link: string): Promise<void> {
  const temporary = `${link}.${process.pid}.tmp`;
  await rm(temporary, { force: true });
  await symlink(target, temporary);
  await rename(temporary, link);
}
