/**
 * A self-update on trial, and its rollback. A new release that cannot talk to the controller
 * cannot be told to go back, so the droplet rolls it back on its own:
 *
 * 1. The updating agent, having pointed `INSTALL/current` at the new release, writes
 *    `INSTALL/update-trial.json` (`version`, `previous` = the release it leaves, `deadline`)
 *    and starts a **watcher** from the release it leaves (known good: it is running):
 *    `node PREVIOUS/agent.mjs --watch-update INSTALL`, detached, so that it outlives the
 *    agent's exit (the unit's KillMode=process stops only the agent).
 * 2. The new agent, once its first hello is sent on an accepted connection, removes the
 *    trial file (`confirmUpdate`): the watcher sees it gone and exits.
 * 3. Past the deadline with the trial still there, the watcher points `current` back at
 *    `previous`, records `INSTALL/rolled-back.json`, and restarts the unit (systemd), so the
 *    previous release runs and says hello again.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { DROPLET_PATHS } from '@toolbelt/schema/cloud-init';

export const TRIAL_FILE = 'update-trial.json';
export const ROLLBACK_FILE = 'rolled-back.json';
/** How long a new release has to say hello unless `update_agent` says otherwise. */
export const DEFAULT_UPDATE_HELLO_GRACE_MS = 120_000;

export interface UpdateTrial {
  /** The release on trial. */
  version: string;
  /** The release directory `current` pointed at before (where a rollback goes). */
  previous: string;
  /** ISO time after which an unconfirmed trial is rolled back. */
  deadline: string;
}

/** Records the trial and starts its watcher from `previous` (the release the agent leaves). */
export async function startTrial(installDir: string, trial: UpdateTrial, watcherRelease: string): Promise<void> {
  await writeAtomically(join(installDir, TRIAL_FILE), `${JSON.stringify(trial)}\n`);
  const watcher = spawn(process.execPath, [watcherRelease, '--watch-update', installDir], { detached: true, stdio: 'ignore' });
  watcher.unref();
}

/** Called by an agent that said hello: ends the trial of its own version; whether there was one. */
export async function confirmUpdate(installDir: string, version: string): Promise<boolean> {
  const trial = await readTrial(installDir);
  if (trial?.version !== version) return false;
  await rm(join(installDir, TRIAL_FILE), { force: true });
  return true;
}

export interface WatchOptions {
  pollMs?: number;
  /** Starts the agent again after a rollback (default: restart the systemd unit when systemd runs). */
  restart?: () => Promise<void>;
}

/** The watcher: waits for the trial to be confirmed, or rolls it back at its deadline. */
export async function watchUpdate(installDir: string, options: WatchOptions = {}): Promise<'confirmed' | 'rolled_back'> {
  for (;;) {
    const trial = await readTrial(installDir);
    if (!trial) return 'confirmed';
    if (Date.now() >= Date.parse(trial.deadline)) {
      await rollBack(installDir, trial);
      await (options.restart ?? restartUnit)();
      return 'rolled_back';
    }
    await new Promise((r) => setTimeout(r, options.pollMs ?? 1000));
  }
}

async function rollBack(installDir: string, trial: UpdateTrial): Promise<void> {
  const current = join(installDir, 'current');
  // Only if `current` still is the release on trial (an operator may have moved it since).
  if ((await readlink(current).catch(() => undefined)) === join(installDir, 'releases', trial.version)) {
    await replaceSymlink(trial.previous, current);
  }
  const record = { version: trial.version, to: trial.previous, at: new Date().toISOString(), reason: 'no hello before the deadline' };
  await writeAtomically(join(installDir, ROLLBACK_FILE), `${JSON.stringify(record)}\n`);
  await rm(join(installDir, TRIAL_FILE), { force: true });
}

/** Restarts the agent's unit (clearing a start limit a crashing release may have hit); nothing without systemd. */
async function restartUnit(): Promise<void> {
  if (!existsSync('/run/systemd/system')) return;
  const unit = basename(DROPLET_PATHS.unit);
  await promisify(execFile)('systemctl', ['reset-failed', unit]).catch(() => {});
  await promisify(execFile)('systemctl', ['restart', unit]);
}

async function readTrial(installDir: string): Promise<UpdateTrial | undefined> {
  try {
    return JSON.parse(await readFile(join(installDir, TRIAL_FILE), 'utf8')) as UpdateTrial;
  } catch {
    return undefined;
  }
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, text);
  await rename(temporary, path);
}

/** Makes `link` point at `target` by renaming a fresh symlink over it (atomic). */
export async function replaceSymlink(target: string, link: string): Promise<void> {
  const temporary = `${link}.${process.pid}.tmp`;
  await rm(temporary, { force: true });
  await symlink(target, temporary);
  await rename(temporary, link);
}
