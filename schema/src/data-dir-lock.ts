/**
 * A lock file that keeps two processes out of one PGlite data directory: PGlite has no lock
 * of its own, and two processes writing one directory corrupt it.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ToolbeltError } from './errors.ts';

const LOCK_FILE = 'toolbelt.pid';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the lock on `dataDir` for this process, or throws naming the process that holds it.
 * A lock left by a process that is gone is taken over. Returns the release function.
 */
export function lockDataDir(dataDir: string): () => Promise<void> {
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx', mode: 0o600 });
      return async () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number.parseInt(readFileSync(path, 'utf8'), 10);
      if (Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) {
        throw new ToolbeltError('DB_DATA_DIR_IN_USE', `the data directory ${dataDir} is in use by process ${holder}`, {
          hint: 'stop that process, or choose another directory with --data-dir or TOOLBELT_DATA_DIR',
        });
      }
      rmSync(path, { force: true });
    }
  }
  throw new ToolbeltError('DB_DATA_DIR_IN_USE', `could not lock the data directory ${dataDir}`);
}
