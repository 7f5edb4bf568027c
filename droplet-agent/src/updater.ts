/**
 * Self-update. Releases live side by side under `INSTALL/releases/VERSION/agent.mjs`;
 * `INSTALL/current` is a symlink to the one systemd runs. `update_agent {version, url,
 * sha256}` downloads the release the controller serves, checks its SHA-256 against the pin
 * (as the install script does at first boot) and that it says it is that version
 * (`node agent.mjs --version`), swaps the symlink atomically (rename over it; the old target
 * becomes `previous`), puts it on trial (update-trial.ts: rolled back unless it says hello
 * within the grace), answers `done` and then asks to exit: systemd (Restart=always) starts
 * the new version, and since the unit uses KillMode=process, the tools keep running through it.
 * A failure at any step leaves `current` alone (`AGENT_ERR_UPDATE_FAILED`).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readlink, rename, rm } from 'node:fs/promises';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { AGENT_RELEASE_FILE } from '@toolbelt/schema/cloud-init';
import { ToolbeltError } from '@toolbelt/schema/errors';
import { AGENT_ERROR_CODES, type CommandOf } from '@toolbelt/schema/protocol';
import type { AgentConfig } from './config.ts';
import type { Logger } from './log.ts';
import type { CommandOutcome } from './tool-manager.ts';
import { DEFAULT_UPDATE_HELLO_GRACE_MS, replaceSymlink, startTrial } from './update-trial.ts';

/** A release is ~1 MiB; anything far bigger is not one. */
const MAX_RELEASE_BYTES = 64 * 1024 * 1024;
const DOWNLOAD_TIMEOUT_MS = 5 * 60_000;

export interface UpdaterOptions {
  config: Pick<AgentConfig, 'installDir' | 'controllerCa'>;
  currentVersion: string;
  log: Logger;
  /** Called after a successful swap, once the result is sent. */
  onRestart: () => void;
}

type Pin = CommandOf<'update_agent'>['payload'];

export class Updater {
  readonly #o: UpdaterOptions;
  #pending: string | undefined;

  constructor(options: UpdaterOptions) {
    this.#o = options;
  }

  async apply(command: CommandOf<'update_agent'>, progress: (message: string) => void): Promise<CommandOutcome> {
    const pin = command.payload;
    if (pin.version === this.#o.currentVersion) return { message: `already running ${pin.version}`, duplicate: true };
    if (this.#pending === pin.version) return { message: `moving to ${pin.version} already`, duplicate: true };
    const release = join(this.#o.config.installDir, 'releases', pin.version);
    // Filled and checked beside its place, then renamed into it: a release directory is whole.
    const staging = `${release}.partial`;
    try {
      progress(`downloading ${pin.url}`);
      await rm(staging, { recursive: true, force: true });
      await mkdir(staging, { recursive: true });
      await check(pin, join(staging, AGENT_RELEASE_FILE), this.#o.config.controllerCa);
      await rm(release, { recursive: true, force: true });
      await rename(staging, release);
      const previous = await this.#swap(release);
      await this.#trial(pin, previous, progress);
    } catch (cause) {
      await rm(staging, { recursive: true, force: true }).catch(() => {});
      throw new ToolbeltError(AGENT_ERROR_CODES.updateFailed, `moving to ${pin.version} failed (${(cause as Error).message}); staying on ${this.#o.currentVersion}`, {
        hint: 'check that the controller serves that release and that the pin is its SHA-256',
        cause,
      });
    }
    this.#pending = pin.version;
    this.#o.log.info('updated; restarting into the new version', { from: this.#o.currentVersion, to: pin.version });
    this.#o.onRestart();
    return { message: `installed ${pin.version}; restarting` };
  }

  /** Points `current` at `release` atomically and remembers the old target as `previous`; the old target. */
  async #swap(release: string): Promise<string | undefined> {
    const { installDir } = this.#o.config;
    const current = join(installDir, 'current');
    const previous = await readlink(current).catch(() => undefined);
    await replaceSymlink(release, current);
    if (previous && previous !== release) await replaceSymlink(previous, join(installDir, 'previous'));
    return previous !== release ? previous : undefined;
  }

  /**
   * Puts the new release on trial (update-trial.ts): rolled back unless it says hello within
   * the grace. An agent not running from a release (the source, in tests) has nothing to go back to.
   */
  async #trial(pin: Pin, previous: string | undefined, progress: (message: string) => void): Promise<void> {
    if (!previous) {
      this.#o.log.warn('no previous release to roll back to: the update is not on trial', { version: pin.version });
      return;
    }
    const graceMs = pin.helloGraceMs ?? DEFAULT_UPDATE_HELLO_GRACE_MS;
    const deadline = new Date(Date.now() + graceMs).toISOString();
    await startTrial(this.#o.config.installDir, { version: pin.version, previous, deadline }, join(previous, AGENT_RELEASE_FILE));
    progress(`on trial: back to ${previous} unless ${pin.version} says hello by ${deadline}`);
  }
}

/** Downloads the pinned release to `file` and checks it: the pinned SHA-256, then the version it says it is. */
async function check(pin: Pin, file: string, ca: string | undefined): Promise<void> {
  const sha256 = await download(pin.url, file, ca);
  if (sha256 !== pin.sha256) throw new Error(`the release from ${pin.url} has SHA-256 ${sha256}, not the pinned ${pin.sha256}`);
  const said = (await promisify(execFile)(process.execPath, [file, '--version'], { timeout: 30_000 })).stdout.trim();
  if (said !== pin.version) throw new Error(`the release says it is version "${said}", not ${pin.version}`);
}

/** GETs `url` into `file` (at most MAX_RELEASE_BYTES, trusting `ca` for https when given); its SHA-256. */
async function download(url: string, file: string, ca: string | undefined): Promise<string> {
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const options = { timeout: DOWNLOAD_TIMEOUT_MS, ...(ca ? { ca } : {}) };
    const request = url.startsWith('https:') ? httpsGet(url, options, resolve) : httpGet(url, options, resolve);
    request.on('timeout', () => request.destroy(new Error(`no answer from ${url} within ${DOWNLOAD_TIMEOUT_MS} ms`)));
    request.on('error', reject);
  });
  if (response.statusCode !== 200) {
    response.resume();
    throw new Error(`GET ${url} answered ${response.statusCode}`);
  }
  const hash = createHash('sha256');
  let bytes = 0;
  response.on('data', (chunk: Buffer) => {
    bytes += chunk.byteLength;
    if (bytes > MAX_RELEASE_BYTES) response.destroy(new Error(`the release from ${url} is over ${MAX_RELEASE_BYTES} bytes`));
    hash.update(chunk);
  });
  await pipeline(response, createWriteStream(file, { mode: 0o644 }));
  return hash.digest('hex');
}
